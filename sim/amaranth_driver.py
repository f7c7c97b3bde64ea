"""Drive the tile in Amaranth's own simulator (fast in-process unit tests)."""

from __future__ import annotations

import numpy as np
from amaranth.sim import Simulator

from lutcore.hw.arch import make_tile
from lutcore.hw.config import TileConfig

from .streams import TileJob, decode_result

__all__ = ["send_beat", "simulate_jobs", "simulate_stream"]


async def send_beat(ctx, stream, beat, rng, p_gap: float, payload=None) -> None:
    """Offer one beat on ``stream`` (idling a cycle first with probability ``p_gap``, again
    and again) and return once it has been taken. ``payload`` is the value ``beat`` is set
    on (default ``stream.payload``)."""
    while rng.random() < p_gap:
        await ctx.tick()
    ctx.set(stream.valid, 1)
    ctx.set(stream.payload if payload is None else payload, beat)
    await ctx.tick().until(stream.ready)
    ctx.set(stream.valid, 0)


def simulate_jobs(
    cfg: TileConfig,
    jobs: list[TileJob],
    *,
    seed: int = 0,
    p_gap: float = 0.0,
    p_stall: float = 0.0,
    max_cycles: int = 200_000,
    trace: list[dict[str, int]] | None = None,
) -> tuple[list[np.ndarray], int]:
    """Run ``jobs`` through the tile (:func:`~lutcore.hw.arch.make_tile`); each producer
    inserts an idle cycle before a beat with probability ``p_gap`` and the consumer drops
    ``ready`` with probability ``p_stall``. Returns the decoded results in order and the
    cycle count. ``trace``, if given, receives each cycle's ``valid``/``ready`` of every
    stream (as ``"a.valid"``...)."""
    dut = make_tile(cfg)
    rng = np.random.default_rng(seed)
    results: list[np.ndarray] = []
    state = {"cycles": 0}

    def producer(stream, beats):
        async def bench(ctx):
            for beat in beats:
                await send_beat(ctx, stream, beat, rng, p_gap, stream.payload.as_value())

        return bench

    probes = {
        f"{name}.{flag}": getattr(getattr(dut, name), flag)
        for name in ("cmd", "a", "w", "y")
        for flag in ("valid", "ready")
    }

    async def consumer(ctx):
        while len(results) < len(jobs):
            ready = int(rng.random() >= p_stall)
            ctx.set(dut.y.ready, ready)
            _, _, valid, payload, *handshakes = await ctx.tick().sample(
                dut.y.valid, dut.y.payload.as_value(), *probes.values()
            )
            state["cycles"] += 1
            if trace is not None:
                trace.append(dict(zip(probes, handshakes, strict=True)))
            if valid and ready:
                results.append(decode_result(cfg, payload))
            if state["cycles"] > max_cycles:
                raise TimeoutError(f"no result after {max_cycles} cycles ({len(results)} done)")

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(producer(dut.cmd, [j.cmd for j in jobs]), background=True)
    sim.add_testbench(producer(dut.a, [b for j in jobs for b in j.acts]), background=True)
    sim.add_testbench(producer(dut.w, [b for j in jobs for b in j.weights]), background=True)
    sim.add_testbench(consumer)
    sim.run()
    return results, state["cycles"]


def simulate_stream(
    dut,
    beats: list,
    *,
    seed: int = 0,
    p_gap: float = 0.0,
    p_stall: float = 0.0,
    max_cycles: int = 100_000,
) -> tuple[list, int]:
    """Send ``beats`` (payload constants, e.g. ``layout.const({...})``) into a one-in,
    one-out stream component (``dut.i`` -> ``dut.o``) with random gaps and stalls as in
    :func:`simulate_jobs`; returns one output payload (a :mod:`amaranth.lib.data` constant)
    per input beat, and the cycle count."""
    rng = np.random.default_rng(seed)
    results: list = []
    state = {"cycles": 0}

    async def producer(ctx):
        for beat in beats:
            await send_beat(ctx, dut.i, beat, rng, p_gap)

    async def consumer(ctx):
        while len(results) < len(beats):
            ready = int(rng.random() >= p_stall)
            ctx.set(dut.o.ready, ready)
            _, _, valid, payload = await ctx.tick().sample(dut.o.valid, dut.o.payload)
            state["cycles"] += 1
            if valid and ready:
                results.append(payload)
            if state["cycles"] > max_cycles:
                raise TimeoutError(f"{len(results)} of {len(beats)} outputs after {max_cycles}")

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(producer, background=True)
    sim.add_testbench(consumer)
    sim.run()
    return results, state["cycles"]
