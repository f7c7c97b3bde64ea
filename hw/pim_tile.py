"""The SRAM processing-in-memory tile (SAIL style): batched LUT-GEMV over SRAM-resident
tables, and the same SRAM as plain memory when not computing."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, signed, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.data import ArrayLayout
from amaranth.lib.wiring import In, Out, connect

from .accumulate import AccumulatePorts, accumulate
from .config import TileConfig
from .layouts import TileSignature, result_layout
from .pim_bank_convert import BankConvert
from .pim_control import PimControl
from .pim_lookup import PimLookup, lookup_beat_layout
from .pim_sram import TableSram
from .precompute import TablePrecompute

__all__ = ["PimArray", "PimTile"]


class PimArray(wiring.Component):
    """``M x N`` accumulators (batch row x column) of the PIM tile: each finished step adds
    ``(+-values) << t``, the signed top plane subtracted; a tile's first step starts from
    ``-zero[n] * S[m]`` instead of 0, so the result is ``sum_k A[m, k] * (Wq[k, n] - z_n)``
    exactly. Results as :class:`~lutcore.hw.lut_array.LutArray` (held until read)."""

    def __init__(self, cfg: TileConfig):
        self.cfg = cfg
        super().__init__(
            {
                "beat": In(stream.Signature(lookup_beat_layout(cfg), always_ready=True)),
                "zero": In(ArrayLayout(unsigned(cfg.w_bits), cfg.N)),
                "totals": In(ArrayLayout(signed(cfg.total_bits), cfg.M)),
                "o": Out(stream.Signature(result_layout(cfg))),
                "last_pending": Out(1),
            }
        )

    def elaborate(self, platform) -> Module:
        cfg = self.cfg
        m = Module()
        beat = self.beat.payload
        values = {}
        for row in range(cfg.M):
            for col in range(cfg.N):
                v = beat.values[row][col]
                value = Mux(beat.neg, -v, v)
                if cfg.has_zero_point:
                    value = value - Mux(beat.first, self.zero[col] * self.totals[row], 0)
                values[row, col] = value
        accumulate(m, cfg, values, AccumulatePorts.of(self))
        return m


class PimTile(wiring.Component):
    """The PIM tile: ``Y[m, n] = sum_k A[m, k] * W[k, n]`` for a batch of ``M`` activation
    vectors whose tables live in SRAM.

    Protocol (all :mod:`amaranth.lib.stream`): one command stream ``cmd`` with an opcode
    (:class:`~lutcore.hw.layouts.PimOp`), run in order: ``LOAD`` takes ``n_slices``
    activation beats on ``a`` (one K-slice of the ``M`` rows each) and writes their tables
    into the banks (``entries`` cycles a slice; slice ``s`` at rows ``s*entries ..``);
    ``COMPUTE`` computes one output tile of ``N`` columns over the loaded slices:
    ``n_slices * w_bits`` weight beats on ``w`` (as the LUT tile's, one plane per beat) and
    one result on ``y``. The tables stay until the next load, so every column group of a
    layer reuses them. ``CONVERT`` runs an in-memory conversion on the banks' region above
    the tables (:class:`~lutcore.hw.pim_bank_convert.BankConvert`) and answers on ``rsp``;
    ``WRITE`` and ``READ`` reach the same banks as plain memory (``READ`` answers on
    ``rsp``). See :class:`~lutcore.hw.pim_control.PimControl`.

    ``external_sram``: the banks are left out and their ports become the ``sram`` member
    (the ASIC flow's view: SRAM macros beside the synthesized logic).
    """

    #: synthesized blocks (``<top>__<block>``); ``table_sram`` is the SRAM macro estimate
    BLOCKS = ("precompute", "control", "lookup", "pim_array", "convert")

    def __init__(self, cfg: TileConfig, *, external_sram: bool = False):
        self.cfg = cfg
        self.external_sram = external_sram
        super().__init__(TileSignature(cfg, external_sram=external_sram))

    def elaborate(self, platform) -> Module:
        cfg = self.cfg
        m = Module()
        m.submodules.precompute = precompute = TablePrecompute(cfg)
        m.submodules.control = control = PimControl(cfg)
        m.submodules.lookup = lookup = PimLookup(cfg)
        m.submodules.pim_array = array = PimArray(cfg)
        m.submodules.convert = engine = BankConvert(cfg)
        if self.external_sram:
            bus = self.sram
        else:
            m.submodules.table_sram = sram = TableSram(cfg)
            bus = sram.bus

        connect(m, wiring.flipped(self.a), precompute.i)
        connect(m, precompute.o, control.tables)
        connect(m, wiring.flipped(self.cmd), control.cmd)
        connect(m, wiring.flipped(self.w), control.w)
        connect(m, control.step, lookup.step)
        connect(m, control.rsp, wiring.flipped(self.rsp))
        connect(m, array.o, wiring.flipped(self.y))
        m.d.comb += [
            array.beat.valid.eq(lookup.o.valid),
            array.beat.payload.eq(lookup.o.payload),
            array.zero.eq(control.zero),
            array.totals.eq(control.totals),
            control.result_done.eq(self.y.valid & self.y.ready),
            engine.start.eq(control.convert_start),
            engine.program.eq(control.convert_program),
            control.convert_busy.eq(engine.busy),
            control.convert_exp.eq(engine.exp),
        ]
        # SRAM ports: the engine's while converting; otherwise writes from the control, and
        # read port 0 of each bank the lookup unit's while computing and memory mode's else
        converting = control.converting
        m.d.comb += [
            bus.wr_addr.eq(Mux(converting, engine.wr_addr.as_value(), control.wr_addr)),
            bus.wr_en.eq(Mux(converting, engine.wr_en.as_value(), control.wr_en)),
            bus.wr_data.eq(Mux(converting, engine.wr_data.as_value(), control.wr_data)),
            lookup.rd_data.eq(bus.rd_data),
            engine.rd_data.eq(bus.rd_data),
        ]
        for b in range(cfg.banks):
            m.d.comb += control.rd_data0[b].eq(bus.rd_data[b][0])
            for r in range(cfg.read_ports):
                addr, en = lookup.rd_addr[b][r], lookup.rd_en[b][r]
                if not r:
                    addr = Mux(control.computing, addr, control.mem_rd_addr)
                    en = Mux(control.computing, en, control.mem_rd_en[b])
                m.d.comb += [
                    bus.rd_addr[b][r].eq(Mux(converting, engine.rd_addr[b][r], addr)),
                    bus.rd_en[b][r].eq(Mux(converting, engine.rd_en[b][r], en)),
                ]
        return m
