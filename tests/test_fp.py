"""The floating-point path: golden definitions against IEEE arithmetic (NumPy), the converters'
and the FP-table precompute's RTL against the golden model word for word, and a real
transformer layer through the activation converter, the integer tile and the dequant
converter (and through the FP-table tile and the dequant converter)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lutcore.hw.act_converter import ActConverter
from lutcore.hw.config import BF16, FP16, FP32, tile_config
from lutcore.hw.dequant import FP16_ONE, DequantConverter
from lutcore.hw.presets import DEFAULT, PRESETS
from lutcore.sim import fpgolden as fg
from lutcore.sim import quant
from lutcore.sim.amaranth_driver import simulate_stream
from lutcore.sim.fp_driver import PathMismatch, convert_blocks, run_linear
from lutcore.sim.streams import first_mismatch

from .support import dequant_items, special_blocks

# ---- golden definitions against NumPy's IEEE conversions ----------------------------------


@settings(max_examples=400, deadline=None)
@given(
    st.integers(-(1 << 52), 1 << 52),
    st.integers(0, 52),
    st.sampled_from(["fp16", "fp32"]),
    st.integers(-200, 160),
)
def test_round_to_format_equals_ieee_conversion(num, drop, fmt_name, exp):
    """Any exact value ``num * 2**exp`` (exactly representable as a float64) rounds as NumPy's
    float64 -> float16/float32 conversion does: nearest even, subnormals, overflow to inf."""
    fmt = {"fp16": FP16, "fp32": FP32}[fmt_name]
    num >>= drop
    if fmt is FP16:
        exp = exp // 5
    value = float(num) * 2.0**exp
    with np.errstate(over="ignore"):
        want = 0 if num == 0 else int(fg.to_bits(value, fmt))
    assert fg.round_to_format(num, exp, fmt) == want


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(-(1 << 20), 1 << 20), min_size=1, max_size=4),
    st.data(),
    st.integers(-30, 30),
)
def test_dequant_is_one_rounding_of_the_exact_sum(ints, data, x):
    """The dequant definition equals one IEEE rounding of the exactly computed sum."""
    coeffs = data.draw(
        st.lists(
            st.integers(0, 0x7BFF) | st.integers(0x8000, 0xFBFF),
            min_size=len(ints),
            max_size=len(ints),
        )
    )
    exact = sum(i * fg.from_bits(c, FP16) for i, c in zip(ints, coeffs, strict=True))
    # every term is a multiple of 2**-24 below 2**36: the float64 sum is exact
    want = 0 if exact == 0 else int(fg.to_bits(exact * 2.0**x, FP32))
    assert int(fg.dequant(np.array(ints), np.array(coeffs), x, FP32)) == want


def test_dequant_single_term_shortcut_is_the_definition():
    """The vectorized single-term path of the golden dequant equals the exact-integer
    definition (round_to_format) word for word, subnormal and overflowing results included."""
    rng = np.random.default_rng(3)
    ints = rng.integers(-(1 << 39), 1 << 39, 3000) >> rng.integers(0, 39, 3000)
    coeffs = rng.integers(0, 0x7C00, 3000) | (rng.integers(0, 2, 3000) << 15)
    x = rng.integers(-60, 30, 3000)
    for out in (FP16, FP32):
        got = fg.dequant(ints[:, None], coeffs[:, None], x, out)
        sign, sig, exp, _ = fg.decode(coeffs, FP16)
        want = [
            fg.round_to_format(int(i) * int(m) * (-1 if s else 1), int(e) + int(xx), out)
            for i, s, m, e, xx in zip(ints, sign, sig, exp, x, strict=True)
        ]
        assert first_mismatch(got, np.array(want)) is None, out.name


@pytest.mark.parametrize("fmt", [FP16, BF16], ids=["fp16", "bf16"])
@pytest.mark.parametrize("a_bits", [8, 16])
@pytest.mark.parametrize("rounding", ["rne", "trunc"])
def test_block_fp_error_bound_and_specials(fmt, a_bits, rounding):
    """Every mantissa is within half a step (RNE) or one step (truncation) of the value at
    the block exponent, unless saturated; the largest element uses the top mantissa bit;
    zeros, infinities and NaNs convert as documented."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 8)) * 2.0 ** rng.integers(-12, 8, (64, 1))
    bits = fg.to_bits(x, fmt)
    q, xe, total, nonfinite = fg.to_bfp(bits, fmt, 8, a_bits, rounding)
    value = fg.from_bits(bits, fmt)
    step = 2.0 ** np.repeat(xe, 8, axis=1)
    limit = (1 << (a_bits - 1)) - 1
    err = np.abs(value - q * step) / step
    ok = err <= (0.5 if rounding == "rne" else 1.0 - 1e-12)
    assert np.all(ok | (np.abs(q) == limit))
    assert np.all(np.abs(q).max(axis=1) >= 1 << (a_bits - 2))
    assert np.array_equal(total[:, 0], q.sum(axis=1)) and not nonfinite.any()

    special = np.zeros((1, 4), np.int64)
    inf = fmt.exp_field_max << fmt.frac_bits
    special[0] = [inf, inf | 1, 1 << (fmt.width - 1), fg.to_bits(1.0, fmt)]  # +inf NaN -0 1
    q, xe, _, nonfinite = fg.to_bfp(special, fmt, 4, a_bits, rounding)
    assert q[0, 0] >= 1 << (a_bits - 2) and q[0, 1] == 0 and q[0, 2] == 0 and nonfinite[0, 0]
    assert q[0, 0] * 2.0 ** xe[0, 0] == pytest.approx(fg.from_bits(inf - 1, fmt), rel=2.0**-6)


# ---- converter RTL against the golden model ------------------------------------------------

ACT_CONFIGS = {
    "fp16_a16_chunk": DEFAULT.replace(act_format="fp16", a_bits=16, act_block="chunk"),
    "fp16_a8_chunk_trunc": DEFAULT.replace(
        M=1, act_format="fp16", a_bits=8, act_block="chunk", act_rounding="trunc"
    ),
    "bf16_a8_g2": DEFAULT.replace(g=2, act_format="bf16", a_bits=8, act_block="chunk"),
    "bf16_a16_group16": tile_config(K=4, group=16, max_k=64, act_format="bf16", a_bits=16),
    "fp16_a8_group64_lanes4": tile_config(
        M=1, N=8, K=4, group=64, max_k=256, act_format="fp16", a_bits=8
    ),
}


@pytest.mark.parametrize("name", ACT_CONFIGS)
def test_activation_converter_matches_golden(name):
    cfg = ACT_CONFIGS[name]
    bits = special_blocks(cfg.act_fmt, cfg.bfp_block, np.random.default_rng(7))
    got = convert_blocks(cfg, bits, seed=2, p_gap=0.3, p_stall=0.4)
    want = fg.to_bfp(bits, cfg.act_fmt, cfg.bfp_block, cfg.a_bits, cfg.act_rounding)
    for field, g, w in zip(("q", "x", "total", "nonfinite"), got, want, strict=True):
        problem = first_mismatch(g, w.reshape(g.shape))
        assert problem is None, f"{field}: {problem}"


def test_activation_converter_keeps_up_with_the_tile():
    """Unthrottled, a block takes ``2 * bfp_block / act_lanes`` cycles (fill, then drain):
    at least the tile's rate of ``M * K / beats_per_slice`` activations a cycle."""
    cfg = tile_config(M=2, N=8, K=4, group=64, max_k=256, act_format="fp16", a_bits=16)
    dut = ActConverter(cfg)
    blocks = fg.to_bits(np.random.default_rng(1).standard_normal((12, 64)), FP16)
    layout = dut.i.payload.shape()
    lanes = cfg.act_lanes
    beats = [layout.const(b[i : i + lanes].tolist()) for b in blocks for i in range(0, 64, lanes)]
    _, cycles = simulate_stream(dut, beats)
    per_block = 2 * 64 // lanes
    assert cycles <= 12 * per_block + 2, (cycles, per_block)
    assert 64 / per_block >= cfg.M * cfg.K / cfg.beats_per_slice  # steady state


DEQUANT_CONFIGS = {
    "uniform_fp16act_fp32": DEFAULT.replace(N=4, act_format="fp16", a_bits=16),
    "signed_int_fp16out": DEFAULT.replace(N=8, weight_format="signed", out_format="fp16"),
    "bcq3_bf16_fp16out": DEFAULT.replace(
        N=6, weight_format="bcq", w_bits=3, act_format="bf16", a_bits=8, out_format="fp16"
    ),
    # the integer tile with its offset out of the array: acc + (C - 2z) * S, halved
    "lut_offout_w2u_fp16act": DEFAULT.replace(
        N=4, w_bits=2, act_format="fp16", a_bits=16, offset="output"
    ),
    "lut_offout_w2s_bf16_fp16out": DEFAULT.replace(
        N=4,
        w_bits=2,
        weight_format="signed",
        act_format="bf16",
        a_bits=8,
        out_format="fp16",
        offset="output",
    ),
    # FP32 results of the FP-table tile times the scale
    "fplut_fp16out": DEFAULT.replace(
        arch="fplut", N=8, act_format="fp16", a_bits=16, out_format="fp16"
    ),
}


@pytest.mark.parametrize("name", DEQUANT_CONFIGS)
def test_dequant_converter_matches_golden(name):
    cfg = DEQUANT_CONFIGS[name]
    lanes = cfg.dequant_lanes
    items, ints, coeffs, x = dequant_items(cfg, 60 * lanes, np.random.default_rng(11))
    dut = DequantConverter(cfg)
    layout = dut.i.payload.shape()
    beats = [layout.const(items[i : i + lanes]) for i in range(0, len(items), lanes)]
    outs, _ = simulate_stream(dut, beats, seed=4, p_gap=0.3, p_stall=0.4)
    got = np.array([int(o[lane]) for o in outs for lane in range(lanes)])
    want = fg.dequant(ints, coeffs, x, cfg.out_fmt)
    assert first_mismatch(got, want) is None, first_mismatch(got, want)
    # the corner items did reach their corners
    inf = cfg.out_fmt.exp_field_max << cfg.out_fmt.frac_bits
    assert want[2] == 0 and want[3] == want[4] == cfg.out_fmt.canonical_nan
    assert want[6] & 1 == 0 and want[7] & 1 == 0
    if cfg.out_fmt is FP16 and (cfg.act_format == "int" or cfg.arch == "fplut"):
        assert want[0] & 0x7FFF == inf


OFFSET_DEQUANT_CONFIGS = {
    # FP32 results and row sums, unsigned weights (C = 3, zero points in the items)
    "fplut_offout_w2u_fp32": DEFAULT.replace(
        arch="fplut", N=8, w_bits=2, act_format="fp16", a_bits=16, offset="output"
    ),
    # FP16 ones, signed weights (C = -1), FP16 out
    "fplut_offout_w2s_acc16_fp16out": DEFAULT.replace(
        arch="fplut",
        N=8,
        w_bits=2,
        weight_format="signed",
        act_format="fp16",
        a_bits=16,
        acc_format="fp16",
        out_format="fp16",
        offset="output",
    ),
}


def random_fp_words(fmt, n: int, rng) -> np.ndarray:
    """Finite ``fmt`` words of either sign over the whole exponent range (zeros, subnormals
    and the largest magnitudes included)."""
    words = rng.integers(0, fmt.exp_field_max << fmt.frac_bits, n) | (
        rng.integers(0, 2, n) << (fmt.width - 1)
    )
    near = rng.integers(0, 4, n) == 0  # a quarter near 1.0: terms that cancel and round
    one = (fmt.bias - rng.integers(0, 3, n)) << fmt.frac_bits
    return np.where(near, (words & ~(fmt.exp_field_max << fmt.frac_bits)) | one, words)


@pytest.mark.parametrize("name", OFFSET_DEQUANT_CONFIGS)
def test_dequant_converter_adds_the_offset_term(name):
    """``offset = "output"``: the lane's ``round(scale * (acc + (C - 2z)/2 * S))`` equals the
    exact golden sum rounded once, over random words of the whole range, the far-apart
    exponents that take the sticky shortcut, exact cancellation and special scales."""
    from lutcore.hw.dequant import offset_clamp

    cfg = OFFSET_DEQUANT_CONFIGS[name]
    fmt, lanes, n = cfg.acc_fmt, cfg.dequant_lanes, 80 * cfg.dequant_lanes
    rng = np.random.default_rng(5)
    acc, total = random_fp_words(fmt, n, rng), random_fp_words(fmt, n, rng)
    zero = rng.integers(0, 1 << cfg.w_bits, n) if cfg.has_zero_point else np.zeros(n, int)
    scale = rng.integers(0, 0x7C00, n) | (rng.integers(0, 2, n) << 15)
    k = cfg.offset_coefficient - 2 * zero
    # exact cancellation: acc = -(C - 2z) * S, with S = 1 (the sum is +0)
    one = fg.to_bits(np.array([1.0]), fmt)[0]
    acc[0], total[0] = fg.to_bits(np.array([-float(k[0])]), fmt)[0], one
    scale[1], scale[2], scale[3] = 0x7C00, 0x7E01, 0x8000  # inf, NaN, -0 scales
    scale[4] = 0x0001  # the smallest subnormal scale
    total[5] = 1  # the smallest subnormal row sum beside a large result
    acc[6] = 0  # a zero result: only the offset term
    # far apart: large results beside subnormal row sums, and the other way round
    top = (fmt.exp_field_max - 1) << fmt.frac_bits
    far = slice(8, 8 + n // 4)
    big = (
        top
        | rng.integers(0, 1 << fmt.frac_bits, n // 4)
        | (rng.integers(0, 2, n // 4) << (fmt.width - 1))
    )
    tiny = rng.integers(1, 1 << fmt.frac_bits, n // 4)
    acc[far], total[far] = np.where(np.arange(n // 4) % 2, (big, tiny), (tiny, big))
    items = []
    for b in range(n):
        item = {"acc": int(acc[b]), "scale": int(scale[b]), "total": int(total[b])}
        items.append(item | ({"zero": int(zero[b])} if cfg.has_zero_point else {}))
    dut = DequantConverter(cfg)
    layout = dut.i.payload.shape()
    beats = [layout.const(items[i : i + lanes]) for i in range(0, n, lanes)]
    outs, _ = simulate_stream(dut, beats, seed=4, p_gap=0.3, p_stall=0.4)
    got = np.array([int(o[lane]) for o in outs for lane in range(lanes)])
    want = fg.offset_dequant(cfg, acc, total, zero if cfg.has_zero_point else None, scale)
    assert first_mismatch(got, want) is None, first_mismatch(got, want)
    assert want[0] == 0 and want[1] == want[2] == cfg.out_fmt.canonical_nan
    # the sticky shortcut was taken (and equalled the exact rounding) for many items
    _, _, ea, _ = fg.decode(acc, fmt)
    _, _, es, _ = fg.decode(total, fmt)
    assert (np.abs(ea - es) > offset_clamp(cfg)[1]).sum() > n // 10


@pytest.mark.parametrize("out_format", ["fp32", "fp16"])
def test_dequant_converter_rounds_fixed_point_results_once(out_format):
    """Exact fixed-point results (``acc_format = "fixed"``): the lane's ``round(scale * (acc
    + (C - 2z) S) * 2**-25)`` equals the exact product rounded once, over integers of the
    whole ``acc_bits`` / ``total_bits`` range (and far below it), with exact cancellation,
    overflow (FP16 out), subnormal results and special scales."""
    cfg = DEFAULT.replace(
        arch="fplut",
        N=8,
        w_bits=2,
        act_format="fp16",
        a_bits=16,
        offset="output",
        acc_format="fixed",
        out_format=out_format,
    )
    lanes, n = cfg.dequant_lanes, 80 * cfg.dequant_lanes
    rng = np.random.default_rng(9)
    top_a, top_s = (1 << (cfg.acc_bits - 1)) - 1, (1 << (cfg.total_bits - 1)) - 1
    acc = rng.integers(-top_a, top_a, n) >> rng.integers(0, cfg.acc_bits, n)
    total = rng.integers(-top_s, top_s, n) >> rng.integers(0, cfg.total_bits, n)
    zero = rng.integers(0, 1 << cfg.w_bits, n)
    scale = rng.integers(0, 0x7C00, n) | (rng.integers(0, 2, n) << 15)
    k = cfg.offset_coefficient - 2 * zero
    acc[0], total[0] = -k[0] * 12345, 12345  # exact cancellation: +0
    scale[1], scale[2], scale[3] = 0x7C00, 0x7E01, 0x8000  # inf, NaN, -0 scales
    acc[4], total[4], scale[4] = top_a, top_s, 0x7BFF  # the largest: inf in FP16
    acc[5], total[5], scale[5] = 3, 0, 0x0001  # 3 * 2**-49: below FP16's subnormals
    items = [
        {"acc": int(a), "scale": int(c), "zero": int(z), "total": int(t)}
        for a, c, z, t in zip(acc, scale, zero, total, strict=True)
    ]
    dut = DequantConverter(cfg)
    layout = dut.i.payload.shape()
    beats = [layout.const(items[i : i + lanes]) for i in range(0, n, lanes)]
    outs, _ = simulate_stream(dut, beats, seed=4, p_gap=0.3, p_stall=0.4)
    got = np.array([int(o[lane]) for o in outs for lane in range(lanes)])
    want = fg.offset_dequant(cfg, acc, total, zero, scale)
    assert first_mismatch(got, want) is None, first_mismatch(got, want)
    fmt = cfg.out_fmt
    assert want[0] == 0 and want[1] == want[2] == fmt.canonical_nan
    # against float64 where it is exact: |acc + k S| < 2**53 times an 11-bit scale
    exact = (acc + k * total).astype(np.float64) * fg.from_bits(scale, FP16) * 2.0**-25
    small = (np.abs(acc + k * total) < 1 << 40) & ((scale & 0x7C00) != 0x7C00)
    with np.errstate(over="ignore"):
        assert (fg.to_bits(exact[small] + 0.0, fmt) == want[small]).all()
    if fmt is FP16:
        assert want[4] == fmt.exp_field_max << fmt.frac_bits and want[5] == 0


def test_dequant_converter_normalizes_the_fp16_macs_exact_sums():
    """The FP16 MAC with exact fixed-point accumulation: its one-term dequant converter
    rounds ``acc * 2**-48`` once to FP32, over integers of the whole 93-bit range and far
    below it, the extremes, zero and subnormal results; where ``acc`` fits a float64
    exactly that rounding is NumPy's (an independent reference)."""
    cfg = PRESETS["fpmac_w2_fixed"]
    lanes, n = cfg.dequant_lanes, 120
    rng = np.random.default_rng(13)
    top = (1 << (cfg.acc_bits - 1)) - 1
    acc = [
        (int(rng.integers(-(1 << 62), 1 << 62)) << int(rng.integers(0, cfg.acc_bits - 62)))
        >> int(rng.integers(0, cfg.acc_bits))
        for _ in range(n)
    ]
    acc[:4] = [top, -top - 1, 0, 1]  # the extremes, +0, 2**-48
    dut = DequantConverter(cfg)
    layout = dut.i.payload.shape()
    beats = [layout.const([{"acc": a} for a in acc[i : i + lanes]]) for i in range(0, n, lanes)]
    outs, _ = simulate_stream(dut, beats, seed=4, p_gap=0.3, p_stall=0.4)
    got = np.array([int(o[lane]) for o in outs for lane in range(lanes)])
    want = fg.dequant(np.array(acc, dtype=object)[:, None], FP16_ONE, cfg.fixed_lsb, FP32)
    assert first_mismatch(got, want) is None, first_mismatch(got, want)
    exact = [i for i, a in enumerate(acc) if abs(a) < 1 << 53]
    assert len(exact) > n // 4
    ref = fg.to_bits(np.array([float(acc[i]) for i in exact]) * 2.0**-48, FP32)
    assert (ref == want[exact]).all() and want[2] == 0


# ---- a real layer through the RTL -------------------------------------------------------


@pytest.fixture(scope="module")
def minilm():
    """all-MiniLM-L6-v2 block 0 inputs and weights (fails in CI, skips elsewhere, when the
    model package is missing)."""
    from lutcore.sim import model

    from .support import in_ci

    try:
        inputs = model.layer_inputs(0)
    except model.ModelMissing as exc:
        if in_ci():
            pytest.fail(f"CI=true and {exc}")
        pytest.skip(str(exc))
    return model, inputs


#: small tiles so Amaranth's simulator runs each path in seconds
PATHS = {
    "rtn4_g64_fp16a16": (
        tile_config(M=2, N=16, K=8, w_bits=4, act_format="fp16", a_bits=16, group=64, max_k=512),
        "query",
    ),
    "bcq3_g128_bf16a8_fp16out": (
        tile_config(
            M=2,
            N=12,
            K=8,
            w_bits=3,
            weight_format="bcq",
            act_format="bf16",
            a_bits=8,
            group=128,
            max_k=512,
            out_format="fp16",
        ),
        "ffn_up",
    ),
    "rtn2_g64_fp16a8_utable": (
        tile_config(
            M=2,
            N=16,
            K=8,
            g=2,
            symmetric=False,
            w_bits=2,
            act_format="fp16",
            a_bits=8,
            group=64,
            max_k=512,
        ),
        "attn_out",
    ),
}


#: the FP-table tile (FP16 words straight into its tables), bit-parallel to keep it quick
PATHS["fplut_rtn3_g64"] = (
    tile_config(
        arch="fplut",
        M=2,
        N=12,
        K=4,
        w_bits=3,
        planes_per_cycle=3,
        act_format="fp16",
        a_bits=16,
        group=64,
        max_k=512,
    ),
    "query",
)


#: the offset out of the array: the row sums and zero points through the dequant converter,
#: on the integer tile and on the FP-table tile
PATHS["rtn2_g64_fp16a8_offout"] = (
    tile_config(
        M=2,
        N=16,
        K=8,
        w_bits=2,
        act_format="fp16",
        a_bits=8,
        group=64,
        max_k=512,
        offset="output",
    ),
    "ffn_up",
)
PATHS["fplut_rtn2_g64_offout"] = (
    tile_config(
        arch="fplut",
        M=2,
        N=12,
        K=4,
        w_bits=2,
        act_format="fp16",
        a_bits=16,
        group=64,
        max_k=512,
        offset="output",
    ),
    "attn_out",
)


PATHS["fplut_rtn2_g64_fixed"] = (
    PATHS["fplut_rtn2_g64_offout"][0].replace(acc_format="fixed", pipeline=2),
    "ffn_down",
)


@pytest.mark.parametrize("name", PATHS)
def test_real_layer_through_rtl_is_bit_exact(minilm, name):
    """Three tokens of a real layer (24 output columns, the full K): every stage of the RTL
    equals the golden model word for word (run_linear raises PathMismatch otherwise), and
    the result is as close to float64 as the block-FP mantissa allows."""
    model, inputs = minilm
    cfg, layer = PATHS[name]
    x = inputs[layer][:3]
    w = model.layer_weight(layer)[:, :24]
    qw = (quant.quantize_bcq if cfg.weight_format == "bcq" else quant.quantize_rtn)(
        w, cfg.w_bits, cfg.group
    )
    xb = fg.to_bits(x, cfg.act_fmt)
    out = run_linear(cfg, xb, qw, seed=1)
    # conversion error against float64 with the same (rounded) activations and weights:
    # block FP keeps a_bits - 1 magnitude bits of the block maximum; FP16 table entries
    # keep 11 bits of their own magnitude
    exact = fg.from_bits(xb, cfg.act_fmt) @ qw.dequantized()
    err = fg.relative_error(out["y"], exact)
    bound = 2.0**-10 if cfg.arch == "fplut" else 2.0 ** -(cfg.a_bits - 4)
    assert err["mean"] < bound, err


def test_path_mismatch_names_the_stage(minilm, monkeypatch):
    """A wrong golden expectation is caught at the stage where it differs."""
    model, inputs = minilm
    cfg, layer = PATHS["rtn4_g64_fp16a16"]
    qw = quant.quantize_rtn(model.layer_weight(layer)[:, :16], 4, 64)
    real = fg.dequant

    def off_by_one(*args, **kw):
        words = real(*args, **kw)
        words.flat[0] ^= 1
        return words

    monkeypatch.setattr(fg, "dequant", off_by_one)
    with pytest.raises(PathMismatch, match=r"dequant converter: .* first at \(0, 0, 0\)"):
        run_linear(cfg, fg.to_bits(inputs[layer][:2], cfg.act_fmt), qw)


def test_real_layer_error_falls_with_weight_bits(minilm):
    """Golden model on a whole real layer: the error against the float layer falls from 2 to
    3 to 4 bits for round-to-nearest and BCQ, and BCQ beats RTN at 2 bits (its levels are
    fitted to the weights)."""
    model, inputs = minilm
    x, w = inputs["query"], model.layer_weight("query")
    ref = x @ w
    errors = {}
    for kind in ("rtn", "bcq"):
        for bits in (2, 3, 4):
            cfg = DEFAULT.replace(
                act_format="fp16",
                a_bits=16,
                w_bits=bits,
                weight_format="bcq" if kind == "bcq" else "unsigned",
            )
            qw = (quant.quantize_bcq if kind == "bcq" else quant.quantize_rtn)(w, bits, 128)
            y = fg.linear(cfg, fg.to_bits(x, FP16), qw)["y"]
            errors[kind, bits] = fg.relative_error(y, ref)["mean"]
    for kind in ("rtn", "bcq"):
        assert errors[kind, 2] > errors[kind, 3] > errors[kind, 4], errors
    assert errors["bcq", 2] < errors["rtn", 2], errors


def test_quantizers_reconstruct_within_their_step():
    rng = np.random.default_rng(5)
    w = rng.standard_normal((128, 16)) * 0.05
    rtn = quant.quantize_rtn(w, 4, 64)
    step = np.repeat(fg.from_bits(rtn.scale, FP16), 64, axis=0)
    err = np.abs(rtn.dequantized() - w) / step
    assert np.mean(err <= 0.5 + 1e-3) > 0.99 and err.max() < 1.5
    assert rtn.codes.min() >= 0 and rtn.codes.max() <= 15
    errs = [np.abs(quant.quantize_bcq(w, b, 64).dequantized() - w).mean() for b in (1, 2, 3)]
    assert errs[0] > errs[1] > errs[2]


def test_bitnet_quantizers():
    """Absmean ternary weights: codes in {-1, 0, +1}, the scale the FP16 mean |W| (of the
    tensor, or per group and column), each weight the nearest of -scale, 0, +scale; absmax
    activations: per token, |q| <= 127, the largest element hits 127, x within half a step."""
    rng = np.random.default_rng(11)
    w = rng.standard_normal((256, 8)) * np.linspace(0.01, 0.2, 8)
    tensor, grouped = quant.quantize_ternary(w), quant.quantize_ternary(w, 128)
    assert tensor.name == "ternary_tensor" and grouped.name == "ternary_g128"
    for qw in (tensor, grouped):
        assert set(np.unique(qw.codes)) == {-1, 0, 1}
        step = qw.per_row(fg.from_bits(qw.scale, FP16))
        np.testing.assert_array_equal(qw.dequantized(), step * qw.codes)
        choices = np.stack([-step, 0 * step, step])  # every weight takes the nearest level
        best = np.abs(choices - w).min(axis=0)
        assert np.allclose(np.abs(qw.dequantized() - w), best)
    assert np.unique(tensor.scale).size == 1
    assert fg.from_bits(tensor.scale, FP16)[0, 0] == pytest.approx(np.abs(w).mean(), rel=1e-3)
    want = np.abs(w.reshape(2, 128, 8)).mean(axis=1)
    np.testing.assert_allclose(fg.from_bits(grouped.scale, FP16), want, rtol=1e-3)
    # per-column scales follow the columns' spread; one tensor scale cannot
    assert np.abs(grouped.dequantized() - w).mean() < np.abs(tensor.dequantized() - w).mean()

    x = rng.standard_normal((5, 64)) * np.array([[1e-3], [1.0], [30.0], [0.0], [2.0]])
    q, scale = quant.quantize_absmax(x, 8)
    assert np.abs(q).max() <= 127 and (np.abs(q).max(axis=1)[[0, 1, 2, 4]] == 127).all()
    assert scale[3] == 1.0 and not q[3].any()
    assert (np.abs(q * scale[:, None] - x) <= scale[:, None] / 2 + 1e-12).all()


def test_every_layers_point_builds_and_fp16_accumulation_costs_accuracy():
    """Every point of `make layers` has a valid tile, and on a real layer the FP16 MAC's FP16
    accumulation is measurably less exact than its FP32 one, yet within 1% (mean error
    against float64 on the same FP16 activations and dequantized weights)."""
    from lutcore.experiments import layers
    from lutcore.sim import model

    for kind, bits, group in layers.WEIGHT_FORMATS:
        for act in layers.ACT_PATHS:
            if act.block != "fpmac" and not (act.block == "fplut" and kind == "bcq"):
                layers.path_config(kind, bits, group, act)
    x, w = model.layer_inputs(0)["query"], model.layer_weight("query")
    qw = quant.quantize_rtn(w, 2, 128)
    xb = fg.to_bits(x, FP16)
    ref = fg.from_bits(xb, FP16) @ qw.dequantized()
    err = {
        a: fg.relative_error(layers.fpmac_linear(xb, qw, a), ref)["mean"] for a in ("fp32", "fp16")
    }
    assert err["fp32"] < 1e-6 < err["fp16"] < 1e-2, err


def test_path_refuses_a_block_the_tile_cannot_accumulate():
    cfg = tile_config(K=8, act_format="fp16", a_bits=16, act_block="chunk", max_k=512)
    qw = quant.quantize_rtn(np.ones((128, 4)), 2, 128)
    with pytest.raises(ValueError, match="unit of 4 activations is not a whole number of K=8"):
        run_linear(cfg, fg.to_bits(np.ones((1, 128)), FP16), qw)


# ---- the FP-table tile (LUT Tensor Core's FP16 tables) -------------------------------------


def _chunk_exact(a_words: np.ndarray, g: int) -> np.ndarray:
    """Exact entries ``a[g-1] + sum_j +-a[j]`` of every chunk as float64 (exact for FP16
    inputs: 40 bits of range), with the converters' special-value rule."""
    a = fg.from_bits(fg.finite_fp16(a_words), FP16)
    rows, k = a.shape
    a = a.reshape(rows, k // g, g)
    pm = np.array([[2 * ((e >> j) & 1) - 1 for j in range(g - 1)] for e in range(1 << (g - 1))])
    return a[..., g - 1 : g] + np.einsum("rcj,ej->rce", a[..., : g - 1], pm)


@pytest.mark.parametrize("g", [2, 4])
def test_fp_tables_are_aligned_sums_rounded_once(g):
    """Chunks whose exponents lie within ALIGN_EXTRA_BITS of each other lose no bit in the
    alignment: every entry is the exact sum rounded once to FP16 (saturated at 65504).
    Otherwise an entry is within one FP16 half-ulp plus the truncated bits (< 2**(E - 3)
    per activation, E the chunk's largest exponent) of the exact sum."""
    rng = np.random.default_rng(g)
    rows = 400
    sig = rng.integers(1 << 10, 1 << 11, (rows, g))
    exp = rng.integers(-14, 5, (rows, 1)) - 10 + rng.integers(0, 4, (rows, g))
    close = (rng.integers(0, 2, (rows, g)) << 15) | ((exp + 25) << 10) | (sig & 0x3FF)
    close[0] = 0x7BFF  # all +65504: entries saturate
    entries = fg.fp_tables(close, g)
    exact = _chunk_exact(close, g)
    want = np.array([fg.round_to_format(int(v * 2**40), -40, FP16) for v in exact.ravel()]).reshape(
        exact.shape
    )
    want = np.where(want & 0x7FFF == 0x7C00, (want & 0x8000) | 0x7BFF, want)
    assert first_mismatch(entries, want) is None, first_mismatch(entries, want)
    assert (entries[0] == 0x7BFF).any()  # the saturation case was reached

    wide = fg.to_bits(
        rng.standard_normal((rows, g)) * 2.0 ** rng.integers(-20, 12, (rows, g)), FP16
    )
    _, sig_w, exp_w, _ = fg.decode(wide, FP16)
    top = np.where(sig_w > 0, exp_w, FP16.min_exp).max(axis=1).reshape(rows, 1, 1)
    got = fg.from_bits(fg.fp_tables(wide, g), FP16)
    exact = _chunk_exact(wide, g)
    ulp = 2.0 ** (np.floor(np.log2(np.maximum(np.abs(exact), 2.0**-14))) - 10)
    assert (np.abs(got - exact) <= ulp / 2 + g * 2.0 ** (top - 3) + 1e-30).all()


def test_fplut_golden_is_close_to_float():
    """The FP-table tile's golden result against float64 A @ W: FP16 entries and FP32
    accumulation keep the mean error at the FP16 rounding level."""
    cfg = tile_config(arch="fplut", N=8, K=8, w_bits=3, act_format="fp16", a_bits=16, group=64)
    rng = np.random.default_rng(2)
    a = fg.to_bits(rng.standard_normal((4, 64)), FP16)
    codes = rng.integers(0, 8, (64, 8))
    zero = rng.integers(0, 8, 8)
    got = fg.from_bits(fg.fplut_matmul(cfg, a, codes, zero), FP32)
    ref = fg.from_bits(a, FP16) @ (codes - zero[None, :])
    err = fg.relative_error(got, ref)
    assert err["mean"] < 2.0**-11 and err["max"] < 2.0**-8, err
    signed = cfg.replace(weight_format="signed", planes_per_cycle=3)
    scodes = rng.integers(-4, 4, (64, 8))
    got = fg.from_bits(fg.fplut_matmul(signed, a, scodes, None), FP32)
    err = fg.relative_error(got, fg.from_bits(a, FP16) @ scodes)
    assert err["mean"] < 2.0**-11 and err["max"] < 2.0**-8, err
    # the offset out of the array: the row sums are the activations' sums, and the dequant
    # converter's (acc + (C - 2z) * S) / 2 at scale 1.0 is the same product
    one = np.full(8, 0x3C00)
    for c, cd, z in ((cfg, codes, zero), (signed, scodes, None)):
        out = fg.fplut_matmul(c.replace(offset="output"), a, cd, z)
        sums = fg.from_bits(out[:, -1], FP32)
        assert np.allclose(sums, fg.from_bits(a, FP16).sum(axis=1), rtol=2.0**-10), sums
        ref = fg.from_bits(a, FP16) @ (cd - (0 if z is None else z[None, :]))
        y = fg.offset_dequant(c.replace(offset="output"), out[:, :-1], out[:, -1:], z, one)
        err = fg.relative_error(fg.from_bits(y, FP32), ref)
        assert err["mean"] < 2.0**-11 and err["max"] < 2.0**-8, err


def test_fp_table_precompute_matches_golden():
    """The FP table precompute's RTL (its two-stage pipeline, under random gaps and
    backpressure; the combinational one runs inside the tile tests) against
    :func:`fpgolden.fp_tables` with infinities, NaNs, subnormals, zeros and saturating sums
    among the activations."""
    from lutcore.hw.fp_precompute import FpTablePrecompute
    from lutcore.hw.layouts import act_layout
    from lutcore.sim.scenario import fp16_activations

    cfg = tile_config(arch="fplut", N=1, K=8, act_format="fp16", a_bits=16, group=64)
    rng = np.random.default_rng(7)
    cases = [fp16_activations((2, 8), rng) for _ in range(40)]
    cases += [np.full((2, 8), 0x7BFF), np.full((2, 8), 0xFBFF), np.full((2, 8), 0x0001)]
    beats = [act_layout(cfg).const(a.tolist()) for a in cases]
    outs, _ = simulate_stream(FpTablePrecompute(cfg), beats, seed=3, p_gap=0.3, p_stall=0.4)
    for i, (a, out) in enumerate(zip(cases, outs, strict=True)):
        want = fg.fp_tables(a, cfg.g)
        got = np.array([[list(c) for c in row] for row in out.entries])
        problem = first_mismatch(got, want)
        assert problem is None, f"case {i}: {problem}"
    assert (fg.fp_tables(cases[-3], cfg.g) == 0x7BFF).any()  # saturation was exercised
