"""Drive the tile in Amaranth's own simulator (fast in-process unit tests)."""

from __future__ import annotations

import numpy as np

from lutcore.hw.arch import make_tile
from lutcore.hw.config import TileConfig

from .harness import run, sink, source
from .streams import TileJob, decode_result

__all__ = ["simulate_jobs", "simulate_stream"]


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
    probes = {
        f"{name}.{flag}": getattr(getattr(dut, name), flag)
        for name in ("cmd", "a", "w", "y")
        for flag in ("valid", "ready")
    }
    consumer = sink(
        dut.y,
        len(jobs),
        rng,
        p_stall,
        lambda payload: results.append(decode_result(cfg, payload)),
        max_cycles=max_cycles,
        probes=probes,
        trace=trace,
    )
    producers = [
        source(dut.cmd, [j.cmd for j in jobs], rng, p_gap),
        source(dut.a, [b for j in jobs for b in j.acts], rng, p_gap),
        source(dut.w, [b for j in jobs for b in j.weights], rng, p_gap),
    ]
    run(dut, consumer, background=producers)
    return results, consumer.state["cycles"]


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
    consumer = sink(
        dut.o, len(beats), rng, p_stall, results.append, max_cycles=max_cycles, flat=False
    )
    run(dut, consumer, background=[source(dut.i, beats, rng, p_gap, flat=False)])
    return results, consumer.state["cycles"]
