"""The FP-table tile's array: ``M x N`` cells that look up FP16 table entries and add them in
floating point into FP32 (or FP16) accumulators."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, Value, signed

from .accumulate import AccumulatePorts, accumulate
from .config import FP16, TileConfig
from .fp import FpValue, accumulator_add, fused_sum, unpack
from .lut_array import LutArray, beat_lanes
from .util import select

__all__ = ["FpLutArray"]

#: below every leaf exponent (an FP16 entry's smallest, minus the half): zero leaves never win
LOWEST_EXP = FP16.min_exp - 2


def fp_cell_value(cfg: TileConfig, tables, row: int, beat, col: int, m: Module) -> Signal:
    """One cell's beat value ``sum_j 2**(t*ppc + j) * sum_k a[row][k] * (w_jk - z_j)`` (signed
    top plane negated) as an FP32 word, from FP16 table entries.

    Per local plane ``j`` and chunk ``c`` two leaves: the looked-up ``T[idx_c]`` (the stored
    entry ``E[idx_low]`` when the index MSB is set, else ``-E[~idx_low]``) and the chunk sum
    ``S_c`` (the last entry) with sign ``1 - 2 z_j``; both scaled by ``2**(j-1)``, since
    ``sum_k a_k (w_k - z) = (sum_c T[idx_c] + (1 - 2z) S_c) / 2`` (negation and scaling by
    powers of two are exact in floating point). All leaves of the beat go through one fused
    adder (:func:`~lutcore.hw.fp.fused_sum`) rounded once to the accumulators' format (FP32,
    or FP16 saturating at +-65504), scaled by ``2**(t*ppc)``.
    """
    g = cfg.g
    leaves = []
    for j in range(cfg.planes_per_cycle):
        neg = beat.neg if j == cfg.planes_per_cycle - 1 else 0
        zbit = beat.zbits[col][j] if cfg.has_zero_point else 0
        bits = beat.planes[col][j]
        for c in range(cfg.chunks):
            entries = tables[row][c]
            idx = bits[c * g : (c + 1) * g]
            msb, low = idx[g - 1], idx[: g - 1]
            pick = Mux(msb, low, ~low)
            looked = FpValue(
                *(select([getattr(e, f) for e in entries], pick) for f in ("sign", "sig", "exp"))
            )
            for leaf, flip in ((looked, ~msb ^ neg), (entries[-1], zbit ^ neg)):
                exp = Signal(signed(len(entries[0].exp) + 1), name=f"v_{row}_{col}_x{len(leaves)}")
                m.d.comb += exp.eq(leaf.exp + (j - 1))
                leaves.append((leaf.sign ^ flip, leaf.sig, exp))
    shift = beat.t * cfg.planes_per_cycle if cfg.beats_per_slice > 1 else 0
    return fused_sum(
        m,
        leaves,
        LOWEST_EXP,
        f"v_{row}_{col}",
        exp_offset=shift,
        fmt=cfg.acc_fmt,
        saturate=cfg.saturate,
    )


class FpLutArray(LutArray):
    """``M x N`` FP-table LUT cells (``arch = "fplut"``); the FP32 accumulators double as the
    result register.

    Each issued beat adds the cell's beat value (:func:`fp_cell_value`) to its accumulator
    with one addition in ``acc_format`` (FP32, or FP16 saturating at +-65504; nearest even;
    a tile's first beat adds to +0). With
    ``pipeline == 2`` a register follows the beat value. Members as
    :class:`~lutcore.hw.lut_array.LutArray`, ``tables`` carrying FP16 entries.
    """

    UNIT = "fplut_column"

    def elaborate_cells(self, m: Module) -> None:
        cfg = self.cfg
        beat = self.beat.payload
        # every entry is unpacked once and its fields broadcast (not once per cell)
        tables = [
            [
                [unpack(m, FP16, e, f"t_{r}_{c}_{i}") for i, e in enumerate(chunk)]
                for c, chunk in enumerate(self.tables.entries[r])
            ]
            for r in range(cfg.M)
        ]
        lanes = beat_lanes(m, cfg, beat)
        values: dict[tuple[int, int], Value] = {}
        for row in range(cfg.M):
            for col in range(cfg.N):
                values[row, col] = fp_cell_value(cfg, tables, row, lanes, col, m)
        accumulate(m, cfg, values, AccumulatePorts.of(self), add=accumulator_add(cfg))
