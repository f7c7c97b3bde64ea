"""``make bench``: simulation throughput and array utilization on a long, unthrottled GEMV."""

from __future__ import annotations

import json
import time
from pathlib import Path

from lutcore.base.files import write_atomic
from lutcore.hw.config import TileConfig
from lutcore.sim.runner import build, require_simulators, run_scenario
from lutcore.sim.scenario import random_scenario

__all__ = ["GEMV_SHAPES", "run_bench"]

#: (K, N) of the benchmark GEMV per simulator: Icarus is ~10x slower, so it gets less work.
GEMV_SHAPES = {"verilator": (4096, 1024), "icarus": (1024, 256)}


def run_bench(cfg: TileConfig, out_dir: Path, simulators: list[str]) -> dict:
    """Run one GEMV per simulator; write ``bench.json`` and ``bench.md`` to ``out_dir``.
    Every simulator's programs are checked first."""
    require_simulators(simulators)
    rows = {}
    for sim in simulators:
        depth, cols = GEMV_SHAPES[sim]
        depth = min(depth, cfg.max_k)
        print(f"[bench] {sim}: building {cfg.slug} ...", flush=True)
        started = time.perf_counter()
        built = build(cfg, sim)
        build_s = time.perf_counter() - started
        print(f"[bench] {sim}: GEMV 1 x {depth} x {cols}, streams unthrottled ...", flush=True)
        scenario = random_scenario(cfg, 1, depth, cols, seed=11)
        report = run_scenario(built, scenario, name="bench")
        report.update(
            {
                "build_seconds": build_s,
                "gemv": f"1x{depth}x{cols}",
                "weight_bit_macs_per_second": report["weight_bit_macs"] / report["wall_seconds"],
                "cycles_per_second": report["cycles"] / report["wall_seconds"],
            }
        )
        rows[sim] = report
        print(
            f"[bench] {sim}: {report['weight_bit_macs_per_second']:.3g} weight-bit MACs/s "
            f"checked, utilization {report['utilization']:.2%}",
            flush=True,
        )
    result = {"config": cfg.to_dict(), "slug": cfg.slug, "simulators": rows}
    write_atomic(out_dir / "bench.json", json.dumps(result, indent=2) + "\n")
    lines = [
        f"# Simulation benchmark: `{cfg.slug}`",
        "",
        "| simulator | GEMV | cycles | utilization | weight-bit MACs/s | cycles/s | build s |",
        "|---|---|---|---|---|---|---|",
    ]
    for sim, r in rows.items():
        lines.append(
            f"| {sim} | {r['gemv']} | {r['cycles']} | {r['utilization']:.2%} | "
            f"{r['weight_bit_macs_per_second']:.3g} | {r['cycles_per_second']:.3g} | "
            f"{r['build_seconds']:.1f} |"
        )
    lines += [
        "",
        "Utilization = cycles with a weight beat accepted / cycles from the first beat to the "
        "last result. MACs/s count simulated-and-checked weight-bit MACs (M*N*K*planes per beat) "
        "per second of simulation wall time, including the cocotb testbench.",
        "",
    ]
    write_atomic(out_dir / "bench.md", "\n".join(lines))
    print(f"[bench] wrote {out_dir / 'bench.md'}")
    return result
