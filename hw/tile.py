"""The LUT Tensor Core tile (precompute, table buffer, control, LUT array) and the choice of
tile by ``arch``."""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import connect

from .config import TileConfig
from .control import TileControl, connect_control
from .fp_precompute import FpTablePrecompute
from .fplut_array import FpLutArray
from .fpmac_tile import FpMacTile
from .layouts import table_layout, tile_signature
from .lut_array import LutArray
from .mac_tile import MacTile
from .pim_tile import PimTile
from .precompute import TablePrecompute
from .slice_buffer import SliceBuffer

__all__ = ["LutTile", "FpLutTile", "PORT_DOCS", "TILES", "make_tile"]

#: Meaning of each top-level stream (used by the generated port table).
PORT_DOCS = {
    "a": "activations, one K-slice per beat: payload[m][k] signed a_bits",
    "w": "weight planes, one beat per planes_per_cycle planes of a K-slice: payload[n][j] "
    "is K bits, bit k = bit (t*ppc + j) of Wq[k, n]",
    "cmd": "one command per output tile: n_slices (runtime K / K) and, for unsigned "
    "weights, zero[n]",
    "y": "one result per output tile: payload[m][n] signed acc_bits = sum_k A[m,k]*W[k,n]",
}


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
        super().__init__(tile_signature(cfg))

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
    """LUT Tensor Core's floating-point design point (``arch == "fplut"``): FP16 activation
    words build FP16 tables (:class:`~.fp_precompute.FpTablePrecompute`), the array adds
    looked-up entries in floating point into FP32 accumulators
    (:class:`~.fplut_array.FpLutArray`). The protocol is the LUT tile's (zero points in the
    command); results are FP32 words of ``sum_k A[m, k] * W[k, n]`` before the scale, which
    the dequant converter applies.
    """

    BLOCKS = ("precompute", "table_buffer", "control", "fplut_array")
    PRECOMPUTE = FpTablePrecompute
    ARRAY = FpLutArray


#: tile class of each ``arch``
TILES = {"lut": LutTile, "mac": MacTile, "fpmac": FpMacTile, "fplut": FpLutTile, "pim": PimTile}


def make_tile(cfg: TileConfig) -> wiring.Component:
    """The tile ``cfg.arch`` names, built for ``cfg``."""
    return TILES[cfg.arch](cfg)
