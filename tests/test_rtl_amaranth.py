"""Fast in-process checks of the Amaranth components in Amaranth's own simulator."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from lutcore.hw.config import tile_config
from lutcore.hw.precompute import TablePrecompute
from lutcore.sim import golden
from lutcore.sim.amaranth_driver import simulate_jobs
from lutcore.sim.scenario import code_range, random_scenario
from lutcore.sim.streams import assemble, first_mismatch, gemm_jobs, pack, unpack

from .support import CONFIGS

# Smaller N keeps Amaranth's simulator quick; every structural option is still covered.
SMALL = {
    name: cfg.replace(N=min(cfg.N, 8), max_k=min(cfg.max_k, 64 * cfg.K))
    for name, cfg in CONFIGS.items()
}
SMALL["partial_planes_utable"] = tile_config(
    N=4, w_bits=4, planes_per_cycle=2, symmetric=False, weight_format="signed"
)
SMALL["fixed_runtime_k"] = tile_config(M=1, N=4, K=4, w_bits=3, max_k=4)
SMALL["mac_digits_k6"] = tile_config(
    arch="mac", M=2, N=4, K=6, w_bits=4, planes_per_cycle=2, max_k=96
)
# BCQ: binary +-1 planes, one per column (3-bit BCQ weights: 3 columns each)
SMALL["bcq_symmetric"] = tile_config(N=6, K=8, w_bits=3, weight_format="bcq", max_k=64)
SMALL["bcq_utable_pipe2"] = tile_config(
    N=4, K=4, g=2, symmetric=False, w_bits=2, weight_format="bcq", pipeline=2, max_k=32
)
SMALL["mac_bcq"] = tile_config(arch="mac", N=4, K=5, w_bits=2, weight_format="bcq", max_k=40)
# the FP16 baseline: zero points and pipeline 2; signed weights without the broadcast register
SMALL["fpmac_w2"] = tile_config(
    arch="fpmac",
    N=4,
    K=4,
    w_bits=2,
    planes_per_cycle=2,
    act_format="fp16",
    a_bits=16,
    pipeline=2,
    max_k=64,
)
SMALL["fpmac_signed4_pipe0"] = tile_config(
    arch="fpmac",
    M=1,
    N=3,
    K=3,
    w_bits=4,
    planes_per_cycle=4,
    weight_format="signed",
    act_format="fp16",
    a_bits=16,
    pipeline=0,
    max_k=48,
)
# the FP-table tile (also from CONFIGS): two chunks with a combinational precompute and no
# broadcast register; signed bit-parallel planes in pairs with pipeline 2
SMALL["fplut_k8_pipe0"] = tile_config(
    arch="fplut", N=4, K=8, w_bits=2, act_format="fp16", a_bits=16, group=32, max_k=64, pipeline=0
)
SMALL["fplut_signed4_p2_pipe2"] = tile_config(
    arch="fplut",
    M=1,
    N=3,
    K=4,
    g=2,
    w_bits=4,
    planes_per_cycle=2,
    weight_format="signed",
    act_format="fp16",
    a_bits=16,
    pipeline=2,
    group=16,
    max_k=48,
)
# base-3 ternary groups: g = 2 with pipeline 2, g = 5 (121 entries, 8-bit codes) unpipelined
SMALL["ternary_g2_pipe2"] = tile_config(
    M=3, N=4, K=4, g=2, weight_format="ternary", a_bits=4, pipeline=2, max_k=32
)
SMALL["ternary_g5_int16_pipe0"] = tile_config(
    M=1, N=3, K=5, g=5, weight_format="ternary", a_bits=16, pipeline=0, max_k=40
)
# FP16 accumulation (saturating at +-65504): the FP16 MAC pipelined, the FP-table tile in
# pairs of signed planes with pipeline 2 (the FP-table preset with it is in CONFIGS)
SMALL["fpmac_w2_acc16"] = SMALL["fpmac_w2"].replace(acc_format="fp16")
SMALL["fplut_signed4_p2_acc16"] = SMALL["fplut_signed4_p2_pipe2"].replace(acc_format="fp16")
# the offset out of the array (weight reinterpretation): unsigned with zero points, two
# chunks, unpipelined; the goal's cell (one chunk, one plane a beat, FP16) with pipeline 2
SMALL["fplut_k8_offout_pipe0"] = SMALL["fplut_k8_pipe0"].replace(offset="output")
SMALL["fplut_signed2_offout_acc16_pipe2"] = SMALL["fplut_signed4_p2_acc16"].replace(
    M=2, g=4, w_bits=2, planes_per_cycle=1, offset="output"
)
# exact fixed-point accumulation: unsigned, two chunks, unpipelined; signed 4-bit in pairs
# of planes, g = 2, pipeline 2 (the goal's cell with it is the cocotb preset fplut_w2_fixed)
SMALL["fplut_k8_fixed_pipe0"] = SMALL["fplut_k8_offout_pipe0"].replace(acc_format="fixed")
SMALL["fplut_signed4_p2_fixed_pipe2"] = SMALL["fplut_signed4_p2_pipe2"].replace(
    offset="output", acc_format="fixed"
)
# ...and on the FP16 MAC: pipelined (its three stages), and signed 4-bit unpipelined
SMALL["fpmac_w2_fixed"] = SMALL["fpmac_w2"].replace(acc_format="fixed")
SMALL["fpmac_signed4_fixed_pipe0"] = SMALL["fpmac_signed4_pipe0"].replace(acc_format="fixed")
# ...and on the integer tile (block-FP activations, the dequant converter applies it)
SMALL["lut_offout_w3_pipe2"] = tile_config(
    M=2,
    N=4,
    K=8,
    w_bits=3,
    act_format="fp16",
    a_bits=8,
    pipeline=2,
    max_k=64,
    group=32,
    offset="output",
)
SMALL["lut_offout_signed2_g2_pipe0"] = tile_config(
    M=1,
    N=3,
    K=4,
    g=2,
    w_bits=2,
    weight_format="signed",
    act_format="fp16",
    a_bits=8,
    pipeline=0,
    group=16,
    max_k=32,
    offset="output",
)
SMALL["mac_serial_signed3_pipe0"] = tile_config(
    arch="mac", M=3, N=4, K=5, w_bits=3, weight_format="signed", a_bits=4, pipeline=0, max_k=40
)


@pytest.mark.parametrize("name", SMALL)
def test_tile_matches_golden_with_backpressure(name):
    cfg = SMALL[name]
    sc = random_scenario(cfg, 2 * cfg.M + 1, 5 * cfg.K + 1, cfg.N + 3, seed=3)
    k_per_tile = min(cfg.max_k, 2 * cfg.K)
    jobs = gemm_jobs(cfg, sc.a, sc.codes, sc.zero, k_per_tile=k_per_tile, scale=sc.scale)
    results, _ = simulate_jobs(cfg, jobs, seed=5, p_gap=0.3, p_stall=0.4)
    for i, (got, job) in enumerate(zip(results, jobs, strict=True)):
        problem = first_mismatch(got, job.expected)
        assert problem is None, f"tile {i}: {problem}"
    if cfg.fp_words:  # floating point: the golden model is the reference
        return
    shape = (sc.a.shape[0], sc.codes.shape[1])
    if getattr(cfg, "offset_out", False):  # what the dequant converter forms from y
        acc = assemble(cfg, jobs, [r[:, : cfg.N] for r in results], shape)
        sums = assemble(cfg, jobs, [np.repeat(r[:, cfg.N :], cfg.N, 1) for r in results], shape)
        zero = 0 if sc.zero is None else sc.zero[None, :]
        twice = acc + (cfg.offset_coefficient - 2 * zero) * sums
        assert (twice % 2 == 0).all()
        results, jobs = None, None
        whole = twice // 2
    else:
        whole = assemble(cfg, jobs, results, shape)
    problem = first_mismatch(whole, golden.reference_matmul(cfg, sc.a, sc.codes, sc.zero))
    assert problem is None, problem


@pytest.mark.parametrize("name", ["fplut_signed2_offout_acc16_pipe2", "fplut_k8_offout_pipe0"])
def test_fp_offset_out_at_the_fp16_extremes(name):
    """The offset out of the array at the ends of FP16: a row of subnormal activations
    (subnormal entries, doubled by shifting their bits) and a row near 65504 (entries in
    the top binade, whose doubling saturates), every word and row sum equal to the golden
    model's."""
    from lutcore.sim import fpgolden as fg

    cfg = SMALL[name]
    rng = np.random.default_rng(8)
    k = 4 * cfg.K
    tiny = rng.integers(1, 1 << 7, k) * 2.0**-24 * rng.choice([-1, 1], k)  # subnormals
    huge = rng.uniform(33000, 65504, k) * rng.choice([-1, 1], k)
    a = fg.to_bits(np.stack([tiny, huge] + [huge] * (cfg.M - 2))[: max(cfg.M, 2)], fg.FP16)
    lo, hi = code_range(cfg)
    codes = rng.integers(lo, hi, (k, cfg.N), endpoint=True)
    zero = rng.integers(0, 1 << cfg.w_bits, cfg.N) if cfg.has_zero_point else None
    entries = fg.fp_tables(a[:, : cfg.K], cfg.g)
    field = (entries >> 10) & 0x1F
    assert (field[0] == 0).all() and (field[1] == 30).any()  # the corners are there
    # one slice per output tile: a saturated doubled entry beside one of the other sign
    # lands in the result instead of in an accumulator already saturated
    jobs = gemm_jobs(cfg, a, codes, zero, k_per_tile=cfg.K)
    results, _ = simulate_jobs(cfg, jobs, seed=2, p_gap=0.3, p_stall=0.3)
    for i, (got, job) in enumerate(zip(results, jobs, strict=True)):
        problem = first_mismatch(got, job.expected)
        assert problem is None, f"tile {i}: {problem}"


@pytest.mark.parametrize(
    "name",
    [
        "fplut_k8_fixed_pipe0",
        "fplut_signed4_p2_fixed_pipe2",
        "fpmac_w2_fixed",
        "fpmac_signed4_fixed_pipe0",
    ],
)
def test_fixed_accumulation_is_the_exact_matmul(name):
    """Exact fixed-point accumulation against the integer matmul, not the golden model:
    with small integer activations every FP16 table entry (and, at scale 1, every FP16
    weight and product) is exact, so the FP-table tile's ``acc + (C - 2z) S`` from ``y``
    must be exactly ``2 * 2**24 * A @ (W - z)`` and the FP16 MAC's ``acc`` exactly
    ``2**48 * 2**e * A @ (W - z)`` at scale ``2**e`` (any rounding would show); its first
    row is +-65504, so products reach ``2**79`` (the top bit of a placed product)."""
    cfg = SMALL[name]
    rng = np.random.default_rng(12)
    rows, depth, cols = 2 * cfg.M, 4 * cfg.K, cfg.N + 2
    a = rng.integers(-255, 256, (rows, depth))
    lo, hi = code_range(cfg)
    codes = rng.integers(lo, hi, (depth, cols), endpoint=True)
    zero = rng.integers(0, 1 << cfg.w_bits, cols) if cfg.has_zero_point else None
    scale, e = None, 0
    if cfg.scale_in_command:  # 2**e: the largest power of two keeping every weight finite
        top = int(np.abs(golden.weight_values(cfg, codes, zero)).max())
        e = int(np.floor(np.log2(65504 / top)))
        scale = np.full(cols, (e + 15) << 10)
        a[0] = rng.choice([-65504, 65504], depth)  # with it, products near 2**79
    a_words = golden.fpgolden.to_bits(a.astype(np.float64), golden.fpgolden.FP16)
    jobs = gemm_jobs(cfg, a_words, codes, zero, k_per_tile=2 * cfg.K, scale=scale)
    results, _ = simulate_jobs(cfg, jobs, seed=4, p_gap=0.2, p_stall=0.3)
    for i, (got, job) in enumerate(zip(results, jobs, strict=True)):
        problem = first_mismatch(got, job.expected)
        assert problem is None, f"tile {i}: {problem}"
    shape = (rows, cols)
    acc, sums = np.zeros(shape, object), np.zeros(shape, object)
    for got, job in zip(results, jobs, strict=True):  # the K-tiles of each output add up
        r, c = slice(job.row0, job.row0 + cfg.M), slice(job.col0, job.col0 + cfg.N)
        m, n = acc[r, c].shape
        acc[r, c] += got[:m, :n]
        if not cfg.scale_in_command:  # the FP-table tile's row sums, column N
            sums[r, c] += np.repeat(got[:m, cfg.N :], n, 1)
    exact = golden.reference_matmul(cfg, a, codes, zero).astype(object)
    if cfg.scale_in_command:  # the FP16 MAC: integers of 2**-48, weights 2**e times codes
        problem = first_mismatch(acc, exact * (1 << (48 + e)))
    else:
        k = cfg.offset_coefficient - 2 * (0 if zero is None else zero[None, :])
        problem = first_mismatch(acc + k * sums, exact * (2 << 24))
    assert problem is None, problem


@pytest.mark.parametrize(
    "name",
    ["paper", "utable_w1", "g2_signed4", "bitparallel_int16", "mac_paper"],
)
def test_array_takes_one_weight_beat_per_cycle(name):
    """Unthrottled, a GEMV of several tiles finishes in (weight beats + pipeline latency +
    one read-out cycle per tile boundary): the array never waits on tables or control."""
    cfg = SMALL[name]
    depth = min(cfg.max_k, 16 * cfg.K)
    sc = random_scenario(cfg, 1, depth, 3 * cfg.N, seed=9)
    jobs = gemm_jobs(cfg, sc.a, sc.codes, sc.zero)
    results, cycles = simulate_jobs(cfg, jobs)
    beats = sum(len(job.weights) for job in jobs)
    assert cycles <= beats + cfg.turnaround_cycles + 2 * len(jobs), (cycles, beats)
    assert all(first_mismatch(r, j.expected) is None for r, j in zip(results, jobs, strict=True))


def test_pipelined_fp16_mac_keeps_one_beat_per_cycle():
    """The FP16 MAC's three pipeline stages cost cycles only at tile boundaries (its last
    beat drains before the next tile starts), not within a tile."""
    cfg = SMALL["fpmac_w2"]
    sc = random_scenario(cfg, 1, 16 * cfg.K, 3 * cfg.N, seed=9)
    jobs = gemm_jobs(cfg, sc.a, sc.codes, sc.zero, scale=sc.scale)
    results, cycles = simulate_jobs(cfg, jobs)
    beats = sum(len(job.weights) for job in jobs)
    assert cycles <= beats + cfg.turnaround_cycles + 4 * len(jobs), (cycles, beats)
    assert all(first_mismatch(r, j.expected) is None for r, j in zip(results, jobs, strict=True))


def precompute_outputs(cfg, seed: int, randoms: int) -> list[tuple]:
    """``(a, entries word, totals or None)`` of the precompute for the all-minimum, the
    all-maximum and ``randoms`` random slices of activations."""
    dut = TablePrecompute(cfg)
    rng = np.random.default_rng(seed)
    lo, hi = cfg.a_range
    cases = [np.full((cfg.M, cfg.K), lo), np.full((cfg.M, cfg.K), hi)]
    cases += [rng.integers(lo, hi, size=(cfg.M, cfg.K), endpoint=True) for _ in range(randoms)]
    seen = []

    async def bench(ctx):
        for a in cases:
            ctx.set(dut.i.payload.as_value(), pack(a, cfg.a_bits))
            await ctx.delay(1e-9)
            totals = None if cfg.base3 else ctx.get(dut.o.payload.total)
            seen.append((a, ctx.get(dut.o.payload.entries.as_value()), totals))

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    return seen


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("g", [2, 3, 4, 5])
def test_precompute_entries_match_table_definition(g, symmetric):
    cfg = tile_config(M=2, N=1, K=2 * g, g=g, symmetric=symmetric, a_bits=8, max_k=2 * g)
    for a, entries_word, totals in precompute_outputs(cfg, g, 20):
        want = golden.stored_entries(golden.build_tables(a, g, symmetric), g, symmetric)
        got = unpack(entries_word, want.size, cfg.entry_bits).reshape(want.shape)
        assert first_mismatch(got, want) is None
        assert [int(t) for t in totals] == list(a.sum(axis=1))


@pytest.mark.parametrize("g", [2, 3, 4, 5])
def test_base3_precompute_entries_match_table_definition(g):
    """Entry ``e - 1`` of a base-3 chunk is the golden table's row of value ``e`` (every
    ternary vector enumerated, nothing shared with the RTL's adder chain)."""
    cfg = tile_config(M=2, N=1, K=2 * g, g=g, weight_format="ternary", max_k=2 * g)
    middle = (3**g - 1) // 2
    for a, word, _ in precompute_outputs(cfg, g, 10):
        full = a.reshape(2, 2, g) @ golden.ternary_patterns(g).T  # [M, C, 3**g]
        want = full[..., middle + 1 :]  # values 1 .. (3**g - 1)/2
        got = unpack(word, want.size, cfg.entry_bits).reshape(want.shape)
        assert first_mismatch(got, want) is None


def test_zero_slices_behaves_as_one():
    """Documented: ``n_slices = 0`` in a command is treated as 1."""
    cfg = SMALL["paper"]
    sc = random_scenario(cfg, cfg.M, cfg.K, cfg.N, seed=4)
    jobs = gemm_jobs(cfg, sc.a, sc.codes, sc.zero, k_per_tile=cfg.K)
    mask = (1 << cfg.slice_count_bits) - 1
    assert jobs[0].cmd & mask == 1
    jobs[0].cmd &= ~mask
    results, _ = simulate_jobs(cfg, jobs)
    assert first_mismatch(results[0], jobs[0].expected) is None
