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
            accepted = bool(ready.value)
            await RisingEdge(clk)
            if accepted:
                break
    valid.value = 0


@cocotb.test()
async def tile_scenario(dut) -> None:
    sc = Scenario.load(Path(os.environ["LUTCORE_SCENARIO"]))
    cfg = sc.cfg
    jobs = gemm_jobs(cfg, sc.a, sc.codes, sc.zero, k_per_tile=sc.k_per_tile, scale=sc.scale)
    rng = random.Random(sc.seed)
    if sc.corrupt:
        jobs[0].expected[0, 0] += 1

    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    for handle in (dut.a__valid, dut.w__valid, dut.cmd__valid, dut.y__ready):
        handle.value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await RisingEdge(dut.clk)

    clk = dut.clk
    cmds = [job.cmd for job in jobs]
    acts = [beat for job in jobs for beat in job.acts]
    weights = [beat for job in jobs for beat in job.weights]
    cocotb.start_soon(
        drive(
            clk,
            dut.cmd__valid,
            dut.cmd__ready,
            dut.cmd__payload,
            cmds,
            random.Random(rng.random()),
            sc.p_gap,
        )
    )
    cocotb.start_soon(
        drive(
            clk,
            dut.a__valid,
            dut.a__ready,
            dut.a__payload,
            acts,
            random.Random(rng.random()),
            sc.p_gap,
        )
    )
    cocotb.start_soon(
        drive(
            clk,
            dut.w__valid,
            dut.w__ready,
            dut.w__payload,
            weights,
            random.Random(rng.random()),
            sc.p_gap,
        )
    )

    results = []
    cycles = busy = 0
    first_issue = None
    stall_rng = random.Random(rng.random())
    limit = 50 * (len(weights) + len(jobs)) + 1000
    started = time.perf_counter()
    while len(results) < len(jobs):
        ready = int(stall_rng.random() >= sc.p_stall)
        dut.y__ready.value = ready
        await ReadOnly()
        if dut.w__valid.value and dut.w__ready.value:
            busy += 1
            first_issue = cycles if first_issue is None else first_issue
        if ready and dut.y__valid.value:
            got = decode_result(cfg, dut.y__payload.value.to_unsigned())
            job = jobs[len(results)]
            problem = first_mismatch(got, job.expected)
            assert problem is None, (
                f"tile {len(results)} (rows {job.row0}.., cols {job.col0}.., k {job.k0}..): "
                f"{problem}"
            )
            results.append(got)
        await RisingEdge(clk)
        cycles += 1
        assert cycles < limit, f"deadlock: {len(results)}/{len(jobs)} tiles after {cycles} cycles"
    wall = time.perf_counter() - started

    # Nothing more may come out: no spurious result beats.
    dut.y__ready.value = 1
    for _ in range(2 * cfg.beats_per_slice + 4):
        await ReadOnly()
        assert not dut.y__valid.value, "spurious result beat after the last tile"
        await RisingEdge(clk)

    if not cfg.fp_words:  # integer tiles: the tiles add up to the plain matmul exactly
        whole = assemble(cfg, jobs, results, (sc.a.shape[0], sc.codes.shape[1]))
        problem = first_mismatch(whole, reference_matmul(cfg, sc.a, sc.codes, sc.zero))
        assert problem is None, f"assembled A @ W: {problem}"

    span = cycles - (first_issue or 0)
    report = {
        "tiles": len(jobs),
        "cycles": cycles,
        "issue_cycles": busy,
        "weight_beats": len(weights),
        "utilization": busy / span if span else 0.0,
        "weight_bit_macs": len(weights) * cfg.M * cfg.N * cfg.K * cfg.planes_per_cycle,
        "wall_seconds": wall,
    }
    if os.environ.get("LUTCORE_REPORT"):
        Path(os.environ["LUTCORE_REPORT"]).write_text(json.dumps(report, indent=2))
