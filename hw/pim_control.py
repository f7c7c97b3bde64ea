"""The PIM tile's control: its one command stream (load, compute, convert, memory read and
write), table writes, weight steps and the responses."""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.data import ArrayLayout
from amaranth.lib.wiring import In, Out

from .config import TileConfig
from .layouts import PimOp, cmd_layout, response_layout, step_layout, table_layout, weight_layout
from .pim_isa import EXP_BITS
from .pim_programs import Conversion
from .util import select

__all__ = ["PimControl"]


@dataclass(frozen=True)
class _Registers:
    """The control's state, shared by its sub-blocks (idle/memory mode, load, compute)."""

    n_slices: Signal
    zero: Signal
    totals: Signal
    row_base: Signal
    table: Signal
    table_full: Signal
    entry: Signal
    wr_row: Signal
    taken: Signal
    written: Signal
    accept: Signal
    t: Signal
    slice_: Signal
    rsp_wait: Signal
    rsp_valid: Signal
    rsp_bank: Signal
    rsp_hole: Signal
    rsp_data: Signal


class PimControl(wiring.Component):
    """Runs the PIM tile's commands and owns its SRAM write port and memory-mode reads.

    One command stream (:class:`~lutcore.hw.layouts.PimOp`), taken only while idle and no
    response is waiting to be read, so commands run one after another in order:

    - ``LOAD``: *load* state: ``n_slices`` table beats from the precompute unit are written,
      one row per cycle in every bank (the ``entries`` rows of a slice in ``entries``
      cycles), while each batch row's activation sum ``S`` is accumulated;
    - ``COMPUTE``: *compute* state: weight beats become lookup steps over all the slices of
      the last load, slice-major and planes least significant first (``n_slices`` not used:
      the loaded K is the GEMV's K), then *drain* until the result has been read;
    - ``CONVERT``: *convert* state: the conversion engine runs ``program`` on the banks'
      region (``converting``: it owns the banks), then one response with its ``exp``;
    - ``WRITE`` (one cycle) and ``READ`` (one response, the word, the cycle after): memory
      mode at (``bank``, ``row``); beyond the SRAM (bank >= ``banks`` or row >=
      ``sram_rows``) a write does nothing and a read answers 0;
    - codes 5..7 are taken and do nothing.

    Members: ``cmd``, ``tables`` (precompute output), ``w`` in; ``step`` and ``rsp`` out;
    the write port ``wr_addr``/``wr_en``/``wr_data``; the memory-mode read
    ``mem_rd_addr``/``mem_rd_en`` (per bank) and ``rd_data0`` (port 0's data per bank);
    ``computing`` (port 0 belongs to the lookup unit); ``converting``, ``convert_start``,
    ``convert_program`` out and ``convert_busy``, ``convert_exp`` in (the engine);
    ``zero[n]`` and ``totals[m]`` (``S`` per batch row, signed ``total_bits``) for the
    array; ``result_done`` (the result beat was read).
    """

    def __init__(self, cfg: TileConfig):
        self.cfg = cfg
        word = unsigned(cfg.sram_word_bits)
        addr = cmd_layout(cfg)["row"].shape
        super().__init__(
            {
                "cmd": In(stream.Signature(cmd_layout(cfg))),
                "tables": In(stream.Signature(table_layout(cfg))),
                "w": In(stream.Signature(weight_layout(cfg))),
                "step": Out(stream.Signature(step_layout(cfg))),
                "rsp": Out(stream.Signature(response_layout(cfg))),
                "wr_addr": Out(ArrayLayout(addr, cfg.banks)),
                "wr_en": Out(ArrayLayout(word, cfg.banks)),
                "wr_data": Out(ArrayLayout(word, cfg.banks)),
                "mem_rd_addr": Out(addr),
                "mem_rd_en": Out(cfg.banks),
                "rd_data0": In(ArrayLayout(word, cfg.banks)),
                "computing": Out(1),
                "converting": Out(1),
                "convert_start": Out(1),
                "convert_program": Out(Conversion),
                "convert_busy": In(1),
                "convert_exp": In(EXP_BITS),
                "zero": Out(ArrayLayout(unsigned(cfg.w_bits), cfg.N)),
                "totals": Out(ArrayLayout(signed(cfg.total_bits), cfg.M)),
                "result_done": In(1),
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        r = self._registers()
        m.d.comb += [self.zero.eq(r.zero), self.totals.eq(r.totals)]
        self._memory_response(m, r)
        with m.FSM(name="phase"):
            with m.State("idle"):
                self._idle(m, r)
            with m.State("load"):
                self._load(m, r)
            with m.State("compute"):
                self._compute(m, r)
            with m.State("drain"):
                m.d.comb += self.computing.eq(1)
                with m.If(self.result_done):
                    m.next = "idle"
            with m.State("convert"):  # the engine started the cycle before: busy from now
                m.d.comb += self.converting.eq(1)
                with m.If(~self.convert_busy):
                    m.d.sync += [
                        r.rsp_valid.eq(1),
                        r.rsp_data.word.eq(0),
                        r.rsp_data.exp.eq(self.convert_exp),
                    ]
                    m.next = "idle"
        return m

    def _registers(self) -> _Registers:
        cfg = self.cfg
        entries = cfg.entries
        n_slices = Signal(range(cfg.max_slices + 1), init=1)  # of the last load
        zero = Signal.like(self.zero)
        totals = Signal.like(self.totals, reset_less=True)
        row_base = Signal.like(self.mem_rd_addr)  # first row of the current slice
        # load: table beats -> one SRAM row per cycle in every bank
        table = Signal(table_layout(cfg), reset_less=True)
        table_full = Signal()
        entry = Signal(range(entries))  # the entry within the slice
        wr_row = Signal.like(row_base)  # rows are written in order: slice-major, then entry
        taken = Signal(range(cfg.max_slices + 1))  # table beats accepted
        written = Signal(range(cfg.max_slices + 1))  # slices fully written
        accept = Signal()
        # compute: weight beats -> steps
        t = Signal(range(cfg.w_bits))
        slice_ = Signal(range(cfg.max_slices))
        # memory mode
        rsp_wait, rsp_valid = Signal(), Signal()
        rsp_bank = Signal.like(self.cmd.payload.bank)
        rsp_hole = Signal()  # the request was beyond the SRAM: answer 0
        rsp_data = Signal(response_layout(self.cfg), reset_less=True)
        return _Registers(
            n_slices, zero, totals, row_base, table, table_full, entry, wr_row, taken,
            written, accept, t, slice_, rsp_wait, rsp_valid, rsp_bank, rsp_hole, rsp_data,
        )  # fmt: skip

    def _memory_response(self, m: Module, r: _Registers) -> None:
        """The response to a ``READ``: the word the cycle after the read, held until taken
        (0 for a request beyond the SRAM)."""
        cfg = self.cfg
        rsp_wait, rsp_valid, rsp_bank, rsp_hole, rsp_data = (
            r.rsp_wait,
            r.rsp_valid,
            r.rsp_bank,
            r.rsp_hole,
            r.rsp_data,
        )
        m.d.comb += [self.rsp.valid.eq(rsp_valid), self.rsp.payload.eq(rsp_data)]
        with m.If(self.rsp.valid & self.rsp.ready):
            m.d.sync += rsp_valid.eq(0)
        with m.If(rsp_wait):
            word = select([self.rd_data0[b] for b in range(cfg.banks)], rsp_bank)
            m.d.sync += [
                rsp_wait.eq(0),
                rsp_valid.eq(1),
                rsp_data.word.eq(Mux(rsp_hole, 0, word)),
                rsp_data.exp.eq(0),
            ]

    def _idle(self, m: Module, r: _Registers) -> None:
        """Idle: a command is taken once the last response has been read, and runs."""
        cfg = self.cfg
        rsp_wait, rsp_valid, rsp_bank, rsp_hole = r.rsp_wait, r.rsp_valid, r.rsp_bank, r.rsp_hole
        row_base, t, slice_, zero = r.row_base, r.t, r.slice_, r.zero
        totals, taken, written, table_full = r.totals, r.taken, r.written, r.table_full
        wr_row, n_slices = r.wr_row, r.n_slices
        m.d.comb += self.cmd.ready.eq(~rsp_wait & ~rsp_valid)
        c = self.cmd.payload
        # a field that can hold a bank or row beyond the SRAM is checked
        exists = Const(1, 1)
        if cfg.banks < 1 << len(c.bank):
            exists = exists & (c.bank < Const(cfg.banks, len(c.bank)))
        if cfg.sram_rows < 1 << len(c.row):
            exists = exists & (c.row < Const(cfg.sram_rows, len(c.row)))
        ones = Const((1 << cfg.sram_word_bits) - 1, cfg.sram_word_bits)
        m.d.comb += [self.wr_addr[b].eq(c.row) for b in range(cfg.banks)]
        m.d.comb += [self.wr_data[b].eq(c.wdata) for b in range(cfg.banks)]
        m.d.comb += [self.mem_rd_addr.eq(c.row), self.convert_program.eq(c.program)]
        with m.If(self.cmd.valid & self.cmd.ready), m.Switch(c.op):
            with m.Case(PimOp.WRITE):
                for b in range(cfg.banks):
                    m.d.comb += self.wr_en[b].eq(Mux(exists & (c.bank == b), ones, 0))
            with m.Case(PimOp.READ):
                m.d.comb += [self.mem_rd_en[b].eq(exists & (c.bank == b)) for b in range(cfg.banks)]
                m.d.sync += [rsp_wait.eq(1), rsp_bank.eq(c.bank), rsp_hole.eq(~exists)]
            with m.Case(PimOp.CONVERT):
                m.d.comb += self.convert_start.eq(1)
                m.next = "convert"
            with m.Case(PimOp.LOAD, PimOp.COMPUTE):
                m.d.sync += [row_base.eq(0), t.eq(0), slice_.eq(0)]
                if cfg.has_zero_point:
                    m.d.sync += zero.eq(c.zero)
                with m.If(c.op == PimOp.LOAD):
                    m.d.sync += [totals.eq(0), taken.eq(0), written.eq(0), table_full.eq(0)]
                    m.d.sync += wr_row.eq(0)
                    # 0 acts as 1 and more than the SRAM holds as max_slices (port table)
                    m.d.sync += n_slices.eq(
                        Mux(
                            c.n_slices == 0,
                            1,
                            Mux(c.n_slices > cfg.max_slices, cfg.max_slices, c.n_slices),
                        )
                    )
                    m.next = "load"
                with m.Else():
                    m.next = "compute"

    def _load(self, m: Module, r: _Registers) -> None:
        """Load: each table beat is written one entry row a cycle into every bank while the
        batch rows' activation sums accumulate."""
        cfg = self.cfg
        entries = cfg.entries
        table, table_full, entry, wr_row = r.table, r.table_full, r.entry, r.wr_row
        taken, written, accept, totals, n_slices = (
            r.taken,
            r.written,
            r.accept,
            r.totals,
            r.n_slices,
        )
        entry_last = table_full & (entry == entries - 1)
        m.d.comb += [
            self.tables.ready.eq((~table_full | entry_last) & (taken < n_slices)),
            accept.eq(self.tables.valid & self.tables.ready),
        ]
        with m.If(accept):
            m.d.sync += [table.eq(self.tables.payload), taken.eq(taken + 1)]
            m.d.sync += [
                totals[r].eq(totals[r] + self.tables.payload.total[r]) for r in range(cfg.M)
            ]
        with m.If(table_full):
            # the table register shifts down one entry a cycle: the row to write is
            # always entry 0 (a shift register, not an entries-wide multiplexer)
            with m.If(~accept):  # a new slice's tables replace the register
                for r in range(cfg.M):
                    for b in range(cfg.banks):
                        chunk = table.entries[r][b]
                        m.d.sync += [chunk[e].eq(chunk[e + 1]) for e in range(entries - 1)]
            for b in range(cfg.banks):
                row = Cat(*(table.entries[r][b][0] for r in range(cfg.M)))
                m.d.comb += [
                    self.wr_en[b].eq(-1),  # every bit
                    self.wr_addr[b].eq(wr_row),
                    self.wr_data[b].eq(row),
                ]
            m.d.sync += [entry.eq(Mux(entry_last, 0, entry + 1)), wr_row.eq(wr_row + 1)]
            with m.If(entry_last):
                m.d.sync += written.eq(written + 1)
        with m.If(accept):
            m.d.sync += [table_full.eq(1), entry.eq(0)]
        with m.Elif(entry_last):
            m.d.sync += table_full.eq(0)
        with m.If(~table_full & (written == n_slices)):
            m.next = "idle"

    def _compute(self, m: Module, r: _Registers) -> None:
        """Compute: each weight beat becomes a lookup step over the loaded slices."""
        cfg = self.cfg
        entries, beats = cfg.entries, cfg.w_bits
        t, slice_, row_base, n_slices = r.t, r.slice_, r.row_base, r.n_slices
        m.d.comb += self.computing.eq(1)
        s = self.step.payload
        last_slice = Signal.like(slice_)
        m.d.comb += last_slice.eq(n_slices - 1)
        tile_last = (slice_ == last_slice) & (t == beats - 1)
        m.d.comb += [
            self.step.valid.eq(self.w.valid),
            self.w.ready.eq(self.step.ready),
            s.base.eq(row_base),
            s.t.eq(t),
            s.first.eq((slice_ == 0) & (t == 0)),
            s.tile_last.eq(tile_last),
            s.neg.eq((t == beats - 1) if cfg.weight_format == "signed" else 0),
        ]
        m.d.comb += [s.planes[n].eq(self.w.payload[n][0]) for n in range(cfg.N)]
        with m.If(self.step.valid & self.step.ready):
            m.d.sync += t.eq(Mux(t == beats - 1, 0, t + 1))
            with m.If(t == beats - 1):
                m.d.sync += [slice_.eq(slice_ + 1), row_base.eq(row_base + entries)]
            with m.If(tile_last):
                m.next = "drain"
