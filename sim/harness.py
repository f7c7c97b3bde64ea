"""The one stream harness of the Amaranth-simulator drivers: offer beats on an
``amaranth.lib.stream`` interface with random idle gaps, take beats with random
backpressure, and run a component with its clock."""

from __future__ import annotations

from collections.abc import Callable

from amaranth.hdl import Value
from amaranth.sim import Simulator

__all__ = ["receive_beat", "run", "send_beat", "sink", "source"]


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


async def receive_beat(ctx, stream, rng, p_stall: float):
    """Take one beat from ``stream``, dropping ``ready`` each cycle with probability
    ``p_stall``; returns its payload (the flat value)."""
    while True:
        ready = int(rng.random() >= p_stall)
        ctx.set(stream.ready, ready)
        _, _, valid, payload = await ctx.tick().sample(stream.valid, Value.cast(stream.payload))
        if valid and ready:
            ctx.set(stream.ready, 0)
            return payload


def source(stream, beats, rng, p_gap: float, *, flat: bool = True):
    """A testbench that sends ``beats`` on ``stream`` in order (``flat``: the beats are
    integers of the whole payload)."""

    async def bench(ctx):
        payload = Value.cast(stream.payload) if flat else None
        for beat in beats:
            await send_beat(ctx, stream, beat, rng, p_gap, payload)

    return bench


def sink(
    stream,
    count: int,
    rng,
    p_stall: float,
    on_beat: Callable,
    *,
    max_cycles: int,
    probes: dict | None = None,
    trace: list | None = None,
    flat: bool = True,
):
    """A testbench that takes ``count`` beats from ``stream`` with random backpressure,
    calling ``on_beat(payload)`` for each, and fails after ``max_cycles`` cycles. ``probes``
    (name -> signal) are sampled every cycle into ``trace`` (a list of dicts). ``flat``: the
    payloads are integers (else :mod:`amaranth.lib.data` constants). The returned
    testbench's ``cycles`` attribute holds the cycle count when it is done."""
    probes = probes or {}
    state = {"cycles": 0, "taken": 0}

    async def bench(ctx):
        payload_value = Value.cast(stream.payload) if flat else stream.payload
        while state["taken"] < count:
            ready = int(rng.random() >= p_stall)
            ctx.set(stream.ready, ready)
            _, _, valid, payload, *sampled = await ctx.tick().sample(
                stream.valid, payload_value, *probes.values()
            )
            state["cycles"] += 1
            if trace is not None:
                trace.append(dict(zip(probes, sampled, strict=True)))
            if valid and ready:
                state["taken"] += 1
                on_beat(payload)
            if state["cycles"] > max_cycles:
                raise TimeoutError(f"{state['taken']} of {count} beats after {max_cycles} cycles")

    bench.state = state
    return bench


def run(dut, *benches, background=()) -> None:
    """Simulate ``dut`` with a clock until every bench in ``benches`` returns (the
    ``background`` ones run alongside and need not finish)."""
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    for bench in background:
        sim.add_testbench(bench, background=True)
    for bench in benches:
        sim.add_testbench(bench)
    sim.run()
