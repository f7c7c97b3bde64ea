"""Bit-exact golden definitions of the floating-point path (docs/design.md, "Floating-point
activations").

Written from IEEE 754 and the block-floating-point definition, independently of the RTL:

* :func:`decode` — an FP16/BF16/FP32 word as ``(-1)**sign * sig * 2**exp`` (integer ``sig``).
* :func:`to_bfp` — the activation converter: a block of FP words to signed integer mantissas
  sharing one exponent, with a stated rounding and saturation.
* :func:`round_to_format` — an exact value ``num * 2**exp`` rounded once, to nearest, ties to
  even, to FP16/FP32 (subnormals kept, overflow to infinity as IEEE does).
* :func:`dequant` — the dequant converter: an exact sum of integer accumulators times FP16
  coefficients (scale, BCQ ``alpha_i``, offset), times ``2**X``, rounded once.

Floating-point words are carried as unsigned integers (``int64`` arrays) of their bits.
"""

from __future__ import annotations

import numpy as np

from lutcore.hw.config import BF16, FIXED_LSB, FORMATS, FP16, FP32, FpFormat

__all__ = [
    "FpFormat",
    "FORMATS",
    "FP16",
    "BF16",
    "FP32",
    "decode",
    "to_bits",
    "from_bits",
    "round_to_format",
    "to_bfp",
    "dequant",
    "linear",
    "sum_units",
    "finite_fp16",
    "dequant_weights",
    "fp_dot",
    "fp32_add",
    "acc_add",
    "fused_sum",
    "fp_tables",
    "fplut_matmul",
    "relative_error",
]


_NUMPY = {"fp16": np.float16, "fp32": np.float32}


def to_bits(x, fmt: FpFormat) -> np.ndarray:
    """Bits of ``x`` rounded to ``fmt`` (NumPy's own conversion; BF16 by round-to-nearest-even
    of the FP32 bits), as ``int64``."""
    if fmt.name == "bf16":
        u = np.asarray(x, np.float32).view(np.uint32).astype(np.int64)
        nan = (u & 0x7FFFFFFF) > 0x7F800000
        rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
        return np.where(nan, (u >> 16) | 0x40, rounded)
    dtype = _NUMPY[fmt.name]
    return np.asarray(x, dtype).view(np.uint16 if fmt.width == 16 else np.uint32).astype(np.int64)


def from_bits(bits, fmt: FpFormat) -> np.ndarray:
    """The value of each ``fmt`` word as ``float64`` (exact)."""
    bits = np.asarray(bits, np.int64)
    if fmt.name == "bf16":
        return (bits << 16).astype(np.uint32).view(np.float32).astype(np.float64)
    dtype = np.uint16 if fmt.width == 16 else np.uint32
    return bits.astype(dtype).view(_NUMPY[fmt.name]).astype(np.float64)


def decode(bits, fmt: FpFormat) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(sign, sig, exp, kind)`` with value ``(-1)**sign * sig * 2**exp`` for finite words:
    normals ``sig = 2**frac_bits | fraction``, ``exp = field - bias - frac_bits``; subnormals and
    zeros ``sig = fraction``, ``exp = min_exp``. ``kind``: 0 finite, 1 infinity, 2 NaN."""
    bits = np.asarray(bits, np.int64)
    f = fmt.frac_bits
    sign = (bits >> (fmt.exp_bits + f)) & 1
    field = (bits >> f) & fmt.exp_field_max
    frac = bits & ((1 << f) - 1)
    sig = np.where(field == 0, frac, frac | (1 << f))
    exp = np.maximum(field, 1) - fmt.bias - f
    kind = np.where(field == fmt.exp_field_max, np.where(frac == 0, 1, 2), 0)
    return sign, sig, exp, kind


def _round_shift(mag: np.ndarray, shift: np.ndarray, rounding: str) -> np.ndarray:
    """``mag / 2**shift`` (``shift >= 0``, ``mag >= 0``) rounded to an integer: ``"rne"`` to
    nearest with ties to even, ``"trunc"`` toward zero."""
    shift = np.minimum(shift, 62)  # every magnitude here is < 2**61: rounds to 0 beyond
    q = mag >> shift
    if rounding == "trunc":
        return q
    rem = mag - (q << shift)
    half = np.where(shift > 0, np.left_shift(1, np.maximum(shift - 1, 0)), 0)
    up = (shift > 0) & ((rem > half) | ((rem == half) & ((q & 1) == 1)))
    return q + up


def to_bfp(bits, fmt: FpFormat, block: int, a_bits: int, rounding: str):
    """The activation converter: ``bits[..., n]`` (``n`` a multiple of ``block``) to block
    floating point. Returns ``(q, X, total, nonfinite)``:

    * ``q[..., n]`` signed mantissas, ``|q| <= 2**(a_bits-1) - 1``, with ``x ~= q * 2**X``;
    * ``X[..., n/block]`` the block's exponent: ``L - (a_bits - 2 - frac_bits)`` where ``L`` is
      the largest ``exp`` (see :func:`decode`) of the block's non-zero elements (``min_exp``
      for an all-zero block), so the largest element's leading one lands on bit
      ``a_bits - 2``;
    * ``total[..., n/block]`` the sum of the block's mantissas (the dequant converter's ``S``);
    * ``nonfinite[..., n/block]`` the block held an infinity or a NaN.

    Each element's magnitude ``sig * 2**(exp - X)`` is rounded (``"rne"`` or ``"trunc"``),
    then saturated to ``2**(a_bits-1) - 1`` (a round-up of the largest element), then signed.
    Defined special values: zeros (either sign) give 0; subnormals are aligned like any other
    element (usually to 0); an infinity becomes the largest finite number of its sign; a NaN
    becomes 0; either sets ``nonfinite``.
    """
    bits = np.asarray(bits, np.int64)
    n = bits.shape[-1]
    if n % block:
        raise ValueError(f"{n} activations are not a whole number of blocks of {block}")
    sign, sig, exp, kind = decode(bits, fmt)
    big = (1 << (fmt.frac_bits + 1)) - 1
    sig = np.where(kind == 1, big, np.where(kind == 2, 0, sig))
    exp = np.where(kind == 1, fmt.max_exp, np.where(kind == 2, fmt.min_exp, exp))
    shape = (*bits.shape[:-1], n // block, block)
    live_exp = np.where(sig > 0, exp, fmt.min_exp).reshape(shape)
    top = live_exp.max(axis=-1)
    x = top - (a_bits - 2 - fmt.frac_bits)
    shift = (np.repeat(x, block, axis=-1) - exp).reshape(bits.shape)
    mag = np.where(shift <= 0, sig << np.maximum(-shift, 0), _round_shift(sig, shift, rounding))
    mag = np.minimum(mag, (1 << (a_bits - 1)) - 1)
    q = np.where(sign == 1, -mag, mag)
    total = q.reshape(shape).sum(axis=-1)
    nonfinite = (kind > 0).reshape(shape).any(axis=-1)
    return q, x, total, nonfinite


def round_to_format(num: int, exp: int, fmt: FpFormat, *, saturate: bool = False) -> int:
    """The exact value ``num * 2**exp`` (Python integers) rounded to nearest, ties to even, to
    ``fmt``: subnormals where the value is below the normal range, infinity (of the value's
    sign; the largest finite number with ``saturate``) beyond the largest finite number,
    ``+0`` for an exact zero."""
    num, exp = int(num), int(exp)
    if num == 0:
        return 0
    sign, mag = int(num < 0), abs(num)
    f = fmt.frac_bits
    shift = max(mag.bit_length() - 1 - f, fmt.min_exp - exp)
    if shift > 0:
        q = mag >> shift
        rem, half = mag - (q << shift), 1 << (shift - 1)
        q += rem > half or (rem == half and q & 1)
    else:
        q = mag << -shift
    lsb = exp + shift
    if q >> (f + 1):  # rounded up to the next binade
        q, lsb = q >> 1, lsb + 1
    field = lsb - fmt.min_exp + 1 if q >> f else 0
    if field >= fmt.exp_field_max:
        infinity = (sign << (fmt.width - 1)) | (fmt.exp_field_max << f)
        return infinity - 1 if saturate else infinity  # -1: the largest finite of the sign
    return (sign << (fmt.width - 1)) | (field << f) | (q & ((1 << f) - 1))


def dequant(
    ints: np.ndarray, coeffs: np.ndarray, x: np.ndarray, out: FpFormat, coeff_fmt: FpFormat = FP16
) -> np.ndarray:
    """The dequant converter: ``round(2**X * sum_t ints[..., t] * coeffs[..., t])`` with one
    round-to-nearest-even into ``out``; the sum is exact.

    ``ints[..., t]`` signed integers, ``coeffs[..., t]`` ``coeff_fmt`` words (broadcast against
    ``ints``), ``x[...]`` the block exponent. Uniform weights use the terms ``(acc - z*S,
    scale)``; BCQ weights ``(P_i, alpha_i)`` for every plane and ``(S, offset)``. A non-finite
    coefficient makes the result the canonical NaN.
    """
    ints = np.asarray(ints)
    ints = ints if ints.dtype == object else ints.astype(np.int64)  # object: wider than 63 bits
    coeffs = np.broadcast_to(np.asarray(coeffs, np.int64), ints.shape)
    x = np.broadcast_to(np.asarray(x, np.int64), ints.shape[:-1])
    sign, sig, exp, kind = decode(coeffs, coeff_fmt)
    if ints.shape[-1] == 1 and np.abs(ints).max(initial=0) < 1 << 40:
        # One term below 2**51 with an 11-bit significand: the float64 product is exact, and
        # NumPy's cast to the output format is one IEEE rounding (nearest even).
        exact = np.ldexp(ints[..., 0] * from_bits(coeffs[..., 0], coeff_fmt), x) + 0.0  # -0->+0
        with np.errstate(over="ignore"):
            words = to_bits(exact, out)
        return np.where(kind[..., 0] > 0, out.canonical_nan, words)
    result = np.empty(ints.shape[:-1], np.int64)
    for idx in np.ndindex(result.shape):
        if (kind[idx] > 0).any():
            result[idx] = out.canonical_nan
            continue
        base = int(exp[idx].min())
        total = 0
        for i, s, m, e in zip(ints[idx], sign[idx], sig[idx], exp[idx], strict=True):
            term = int(i) * int(m) << (int(e) - base)
            total += -term if s else term
        result[idx] = round_to_format(total, base + int(x[idx]), out)
    return result


def linear(cfg, x: np.ndarray, weights) -> dict[str, np.ndarray]:
    """The whole floating-point path for ``Y = X @ W``: activation conversion, exact integer
    products per block, dequantization, and a float32 sum over blocks.

    ``x[T, K]``: ``act_format`` words (or integers for ``act_format == "int"``); ``weights``
    a :class:`~lutcore.sim.quant.QuantWeights`. A *unit* of the reduction is one block of
    the activation converter (``bfp_block``; the quantization group for integer
    activations); within a unit everything is exact: uniform weights give
    ``I = q @ (codes - zero)`` (scale is the coefficient), BCQ ``P_i = q @ b_i`` per plane and
    ``S = sum q`` (coefficients ``alpha_i`` and the offset). :func:`dequant` rounds each
    unit once into ``out_format``; ``y`` is the float32 sum of the units in K order (each
    addition rounded to nearest even).

    Returns ``q``, ``x`` (block exponents ``[T, units]``), ``total`` (``S``), ``units``
    (``out_format`` words ``[T, N, units]``) and ``y`` (float32 ``[T, N]``); the FP-table
    tile (``fp_tables``) returns ``acc``, ``units`` and ``y`` (:func:`_fplut_linear`).
    """
    t_rows, k_total = x.shape
    if cfg.fp_tables:
        return _fplut_linear(cfg, x, weights)
    if cfg.act_format == "int":
        unit = weights.group
        q = np.asarray(x, np.int64)
        xe = np.zeros((t_rows, k_total // unit), np.int64)
        total = q.reshape(t_rows, -1, unit).sum(-1)
    else:
        unit = cfg.bfp_block
        q, xe, total, _ = to_bfp(x, cfg.act_fmt, unit, cfg.a_bits, cfg.act_rounding)
    if weights.group % unit:
        raise ValueError(f"block {unit} does not divide the quantization group {weights.group}")
    n_units = k_total // unit
    n = weights.alpha.shape[1] if weights.kind == "bcq" else weights.codes.shape[1]
    words = np.empty((t_rows, n, n_units), np.int64)
    for j in range(n_units):
        rows = slice(j * unit, (j + 1) * unit)
        grp = j * unit // weights.group
        qj = q[:, rows]
        if weights.kind == "bcq":
            signs = 2 * weights.planes[:, rows, :] - 1  # [p, unit, N]
            planes = np.einsum("tk,pkn->tnp", qj, signs)
            ints = np.concatenate(
                [planes, np.broadcast_to(total[:, j, None, None], (t_rows, n, 1))], -1
            )
            coeffs = np.concatenate([weights.alpha[grp], weights.offset[grp][:, None]], -1)
        else:
            ints = (qj @ (weights.codes[rows] - weights.zero[grp][None, :]))[..., None]
            coeffs = weights.scale[grp][:, None]
        words[:, :, j] = dequant(ints, coeffs[None], xe[:, j, None], cfg.out_fmt)
    return {"q": q, "x": xe, "total": total, "units": words, "y": sum_units(words, cfg.out_fmt)}


def _fplut_linear(cfg, x: np.ndarray, weights) -> dict[str, np.ndarray]:
    """:func:`linear` on the FP-table tile: a unit is one quantization group; the tile gives
    ``acc_format`` words ``acc`` of ``x @ (codes - zero)`` over the unit (:func:`fplut_matmul`), the
    dequant converter rounds ``acc * scale`` once into ``out_format`` (:func:`dequant` with
    the word's significand as the integer and its exponent as ``X``; with ``offset =
    "output"`` :func:`offset_dequant` of the words and the row sums ``total[T, units]``)."""
    if weights.kind != "rtn":
        raise ValueError(f"weights {weights.name}: the FP-table tile takes uniform weights")
    unit = weights.group
    n_units = x.shape[1] // unit
    n = weights.codes.shape[1]
    acc = np.empty((x.shape[0], n, n_units), np.int64)
    words = np.empty_like(acc)
    totals = np.empty((x.shape[0], n_units), np.int64)
    for j in range(n_units):
        rows = slice(j * unit, (j + 1) * unit)
        out = fplut_matmul(cfg, x[:, rows], weights.codes[rows], weights.zero[j])
        acc[:, :, j] = out[:, :n]
        if cfg.offset_out:
            zero = weights.zero[j] if cfg.has_zero_point else None
            words[:, :, j] = offset_dequant(cfg, out[:, :n], out[:, n:], zero, weights.scale[j])
            totals[:, j] = out[:, n]
            continue
        sign, sig, exp, _ = decode(acc[:, :, j], cfg.acc_fmt)
        ints = np.where(sign == 1, -sig, sig)[..., None]
        words[:, :, j] = dequant(ints, weights.scale[j][None, :, None], exp, cfg.out_fmt)
    out = {"acc": acc, "units": words, "y": sum_units(words, cfg.out_fmt)}
    return out | ({"total": totals} if cfg.offset_out else {})


def offset_dequant(cfg, acc, total, zero, scale) -> np.ndarray:
    """The dequant converter on the FP-table tile's results with ``offset = "output"``:
    ``round(scale * (acc + (C - 2z) * S) / 2)`` with one rounding to nearest even into
    ``out_format`` (the sum and product exact; ``C`` the weight reinterpretation's
    coefficient, :attr:`~lutcore.hw.config.Tables.offset_coefficient`). ``acc[..., N]``,
    ``total[...]`` (broadcast against ``acc``) ``acc_format`` words, ``zero[N]`` (or
    ``None``), ``scale[N]`` FP16 words; a non-finite scale gives the canonical NaN. With
    ``acc_format = "fixed"`` ``acc`` and ``total`` are integers in units of ``2**-24``."""
    acc = np.asarray(acc, np.int64)
    total = np.broadcast_to(np.asarray(total, np.int64), acc.shape)
    zero = np.zeros(acc.shape[-1], np.int64) if zero is None else np.asarray(zero, np.int64)
    k = np.broadcast_to(cfg.offset_coefficient - 2 * zero, acc.shape)
    scale = np.broadcast_to(np.asarray(scale, np.int64), acc.shape)
    if cfg.fixed_acc:  # integers in units of 2**FIXED_LSB: the integer tile's offset term
        ints = (acc + k * total)[..., None]  # below 2**63 for any runtime k below 2**20
        return dequant(ints, scale[..., None], cfg.fixed_lsb - 1, cfg.out_fmt)
    fields = [decode(v, f) for v, f in ((acc, cfg.acc_fmt), (total, cfg.acc_fmt), (scale, FP16))]
    out = np.empty(acc.shape, np.int64)
    for idx in np.ndindex(acc.shape):
        (sa, ma, ea, _), (ss, ms, es, _), (sc, mc, ec, kind) = (
            tuple(int(f[i][idx]) for i in range(4)) for f in fields
        )
        if kind:
            out[idx] = cfg.out_fmt.canonical_nan
            continue
        base = min(ea, es)
        exact = ((-ma if sa else ma) << (ea - base)) + (
            (-ms if ss else ms) * int(k[idx]) << (es - base)
        )
        out[idx] = round_to_format(exact * (-mc if sc else mc), base + ec - 1, cfg.out_fmt)
    return out


def sum_units(words: np.ndarray, fmt: FpFormat) -> np.ndarray:
    """The float32 sum over the last axis of ``fmt`` words, in order: ``((u0 + u1) + u2)...``
    with every addition rounded to nearest even."""
    values = from_bits(words, fmt).astype(np.float32)
    y = values[..., 0]
    for j in range(1, values.shape[-1]):
        y = y + values[..., j]  # float32 + float32: IEEE round to nearest even
    return y


def relative_error(y: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    """``|y - ref|`` per element over the RMS of ``ref``: mean and max (a scale-free error
    that does not blow up at outputs near zero)."""
    err = np.abs(np.asarray(y, np.float64) - ref) / np.sqrt(np.mean(np.square(ref)))
    return {"mean": float(err.mean()), "max": float(err.max())}


#: bits kept below the largest product's LSB in the FP16 baseline's fused dot product
ALIGN_EXTRA_BITS = 3


def finite_fp16(bits: np.ndarray) -> np.ndarray:
    """FP16 words with the converters' special-value rule (infinity -> largest finite of its
    sign, NaN -> +0), as words."""
    bits = np.asarray(bits, np.int64)
    _, _, _, kind = decode(bits, FP16)
    largest = (FP16.exp_field_max - 1) << FP16.frac_bits | ((1 << FP16.frac_bits) - 1)
    return np.where(kind == 1, (bits & 0x8000) | largest, np.where(kind == 2, 0, bits))


def dequant_weights(values: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """FP16 words ``round(scale[n] * values[k, n])`` (one rounding to nearest even; a zero
    weight is +0). ``values`` integers, ``scale`` FP16 words per column."""
    exact = np.asarray(values, np.float64) * from_bits(scale, FP16)[None, :] + 0.0  # -0 -> +0
    with np.errstate(over="ignore"):
        return to_bits(exact, FP16)


def fp_dot(a_words: np.ndarray, w_words: np.ndarray, fmt: FpFormat = FP32) -> np.ndarray:
    """The FP16 baseline's fused dot products ``a_words[M, K] . w_words[K, N]`` as ``fmt``
    words ``[M, N]``: exact products ``sa*sw * 2**(ea+ew)``; each aligned to the largest
    exponent ``E`` of the non-zero products, keeping :data:`ALIGN_EXTRA_BITS` bits below
    ``E``, its magnitude truncated there; the signed sum is exact and rounded once (nearest
    even; FP16 saturates at +-65504)."""
    sa, siga, ea, _ = decode(finite_fp16(a_words), FP16)
    sw, sigw, ew, _ = decode(w_words, FP16)
    sig = siga[:, :, None] * sigw[None, :, :]  # [M, K, N]
    exp = ea[:, :, None] + ew[None, :, :]
    sign = sa[:, :, None] ^ sw[None, :, :]
    top = np.where(sig > 0, exp, np.iinfo(np.int32).min).max(axis=1)  # [M, N]
    shift = np.minimum(top[:, None, :] - exp, 62)
    mag = np.where(sig > 0, (sig << ALIGN_EXTRA_BITS) >> np.maximum(shift, 0), 0)
    total = np.where(sign == 1, -mag, mag).sum(axis=1)
    out = np.empty(total.shape, np.int64)
    for idx in np.ndindex(total.shape):
        exp = int(top[idx]) - ALIGN_EXTRA_BITS
        out[idx] = round_to_format(int(total[idx]), exp, fmt, saturate=fmt != FP32)
    return out


def fixed_units(words: np.ndarray) -> np.ndarray:
    """FP16 words as exact integers of ``2**FIXED_LSB`` (Python integers in an object array),
    after the converters' rule (:func:`finite_fp16`: an infinity counts as +-65504, a NaN as
    0)."""
    sign, sig, exp, _ = decode(finite_fp16(words), FP16)
    return _fixed_ints(sign, sig, exp, object)


def fixed_dot(a_words: np.ndarray, w_words: np.ndarray) -> np.ndarray:
    """The FP16 baseline with exact fixed-point accumulation: ``a_words[M, k] @
    w_words[k, N]`` summed exactly, as integers of ``2**(2 * FIXED_LSB)`` (Python integers:
    a sum reaches 93 bits; the operands as :func:`fixed_units`)."""
    return fixed_units(a_words).dot(fixed_units(w_words))


def fp32_add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IEEE FP32 addition of FP32 words (nearest even), an exact zero sum as +0."""
    total = from_bits(a, FP32).astype(np.float32) + from_bits(b, FP32).astype(np.float32)
    return to_bits(total + np.float32(0.0), FP32)


def _saturated(value: np.ndarray, fmt: FpFormat) -> np.ndarray:
    """``fmt`` words of float64 ``value`` rounded once (nearest even), a magnitude beyond the
    largest finite number saturating to it (clipping first rounds the same: every value
    between the largest finite number and the next binade rounds to one of the two)."""
    largest = float(
        from_bits(((fmt.exp_field_max - 1) << fmt.frac_bits) | ((1 << fmt.frac_bits) - 1), fmt)
    )
    return to_bits(np.clip(value, -largest, largest) + 0.0, fmt)


def acc_add(cfg, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The FP tiles' accumulator addition in ``cfg.acc_format``: :func:`fp32_add`, or FP16
    words added exactly in float64 (two FP16 numbers differ by at most 2**40: exact) and
    rounded once, saturating at +-65504."""
    if cfg.acc_format == "fp32":
        return fp32_add(a, b)
    return _saturated(from_bits(a, FP16) + from_bits(b, FP16), FP16)


def fused_sum(
    sign: np.ndarray, sig: np.ndarray, exp: np.ndarray, fmt: FpFormat = FP32
) -> np.ndarray:
    """``fmt`` words of ``sum_t (-1)**sign * sig * 2**exp`` over the last axis, as the FP
    tiles' fused adders define it: each term aligned to the largest exponent ``E`` of the
    non-zero terms keeping :data:`ALIGN_EXTRA_BITS` bits below it, truncated toward zero,
    the signed sum exact, then one rounding to nearest even (an exact zero is +0; FP16
    saturates at +-65504)."""
    top = np.where(sig > 0, exp, np.iinfo(np.int32).min).max(axis=-1)
    live = top > np.iinfo(np.int32).min
    top = np.where(live, top, 0)
    shift = np.minimum(top[..., None] - exp, 62)
    mag = np.where(sig > 0, (sig << ALIGN_EXTRA_BITS) >> np.maximum(shift, 0), 0)
    total = np.where(sign == 1, -mag, mag).sum(axis=-1)
    # |total| < 2**53: the float64 value is exact and its cast to float32 is one rounding
    value = np.ldexp(total.astype(np.float64), top - ALIGN_EXTRA_BITS) + 0.0
    return to_bits(value, FP32) if fmt == FP32 else _saturated(value, fmt)


def fp_tables(a_words: np.ndarray, g: int) -> np.ndarray:
    """The FP-table tile's tables: ``a_words[M, K]`` FP16 activations to FP16 entries
    ``[M, K/g, 2**(g-1)]``, entry ``e`` of chunk ``c`` being ``T[e | 2**(g-1)] = a[g-1] +
    sum_{j<g-1} a[j] * (2*e_j - 1)`` (LUT Tensor Core's symmetric table; the other half is
    its negation). Activations follow the converters' rule (:func:`finite_fp16`); each chunk
    is aligned to its largest exponent ``E`` keeping :data:`ALIGN_EXTRA_BITS` bits, truncated
    toward zero; each entry is the exact sum of the aligned values, rounded once to FP16
    (nearest even) and saturated to +-65504 instead of becoming infinite."""
    sign, sig, exp, _ = decode(finite_fp16(a_words), FP16)
    rows, k = sig.shape
    shape = (rows, k // g, g)
    sign, sig, exp = (v.reshape(shape) for v in (sign, sig, exp))
    top = np.where(sig > 0, exp, FP16.min_exp).max(axis=-1)
    mag = (sig << ALIGN_EXTRA_BITS) >> np.minimum(top[..., None] - exp, 62)
    aligned = np.where(sign == 1, -mag, mag)
    entries = np.arange(1 << (g - 1))
    pm = 2 * ((entries[:, None] >> np.arange(g - 1)[None, :]) & 1) - 1  # [e, j] = +-1
    total = aligned[..., g - 1 : g] + np.einsum("rcj,ej->rce", aligned[..., : g - 1], pm)
    value = np.ldexp(total.astype(np.float64), (top - ALIGN_EXTRA_BITS)[..., None]) + 0.0
    largest = 65504.0
    return to_bits(np.clip(value, -largest, largest), FP16)  # saturate, then round


def fplut_matmul(cfg, a_words: np.ndarray, codes: np.ndarray, zero) -> np.ndarray:
    """The FP-table tile (``arch = "fplut"``): the words ``[M, N]`` of ``A @ (Wq - z)`` for
    FP16 activation words ``a_words[M, k]`` (``k`` a multiple of ``cfg.K``), codes
    ``codes[k, N]`` and zero points ``zero[N]`` (unsigned weights) or signed codes.

    Per K-slice, the tables come from :func:`fp_tables`. Weight plane ``b`` selects in chunk
    ``c`` the entry ``T[p]`` of its bits ``p`` (``T[p] = -T[~p]``), so that ``sum_k a_k (w_bk
    - z_b) = (sum_c T[p_c] + (1 - 2 z_b) * S_c) / 2`` with ``S_c`` the chunk's all-ones entry;
    the signed top plane is negated. Each beat (``planes_per_cycle`` planes) adds its leaves
    ``+-T[p_c] * 2**(b-1)`` and ``+-S_c * 2**(b-1)`` in one fused sum (:func:`fused_sum`)
    rounded to ``acc_format``, and the beat values are accumulated by additions in
    ``acc_format`` (:func:`acc_add`) from +0, slice by slice, beat by beat (planes least
    significant first). Words of ``acc_format`` ``[M, N]``; with ``acc_format = "fixed"``
    the leaves are summed exactly instead (:func:`fixed_sum`, integers in units of
    ``2**-24``), beat by beat and slice by slice, with no rounding.

    With ``offset = "output"`` the leaves ``S_c`` are left out (and the zero points unused),
    the others scaled by ``2**b`` (twice the value, halved by :func:`offset_dequant`), and
    a column ``N`` is appended: each row's sum ``S``, per slice the fused sum of its
    chunks' last entries, accumulated by additions in ``acc_format`` from +0 (``[M, N+1]``;
    the output is then :func:`offset_dequant`'s).
    """
    g, ppc, w = cfg.g, cfg.planes_per_cycle, cfg.w_bits
    a_words, codes = np.asarray(a_words, np.int64), np.asarray(codes, np.int64)
    rows, cols = a_words.shape[0], codes.shape[1]
    acc = np.zeros((rows, cols), np.int64)  # +0
    total = np.zeros(rows, np.int64)
    for k0 in range(0, a_words.shape[1], cfg.K):
        entries = fp_tables(a_words[:, k0 : k0 + cfg.K], g)  # [M, C, E]
        e_sign, e_sig, e_exp, _ = decode(entries, FP16)
        chunk = (codes[k0 : k0 + cfg.K] & ((1 << w) - 1)).reshape(cfg.chunks, g, cols)
        for t in range(cfg.beats_per_slice):
            leaves = []
            for b in range(t * ppc, (t + 1) * ppc):
                bits = (chunk >> b) & 1  # [C, g, N]
                p = (bits << np.arange(g)[None, :, None]).sum(axis=1)  # [C, N]
                msb = p >> (g - 1)
                low = np.where(msb == 1, p, ~p) & ((1 << (g - 1)) - 1)
                negate = int(cfg.weight_format == "signed" and b == w - 1)
                zb = ((np.asarray(zero) >> b) & 1) if cfg.has_zero_point else np.zeros(cols, int)
                for c in range(cfg.chunks):
                    pick = low[c]  # [N]
                    leaves.append(
                        (
                            e_sign[:, c, pick] ^ (1 - msb[c])[None, :] ^ negate,
                            e_sig[:, c, pick],
                            e_exp[:, c, pick] + b - (0 if cfg.offset_out else 1),
                        )
                    )
                    if cfg.offset_out:
                        continue
                    last = np.full(cols, entries.shape[-1] - 1)
                    leaves.append(
                        (
                            e_sign[:, c, last] ^ zb[None, :] ^ negate,
                            e_sig[:, c, last],
                            e_exp[:, c, last] + b - 1,
                        )
                    )
            sign, sig, exp = (np.stack([lf[i] for lf in leaves], axis=-1) for i in range(3))
            if cfg.fixed_acc:
                acc = acc + fixed_sum(sign, sig, exp)
            else:
                acc = acc_add(cfg, acc, fused_sum(sign, sig, exp, cfg.acc_fmt))
        if cfg.offset_out:  # the slice's chunk sums, once per slice
            sums = [v[..., -1] for v in (e_sign, e_sig, e_exp)]
            if cfg.fixed_acc:
                total = total + fixed_sum(*sums)
            else:
                total = acc_add(cfg, total, fused_sum(*sums, cfg.acc_fmt))
    return np.concatenate([acc, total[:, None]], axis=1) if cfg.offset_out else acc


def fixed_sum(sign: np.ndarray, sig: np.ndarray, exp: np.ndarray) -> np.ndarray:
    """The exact sum over the last axis of ``(-1)**sign * sig * 2**exp`` as integers in units
    of ``2**FIXED_LSB`` (the fixed-point accumulators, ``acc_format = "fixed"``)."""
    return _fixed_ints(sign, sig, exp, np.int64).sum(axis=-1)


def _fixed_ints(sign: np.ndarray, sig: np.ndarray, exp: np.ndarray, dtype) -> np.ndarray:
    """``(-1)**sign * sig * 2**exp`` as integers of ``2**FIXED_LSB`` (``dtype`` int64, or
    object for Python integers)."""
    if (np.asarray(exp) < FIXED_LSB).any():
        raise ValueError(f"a term below the fixed-point LSB 2**{FIXED_LSB}")
    value = np.where(sign == 1, -sig, sig).astype(dtype)
    return value << (np.asarray(exp) - FIXED_LSB).astype(dtype)
