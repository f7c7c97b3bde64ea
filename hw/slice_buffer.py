"""Double-buffered per-slice operand store: the array reads ``current`` while ``next`` fills."""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["SliceBuffer"]


class SliceBuffer(wiring.Component):
    """Two registers of one K-slice's operands (the LUT tile's tables, the MAC tile's
    activations): ``next``, written from the input stream, and ``current``, broadcast to the
    array. ``current`` is loaded from ``next`` when the array releases it or when it is
    empty; copying instead of ping-ponging keeps a mux off every broadcast bit.

    Members: ``i`` operands in (payload ``layout``); ``current`` the operands in use;
    ``cur_valid``/``nxt_valid`` occupancy (for the controller's issue rule); ``consumed``
    pulsed by the array in the cycle it uses ``current`` for the last time.
    """

    def __init__(self, layout):
        self.layout = layout
        super().__init__(
            {
                "i": In(stream.Signature(layout)),
                "current": Out(layout),
                "cur_valid": Out(1),
                "nxt_valid": Out(1),
                "consumed": In(1),
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
            swap.eq(self.consumed | ~self.cur_valid),
            self.i.ready.eq(~self.nxt_valid | swap),
        ]
        with m.If(swap):
            m.d.sync += [cur.eq(nxt), self.cur_valid.eq(self.nxt_valid)]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [nxt.eq(self.i.payload), self.nxt_valid.eq(1)]
        with m.Elif(swap):
            m.d.sync += self.nxt_valid.eq(0)
        return m
