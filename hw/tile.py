"""The LUT Tensor Core tile (precompute, table buffer, control, LUT array) and its FP-table
variant."""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import connect

from .config import TileConfig
from .control import TileControl, connect_control
from .fp_precompute import FpTablePrecompute
from .fplut_array import FpLutArray
from .layouts import TileSignature, table_layout
from .lut_array import LutArray
from .precompute import TablePrecompute
from .slice_buffer import SliceBuffer

__all__ = ["FpLutTile", "LutTile"]


class LutTile(wiring.Component):
    """A LUT Tensor Core tile computing ``Y[m, n] = sum_k A[m, k] * W[k, n]`` exactly.

    Per output tile the host sends one ``cmd`` beat, ``n_slices`` activation beats on ``a``
    and ``n_slices * w_bits / planes_per_cycle`` weight beats on ``w`` (slice-major, planes
    least significant first), and receives one ``y`` beat. All four are
    :mod:`amaranth.lib.stream` valid/ready interfaces.
    """

    #: submodule names, as in the emitted Verilog (``<top>__<block>``); the last is the array
    BLOCKS = ("precompute", "table_buffer", "control", "lut_array")
    PRECOMPUTE = TablePrecompute
    ARRAY = LutArray

    def __init__(self, cfg: TileConfig):
        self.cfg = cfg
        super().__init__(TileSignature(cfg))

    def elaborate(self, platform) -> Module:
        cfg = self.cfg
        m = Module()
        m.submodules.precompute = precompute = self.PRECOMPUTE(cfg)
        m.submodules.table_buffer = tables = SliceBuffer(table_layout(cfg))
        m.submodules.control = control = TileControl(cfg)
        m.submodules[self.BLOCKS[-1]] = array = self.ARRAY(cfg)

        connect(m, wiring.flipped(self.a), precompute.i)
        connect(m, precompute.o, tables.i)
        m.d.comb += array.tables.eq(tables.current)
        connect_control(m, self, tables, control, array)
        return m


class FpLutTile(LutTile):
    """LUT Tensor Core's floating-point design point (``arch = "fplut"``): FP16 activation
    words build FP16 tables (:class:`~lutcore.hw.fp_precompute.FpTablePrecompute`), the array adds
    looked-up entries in floating point into FP32 accumulators
    (:class:`~lutcore.hw.fplut_array.FpLutArray`). The protocol is the LUT tile's (zero points in
    the
    command); results are FP32 words of ``sum_k A[m, k] * W[k, n]`` before the scale, which
    the dequant converter applies.
    """

    BLOCKS = ("precompute", "table_buffer", "control", "fplut_array")
    PRECOMPUTE = FpTablePrecompute
    ARRAY = FpLutArray
