"""Faults and bad input: the RTL's response to out-of-contract port values, and the CLI and
sweeps under bad files, bad paths, bad addresses, signals and a dying parent."""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from amaranth.sim import Simulator

from lutcore.base import files
from lutcore.cli import main
from lutcore.hw.arch import make_tile
from lutcore.hw.config import ConfigError, tile_config
from lutcore.hw.pim_tile import PimTile
from lutcore.sim import pim_driver
from lutcore.sim.amaranth_driver import simulate_jobs
from lutcore.sim.scenario import random_scenario
from lutcore.sim.streams import decode_result, encode_weights, first_mismatch, gemm_jobs
from lutcore.synth import sweep
from lutcore.synth.liberty import DEFAULT_LIBERTY, LibertyError, cell_groups, read_liberty_text

from .support import require_tool

# ---- the RTL's own ports ------------------------------------------------------------------

#: one small tile per stream architecture, each with max_slices = 2 (a power of two: the
#: 2-bit n_slices field can carry 3, one more than the tile holds)
STREAM_TILES = {
    "lut": tile_config(M=1, N=3, K=4, max_k=8),
    "mac": tile_config("mac", M=2, N=2, K=3, w_bits=3, max_k=6, pipeline=2),
    "fpmac": tile_config("fpmac", M=1, N=2, K=2, w_bits=2, max_k=4, pipeline=2),
    "fplut": tile_config("fplut", M=1, N=2, K=4, w_bits=2, max_k=8, group=8),
}


def _jobs(cfg, k_per_tile: int, seed: int):
    sc = random_scenario(cfg, cfg.M, 2 * k_per_tile, 2 * cfg.N, seed=seed)
    return gemm_jobs(cfg, sc.a, sc.codes, sc.zero, k_per_tile=k_per_tile, scale=sc.scale)


def _set_slices(cfg, job, n: int) -> None:
    mask = (1 << cfg.slice_count_bits) - 1
    job.cmd = job.cmd & ~mask | n


@pytest.mark.parametrize("arch", STREAM_TILES)
def test_slice_count_outside_the_contract_is_clamped(arch):
    """n_slices above max_slices behaves as max_slices (the tile used to hang when max_slices
    is a power of two) and 0 as 1: every result word as documented, and the tile goes on."""
    cfg = STREAM_TILES[arch]
    assert cfg.max_slices == 2 and (1 << cfg.slice_count_bits) - 1 > cfg.max_slices
    full = _jobs(cfg, cfg.max_k, seed=3)
    for job in full[::2]:  # every other tile says 3 slices, sends 2
        _set_slices(cfg, job, cfg.max_slices + 1)
    one = _jobs(cfg, cfg.K, seed=4)
    for job in one[1::2]:
        _set_slices(cfg, job, 0)
    jobs = full + one
    results, _ = simulate_jobs(cfg, jobs, seed=1, p_gap=0.2, p_stall=0.2, max_cycles=5_000)
    assert len(results) == len(jobs)
    for i, (got, job) in enumerate(zip(results, jobs, strict=True)):
        problem = first_mismatch(got, job.expected)
        assert problem is None, f"{arch} job {i}: {problem}"


@pytest.mark.parametrize("arch", STREAM_TILES)
def test_weights_without_a_command_wait_and_activations_run_ahead(arch):
    """With no cmd, a w beat is never taken and the a stream takes slices_ahead beats (the
    documented figure), then stops."""
    cfg = STREAM_TILES[arch]
    dut = make_tile(cfg)
    job = _jobs(cfg, cfg.max_k, seed=5)[0]
    seen = {"w": 0, "a": 0}

    async def bench(ctx):
        ctx.set(dut.w.payload.as_value(), job.weights[0])
        ctx.set(dut.a.payload.as_value(), job.acts[0])
        ctx.set(dut.w.valid, 1)
        ctx.set(dut.a.valid, 1)
        ctx.set(dut.y.ready, 1)
        for _ in range(40):
            _, _, w_ready, a_ready = await ctx.tick().sample(dut.w.ready, dut.a.ready)
            seen["w"] += w_ready
            seen["a"] += a_ready

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert seen == {"w": 0, "a": cfg.slices_ahead}, seen


@pytest.mark.parametrize("arch", STREAM_TILES)
def test_output_latency_and_tile_boundary_bubbles_are_as_documented(arch):
    """y comes latency_cycles after a tile's last weight beat; with y always ready a tile
    boundary costs latency_cycles - 1 idle cycles on w (what docs/interface*.md state)."""
    cfg = STREAM_TILES[arch]
    jobs = _jobs(cfg, cfg.max_k, seed=6)
    trace: list[dict] = []
    simulate_jobs(cfg, jobs, trace=trace)
    w = [i for i, t in enumerate(trace) if t["w.valid"] and t["w.ready"]]
    y = [i for i, t in enumerate(trace) if t["y.valid"] and t["y.ready"]]
    per = len(w) // len(jobs)
    last = [w[(j + 1) * per - 1] for j in range(len(jobs))]
    assert [y[j] - last[j] for j in range(len(jobs))] == [cfg.latency_cycles] * len(jobs)
    gaps = [w[(j + 1) * per] - last[j] - 1 for j in range(len(jobs) - 1)]
    assert gaps == [cfg.latency_cycles - 1] * (len(jobs) - 1)


def test_pim_load_beyond_the_sram_is_clamped():
    """A PIM load command with n_slices above max_slices loads max_slices slices, returns to
    idle (taking no further activation beat), and a compute over them is exact."""
    cfg = tile_config("pim", symmetric=False, M=2, N=2, K=8, w_bits=2, max_k=16)
    assert (1 << cfg.slice_count_bits) - 1 > cfg.max_slices == 2
    rng = np.random.default_rng(2)
    a = rng.integers(*cfg.a_range, (cfg.M, cfg.max_k), endpoint=True)
    codes = rng.integers(0, 1 << cfg.w_bits, (cfg.max_k, cfg.N))
    zero = rng.integers(0, 1 << cfg.w_bits, cfg.N) if cfg.has_zero_point else None
    dut = PimTile(cfg)
    out = {}

    async def send(ctx, stream, value):
        ctx.set(stream.valid, 1)
        ctx.set(stream.payload.as_value(), value)
        await ctx.tick().until(stream.ready)
        ctx.set(stream.valid, 0)

    async def bench(ctx):
        await send(ctx, dut.cmd, pim_driver.encode_command(cfg, True, cfg.max_slices + 1))
        for beat in pim_driver.encode_acts(cfg, a):
            await send(ctx, dut.a, beat)
        ctx.set(dut.a.valid, 1)  # one beat more than the SRAM holds: must not be taken
        taken = 0
        for _ in range(200):
            _, _, a_ready, idle = await ctx.tick().sample(dut.a.ready, dut.cmd.ready)
            taken += a_ready
            if idle:
                break
        ctx.set(dut.a.valid, 0)
        out["extra_taken"], out["idle"] = taken, idle
        await send(ctx, dut.cmd, pim_driver.encode_command(cfg, False, cfg.max_slices, zero))
        for s in range(cfg.max_slices):
            for beat in encode_weights(cfg, codes[s * cfg.K : (s + 1) * cfg.K]):
                await send(ctx, dut.w, beat)
        ctx.set(dut.y.ready, 1)
        for _ in range(1000):
            _, _, valid, payload = await ctx.tick().sample(dut.y.valid, dut.y.payload.as_value())
            if valid:
                out["y"] = payload
                break

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert out["idle"] and out["extra_taken"] == 0
    want = pim_driver.expected_result(cfg, a, pim_driver.Compute(codes, zero))
    assert first_mismatch(decode_result(cfg, out["y"]), want) is None
