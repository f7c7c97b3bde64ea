"""In-memory type conversion on the PIM tile's own table banks (SAIL: conversion in the same
SRAM, with PIM's parallelism): the bit-serial, word-parallel engine of
:mod:`lutcore.hw.pim_convert` working on a region of rows above the tables, every bank's
word of a row side by side, so no second subarray exists.

Layout: the region is rows ``table_rows .. sram_rows - 1`` of every bank; program row ``r``
is bank row ``table_rows + r``. Column ``c`` (``0 .. banks * sram_word_bits - 1``) is bit
``c % sram_word_bits`` of bank ``c // sram_word_bits``'s word, so one row of the region
holds one bit of ``banks * sram_word_bits`` words.

The banks are SRAM macros: a read returns the word the cycle after its address, not the
one written in the same cycle (no bypass), and each bank has ``read_ports`` read ports and
one write port with a per-bit write enable (a bit-write macro: the tag-masked writes).
A micro-op reads operand A and, when it is a row, operand B. :func:`bank_schedule` turns
a program into cycles (slots) under those rules: with two read ports both operands in one
cycle; with one, A first (held in a register) and B the cycle after; a bubble where an op
would read the row its predecessor writes in the same cycle. The schedule is fixed when
the tile is generated, so a conversion's cycle count is known: :func:`bank_cycles`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from amaranth.hdl import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.data import StructLayout
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .config import TileConfig
from .layouts import sram_signature
from .pim_convert import Latches, execute
from .pim_isa import EXP_BITS, BSource, MicroOp, Program, op_layout
from .pim_programs import Conversion, convert_programs

__all__ = ["BankConvert", "Slot", "bank_cycles", "bank_schedule", "slot_layout"]


@dataclass(frozen=True)
class Slot:
    """One cycle of a schedule: the rows read (``rd0`` on port 0, ``rd1`` on port 1, ``None``
    for no read) and the micro-op executed the next cycle on their data (``op``; ``None``:
    nothing). ``hold_a``: port 0's data is kept as operand A of the next slot's op;
    ``a_held``: this op's operand A is that kept word; ``b_port``: the port operand B
    arrives on."""

    rd0: int | None = None
    rd1: int | None = None
    op: MicroOp | None = None
    hold_a: bool = False
    a_held: bool = False
    b_port: int = 0


def bank_schedule(program: Program, read_ports: int) -> list[Slot]:
    """The slots of ``program`` on banks with ``read_ports`` read ports (1 or 2)."""
    slots: list[Slot] = []
    written = None  # the row the last slot's op writes in the cycle the next slot reads

    def read(*rows):
        if written is not None and written in rows:
            slots.append(Slot())  # a bubble: the write lands first

    for op in program.ops:
        reads_b = op.bsrc == BSource.ROW
        if not reads_b or read_ports == 2:
            read(op.a, *((op.b,) if reads_b else ()))
            slots.append(Slot(rd0=op.a, rd1=op.b if reads_b else None, op=op, b_port=1))
        else:
            read(op.a)
            slots.append(Slot(rd0=op.a, hold_a=True))  # its cycle executes nothing
            slots.append(Slot(rd0=op.b, op=op, a_held=True, b_port=0))
        written = op.dst if op.write else None
    return slots


def bank_cycles(program: Program, read_ports: int) -> int:
    """Cycles of a conversion in the banks, from the ``CONVERT`` command taken to its
    response offered: the start cycle, one per slot, the last slot's execute, the engine's
    return to idle and the response register (the engine alone, start to idle, is one
    fewer: what :func:`~lutcore.hw.pim_programs.conversion_cycles` counts for the engine on
    its own subarray)."""
    return len(bank_schedule(program, read_ports)) + 4


def slot_layout(rows: int, addr_bits: int) -> StructLayout:
    """One ROM word of the engine: the slot's reads (``rd0``/``rd1``, bank rows, with
    enables), its op (:func:`~lutcore.hw.pim_isa.op_layout` over ``rows`` region rows) and
    ``wr`` (the bank row of the op's ``dst``), ``exec``, ``hold_a``, ``a_held``, ``b_port``.
    Bank rows are stored, not added to the region's base: no adder in the address path."""
    r = unsigned(addr_bits)
    return StructLayout(
        {
            "op": op_layout(rows),
            "rd0": r,
            "rd1": r,
            "wr": r,
            "rd0_en": 1,
            "rd1_en": 1,
            "exec": 1,
            "hold_a": 1,
            "a_held": 1,
            "b_port": 1,
        }
    )


class BankConvert(wiring.Component):
    """The conversion engine on the tile's banks: ``start`` runs program ``program``
    (:class:`~lutcore.hw.pim_programs.Conversion`) once over the region, one slot a cycle,
    ``busy`` until done (:func:`bank_cycles`); ``exp`` is the recorded register (the block
    exponent field of an FP16 -> block FP conversion). While it runs it owns every bank's
    read port(s) and write port (the tile's control routes them; members as
    :func:`~lutcore.hw.layouts.sram_signature`)."""

    def __init__(self, cfg: TileConfig):
        self.cfg = cfg
        self.programs = convert_programs(cfg)
        sram = sram_signature(cfg).members
        super().__init__(
            {
                "start": In(1),
                "program": In(Conversion),
                "busy": Out(1),
                "exp": Out(EXP_BITS),
                **{name: sram[name] for name in sram},  # the tile's view of the banks
            }
        )

    def elaborate(self, platform) -> Module:
        cfg = self.cfg
        m = Module()
        rows = cfg.region_rows
        base = cfg.table_rows
        layout = slot_layout(rows, len(self.wr_addr[0]))
        words, starts = [], {}
        for kind, program in self.programs.items():
            slots = bank_schedule(program, cfg.read_ports)
            starts[kind] = (len(words), len(words) + len(slots))
            for s in slots:
                op = s.op or MicroOp()
                words.append(
                    layout.const(
                        {
                            "op": dataclasses.asdict(op),
                            "rd0": base + (s.rd0 or 0),
                            "rd1": base + (s.rd1 or 0),
                            "wr": base + op.dst,
                            "rd0_en": int(s.rd0 is not None),
                            "rd1_en": int(s.rd1 is not None),
                            "exec": int(s.op is not None),
                            "hold_a": int(s.hold_a),
                            "a_held": int(s.a_held),
                            "b_port": s.b_port,
                        }
                    )
                )
        m.submodules.rom = rom = Memory(shape=layout, depth=len(words), init=words)
        fetch = rom.read_port(domain="comb")
        width, banks, ports = cfg.sram_word_bits, cfg.banks, cfg.read_ports
        cols = width * banks

        pc = Signal(range(len(words) + 1))
        end = Signal.like(pc)
        running = Signal()
        recorded = Signal(EXP_BITS)
        m.d.comb += [fetch.addr.eq(pc), self.busy.eq(running), self.exp.eq(recorded)]
        with m.If(self.start & ~running):
            m.d.sync += [running.eq(1), recorded.eq(0)]
            with m.Switch(self.program):
                for kind, (first, last) in starts.items():
                    with m.Case(kind):
                        m.d.sync += [pc.eq(first), end.eq(last)]
                with m.Default():  # a code with no program runs nothing
                    m.d.sync += [pc.eq(0), end.eq(0)]
        # stage R: the slot's reads, the same row of every bank
        issue = running & (pc != end)
        slot = fetch.data
        for b in range(banks):
            m.d.comb += [
                self.rd_addr[b][0].eq(slot.rd0),
                self.rd_en[b][0].eq(issue & slot.rd0_en),
            ]
            if ports == 2:
                m.d.comb += [
                    self.rd_addr[b][1].eq(slot.rd1),
                    self.rd_en[b][1].eq(issue & slot.rd1_en),
                ]
        with m.If(issue):
            m.d.sync += pc.eq(pc + 1)
        # stage X: the op on the data of last cycle's reads
        q = Signal(layout, reset_less=True)
        valid = Signal()
        m.d.sync += [q.eq(slot), valid.eq(issue)]
        with m.If(running & ~issue & ~valid):
            m.d.sync += running.eq(0)
        data = [Cat(*(self.rd_data[b][r] for b in range(banks))) for r in range(ports)]
        held = Signal(cols, reset_less=True)
        with m.If(valid & q.hold_a):
            m.d.sync += held.eq(data[0])
        row_a = Mux(q.a_held, held, data[0])
        row_b = Mux(q.b_port, data[-1], data[0])
        latches = Latches(Signal(cols, name="carry"), Signal(cols, name="tag"), recorded)
        execute_now = valid & q.exec
        out = execute(m, q.op, row_a, row_b, latches, execute_now)
        ones = Const((1 << cols) - 1, cols)
        enable = Signal(cols)
        m.d.comb += enable.eq(Mux(execute_now & q.op.write, Mux(q.op.mask, latches.tag, ones), 0))
        for b in range(banks):
            m.d.comb += [
                self.wr_addr[b].eq(q.wr),
                self.wr_data[b].eq(out[b * width : (b + 1) * width]),
                self.wr_en[b].eq(enable[b * width : (b + 1) * width]),
            ]
        return m
