"""Double-buffered per-slice operand store: the array reads ``current`` while ``next`` fills."""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .layouts import SliceHandshake

__all__ = ["SliceBuffer"]


class SliceBuffer(wiring.Component):
    """Two registers of one K-slice's operands (the LUT tile's tables, the MAC tile's
    activations): ``next``, written from the input stream, and ``current``, broadcast to the
    array. ``current`` is loaded from ``next`` when the array releases it or when it is
    empty; copying instead of ping-ponging keeps a mux off every broadcast bit.

    Members: ``i`` operands in (payload ``layout``); ``current`` the operands in use;
    ``slots`` (:class:`~lutcore.hw.layouts.SliceHandshake`) occupancy for the controller's
    issue rule, and ``consumed`` from the array.
    """

    def __init__(self, layout):
        self.layout = layout
        super().__init__(
            {
                "i": In(stream.Signature(layout)),
                "current": Out(layout),
                "slots": Out(SliceHandshake()),
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        # Data registers need no reset (their valid flags have one): cheaper flip-flops.
        nxt = Signal(self.layout, reset_less=True)
        cur = Signal(self.layout, reset_less=True)
        m.d.comb += self.current.eq(cur)
        swap = Signal()
        m.d.comb += [
            swap.eq(self.slots.consumed | ~self.slots.cur_valid),
            self.i.ready.eq(~self.slots.nxt_valid | swap),
        ]
        with m.If(swap):
            m.d.sync += [cur.eq(nxt), self.slots.cur_valid.eq(self.slots.nxt_valid)]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [nxt.eq(self.i.payload), self.slots.nxt_valid.eq(1)]
        with m.Elif(swap):
            m.d.sync += self.slots.nxt_valid.eq(0)
        return m
