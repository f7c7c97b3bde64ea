"""In-memory type conversion for the PIM tile: a bit-serial, word-parallel engine over a
bit-sliced SRAM subarray (SAIL/Neural-Cache style). Its instruction set is
:mod:`lutcore.hw.pim_isa`, its programs :mod:`lutcore.hw.pim_programs`.

Layout: the subarray holds ``columns`` words side by side; row ``r`` is bit ``r`` of every
word (a bit plane), so one row operation touches all words at once. Each cycle the engine
reads two rows (ports A and B), applies one micro-op per column with a one-bit ALU, a carry
latch ``C`` and a tag latch ``T`` per column, and writes one row (optionally only where
``T`` is set: per-column write enables). A one-bit OR over the columns feeds the sequencer
(the maximum-exponent search). The micro-program is a ROM the sequencer steps through once
per ``start``; it needs no branches, so its length is the conversion's cycle count.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from amaranth.hdl import Const, Module, Mux, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.data import ArrayLayout
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .pim_isa import EXP_BITS, BSource, CarryMode, OpKind, Program, TagMode, op_layout
from .util import select

__all__ = ["Latches", "PimConvert", "RowPort", "execute"]


@dataclass(frozen=True)
class RowPort:
    """One port of the subarray: ``addr`` (a row), ``data`` (a row of bits), ``en``."""

    addr: Value
    data: Value
    en: Value


@dataclass(frozen=True)
class Latches:
    """The engine's state besides the rows: per column the carry ``C`` and tag ``T``
    latches, and the recorded register ``E`` (:data:`~lutcore.hw.pim_isa.EXP_BITS`)."""

    carry: Signal
    tag: Signal
    recorded: Signal


def execute(m: Module, q: Value, row_a: Value, row_b: Value, latches: Latches, valid) -> Signal:
    """One micro-op ``q`` (:func:`~lutcore.hw.pim_isa.op_layout`) on every column: operand A
    the row ``row_a`` (inverted with ``ainv``), operand B the row ``row_b``, the constant or
    a recorded bit (``bsrc``); returns the row it computes and, when ``valid``, updates
    ``latches`` (shared by the engines on their own subarray and on the tile's banks)."""
    cols = len(latches.carry)
    ones = Const((1 << cols) - 1, cols)
    carry, tag, recorded = latches.carry, latches.tag, latches.recorded
    a = Mux(q.ainv, ~row_a, row_a)
    k_word = Mux(q.k, ones, 0)
    e_bit = Mux(select([recorded[i] for i in range(EXP_BITS)], q.b[:3]), ones, 0)
    b = Mux(q.bsrc == BSource.ROW, row_b, Mux(q.bsrc == BSource.CONST, k_word, e_bit))
    cin = Mux(q.cmode == CarryMode.CONST, k_word, carry)
    tt = q.tt
    logic = (
        (Mux(tt[0], ones, 0) & ~a & ~b)
        | (Mux(tt[1], ones, 0) & ~a & b)
        | (Mux(tt[2], ones, 0) & a & ~b)
        | (Mux(tt[3], ones, 0) & a & b)
    )
    x = a ^ b
    out = Signal(cols)
    m.d.comb += out.eq(Mux(q.kind == OpKind.BOOL, logic, x ^ cin))
    narrowed = tag & a
    with m.If(valid):
        with m.Switch(q.kind):
            with m.Case(OpKind.ADD):
                m.d.sync += carry.eq((a & b) | (a & cin) | (b & cin))
            with m.Case(OpKind.XADD):
                m.d.sync += carry.eq(x & cin)
            with m.Case(OpKind.NARROW):
                found = narrowed.any()
                m.d.sync += recorded.eq((recorded << 1) | found)
                with m.If(found):
                    m.d.sync += tag.eq(narrowed)
        with m.If(q.cmode == CarryMode.FROM_A):
            m.d.sync += carry.eq(a)
        with m.If(q.tmode == TagMode.SET):
            m.d.sync += tag.eq(out)
        with m.Elif(q.tmode == TagMode.AND):
            m.d.sync += tag.eq(tag & out)
    return out


class PimConvert(wiring.Component):
    """The bit-serial, word-parallel engine running one :class:`Program` over ``columns``
    words held in a ``len(program.rows)``-row bit-sliced subarray (an ``amaranth.lib.memory``
    with two read ports, transparent to its per-column-enabled write port).

    ``start`` runs the program once: one micro-op a cycle (reads in the op's cycle, ALU and
    write the next), ``busy`` until done; from ``start`` to idle a conversion takes
    ``len(program.ops) + 3`` cycles (:func:`lutcore.hw.pim_programs.conversion_cycles`).
    ``exp`` is the recorded register (the block exponent field). While idle the host reaches
    the subarray through ``host_addr``/``host_we``/``host_wdata`` and reads ``host_rdata``
    the cycle after (writing bit planes, reading results).
    """

    def __init__(self, program: Program, columns: int, *, external_rows: bool = False):
        self.program = program
        self.columns = columns
        self.depth = len(program.rows)
        self.layout = op_layout(self.depth)
        self.external_rows = external_rows
        addr = self.layout["a"].shape
        members = {
            "start": In(1),
            "busy": Out(1),
            "exp": Out(EXP_BITS),
            "host_addr": In(addr),
            "host_we": In(1),
            "host_wdata": In(columns),
            "host_rdata": Out(columns),
        }
        if external_rows:  # the subarray is an SRAM macro beside the logic (the ASIC view)
            members["rows"] = Out(
                wiring.Signature(
                    {
                        "rd_addr": Out(ArrayLayout(addr, 2)),
                        "rd_data": In(ArrayLayout(columns, 2)),
                        "wr_addr": Out(addr),
                        "wr_en": Out(columns),
                        "wr_data": Out(columns),
                    }
                )
            )
        super().__init__(members)

    def elaborate(self, platform) -> Module:
        m = Module()
        cols = self.columns
        ones = Const((1 << cols) - 1, cols)
        if self.external_rows:
            bus = self.rows
            wr = RowPort(addr=bus.wr_addr, data=bus.wr_data, en=bus.wr_en)
            rd_a, rd_b = (
                RowPort(addr=bus.rd_addr[i], data=bus.rd_data[i], en=Signal()) for i in range(2)
            )
        else:
            m.submodules.rows = rows = Memory(shape=cols, depth=self.depth, init=[])
            wr = rows.write_port(granularity=1)
            rd_a = rows.read_port(transparent_for=(wr,))
            rd_b = rows.read_port(transparent_for=(wr,))
        words = [self.layout.const(dataclasses.asdict(op)) for op in self.program.ops]
        m.submodules.rom = rom = Memory(shape=self.layout, depth=len(words), init=words)
        fetch = rom.read_port(domain="comb")

        pc = Signal(range(len(words) + 1))
        running = Signal()
        m.d.comb += [fetch.addr.eq(pc), self.busy.eq(running)]
        recorded = Signal(EXP_BITS)
        with m.If(self.start & ~running):
            m.d.sync += [running.eq(1), pc.eq(0), recorded.eq(0)]
        # stage 1: read the op's rows
        issue = running & (pc < len(words))
        op = fetch.data
        m.d.comb += [
            rd_a.addr.eq(Mux(running, op.a, self.host_addr)),
            rd_b.addr.eq(op.b),
            rd_a.en.eq(1),
            rd_b.en.eq(1),
            self.host_rdata.eq(rd_a.data),
        ]
        with m.If(issue):
            m.d.sync += pc.eq(pc + 1)
        # stage 2: execute
        q = Signal(self.layout, reset_less=True)
        valid = Signal()
        m.d.sync += [q.eq(op), valid.eq(issue)]
        with m.If(running & ~issue & ~valid):
            m.d.sync += running.eq(0)
        latches = Latches(Signal(cols, name="carry"), Signal(cols, name="tag"), recorded)
        m.d.comb += self.exp.eq(recorded)
        out = execute(m, q, rd_a.data, rd_b.data, latches, valid)
        tag = latches.tag
        m.d.comb += [
            wr.addr.eq(Mux(valid, q.dst, self.host_addr)),
            wr.data.eq(Mux(valid, out, self.host_wdata)),
            wr.en.eq(
                Mux(valid, Mux(q.write, Mux(q.mask, tag, ones), 0), Mux(self.host_we, ones, 0))
            ),
        ]
        return m
