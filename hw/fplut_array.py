"""The FP-table tile's array: ``M x N`` cells that look up FP16 table entries and add them in
floating point into FP32 (or FP16) accumulators, or exactly into fixed-point ones."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, Value, signed

from .accumulate import AccumulatePorts, accumulate
from .columns import column_array
from .config import FIXED_LSB, FP16, TileConfig
from .fp import FpValue, accumulator_add, fused_sum, unpack
from .fp_precompute import LARGEST_FP16
from .layouts import fixed_table_layout
from .lut_array import LutArray, beat_lanes
from .util import carry_select_add, named, select, tree_sum

__all__ = ["FixedTableColumn", "FpLutArray", "fixed_tables"]

#: bits per carry-select segment of the fixed-point row sums (``acc_format = "fixed"``)
ROW_SUM_SEGMENT = 16

#: below every leaf exponent (an FP16 entry's smallest, minus the half): zero leaves never win
LOWEST_EXP = FP16.min_exp - 2


def fp_cell_value(cfg: TileConfig, tables, row: int, beat, col: int, m: Module) -> Signal:
    """One cell's beat value ``sum_j 2**(t*ppc + j) * sum_k a[row][k] * (w_jk - z_j)`` (signed
    top plane negated) as an FP32 word, from FP16 table entries.

    Per local plane ``j`` and chunk ``c`` two leaves: the looked-up ``T[idx_c]`` (the stored
    entry ``E[idx_low]`` when the index MSB is set, else ``-E[~idx_low]``) and the chunk sum
    ``S_c`` (the last entry) with sign ``1 - 2 z_j``; both scaled by ``2**(j-1)``, since
    ``sum_k a_k (w_k - z) = (sum_c T[idx_c] + (1 - 2z) S_c) / 2`` (negation and scaling by
    powers of two are exact in floating point). With ``offset = "output"`` only the looked-up
    leaves, scaled by ``2**j`` (twice the value: the offset term and the halving are applied
    after the array, :meth:`FpLutArray.row_sums`); one chunk and one plane a beat then make
    a single leaf, normalized and rounded without an adder (:func:`fp_word_leaf` where no
    normalization is needed). All leaves of the beat go through one fused
    adder (:func:`~lutcore.hw.fp.fused_sum`) rounded once to the accumulators' format (FP32,
    or FP16 saturating at +-65504), scaled by ``2**(t*ppc)``.
    """
    g = cfg.g
    leaves = []
    for j in range(cfg.planes_per_cycle):
        neg = beat.neg if j == cfg.planes_per_cycle - 1 else 0
        zbit = beat.zbits[col][j] if cfg.zero_in_tile else 0
        bits = beat.planes[col][j]
        for c in range(cfg.chunks):
            entries = tables[row][c]
            idx = bits[c * g : (c + 1) * g]
            msb, low = idx[g - 1], idx[: g - 1]
            pick = Mux(msb, low, ~low)
            looked = FpValue(
                *(select([getattr(e, f) for e in entries], pick) for f in ("sign", "sig", "exp"))
            )
            pairs = [(looked, ~msb ^ neg)]
            if not cfg.offset_out:  # else the dequant converter adds the offset term
                pairs.append((entries[-1], zbit ^ neg))
            for leaf, flip in pairs:
                exp = Signal(signed(len(entries[0].exp) + 1), name=f"v_{row}_{col}_x{len(leaves)}")
                m.d.comb += exp.eq(leaf.exp + (j if cfg.offset_out else j - 1))
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


def word_leaf_applies(cfg: TileConfig) -> bool:
    """A beat value is one FP16 entry times ``2**t``, ``t`` 0 or 1, in FP16 accumulators
    (offset out of the array, one chunk, one plane a beat, two beats): :func:`fp_word_leaf`
    needs no normalization."""
    return (
        cfg.offset_out
        and cfg.acc_fmt == FP16
        and cfg.chunks == 1
        and cfg.planes_per_cycle == 1
        and cfg.beats_per_slice <= 2
    )


def fp_word_leaf(cfg: TileConfig, words, beat, col: int, m: Module, name: str) -> Signal:
    """:func:`fp_cell_value` where :func:`word_leaf_applies`, on the FP16 words themselves:
    the looked-up word, its sign bit flipped to negate, doubled on the beat ``t = 1`` (a
    subnormal's magnitude bits shift left, a normal's exponent field steps up, the top
    binade saturates to +-65504; a zero is +0). Exact, as the general path's
    normalize-and-round is."""
    g = cfg.g
    neg = beat.neg
    idx = beat.planes[col][0][:g]
    msb, low = idx[g - 1], idx[: g - 1]
    word = select(list(words), Mux(msb, low, ~low))
    f = FP16.frac_bits
    leaf = Signal(16, name=f"{name}_leaf")
    # a zero stays +0, so that a tile's first beat can load it (``load_first``)
    m.d.comb += leaf.eq(Cat(word[:15], (word[15] ^ ~msb ^ neg) & word[:15].any()))
    if cfg.beats_per_slice == 1:
        return leaf
    mag, field = leaf[:15], leaf[f:15]
    doubled = Signal(15, name=f"{name}_double")
    m.d.comb += doubled.eq(
        Mux(
            field == 0,
            mag << 1,
            Mux(field == FP16.exp_field_max - 1, LARGEST_FP16, mag + (1 << f)),
        )
    )
    value = Signal(16, name=name)
    m.d.comb += value.eq(Cat(Mux(beat.t, doubled, mag), leaf[15]))
    return value


def fixed_tables(m: Module, cfg: TileConfig, tables) -> Signal:
    """The FP16 tables (:func:`~lutcore.hw.layouts.table_layout`) as exact fixed-point ones
    (:func:`~lutcore.hw.layouts.fixed_table_layout`): each entry ``(-1)**s * sig * 2**e`` as
    the signed integer ``+-sig << (e - FIXED_LSB)`` (the tables are finite: they saturate at
    +-65504), each row's ``total`` the sum of its chunks' last entries ``S_c``. Converted
    once for all ``N`` columns."""
    out = Signal(fixed_table_layout(cfg), name="fixed_tables")
    shift_bits = (FP16.max_exp - FIXED_LSB).bit_length()
    for r in range(cfg.M):
        sums = []  # each chunk's S_c, its own signal (not a slice of `out`: no false loop)
        for c in range(cfg.chunks):
            for e, word in enumerate(tables.entries[r][c]):
                u = unpack(m, FP16, word, f"t_{r}_{c}_{e}")
                mag = Signal(len(out.entries[r][c][e]), name=f"t_{r}_{c}_{e}_mag")
                value = Signal.like(out.entries[r][c][e], name=f"t_{r}_{c}_{e}_fixed")
                m.d.comb += [
                    mag.eq(u.sig << (u.exp - FIXED_LSB).as_unsigned()[:shift_bits]),
                    value.eq(Mux(u.sign, -mag, mag)),
                    out.entries[r][c][e].eq(value),
                ]
            sums.append(value)
        m.d.comb += out.total[r].eq(tree_sum(sums))
    return out


class FixedTableColumn(LutArray):
    """One column of :class:`FpLutArray` with exact fixed-point accumulation
    (``acc_format = "fixed"``): the integer tile's cells
    (:func:`~lutcore.hw.lut_array.cell_value`, ``offset = "output"``: ``sum_c +-T[idx_c]``
    per plane, no halving) on the fixed-point tables, integer shift-and-add into signed
    ``acc_bits`` accumulators. ``tables``: :func:`~lutcore.hw.layouts.fixed_table_layout`."""

    UNIT = "fplut_fixed_column"
    operand_layout = staticmethod(fixed_table_layout)


class FpLutArray(LutArray):
    """``M x N`` FP-table LUT cells (``arch = "fplut"``); the FP32 accumulators double as the
    result register.

    Each issued beat adds the cell's beat value (:func:`fp_cell_value`) to its accumulator
    with one addition in ``acc_format`` (FP32, or FP16 saturating at +-65504; nearest even;
    a tile's first beat adds to +0). With
    ``pipeline == 2`` a register follows the beat value. Members as
    :class:`~lutcore.hw.lut_array.LutArray`, ``tables`` carrying FP16 entries.

    ``acc_format = "fixed"``: the tables are converted once to exact fixed-point integers
    (:func:`fixed_tables`) and the ``N`` columns are :class:`FixedTableColumn` units; the row
    sums are those integers' too. Exact, with no rounding before the dequant converter.
    """

    UNIT = "fplut_column"

    def elaborate(self, platform) -> Module:
        cfg = self.cfg
        if not cfg.fixed_acc:
            return super().elaborate(platform)
        m = Module()
        self.fixed = fixed_tables(m, cfg, self.tables)

        def column() -> FixedTableColumn:
            return FixedTableColumn(cfg.replace(N=1), column=True)

        column_array(m, self, column, FixedTableColumn.UNIT, self.control_depth, self.fixed)
        self.row_sums(m)
        return m

    def elaborate_cells(self, m: Module) -> None:
        cfg = self.cfg
        beat = self.beat.payload
        # every entry is unpacked once and its fields broadcast (not once per cell)
        values: dict[tuple[int, int], Value] = {}
        if word_leaf_applies(cfg):
            lanes = beat_lanes(m, cfg, beat)
            for row in range(cfg.M):
                words = [
                    named(m, e, f"t_{row}_{i}") for i, e in enumerate(self.tables.entries[row][0])
                ]
                for col in range(cfg.N):
                    values[row, col] = fp_word_leaf(cfg, words, lanes, col, m, f"v_{row}_{col}")
            ports = AccumulatePorts.of(self)
            accumulate(m, cfg, values, ports, add=accumulator_add(cfg), load_first=True)
            return
        tables = [
            [
                [unpack(m, FP16, e, f"t_{r}_{c}_{i}") for i, e in enumerate(chunk)]
                for c, chunk in enumerate(self.tables.entries[r])
            ]
            for r in range(cfg.M)
        ]
        lanes = beat_lanes(m, cfg, beat)
        for row in range(cfg.M):
            for col in range(cfg.N):
                values[row, col] = fp_cell_value(cfg, tables, row, lanes, col, m)
        accumulate(m, cfg, values, AccumulatePorts.of(self), add=accumulator_add(cfg))

    def slice_sum(self, m: Module, row: int) -> Value:
        """Row ``row``'s slice sum ``S = sum_c S_c``: its chunks' last entries in one fused sum
        rounded to ``acc_format`` (exact fixed-point: their integer sum)."""
        cfg = self.cfg
        if cfg.fixed_acc:
            return self.fixed.total[row]
        leaves = []
        for c in range(cfg.chunks):
            e = unpack(m, FP16, self.tables.entries[row][c][-1], f"s_{row}_{c}")
            leaves.append((e.sign, e.sig, e.exp))
        return fused_sum(m, leaves, LOWEST_EXP, f"s_{row}", fmt=cfg.acc_fmt, saturate=cfg.saturate)

    def sum_add(self, m: Module, a: Value, b: Value, name: str) -> Value:
        if self.cfg.fixed_acc:  # wide: carry-select segments, as fast as the columns' adders
            width = len(self.o.payload.total[0])
            return carry_select_add(m, a, b, width, ROW_SUM_SEGMENT, name)
        return accumulator_add(self.cfg)(m, a, b, name)
