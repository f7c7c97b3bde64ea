"""The MAC baseline's array: ``M x N`` cells of multipliers, adder tree, shift-and-add."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, Value, signed

from .accumulate import AccumulatePorts, accumulate
from .columns import ColumnArray
from .config import TileConfig
from .layouts import act_layout
from .util import named, tree_sum

__all__ = ["MacArray", "beat_digits", "ternary_controls", "weight_digit"]


def weight_digit(
    m: Module, cfg: TileConfig, bits: list[Value], zbits: Value | None, neg: Value, name: str
) -> Signal:
    """The integer value of one weight's digit in a beat: ``d = sum_j 2**j * bits[j]`` over
    the beat's ``planes_per_cycle`` planes, minus the zero point's digit ``zbits`` (unsigned
    weights), or with the top plane weighted ``-2**(ppc-1)`` when ``neg`` (the signed
    weight's top digit), or ``2*w - 1`` for a BCQ plane. Signed ``ppc + 1`` bits:
    ``|d| <= 2**ppc - 1``.

    Shift-and-add over the beats then gives ``Wq - z`` (or the signed ``Wq``) exactly: this is
    the baseline's dequantization, done digit by digit for bit-serial configurations.
    """
    ppc = cfg.planes_per_cycle
    digit = Signal(signed(ppc + 1), name=name)
    if cfg.weight_format == "bcq":  # ppc == w_bits == 1: +1 is 0b01, -1 is 0b11
        m.d.comb += digit.eq(Cat(1, ~bits[0]).as_signed())
    elif zbits is None:
        m.d.comb += digit.eq(Cat(*bits, bits[-1] & neg).as_signed())
    else:
        m.d.comb += digit.eq(Cat(*bits) - zbits)
    return digit


def ternary_controls(m: Module, beat, n: int, k: int) -> tuple[Signal, Signal]:
    """``(add, sub)`` of the ternary weight ``[k, n]`` of a beat (2-bit two's complement
    code, both planes in the beat): ``add`` for +1 (0b01), ``sub`` for -1 (0b11); 0 and the
    non-ternary code 0b10 skip."""
    low, high = beat.planes[n][0][k], beat.planes[n][1][k]
    return named(m, low & ~high, f"add_{n}_{k}"), named(m, low & high, f"sub_{n}_{k}")


def beat_digits(m: Module, cfg: TileConfig, beat) -> list[list[Signal]]:
    """``digits[n][k]``: every weight's digit of one issued beat (:func:`weight_digit`),
    decoded once per (column, k) and shared by the array's ``M`` rows."""
    digits = []
    for n in range(cfg.N):
        planes = [named(m, p, f"w_{n}_{j}") for j, p in enumerate(beat.planes[n])]
        zbits = named(m, beat.zbits[n], f"z_{n}") if cfg.has_zero_point else None
        column = []
        for k in range(cfg.K):
            bits = [planes[j][k] for j in range(cfg.planes_per_cycle)]
            column.append(weight_digit(m, cfg, bits, zbits, beat.neg, f"d_{n}_{k}"))
        digits.append(column)
    return digits


class MacArray(ColumnArray):
    """``M x N`` multiply-accumulate cells, the baseline the LUT array is compared with.

    Each beat carries ``planes_per_cycle`` bit planes of every weight. The array decodes each
    weight's digit (:func:`weight_digit`) once per (column, k), shared by the ``M`` rows,
    multiplies it by each activation (signed ``a_bits`` x signed ``ppc + 1`` bits; the
    synthesis flow maps multipliers with Booth encoding), sums the ``K`` products of a cell
    in a balanced adder tree and accumulates like the LUT array (``pipeline == 2`` puts a
    register after the tree). With ``planes_per_cycle == w_bits`` this is the plain
    dequantize-and-multiply design. Ternary weights (whole 2-bit codes per beat) have no
    multipliers: each activation is added, subtracted or skipped
    (:func:`ternary_controls`), the fair baseline of a ternary LUT tile.

    With ``N > 1`` the array is ``N`` columns, each this array with ``N = 1``
    (:func:`~lutcore.hw.units.column_array`: one module ``<top>__mac_column``, instances
    ``col_<n>``).

    Members: ``acts`` current activations ``[m][k]`` (broadcast); ``beat`` issued beats;
    ``o`` results; ``last_pending`` a tile's last beat is in the pipeline register.
    """

    OPERANDS = "acts"
    #: the column's module name in the Verilog (after ``<top>__``)
    UNIT = "mac_column"
    operand_layout = staticmethod(act_layout)

    def elaborate_cells(self, m: Module) -> None:
        cfg = self.cfg
        acts = [
            [named(m, self.acts[r][k], f"a_{r}_{k}") for k in range(cfg.K)] for r in range(cfg.M)
        ]
        if cfg.weight_format == "ternary":
            controls = [
                [ternary_controls(m, self.beat.payload, n, k) for k in range(cfg.K)]
                for n in range(cfg.N)
            ]

            def cell(row: int, col: int) -> Value:
                # add, subtract (one's complement, the +1s gathered in one leaf) or skip
                terms = [
                    Mux(add | sub, Mux(sub, ~acts[row][k], acts[row][k]), 0)
                    for k, (add, sub) in enumerate(controls[col])
                ]
                return tree_sum([*terms, tree_sum([sub for _, sub in controls[col]])])
        else:
            digits = beat_digits(m, cfg, self.beat.payload)

            def cell(row: int, col: int) -> Value:
                return tree_sum([acts[row][k] * digits[col][k] for k in range(cfg.K)])

        values = {}
        for row in range(cfg.M):
            for col in range(cfg.N):
                value = cell(row, col)
                values[row, col] = Signal(value.shape(), name=f"v_{row}_{col}")
                m.d.comb += values[row, col].eq(value)
        accumulate(m, cfg, values, AccumulatePorts.of(self))
