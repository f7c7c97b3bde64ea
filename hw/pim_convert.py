"""In-memory type conversion for the PIM tile: a bit-serial, word-parallel engine over a
bit-sliced SRAM subarray (SAIL/Neural-Cache style), and its FP16 -> block-FP program.

Layout: the subarray holds ``columns`` words side by side; row ``r`` is bit ``r`` of every
word (a bit plane), so one row operation touches all words at once. Each cycle the engine
reads two rows (ports A and B), applies one micro-op per column with a one-bit ALU, a carry
latch ``C`` and a tag latch ``T`` per column, and writes one row (optionally only where
``T`` is set: per-column write enables). A one-bit OR over the columns feeds the sequencer
(the maximum-exponent search). The micro-program is a ROM the sequencer steps through once
per ``start``; it needs no branches, so its length is the conversion's cycle count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

from amaranth.hdl import Const, Module, Mux, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.data import ArrayLayout, StructLayout
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .config import FP16
from .util import select

__all__ = [
    "BOOL",
    "ADD",
    "XADD",
    "NARROW",
    "Program",
    "fp16_to_bfp_program",
    "int_to_fp16_program",
    "conversion_cycles",
    "PimConvert",
]

#: micro-op kinds: a boolean function of the two operands (truth table ``tt[(a << 1) | b]``),
#: a full-adder step (sum out, carry into ``C``), an increment step (``x = a ^ b``: sum
#: ``x ^ C``, carry ``x & C``: adds ``C`` to a conditionally inverted word), and the
#: maximum search step (keep the tagged columns whose operand bit is 1, if any; record it)
BOOL, ADD, XADD, NARROW = range(4)
EXP_BITS = 6  # the recorded-bits register (the block exponent field is 5 bits)


def op_layout(rows: int) -> StructLayout:
    """One micro-op: rows ``a``, ``b`` (read) and ``dst`` (written when ``write``, only
    where ``T`` with ``mask``); ``kind``; ``tt`` (BOOL's truth table); ``ainv`` (invert
    operand A); ``bsrc`` (operand B: 0 row ``b``, 1 the constant ``k``, 2 bit ``b`` of the
    recorded register ``E``); ``tmode`` (0 keep ``T``, 1 ``T = out``, 2 ``T &= out``);
    ``cmode`` (0 keep ``C``, 1 ``C = k`` before the op, 2 ``C = A``)."""
    r = unsigned(max(1, (rows - 1).bit_length()))
    return StructLayout(
        {
            "a": r,
            "b": r,
            "dst": r,
            "kind": unsigned(2),
            "tt": unsigned(4),
            "ainv": unsigned(1),
            "bsrc": unsigned(2),
            "k": unsigned(1),
            "write": unsigned(1),
            "mask": unsigned(1),
            "tmode": unsigned(2),
            "cmode": unsigned(2),
        }
    )


@dataclass
class Program:
    """A micro-program under construction: named rows (inputs first) and ops."""

    rows: dict[str, int] = field(default_factory=dict)
    ops: list[dict] = field(default_factory=list)

    def row(self, name: str) -> int:
        if name not in self.rows:
            self.rows[name] = len(self.rows)
        return self.rows[name]

    def emit(self, **op) -> None:
        op.setdefault("kind", BOOL)
        for key in ("a", "b", "dst"):
            if isinstance(op.get(key), str):
                op[key] = self.row(op[key])
        self.ops.append(op)

    # ---- helpers (each one cycle) -----------------------------------------------------
    def logic(self, dst, a, b=None, tt=0b1000, *, k=0, mask=False, tmode=0, ainv=False):
        """``dst = tt(a, b)`` (``b`` a row name, or None for the constant ``k``)."""
        self.emit(
            a=a,
            b=b if b is not None else 0,
            dst=dst if dst is not None else 0,
            write=int(dst is not None),
            bsrc=0 if b is not None else 1,
            k=k,
            tt=tt,
            mask=int(mask),
            tmode=tmode,
            ainv=int(ainv),
        )


#: truth tables ``tt[(a << 1) | b]``
AND, OR, ANDN, COPY_A, ZERO, ONE = 0b1000, 0b1110, 0b0100, 0b1100, 0b0000, 0b1111


def fp16_to_bfp_program(a_bits: int) -> Program:
    """The micro-program converting every column's FP16 word (rows ``f0..f9``, ``e0..e4``,
    ``s``) to a block-FP mantissa of ``a_bits`` bits (rows ``q0..``) sharing the block
    exponent field ``E`` (left in the recorded register), exactly as
    :func:`lutcore.sim.fpgolden.to_bfp` defines it with round-to-nearest-even: infinities
    become the largest finite value, NaNs 0; subnormals align like normals; the largest
    element's leading one lands on bit ``a_bits - 2``; a round-up into bit ``a_bits - 1``
    saturates. The block is the set of columns.
    """
    p = Program()
    f = [p.row(f"f{i}") for i in range(FP16.frac_bits)]
    e = [p.row(f"e{i}") for i in range(FP16.exp_bits)]
    s = p.row("s")
    # ---- classify: SPEC (field all ones), FZ (fraction zero), H (field non-zero)
    p.logic("spec", e[0], e[1], AND)
    for i in range(2, 5):
        p.logic("spec", "spec", e[i], AND)
    p.logic("fnz", f[0], f[1], OR)
    for i in range(2, 10):
        p.logic("fnz", "fnz", f[i], OR)
    p.logic("inf", "spec", "fnz", ANDN)  # spec & ~fnz
    p.logic("h", e[0], e[1], OR)
    for i in range(2, 5):
        p.logic("h", "h", e[i], OR)
    # ---- significand S (11 bits): NaN -> 0, inf -> all ones
    sig = [f"sg{j}" for j in range(11)]
    for j in range(11):
        p.logic(sig[j], f[j] if j < 10 else "h", "spec", ANDN)
        p.logic(sig[j], sig[j], "inf", OR)
    # ---- effective exponent field X: subnormals 1, inf 30 (0b11110)
    p.logic("x0", e[0], "spec", ANDN)
    p.logic("x0", "h", "x0", 0b1011)  # ~h | x0
    xs = ["x0", *(f"e{i}" for i in range(1, 5))]
    # ---- candidates: columns with a non-zero significand; maximum field, MSB first
    p.logic("nz", sig[0], sig[1], OR)
    for j in range(2, 11):
        p.logic("nz", "nz", sig[j], OR)
    p.logic(None, "nz", None, COPY_A, tmode=1)
    for i in reversed(range(5)):
        p.emit(kind=NARROW, a=xs[i], b=0, dst=0, bsrc=1, write=0)
    # ---- d = E - X = E + ~X + 1 (E bit i broadcast from the register; E >= X on candidates)
    p.logic("zero", s, None, ZERO)
    for i in range(5):
        p.emit(
            kind=ADD,
            a=xs[i],
            b=i,
            dst=f"d{i}",
            write=1,
            bsrc=2,
            ainv=1,
            cmode=1 if i == 0 else 0,
            k=1,
        )
    # ---- magnitude M: bit 0 the guard, bits 1..a_bits-1 the result, bit a_bits the carry
    width = a_bits + 1
    place = a_bits - 2 - FP16.frac_bits + 1  # M = S << place (place < 0: S >> -place)
    m = [f"m{j}" for j in range(width)]
    p.logic("st", s, None, ZERO)
    for j in range(-place):  # bits below the guard at d = 0 start the sticky bit
        p.logic("st", "st", sig[j], OR)
    for j in range(width):
        src = j - place
        if 0 <= src < 11:
            p.logic(m[j], sig[src], None, COPY_A)
        else:
            p.logic(m[j], s, None, ZERO)
    # ---- shift right by d, one stage per bit of d, the shifted-out bits into sticky
    for stage in range(5):
        step = 1 << stage
        p.logic(None, f"d{stage}", None, COPY_A, tmode=1)
        for j in range(min(step, width)):
            p.logic("st", m[j], "st", OR, mask=True)
        for j in range(width):
            if j + step < width:
                p.logic(m[j], m[j + step], None, COPY_A, mask=True)
            else:
                p.logic(m[j], s, None, ZERO, mask=True)
    # ---- round to nearest even: r = guard & (sticky | lsb); M[1:] += r
    p.logic("r", "st", m[1], OR)
    p.logic("r", m[0], "r", AND)
    for j in range(1, width):
        p.emit(
            kind=ADD,
            a=m[j],
            b="r" if j == 1 else 0,
            dst=m[j],
            write=1,
            bsrc=0 if j == 1 else 1,
            k=0,
            cmode=1 if j == 1 else 0,
        )
    # ---- saturate a round-up into bit a_bits - 1 (the carry row M[a_bits])
    p.logic(None, m[a_bits], None, COPY_A, tmode=1)
    for j in range(1, a_bits):
        p.logic(m[j], s, None, ONE, mask=True)
    # ---- sign: q = s ? -M : M over a_bits bits ((M ^ s) + s)
    p.emit(kind=BOOL, a=s, b=0, dst=0, write=0, bsrc=1, k=0, cmode=2)
    for j in range(a_bits):
        src = m[j + 1] if j + 1 < a_bits else "zero"
        p.emit(kind=XADD, a=src, b=s, dst=f"q{j}", write=1, bsrc=0)
    return p


def int_to_fp16_program(width: int) -> Program:
    """The micro-program converting every column's signed ``width``-bit integer (rows
    ``i0..``, two's complement) to the FP16 word of its value (rows ``h0..h15``), rounded to
    nearest even, overflow to infinity of its sign, 0 to +0 (as
    :func:`lutcore.sim.fpgolden.round_to_format` defines it): magnitude, normalization by a
    logarithmic left shift that counts the leading zeros, exponent field ``width - 1 + 15 -
    count``, rounding carried from the fraction into the field, then the specials."""
    if not 12 <= width <= 32:
        raise ValueError(f"width={width}: allowed 12..32 (an FP16 fraction needs 11 bits)")
    p = Program()
    ins = [p.row(f"i{j}") for j in range(width)]
    sign = ins[-1]
    p.logic("zero", sign, None, ZERO)
    # ---- magnitude u = (i ^ s) + s (|min| = 2**(width-1) fits in width bits)
    u = [f"u{j}" for j in range(width)]
    p.emit(kind=BOOL, a=sign, b=0, dst=0, write=0, bsrc=1, k=0, cmode=2)
    for j in range(width):
        p.emit(kind=XADD, a=ins[j], b=sign, dst=u[j], write=1, bsrc=0)
    p.logic("nz", u[0], u[1], OR)
    for j in range(2, width):
        p.logic("nz", "nz", u[j], OR)
    # ---- normalize: stages of 2**k, each shifting left where the top 2**k bits are zero
    stages = (width - 1).bit_length()
    for k in reversed(range(stages)):
        step = 1 << k
        top = u[width - step :]
        p.logic("any", top[0], None, COPY_A)
        for row in top[1:]:
            p.logic("any", "any", row, OR)
        p.logic(f"c{k}", "any", None, 0b0011, tmode=1)  # count bit = top bits all zero
        for j in reversed(range(width)):
            src = u[j - step] if j >= step else None
            if src is None:
                p.logic(u[j], sign, None, ZERO, mask=True)
            else:
                p.logic(u[j], src, None, COPY_A, mask=True)
    # ---- exponent field (6 bits) = width - 1 + bias - count = base + ~count + 1
    base = width - 1 + FP16.bias
    p.logic("one", sign, None, ONE)
    p.emit(kind=BOOL, a="one", b=0, dst=0, write=0, bsrc=1, cmode=2)  # C = 1
    for b in range(6):
        count = f"c{b}" if b < stages else "zero"
        p.emit(kind=ADD, a=count, b=0, dst=f"x{b}", write=1, bsrc=1, k=(base >> b) & 1, ainv=1)
    # ---- round to nearest even at the 11-bit significand: frac = u[w-2 .. w-11]
    lsb, guard = width - 11, width - 12
    p.logic("st", sign, None, ZERO)
    for j in range(guard):
        p.logic("st", "st", u[j], OR)
    p.logic("r", "st", u[lsb], OR)
    p.logic("r", u[guard], "r", AND)
    number = [u[lsb + j] for j in range(10)] + [f"x{b}" for b in range(6)]
    for j, row in enumerate(number):  # (frac | field) + r: a fraction carry bumps the field
        p.emit(
            kind=ADD,
            a=row,
            b="r" if j == 0 else 0,
            dst=f"h{j}" if j < 15 else "x5",
            write=1,
            bsrc=0 if j == 0 else 1,
            k=0,
            cmode=1 if j == 0 else 0,
        )
    # ---- overflow (field >= 31) -> infinity; zero -> +0; the sign
    p.logic("ov", "h10", "h11", AND)
    for j in range(12, 15):
        p.logic("ov", "ov", f"h{j}", AND)
    p.logic(None, "ov", "x5", OR, tmode=1)
    for j in range(15):
        p.logic(f"h{j}", sign, None, ONE if j >= 10 else ZERO, mask=True)
    p.logic(None, "nz", None, 0b0011, tmode=1)
    for j in range(15):
        p.logic(f"h{j}", sign, None, ZERO, mask=True)
    p.logic("h15", sign, "nz", AND)
    return p


def conversion_cycles(program: Program) -> int:
    """Cycles from ``start`` to idle: the start cycle, one per micro-op, the last op's
    execute and the return to idle."""
    return len(program.ops) + 3


class PimConvert(wiring.Component):
    """The bit-serial, word-parallel engine running one :class:`Program` over ``columns``
    words held in a ``len(program.rows)``-row bit-sliced subarray (an ``amaranth.lib.memory``
    with two read ports, transparent to its per-column-enabled write port).

    ``start`` runs the program once: one micro-op a cycle (reads in the op's cycle, ALU and
    write the next), ``busy`` until done; from ``start`` to idle a conversion takes
    ``len(program.ops) + 3`` cycles (:func:`conversion_cycles`). ``exp`` is the recorded
    register (the block exponent field). While idle the
    host reaches the subarray through ``host_addr``/``host_we``/``host_wdata`` and reads
    ``host_rdata`` the cycle after (writing bit planes, reading results).
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
            wr = SimpleNamespace(addr=bus.wr_addr, data=bus.wr_data, en=bus.wr_en)
            rd_a, rd_b = (
                SimpleNamespace(addr=bus.rd_addr[i], data=bus.rd_data[i], en=Signal())
                for i in range(2)
            )
        else:
            m.submodules.rows = rows = Memory(shape=cols, depth=self.depth, init=[])
            wr = rows.write_port(granularity=1)
            rd_a = rows.read_port(transparent_for=(wr,))
            rd_b = rows.read_port(transparent_for=(wr,))
        words = [self.layout.const(op) for op in self.program.ops]
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
        carry, tag = Signal(cols), Signal(cols)
        m.d.comb += self.exp.eq(recorded)
        a = Mux(q.ainv, ~rd_a.data, rd_a.data)
        k_word = Mux(q.k, ones, 0)
        e_bit = Mux(select([recorded[i] for i in range(EXP_BITS)], q.b[:3]), ones, 0)
        b = Mux(q.bsrc == 0, rd_b.data, Mux(q.bsrc == 1, k_word, e_bit))
        cin = Mux(q.cmode == 1, k_word, carry)
        tt = q.tt
        logic = (
            (Mux(tt[0], ones, 0) & ~a & ~b)
            | (Mux(tt[1], ones, 0) & ~a & b)
            | (Mux(tt[2], ones, 0) & a & ~b)
            | (Mux(tt[3], ones, 0) & a & b)
        )
        x = a ^ b
        out = Signal(cols)
        m.d.comb += out.eq(Mux(q.kind == BOOL, logic, x ^ cin))
        narrowed = tag & a
        with m.If(valid):
            with m.Switch(q.kind):
                with m.Case(ADD):
                    m.d.sync += carry.eq((a & b) | (a & cin) | (b & cin))
                with m.Case(XADD):
                    m.d.sync += carry.eq(x & cin)
                with m.Case(NARROW):
                    found = narrowed.any()
                    m.d.sync += recorded.eq((recorded << 1) | found)
                    with m.If(found):
                        m.d.sync += tag.eq(narrowed)
            with m.If(q.cmode == 2):
                m.d.sync += carry.eq(a)
            with m.If(q.tmode == 1):
                m.d.sync += tag.eq(out)
            with m.Elif(q.tmode == 2):
                m.d.sync += tag.eq(tag & out)
        m.d.comb += [
            wr.addr.eq(Mux(valid, q.dst, self.host_addr)),
            wr.data.eq(Mux(valid, out, self.host_wdata)),
            wr.en.eq(
                Mux(valid, Mux(q.write, Mux(q.mask, tag, ones), 0), Mux(self.host_we, ones, 0))
            ),
        ]
        return m
