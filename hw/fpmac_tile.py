"""The FP16 baseline tile: activation buffer, control and FP16 MAC array (the tile interface,
with FP16 activation words, per-column FP16 scales in the command and FP32 results)."""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import connect

from .config import TileConfig
from .control import TileControl, connect_control
from .fpmac_array import FpMacArray
from .layouts import act_layout, tile_signature
from .slice_buffer import SliceBuffer

__all__ = ["FpMacTile"]


class FpMacTile(wiring.Component):
    """``Y[m, n] = sum_k A[m, k] * fp16(scale[n] * W[k, n])`` with FP16 activations, fused
    ``K``-term dot products and FP32 accumulation over the output tile's K-slices (see
    :class:`~.fpmac_array.FpMacArray`). The protocol is the LUT tile's; each command also
    carries the columns' scales.
    """

    #: submodule names, as in the emitted Verilog (``<top>__<block>``)
    BLOCKS = ("act_buffer", "control", "fpmac_array")

    def __init__(self, cfg: TileConfig):
        self.cfg = cfg
        super().__init__(tile_signature(cfg))

    def elaborate(self, platform) -> Module:
        cfg = self.cfg
        m = Module()
        m.submodules.act_buffer = acts = SliceBuffer(act_layout(cfg))
        m.submodules.control = control = TileControl(cfg)
        m.submodules.fpmac_array = array = FpMacArray(cfg)

        connect(m, wiring.flipped(self.a), acts.i)
        m.d.comb += array.acts.eq(acts.current)
        connect_control(m, self, acts, control, array)
        return m
