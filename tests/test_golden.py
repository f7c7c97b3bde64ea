"""The golden model (LUT and MAC methods), written from the arithmetic, equals plain integer
matmul exactly."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lutcore.hw.config import TileConfig, tile_config
from lutcore.sim import golden
from lutcore.sim.scenario import code_range


@st.composite
def configs(draw) -> TileConfig:
    arch = draw(st.sampled_from(["lut", "mac"]))
    symmetric = draw(st.booleans())
    g = draw(st.integers(2 if symmetric else 1, 5))
    weight_format = draw(st.sampled_from(["unsigned", "signed", "bcq", "ternary"]))
    w_bits = 2 if weight_format == "ternary" else draw(st.integers(1, 8))
    ppc = draw(st.sampled_from([d for d in range(1, w_bits + 1) if w_bits % d == 0]))
    tables = {"g": g, "symmetric": symmetric} if arch == "lut" else {}
    if weight_format == "bcq":
        ppc = 1
    if weight_format == "ternary":
        if arch == "mac":  # the add/subtract/skip baseline takes whole weights
            ppc = 2
        else:
            code = draw(st.sampled_from(["base3", "planes"]))
            tables["ternary_code"] = code
            if code == "base3":  # base-3 groups of 2..5, one group code per beat
                g = draw(st.integers(2, 5))
                tables.update(g=g, symmetric=True)
                ppc = 1
    # the MAC baseline takes any K (not only multiples of g)
    K = g * draw(st.integers(1, 4)) if arch == "lut" else draw(st.integers(1, 12))
    return tile_config(
        arch=arch,
        M=draw(st.integers(1, 3)),
        N=draw(st.integers(1, 6)),
        K=K,
        **tables,
        w_bits=w_bits,
        weight_format=weight_format,
        a_bits=draw(st.sampled_from([4, 8, 16])),
        planes_per_cycle=ppc,
        max_k=K * draw(st.integers(1, 4)),
    )


def extreme_or_any(lo: int, hi: int):
    """Integers in [lo, hi] with the extremes (and 0, +-1) drawn often."""
    specials = sorted({lo, hi, 0, min(hi, 1), max(lo, -1)} & set(range(lo, hi + 1)))
    return st.one_of(st.sampled_from(specials), st.integers(lo, hi))


@st.composite
def problems(draw):
    cfg = draw(configs())
    rows, depth, cols = (draw(st.integers(1, 7)), draw(st.integers(1, 40)), draw(st.integers(1, 9)))
    a = np.array(
        draw(st.lists(extreme_or_any(*cfg.a_range), min_size=rows * depth, max_size=rows * depth))
    ).reshape(rows, depth)
    c_lo, c_hi = code_range(cfg)
    codes = np.array(
        draw(st.lists(extreme_or_any(c_lo, c_hi), min_size=depth * cols, max_size=depth * cols))
    ).reshape(depth, cols)
    zero = None
    if cfg.has_zero_point:
        zero = np.array(draw(st.lists(extreme_or_any(c_lo, c_hi), min_size=cols, max_size=cols)))
    return cfg, a, codes, zero


@settings(max_examples=300, deadline=None)
@given(problems())
def test_tile_matmul_equals_integer_matmul(problem):
    cfg, a, codes, zero = problem
    got = golden.tile_matmul(cfg, a, codes, zero)
    want = a.astype(np.int64) @ golden.weight_values(cfg, codes, zero)
    np.testing.assert_array_equal(got, want)


@settings(max_examples=50, deadline=None)
@given(configs(), st.data())
def test_extreme_accumulation_fits_acc_bits(cfg, data):
    """The largest |A @ W| at max_k fits the derived accumulator width."""
    lo, hi = cfg.a_range
    c_lo, c_hi = code_range(cfg)
    for a_val, code, z in [(lo, c_lo, c_hi), (lo, c_hi, c_lo), (hi, c_lo, c_hi), (lo, c_lo, 0)]:
        a = np.full((1, cfg.max_k), a_val)
        codes = np.full((cfg.max_k, 1), code)
        zero = np.array([z]) if cfg.has_zero_point else None
        y = int(golden.tile_matmul(cfg, a, codes, zero)[0, 0])
        assert y == int(golden.reference_matmul(cfg, a, codes, zero)[0, 0])
        assert -(1 << (cfg.acc_bits - 1)) <= y < (1 << (cfg.acc_bits - 1))


@given(st.integers(1, 6), st.booleans(), st.integers(0, 2**31 - 1))
def test_tables_match_their_definition(g, symmetric, seed):
    symmetric = symmetric and g >= 2
    rng = np.random.default_rng(seed)
    a = rng.integers(-128, 128, size=(3, 2 * g))
    tables = golden.build_tables(a, g, symmetric)  # [3, 2, 2**g]
    for p in range(1 << g):
        bits = [(p >> j) & 1 for j in range(g)]
        t = [(2 * b - 1) if symmetric else b for b in bits]
        want = (a.reshape(3, 2, g) * np.array(t)).sum(axis=-1)
        np.testing.assert_array_equal(tables[..., p], want)
        if symmetric:  # table symmetrization: T[~p] = -T[p]
            np.testing.assert_array_equal(tables[..., ((1 << g) - 1) ^ p], -want)
    stored = golden.stored_entries(tables, g, symmetric)
    assert stored.shape[-1] == ((1 << (g - 1)) if symmetric else (1 << g) - 1)
    for p in range(1 << g):
        got = golden.lookup(stored, np.full(stored.shape[:-1], p), g, symmetric)
        np.testing.assert_array_equal(got, tables[..., p])


@given(st.integers(1, 8), st.booleans(), st.integers(0, 2**31 - 1))
def test_bit_planes_rebuild_codes(w_bits, signed, seed):
    cfg = tile_config(w_bits=w_bits, weight_format="signed" if signed else "unsigned")
    lo, hi = code_range(cfg)
    codes = np.random.default_rng(seed).integers(lo, hi, size=(5, 7), endpoint=True)
    planes = golden.bit_planes(codes, w_bits)
    assert set(np.unique(planes)) <= {0, 1}
    np.testing.assert_array_equal(
        np.einsum("b,bkn->kn", golden.plane_coefficients(cfg), planes), codes
    )


@given(st.integers(1, 5), st.integers(0, 2**31 - 1))
def test_ternary_tables_match_their_definition(g, seed):
    """Row ``r`` of the ternary enumeration is the vector whose base-3 value is
    ``r - (3**g - 1)/2``; every vector appears once; a group's value is its digits'."""
    patterns = golden.ternary_patterns(g)
    assert patterns.shape == (3**g, g) and set(np.unique(patterns)) <= {-1, 0, 1}
    assert len({tuple(p) for p in patterns}) == 3**g
    np.testing.assert_array_equal(patterns @ 3 ** np.arange(g), np.arange(3**g) - (3**g - 1) // 2)
    t = np.random.default_rng(seed).integers(-1, 2, size=(2 * g, 3))
    v = golden.group_values(t, g)
    for c in range(2):
        np.testing.assert_array_equal(
            v[c], (t[c * g : (c + 1) * g] * 3 ** np.arange(g)[:, None]).sum(0)
        )
