"""Floating-point building blocks shared by the converters: unpack, leading-zero count,
normalize, round to nearest even, pack.

Each function adds combinational logic to a module and returns named signals, so a converter
can put its pipeline registers between the stages it calls.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed, unsigned

from .config import FP32, FpFormat
from .util import tree_max, tree_sum

__all__ = [
    "unpack",
    "finite",
    "leading_zeros",
    "normalize",
    "round_pack",
    "shift_round",
    "fp_add",
    "accumulator_add",
    "fused_sum",
    "ALIGN_EXTRA_BITS",
]

#: bits kept below the largest term's LSB when the terms of a fused sum are aligned (then
#: truncated): the FP16 baseline's dot products and the FP-table tile's lookups
ALIGN_EXTRA_BITS = 3


@dataclass(frozen=True)
class FpValue:
    """A floating-point value as integers: ``(-1)**sign * sig * 2**exp`` (``sig`` unsigned,
    ``exp`` signed: the exponent of ``sig``'s LSB)."""

    sign: Value
    sig: Value
    exp: Value


@dataclass(frozen=True)
class FpFields(FpValue):
    """An unpacked word (:func:`unpack`): its value and its ``inf``/``nan`` flags."""

    inf: Value
    nan: Value


@dataclass(frozen=True)
class Normalized:
    """A normalized magnitude (:func:`normalize`): ``norm`` with its leading one at the top,
    ``msb`` the exponent of that one (signed), ``zero`` the magnitude was 0."""

    norm: Value
    msb: Value
    zero: Value


def unpack(m: Module, fmt: FpFormat, bits: Value, name: str) -> FpFields:
    """Fields of one ``fmt`` word: ``sign``; ``sig`` (unsigned ``frac_bits + 1``, the hidden one
    included for normals); ``exp`` (signed, the exponent of ``sig``'s LSB: ``field - bias -
    frac_bits``, ``min_exp`` for subnormals and zeros); ``inf``, ``nan``."""
    f = fmt.frac_bits
    field, frac = bits[f : f + fmt.exp_bits], bits[:f]
    out = FpFields(
        sign=Signal(name=f"{name}_sign"),
        sig=Signal(f + 1, name=f"{name}_sig"),
        exp=Signal(
            signed(max(fmt.min_exp.bit_length(), fmt.max_exp.bit_length()) + 2), name=f"{name}_exp"
        ),
        inf=Signal(name=f"{name}_inf"),
        nan=Signal(name=f"{name}_nan"),
    )
    top = field == fmt.exp_field_max
    m.d.comb += [
        out.sign.eq(bits[fmt.width - 1]),
        out.sig.eq(Mux(~field.any(), frac, Cat(frac, Const(1, 1)))),
        out.exp.eq(Mux(~field.any(), 1, field) - (fmt.bias + f)),
        out.inf.eq(top & ~frac.any()),
        out.nan.eq(top & frac.any()),
    ]
    return out


def finite(m: Module, fmt: FpFormat, bits: Value, name: str) -> FpFields:
    """:func:`unpack` with the converters' special-value rule: an infinity is the largest
    finite number of its sign, a NaN is 0; a zero significand (zeros, NaNs) takes the
    smallest exponent, so it never decides a block's or a dot product's largest one."""
    u = unpack(m, fmt, bits, name)
    f = fmt.frac_bits
    sig = Signal(f + 1, name=f"{name}_fsig")
    exp = Signal(u.exp.shape(), name=f"{name}_fexp")
    m.d.comb += [
        sig.eq(Mux(u.inf, (1 << (f + 1)) - 1, Mux(u.nan, 0, u.sig))),
        exp.eq(Mux(u.inf, fmt.max_exp, Mux(~sig.any(), fmt.min_exp, u.exp))),
    ]
    return dataclasses.replace(u, sig=sig, exp=exp)


def leading_zeros(value: Value) -> tuple[Value, Value]:
    """``(all_zero, count)``: leading zeros of ``value`` (its width a power of two) by a
    balanced tree of halves, ``log2(width)`` multiplexer levels deep. ``count`` is only
    meaningful when ``all_zero`` is 0."""
    if len(value) == 1:
        return ~value[0], Cat()
    half = len(value) // 2
    zero_hi, count_hi = leading_zeros(value[half:])
    zero_lo, count_lo = leading_zeros(value[:half])
    return zero_hi & zero_lo, Mux(zero_hi, Cat(count_lo, Const(1, 1)), Cat(count_hi, Const(0, 1)))


def normalize(m: Module, mag: Value, exp: Value, name: str) -> Normalized:
    """``mag * 2**exp`` (``mag`` unsigned) as ``norm`` (a power-of-two width, leading one at
    the top), ``msb`` (signed, the exponent of that leading one) and ``zero``."""
    width = 1 << max(0, (len(mag) - 1).bit_length())
    pad = width - len(mag)  # zeros below the LSB keep the value's leading bit position
    padded = Cat(Const(0, pad), mag) if pad else mag
    zero, count = leading_zeros(padded)
    out = Normalized(
        norm=Signal(width, name=f"{name}_norm"),
        msb=Signal(signed(max(len(exp), (width + pad).bit_length()) + 2), name=f"{name}_msb"),
        zero=Signal(name=f"{name}_zero"),
    )
    m.d.comb += [
        out.norm.eq((padded << count)[:width]),
        out.msb.eq(exp + (width - 1 - pad) - count),
        out.zero.eq(zero),
    ]
    return out


def shift_round(value: Value, shift: Value, max_shift: int, rounding: str) -> Value:
    """``value / 2**shift`` (``value`` unsigned, ``shift`` unsigned) rounded to an integer:
    ``"rne"`` to nearest, ties to even; ``"trunc"`` toward zero. Shifts beyond ``max_shift``
    behave as ``max_shift``, which must be large enough to round every ``value`` to 0."""
    wide = Cat(Const(0, max_shift), value)  # the shifted-out bits stay visible below the point
    clamped = Mux(shift > max_shift, max_shift, shift)
    shifted = (wide >> clamped)[: len(wide)]
    kept = shifted[max_shift:]
    if rounding == "trunc":
        return kept
    guard = shifted[max_shift - 1]
    sticky = shifted[: max_shift - 1].any()
    return kept + (guard & (sticky | kept[0]))


def round_pack(
    m: Module, fmt: FpFormat, sign: Value, norm, nan: Value, name: str, *, saturate: bool = False
) -> Signal:
    """The ``fmt`` word of ``(-1)**sign * norm`` (a :func:`normalize` result), rounded to nearest,
    ties to even: subnormals below the normal range, infinity beyond the largest finite
    number (the largest finite number of the sign with ``saturate``), ``+0`` for an exact
    zero, the canonical NaN when ``nan``."""
    f = fmt.frac_bits
    width = len(norm.norm)
    biased = Signal(signed(len(norm.msb) + 1), name=f"{name}_biased")
    m.d.comb += biased.eq(norm.msb + fmt.bias)
    # Below the normal range the significand moves right by 1 - biased (at most f + 2: every
    # bit is then below the rounding point).
    denorm = Signal(range(f + 3), name=f"{name}_denorm")
    m.d.comb += denorm.eq(Mux(biased >= 1, 0, Mux(biased < -f - 1, f + 2, 1 - biased)))
    # the f+1 kept bits, a guard bit and a sticky bit (the OR of everything below the guard)
    if width < f + 3:
        short = Cat(Const(0, f + 3 - width), norm.norm)
    else:
        short = Cat(norm.norm[: width - f - 2].any(), norm.norm[width - f - 2 :])
    sig = Signal(f + 2, name=f"{name}_sig")
    m.d.comb += sig.eq(shift_round(short, denorm + 2, f + 4, "rne"))
    # (field - 1) << f plus a significand that carries the hidden one: a round-up into the next
    # binade, and a subnormal rounding up to the smallest normal, carry into the field.
    packed = Signal(unsigned(fmt.exp_bits + f + 2), name=f"{name}_packed")
    base = Mux(biased >= 1, biased - 1, 0)
    m.d.comb += packed.eq((base << f) + sig)
    overflow = (biased >= fmt.exp_field_max) | (packed >= (fmt.exp_field_max << f))
    out = Signal(fmt.width, name=name)
    infinity = Cat(Const(0, f), Const(fmt.exp_field_max, fmt.exp_bits), sign)
    if saturate:  # the largest finite magnitude instead
        infinity = Cat(Const((1 << f) - 1, f), Const(fmt.exp_field_max - 1, fmt.exp_bits), sign)
    finite = Cat(packed[: fmt.width - 1], sign)
    # nested multiplexers, not an if/elif chain: no priority case in the Verilog
    m.d.comb += out.eq(
        Mux(nan, fmt.canonical_nan, Mux(norm.zero, 0, Mux(overflow, infinity, finite)))
    )
    return out


def fp_add(
    m: Module, fmt: FpFormat, a: Value, b: Value, name: str, *, saturate: bool = False
) -> Signal:
    """``a + b`` for finite ``fmt`` words, rounded to nearest even (the classic datapath:
    order by magnitude, align the smaller with guard, round and sticky bits, add or
    subtract, normalize, round, pack). An exact zero sum is ``+0``. Infinities and NaNs are
    not inputs of this datapath (its users keep every value finite; ``saturate`` gives the
    largest finite number of the sign where the sum overflows)."""
    f = fmt.frac_bits
    ua, ub = unpack(m, fmt, a, f"{name}_a"), unpack(m, fmt, b, f"{name}_b")
    # order by magnitude: the exponent/fraction fields compare like integers
    swap = Signal(name=f"{name}_swap")
    m.d.comb += swap.eq(a[: fmt.width - 1] < b[: fmt.width - 1])
    big = FpValue(*(Mux(swap, getattr(ub, k), getattr(ua, k)) for k in ("sign", "sig", "exp")))
    small = FpValue(*(Mux(swap, getattr(ua, k), getattr(ub, k)) for k in ("sign", "sig", "exp")))
    dist = Signal(range(f + 5), name=f"{name}_dist")
    diff = big.exp - small.exp  # >= 0
    m.d.comb += dist.eq(Mux(diff > f + 4, f + 4, diff))
    # three bits below the LSB: guard, round, sticky. (sig << 3) >> dist, the bits shifted
    # out OR-ed into the sticky LSB; a shift beyond them leaves only sticky.
    pad = f + 4
    shifted = (Cat(Const(0, pad), small.sig) >> dist)[: pad + f + 1]
    aligned = Cat(shifted[: pad - 2].any(), shifted[pad - 2 :])
    total = Signal(f + 5, name=f"{name}_sum")
    big_sig = Cat(Const(0, 3), big.sig)
    m.d.comb += total.eq(Mux(big.sign ^ small.sign, big_sig - aligned, big_sig + aligned))
    norm = normalize(m, total, big.exp - 3, f"{name}_n")
    return round_pack(m, fmt, big.sign, norm, 0, name, saturate=saturate)


def accumulator_add(cfg):
    """The FP tiles' accumulator addition (``add`` of
    :func:`~lutcore.hw.accumulate.accumulate`): :func:`fp_add` in ``cfg.acc_format``,
    saturating in FP16."""

    def add(m: Module, a: Value, b: Value, name: str) -> Signal:
        return fp_add(m, cfg.acc_fmt, a, b, name, saturate=cfg.saturate)

    return add


def fused_sum(
    m: Module,
    terms: list,
    lowest: int,
    name: str,
    *,
    stage=None,
    exp_offset=0,
    fmt=FP32,
    saturate: bool = False,
) -> Signal:
    """``sum_t (-1)**sign_t * sig_t * 2**exp_t`` as one ``fmt`` word (a multi-operand FP adder).

    ``terms``: ``(sign, sig, exp)`` with ``sig`` unsigned (all the same width) and ``exp``
    signed, ``lowest`` an exponent below every live term's. Each term is aligned to the
    largest exponent ``E`` among the non-zero terms, keeping :data:`ALIGN_EXTRA_BITS` bits
    below ``E``, its magnitude truncated there; the signed sum is exact and rounded once to
    nearest even, at ``2**(E + exp_offset - ALIGN_EXTRA_BITS)`` (``exp_offset`` scales the
    whole sum by a power of two). An exact zero is ``+0``. ``stage(value, name)``, if given,
    registers the exact sum and ``E`` before normalization; ``saturate`` rounds a sum
    beyond ``fmt``'s range to its largest finite number.
    """
    if len(terms) == 1:  # nothing to align: the term is exact, normalize and round it
        sign, sig, exp = terms[0]
        if stage is not None:
            sign, sig, exp = (
                stage(v, f"{name}_{w}_q") for v, w in zip(terms[0], "sme", strict=True)
            )
        norm = normalize(m, sig, exp + exp_offset, f"{name}_n")
        return round_pack(m, fmt, sign, norm, Const(0, 1), name, saturate=saturate)
    exps = []
    for k, (_, sig, exp) in enumerate(terms):
        e = Signal(signed(max(len(exp), lowest.bit_length() + 1)), name=f"{name}_e{k}")
        m.d.comb += e.eq(Mux(~sig.any(), lowest, exp))  # zero terms never decide E
        exps.append(e)
    top = Signal(signed(len(exps[0])), name=f"{name}_top")
    m.d.comb += top.eq(tree_max(exps))
    width = len(terms[0][1]) + ALIGN_EXTRA_BITS
    aligned = []
    for k, ((sign, sig, _), exp) in enumerate(zip(terms, exps, strict=True)):
        dist = Signal(range(width + 1), name=f"{name}_d{k}")
        m.d.comb += dist.eq(Mux(top - exp > width, width, top - exp))
        mag = Signal(width, name=f"{name}_a{k}")
        m.d.comb += mag.eq((sig << ALIGN_EXTRA_BITS) >> dist)
        aligned.append(Mux(sign, -mag, mag))
    total = Signal(signed(width + len(terms).bit_length() + 1), name=f"{name}_sum")
    m.d.comb += total.eq(tree_sum(aligned))
    if stage is not None:
        total, top = stage(total, f"{name}_sum_q"), stage(top, f"{name}_top_q")
    mag = Signal(len(total), name=f"{name}_mag")
    m.d.comb += mag.eq(Mux(total < 0, -total, total))
    norm = normalize(m, mag, top + exp_offset - ALIGN_EXTRA_BITS, f"{name}_n")
    return round_pack(m, fmt, total < 0, norm, Const(0, 1), name, saturate=saturate)
