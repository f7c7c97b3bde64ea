"""Bit-serial LUT MAC array: ``M x N`` cells of table select, adder tree, shift-and-add."""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import Module, Mux, Signal, Value

from .accumulate import AccumulatePorts, accumulate
from .columns import ColumnArray
from .config import TileConfig
from .layouts import table_layout
from .util import named, select, stage, tree_sum

__all__ = ["LutArray", "beat_lanes", "cell_value", "group_partial", "plane_partial"]


def plane_partial(cfg: TileConfig, table, row: int, bits: Value, zbit: Value, neg: Value) -> Value:
    """``Q = sum_k a[row][k] * (w_k - z)`` for one weight plane (``w_k`` = ``bits[k]``,
    ``z`` = ``zbit``), negated when ``neg`` (the signed top plane). Signed result.

    Symmetric table: each chunk yields ``T[idx] = sum_j a_j*(2*w_j - 1)``; with the slice sum
    ``S``, ``sum_k a_k*(w_k - z) = (sum_c T[idx_c] + (1 - 2z)*S) / 2``, so the offset is one
    more leaf of the tree and the halving is exact. Negations (the index MSB, ``z``, ``neg``)
    are one's complements whose ``+1`` carries are gathered into a single small leaf.

    With ``offset = "output"`` only ``sum_c T[idx_c]`` (twice ``Q`` less its offset term, which
    the dequant converter applies: :meth:`LutArray.row_sums`).

    Unsigned table: ``sum_c T[idx_c] - z*S``.

    BCQ planes (``w_k`` = 1 means +1, 0 means -1): ``sum_c T[idx_c]`` straight from a
    symmetric table; ``2 * sum_c T[idx_c] - S`` from an unsigned one.
    """
    g = cfg.g
    entries = table.entries[row]
    total = table.total[row]
    leaves: list[Value] = []
    carries: list[Value] = []

    def leaf(value: Value, negate: Value) -> None:
        leaves.append(Mux(negate, ~value, value))
        carries.append(negate)

    for c in range(cfg.chunks):
        idx = bits[c * g : (c + 1) * g]
        chunk = [entries[c][e] for e in range(cfg.entries)]
        if cfg.symmetric:
            msb, low = idx[g - 1], idx[: g - 1]  # symmetric tables have g >= 2
            value = select(chunk, Mux(msb, low, ~low))
            # T[p] = E[p_low] if the MSB is set, else -E[~p_low]
            leaf(value, ~msb ^ neg)
        else:
            value = select([0, *chunk], idx)
            leaf(value, neg)
    if cfg.weight_format == "bcq":
        if cfg.symmetric:
            return tree_sum([*leaves, tree_sum(carries)])
        leaves = [v << 1 for v in leaves] + [~total]
        return tree_sum([*leaves, tree_sum(carries) << 1, 1])
    if cfg.symmetric and getattr(cfg, "offset_out", False):
        return tree_sum([*leaves, tree_sum(carries)])  # twice Q less its offset: no halving
    if cfg.symmetric:
        leaf(total, zbit ^ neg)
        return tree_sum([*leaves, tree_sum(carries)]) >> 1  # signed: arithmetic shift
    if cfg.has_zero_point:
        # neg never occurs with zero points (signed weights have none): subtract z*S
        leaves.append(Mux(zbit, ~total, 0))
        carries.append(zbit)
    return tree_sum([*leaves, tree_sum(carries)])


def group_partial(cfg: TileConfig, table, row: int, codes: Value) -> Value:
    """``sum_k a[row][k] * t_k`` for one beat of base-3 ternary group codes (``codes``: the
    column's ``K/g`` codes, :func:`~lutcore.hw.layouts.weight_layout`). Signed result.

    Each group reads ``T[|v|]`` (0 for ``|v| = 0``, and for a magnitude above the table's
    ``(3**g - 1)/2`` entries, which no ternary group has) and negates it when the sign bit
    is set; the negations are one's complements whose ``+1`` carries are one small leaf.
    """
    width = cfg.group_code_bits
    leaves, carries = [], []
    for c in range(cfg.chunks):
        code = codes[c * width : (c + 1) * width]
        magnitude, sign = code[: width - 1], code[width - 1]
        chunk = [table.entries[row][c][e] for e in range(cfg.entries)]
        value = select([0, *chunk] + [0] * ((1 << (width - 1)) - 1 - cfg.entries), magnitude)
        leaves.append(Mux(sign, ~value, value))
        carries.append(sign)
    return tree_sum([*leaves, tree_sum(carries)])


def cell_value(cfg: TileConfig, table, row: int, beat, col: int) -> Value:
    """One cell's contribution of one beat, ``sum_j 2**j * Q_j`` over the beat's local planes
    (before the beat's shift ``t * planes_per_cycle``); base-3 ternary groups:
    :func:`group_partial`."""
    if cfg.base3:
        return group_partial(cfg, table, row, beat.planes[col][0])
    ppc = cfg.planes_per_cycle
    terms = []
    for j in range(ppc):
        neg = beat.neg if j == ppc - 1 else 0
        zbit = beat.zbits[col][j] if cfg.zero_in_tile else 0
        q = plane_partial(cfg, table, row, beat.planes[col][j], zbit, neg)
        terms.append(q << j if j else q)
    return tree_sum(terms)


@dataclass(frozen=True)
class BeatLanes:
    """The issued beat's fields every cell reads, each its own named signal (see
    :func:`beat_lanes`)."""

    planes: list[list[Value]]
    zbits: list[list[Value]]
    neg: Value
    t: Value


@dataclass(frozen=True)
class TableLanes:
    """One K-slice's tables as named signals: ``entries[m][c][e]`` and ``total[m]``."""

    entries: list[list[list[Value]]]
    total: list[Value]


def beat_lanes(m: Module, cfg: TileConfig, beat) -> BeatLanes:
    """The issued beat's fields every cell reads, each its own named signal: ``planes[n][j]``,
    ``zbits[n][j]``, ``neg`` and ``t``."""
    return BeatLanes(
        planes=[
            [named(m, p, f"w_{n}_{j}") for j, p in enumerate(beat.planes[n])] for n in range(cfg.N)
        ],
        zbits=[
            [named(m, beat.zbits[n][j], f"z_{n}_{j}") for j in range(cfg.planes_per_cycle)]
            for n in range(cfg.N)
        ],
        neg=beat.neg,
        t=beat.t,
    )


class LutArray(ColumnArray):
    """``M x N`` LUT MAC cells; the accumulators double as the result register.

    Each issued beat adds ``cell_value << (t * planes_per_cycle)`` to every accumulator
    (restarting on ``first``). After a tile's last beat the accumulators are presented on
    ``o`` (``[m][n]`` signed ``acc_bits``) until read; the controller does not issue the next
    tile's first beat until then. With ``pipeline == 2`` a register follows the adder tree;
    ``last_pending`` tells the controller a tile's last beat is in that register.

    With ``N > 1`` the array is ``N`` columns, each this array with ``N = 1``
    (:func:`~lutcore.hw.units.column_array`: one module ``<top>__lut_column`` in the Verilog,
    instances ``col_<n>``).

    Members: ``tables`` current tables (broadcast); ``beat`` issued beats; ``o`` results.
    """

    OPERANDS = "tables"
    #: the column's module name in the Verilog (after ``<top>__``)
    UNIT = "lut_column"
    operand_layout = staticmethod(table_layout)

    def elaborate_cells(self, m: Module) -> None:
        cfg = self.cfg
        beat = self.beat.payload
        # Every cell reads table entries and weight bits: give each field its own signal once,
        # so cells reference small signals instead of slicing the wide buses (which makes
        # elaboration quadratic in the tile size).
        tables = TableLanes(
            entries=[
                [
                    [named(m, e, f"t_{r}_{c}_{i}") for i, e in enumerate(chunk)]
                    for c, chunk in enumerate(self.tables.entries[r])
                ]
                for r in range(cfg.M)
            ],
            total=[]
            if cfg.base3
            else [named(m, self.tables.total[r], f"s_{r}") for r in range(cfg.M)],
        )
        lanes = beat_lanes(m, cfg, beat)
        values = {}
        for row in range(cfg.M):
            for col in range(cfg.N):
                value = cell_value(cfg, tables, row, lanes, col)
                values[row, col] = Signal(value.shape(), name=f"v_{row}_{col}")
                m.d.comb += values[row, col].eq(value)

        accumulate(m, cfg, values, AccumulatePorts.of(self))

    def elaborate(self, platform) -> Module:
        m = super().elaborate(platform)
        if getattr(self.cfg, "offset_out", False) and not self.signature.column:
            self.row_sums(m)
        return m

    def slice_sum(self, m: Module, row: int) -> Value:
        """Row ``row``'s activation sum over the current slice (the tables' ``total``)."""
        return self.tables.total[row]

    def sum_add(self, m: Module, a: Value, b: Value, name: str) -> Value:
        """The row sums' accumulator addition (integers; the FP-table tile's in its format)."""
        return a + b

    def row_sums(self, m: Module) -> None:
        """``offset = "output"``: ``o.payload.total[m]``, row ``m``'s activation sum over the
        tile: the slice sum (:meth:`slice_sum`) added once per slice (on its first beat,
        ``t == 0``) into an accumulator restarting on ``first``, staged as the cells' values
        are (``pipeline == 2``), so it is complete with them."""
        cfg = self.cfg
        beat = self.beat.payload
        valid, t, first = self.beat.valid, beat.t, beat.first
        if cfg.pipeline >= 2:  # one register stage, as the cells' values and their control
            valid = stage(m, 1, valid, "sums_valid_q", data=False)
            t, first = stage(m, 1, t, "sums_t_q"), stage(m, 1, first, "sums_first_q")
        for row in range(cfg.M):
            value = self.slice_sum(m, row)
            if cfg.pipeline >= 2:
                value = stage(m, 1, value, f"s_{row}_q")
            out = self.o.payload.total[row]
            total = Signal(out.shape(), name=f"total_{row}", reset_less=True)
            total_next = Signal(out.shape(), name=f"total_next_{row}")
            m.d.comb += total_next.eq(
                self.sum_add(m, Mux(first, 0, total), value, f"total_add_{row}")
            )
            with m.If(valid & (t == 0)):
                m.d.sync += total.eq(total_next)
            m.d.comb += out.eq(total)
