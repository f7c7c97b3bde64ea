"""The MAC baseline tile: activation buffer, control and MAC array (same interface as the
LUT tile)."""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import connect

from .config import TileConfig
from .control import TileControl, connect_control
from .layouts import TileSignature, act_layout
from .mac_array import MacArray
from .slice_buffer import SliceBuffer

__all__ = ["MacTile"]


class MacTile(wiring.Component):
    """The multiply-based baseline computing ``Y[m, n] = sum_k A[m, k] * W[k, n]`` exactly,
    with the LUT tile's streams, formats, accumulators, runtime K, control and pipelining:
    the activations of a K-slice are double-buffered where the LUT tile buffers tables, and
    the array multiplies instead of looking up. See :class:`~lutcore.hw.tile.LutTile` for the
    protocol.
    """

    #: submodule names, as in the emitted Verilog (``<top>__<block>``); the last is the array
    BLOCKS = ("act_buffer", "control", "mac_array")
    ARRAY = MacArray

    def __init__(self, cfg: TileConfig):
        self.cfg = cfg
        super().__init__(TileSignature(cfg))

    def elaborate(self, platform) -> Module:
        cfg = self.cfg
        m = Module()
        m.submodules.act_buffer = acts = SliceBuffer(act_layout(cfg))
        m.submodules.control = control = TileControl(cfg)
        array = self.ARRAY(cfg)
        m.submodules[self.BLOCKS[-1]] = array

        connect(m, wiring.flipped(self.a), acts.i)
        m.d.comb += array.acts.eq(acts.current)
        connect_control(m, self, acts, control, array)
        return m
