"""The LUT Tensor Core tile: precompute, table buffer, control and LUT array."""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out, connect

from .config import TileConfig
from .control import TileControl
from .layouts import act_layout, cmd_layout, result_layout, weight_layout
from .lut_array import LutArray
from .precompute import TablePrecompute
from .table_buffer import TableBuffer

__all__ = ["LutTile", "PORT_DOCS"]

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

    def __init__(self, cfg: TileConfig):
        self.cfg = cfg
        super().__init__(
            {
                "a": In(stream.Signature(act_layout(cfg))),
                "w": In(stream.Signature(weight_layout(cfg))),
                "cmd": In(stream.Signature(cmd_layout(cfg))),
                "y": Out(stream.Signature(result_layout(cfg))),
            }
        )

    def elaborate(self, platform) -> Module:
        cfg = self.cfg
        m = Module()
        m.submodules.precompute = precompute = TablePrecompute(cfg)
        m.submodules.table_buffer = tables = TableBuffer(cfg)
        m.submodules.control = control = TileControl(cfg)
        m.submodules.lut_array = array = LutArray(cfg)

        connect(m, wiring.flipped(self.a), precompute.i)
        connect(m, precompute.o, tables.i)
        connect(m, wiring.flipped(self.w), control.w)
        connect(m, wiring.flipped(self.cmd), control.cmd)
        connect(m, control.beat, array.beat)
        connect(m, array.o, wiring.flipped(self.y))
        m.d.comb += [
            array.tables.eq(tables.current),
            control.cur_valid.eq(tables.cur_valid),
            control.nxt_valid.eq(tables.nxt_valid),
            tables.consumed.eq(control.consumed),
            control.acc_free.eq((~array.o.valid | self.y.ready) & ~array.last_pending),
        ]
        return m
