"""An array built from ``N`` column units (each the same array with ``N = 1``), placed with
:func:`~lutcore.hw.units.place`: one module in the Verilog, ``N`` instances ``col_<n>``.

The array stages the accumulate stage's control once for all columns (``control``) and
presents the result; each column takes the broadcast operands, the beat's broadcast fields
and its own ``[n]`` of :data:`COLUMN_FIELDS`, and gives result column ``n``.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Value
from amaranth.lib import wiring

from .accumulate import AccumulatePorts, control_stages, present_result
from .config import TileConfig
from .layouts import ArraySignature, beat_layout, control_layout, result_words
from .units import place

__all__ = ["COLUMN_FIELDS", "ColumnArray", "column_array"]

#: the beat fields that belong to one column (``[n]``); the others are broadcast
COLUMN_FIELDS = ("planes", "zbits", "scale")


def _fields(layout, pick) -> Value:
    """The word of struct ``layout`` whose fields are ``pick(name)``, in offset order."""
    fields = sorted(layout, key=lambda item: item[1].offset)
    assert all(f.offset == sum(g.width for _, g in fields[:i]) for i, (_, f) in enumerate(fields))
    return Cat(*(pick(name) for name, _ in fields))


def column_array(
    m: Module, array: wiring.Component, column, key: str, depth: int, operands=None
) -> None:
    """Build ``array`` (members as :class:`~lutcore.hw.layouts.ArraySignature`, ``N`` > 1)
    in ``m`` from ``N`` units ``column()`` (the array with ``N = 1`` and ``column=True``),
    unit ``key``. ``depth``: the register stages between a beat and its accumulate stage
    (the control is staged that often here, for every column); ``operands``: what the
    columns take instead of the array's own operands (registered ones)."""
    cfg = array.cfg
    name = array.signature.operands
    operands = getattr(array, name) if operands is None else operands
    beat = array.beat.payload
    control = control_stages(m, AccumulatePorts.of(array), depth)
    present_result(m, control)
    staged = {"valid": control.valid, "t": control.t, "first": control.first}
    staged["tile_last"] = control.tile_last
    col_beat = beat_layout(cfg.replace(N=1))
    for n in range(cfg.N):

        def pick(member, n=n):
            return getattr(beat, member)[n] if member in COLUMN_FIELDS else getattr(beat, member)

        ports = {
            name: operands,
            "beat__payload": _fields(col_beat, pick),
            "beat__valid": array.beat.valid,
            "control": _fields(control_layout(cfg), staged.__getitem__),
            "o__payload": Cat(*(result_words(array.o.payload)[r][n] for r in range(cfg.M))),
            "o__ready": array.o.ready,
        }
        place(m, f"col_{n}", column, key, ports)


class ColumnArray(wiring.Component):
    """An ``M x N`` array (:class:`~lutcore.hw.layouts.ArraySignature`) whose cells a
    subclass builds in :meth:`elaborate_cells`; with ``N > 1`` it is ``N`` columns, each
    the same class with ``N = 1`` and ``column=True`` (one module ``<top>__<UNIT>``).

    Subclasses set ``OPERANDS`` (the broadcast member's name), ``UNIT`` and
    :meth:`operand_layout`."""

    OPERANDS: str
    UNIT: str

    def __init__(self, cfg: TileConfig, *, column: bool = False):
        self.cfg = cfg
        layout = self.operand_layout(cfg)
        super().__init__(ArraySignature(cfg, self.OPERANDS, layout, column=column))

    @staticmethod
    def operand_layout(cfg: TileConfig):
        raise NotImplementedError

    @property
    def control_depth(self) -> int:
        """Register stages between an issued beat and its accumulate stage."""
        return 1 if self.cfg.pipeline >= 2 else 0

    def column(self) -> ColumnArray:
        """One column of this array (``N = 1``, ``column=True``)."""
        return type(self)(self.cfg.replace(N=1), column=True)

    def elaborate(self, platform) -> Module:
        m = Module()
        if self.cfg.N > 1:
            column_array(m, self, self.column, self.UNIT, self.control_depth)
        else:
            self.elaborate_cells(m)
        return m

    def elaborate_cells(self, m: Module) -> None:
        """The cells themselves (``M x N``; a column when ``N == 1``)."""
        raise NotImplementedError
