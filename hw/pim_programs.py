"""The in-memory converter's micro-programs (branch-free: their length is the cycle count):
FP16 -> block floating point, and integer -> FP16, each bit-exact against
:mod:`lutcore.sim.fpgolden`."""

from __future__ import annotations

from amaranth.hdl import unsigned
from amaranth.lib import enum

from .config import FP16, TileConfig
from .pim_isa import (
    AND,
    ANDN,
    COPY_A,
    ONE,
    OR,
    ZERO,
    BSource,
    CarryMode,
    OpKind,
    Program,
    TagMode,
)

__all__ = [
    "Conversion",
    "conversion_cycles",
    "convert_programs",
    "fp16_to_bfp_program",
    "int_to_fp16_program",
    "int_width",
    "region_rows",
]


class Conversion(enum.Enum, shape=unsigned(2)):
    """The PIM tile's in-memory conversions (a ``convert`` command's ``program``; codes 2
    and 3 run nothing)."""

    #: FP16 words (rows 0..15: fraction, field, sign) -> block-FP mantissas of ``a_bits``
    #: bits (the tile's activations) sharing one exponent field (the response)
    FP16_TO_BFP = 0
    #: signed integers of the tile's ``acc_bits`` (clamped to 12..32) -> FP16 words
    INT_TO_FP16 = 1


def int_width(cfg: TileConfig) -> int:
    """Width of the integers the integer -> FP16 conversion takes: the tile's ``acc_bits``,
    clamped to 12..32."""
    return min(32, max(12, cfg.acc_bits))


def convert_programs(cfg: TileConfig) -> dict[Conversion, Program]:
    """The micro-programs of ``cfg``'s in-memory conversions."""
    return {
        Conversion.FP16_TO_BFP: fp16_to_bfp_program(cfg.a_bits),
        Conversion.INT_TO_FP16: int_to_fp16_program(int_width(cfg)),
    }


def region_rows(cfg: TileConfig) -> int:
    """Rows the conversions need above the tables (the largest program's)."""
    return max(len(p.rows) for p in convert_programs(cfg).values())


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
    p.logic(None, "nz", None, COPY_A, tmode=TagMode.SET)
    for i in reversed(range(5)):
        p.emit(kind=OpKind.NARROW, a=xs[i], b=0, dst=0, bsrc=BSource.CONST, write=0)
    # ---- d = E - X = E + ~X + 1 (E bit i broadcast from the register; E >= X on candidates)
    p.logic("zero", s, None, ZERO)
    for i in range(5):
        p.emit(
            kind=OpKind.ADD,
            a=xs[i],
            b=i,
            dst=f"d{i}",
            write=1,
            bsrc=BSource.RECORDED,
            ainv=1,
            cmode=CarryMode.CONST if i == 0 else CarryMode.KEEP,
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
        p.logic(None, f"d{stage}", None, COPY_A, tmode=TagMode.SET)
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
            kind=OpKind.ADD,
            a=m[j],
            b="r" if j == 1 else 0,
            dst=m[j],
            write=1,
            bsrc=BSource.ROW if j == 1 else BSource.CONST,
            k=0,
            cmode=CarryMode.CONST if j == 1 else CarryMode.KEEP,
        )
    # ---- saturate a round-up into bit a_bits - 1 (the carry row M[a_bits])
    p.logic(None, m[a_bits], None, COPY_A, tmode=TagMode.SET)
    for j in range(1, a_bits):
        p.logic(m[j], s, None, ONE, mask=True)
    # ---- sign: q = s ? -M : M over a_bits bits ((M ^ s) + s)
    p.emit(
        kind=OpKind.BOOL, a=s, b=0, dst=0, write=0, bsrc=BSource.CONST, k=0, cmode=CarryMode.FROM_A
    )
    for j in range(a_bits):
        src = m[j + 1] if j + 1 < a_bits else "zero"
        p.emit(kind=OpKind.XADD, a=src, b=s, dst=f"q{j}", write=1, bsrc=BSource.ROW)
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
    p.emit(
        kind=OpKind.BOOL,
        a=sign,
        b=0,
        dst=0,
        write=0,
        bsrc=BSource.CONST,
        k=0,
        cmode=CarryMode.FROM_A,
    )
    for j in range(width):
        p.emit(kind=OpKind.XADD, a=ins[j], b=sign, dst=u[j], write=1, bsrc=BSource.ROW)
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
        p.logic(f"c{k}", "any", None, 0b0011, tmode=TagMode.SET)  # count bit = top bits all zero
        for j in reversed(range(width)):
            src = u[j - step] if j >= step else None
            if src is None:
                p.logic(u[j], sign, None, ZERO, mask=True)
            else:
                p.logic(u[j], src, None, COPY_A, mask=True)
    # ---- exponent field (6 bits) = width - 1 + bias - count = base + ~count + 1
    base = width - 1 + FP16.bias
    p.logic("one", sign, None, ONE)
    p.emit(
        kind=OpKind.BOOL, a="one", b=0, dst=0, write=0, bsrc=BSource.CONST, cmode=CarryMode.FROM_A
    )  # C = 1
    for b in range(6):
        count = f"c{b}" if b < stages else "zero"
        p.emit(
            kind=OpKind.ADD,
            a=count,
            b=0,
            dst=f"x{b}",
            write=1,
            bsrc=BSource.CONST,
            k=(base >> b) & 1,
            ainv=1,
        )
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
            kind=OpKind.ADD,
            a=row,
            b="r" if j == 0 else 0,
            dst=f"h{j}" if j < 15 else "x5",
            write=1,
            bsrc=BSource.ROW if j == 0 else BSource.CONST,
            k=0,
            cmode=CarryMode.CONST if j == 0 else CarryMode.KEEP,
        )
    # ---- overflow (field >= 31) -> infinity; zero -> +0; the sign
    p.logic("ov", "h10", "h11", AND)
    for j in range(12, 15):
        p.logic("ov", "ov", f"h{j}", AND)
    p.logic(None, "ov", "x5", OR, tmode=TagMode.SET)
    for j in range(15):
        p.logic(f"h{j}", sign, None, ONE if j >= 10 else ZERO, mask=True)
    p.logic(None, "nz", None, 0b0011, tmode=TagMode.SET)
    for j in range(15):
        p.logic(f"h{j}", sign, None, ZERO, mask=True)
    p.logic("h15", sign, "nz", AND)
    return p


def conversion_cycles(program: Program) -> int:
    """Cycles from ``start`` to idle: the start cycle, one per micro-op, the last op's
    execute and the return to idle."""
    return len(program.ops) + 3
