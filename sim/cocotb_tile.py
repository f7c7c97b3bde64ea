"""cocotb testbench of the emitted LUT tile Verilog.

The scenario (configuration, matrices, stream throttling) comes from the ``.npz`` file named
by ``LUTCORE_SCENARIO``; the testbench turns it into tile jobs with the golden model, drives
``cmd``/``a``/``w`` with random idle gaps, reads ``y`` with random backpressure, checks every
output word of every tile and then the assembled product against the plain integer matmul.
Measurements go to the JSON file named by ``LUTCORE_REPORT``.
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

from .golden import reference_matmul
from .scenario import Scenario
from .streams import assemble, decode_result, first_mismatch, gemm_jobs


def bit(handle) -> bool:
    """A 1-bit output's value; an X or Z (a gate-level model whose flip-flops were never
    reset) fails the run naming the port."""
    value = handle.value
    assert value.is_resolvable, f"{handle._name} is {value}, not 0 or 1"
    return bool(value)


async def drive(clk, valid, ready, payload, beats, rng: random.Random, p_gap: float) -> None:
    """Offer ``beats`` on a valid/ready stream; idle a cycle before a beat with ``p_gap``."""
    for beat in beats:
        while rng.random() < p_gap:
            valid.value = 0
            await RisingEdge(clk)
        valid.value = 1
        payload.value = beat
        while True:
            await ReadOnly()
            accepted = bit(ready)
            await RisingEdge(clk)
            if accepted:
                break
    valid.value = 0


async def reset(dut, cycles: int = 3) -> None:
    """Hold ``rst`` for ``cycles`` clock cycles with every input stream idle."""
    for handle in (dut.a__valid, dut.w__valid, dut.cmd__valid, dut.y__ready):
        handle.value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, cycles)
    dut.rst.value = 0
    await RisingEdge(dut.clk)


async def run_jobs(dut, sc: Scenario, jobs: list, rng: random.Random, stop_after=None) -> dict:
    """Drive the jobs' ``cmd``/``a``/``w`` beats concurrently, read ``y`` with backpressure and
    check every result word; returns the results and cycle counts. ``stop_after``: stop
    (without draining) once that many weight beats were taken, mid-tile."""
    cfg, clk = sc.cfg, dut.clk
    cmds = [job.cmd for job in jobs]
    acts = [beat for job in jobs for beat in job.acts]
    weights = [beat for job in jobs for beat in job.weights]
    drivers = [
        cocotb.start_soon(
            drive(clk, valid, ready, payload, beats, random.Random(rng.random()), sc.p_gap)
        )
        for valid, ready, payload, beats in (
            (dut.cmd__valid, dut.cmd__ready, dut.cmd__payload, cmds),
            (dut.a__valid, dut.a__ready, dut.a__payload, acts),
            (dut.w__valid, dut.w__ready, dut.w__payload, weights),
        )
    ]
    results = []
    cycles = busy = 0
    first_issue = None
    stall_rng = random.Random(rng.random())
    limit = 50 * (len(weights) + len(jobs)) + 1000
    while len(results) < len(jobs):
        ready = int(stall_rng.random() >= sc.p_stall)
        dut.y__ready.value = ready
        await ReadOnly()
        if bit(dut.w__valid) and bit(dut.w__ready):
            busy += 1
            first_issue = cycles if first_issue is None else first_issue
        if ready and bit(dut.y__valid):
            word = dut.y__payload.value
            job = jobs[len(results)]
            assert word.is_resolvable, f"tile {len(results)}: y.payload has X/Z bits: {word}"
            got = decode_result(cfg, word.to_unsigned())
            problem = first_mismatch(got, job.expected)
            assert problem is None, (
                f"tile {len(results)} (rows {job.row0}.., cols {job.col0}.., k {job.k0}..): "
                f"{problem}"
            )
            results.append(got)
        await RisingEdge(clk)
        cycles += 1
        assert cycles < limit, f"deadlock: {len(results)}/{len(jobs)} tiles after {cycles} cycles"
        if stop_after is not None and busy >= stop_after:
            break
    for task in drivers:
        task.cancel()
    return {"results": results, "cycles": cycles, "busy": busy, "first_issue": first_issue}


@cocotb.test()
async def tile_scenario(dut) -> None:
    sc = Scenario.load(Path(os.environ["LUTCORE_SCENARIO"]))
    cfg = sc.cfg
    jobs = gemm_jobs(cfg, sc.a, sc.codes, sc.zero, k_per_tile=sc.k_per_tile, scale=sc.scale)
    rng = random.Random(sc.seed)
    if sc.corrupt:
        jobs[0].expected[0, 0] += 1

    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    await reset(dut)
    if sc.reset_mid_tile:
        # Run into the middle of the second tile (the first one's result may be in flight),
        # reset, and check the tile forgets it all: idle after the reset, then the whole
        # scenario from the start gives exact results.
        beats = [len(job.weights) for job in jobs]
        middle = beats[0] + beats[1] // 2 if len(jobs) > 1 else max(1, beats[0] // 2)
        await run_jobs(dut, sc, jobs, random.Random(rng.random()), stop_after=middle)
        await reset(dut)
        dut.y__ready.value = 1
        for cycle in range(2 * cfg.beats_per_slice + 4):
            await ReadOnly()
            assert not bit(dut.y__valid), f"result beat {cycle} cycles after a reset"
            await RisingEdge(dut.clk)

    started = time.perf_counter()
    run = await run_jobs(dut, sc, jobs, rng)
    wall = time.perf_counter() - started
    results, cycles = run["results"], run["cycles"]

    # Nothing more may come out: no spurious result beats.
    dut.y__ready.value = 1
    for _ in range(2 * cfg.beats_per_slice + 4):
        await ReadOnly()
        assert not bit(dut.y__valid), "spurious result beat after the last tile"
        await RisingEdge(dut.clk)

    if not cfg.fp_words:  # integer tiles: the tiles add up to the plain matmul exactly
        whole = assemble(cfg, jobs, results, (sc.a.shape[0], sc.codes.shape[1]))
        problem = first_mismatch(whole, reference_matmul(cfg, sc.a, sc.codes, sc.zero))
        assert problem is None, f"assembled A @ W: {problem}"

    weights = sum(len(job.weights) for job in jobs)
    span = cycles - (run["first_issue"] or 0)
    report = {
        "tiles": len(jobs),
        "cycles": cycles,
        "issue_cycles": run["busy"],
        "weight_beats": weights,
        "utilization": run["busy"] / span if span else 0.0,
        "weight_bit_macs": weights * cfg.M * cfg.N * cfg.K * cfg.planes_per_cycle,
        "wall_seconds": wall,
    }
    if os.environ.get("LUTCORE_REPORT"):
        Path(os.environ["LUTCORE_REPORT"]).write_text(json.dumps(report, indent=2))
