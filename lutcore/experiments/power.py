"""``lutcore power``: power per block, energy per MAC and TOPS/W of a tile from the switching
activity of its mapped netlist running a named workload.

1. ``lutcore synth`` maps the tile (the report's Fmax is the operating point);
2. the netlist (cell models from the liberty) runs the workload on Verilator through the
   tile's own cocotb bench, which checks every output word against the golden model (so
   every power run is also a functional check of the netlist), and writes a SAIF file;
3. OpenSTA gives every pin's slew and every net's load; :mod:`lutcore.synth.power` turns
   toggles, static probabilities, slews and loads into internal, switching and leakage
   power per cell with the liberty's tables, summed per block.

``--activity vectorless`` instead reports OpenSTA's own ``report_power`` with a stated
activity on every input (its probabilistic propagation), for comparison. Results:
``<out>/<slug>/power.{json,md}`` beside the synthesis report.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from lutcore.base.files import write_atomic
from lutcore.base.tools import require
from lutcore.hw.arch import REGISTRY, arch_of
from lutcore.hw.config import TileConfig, show
from lutcore.hw.emit import part_name
from lutcore.sim.runner import build_gatelevel, require_simulators, run_scenario
from lutcore.sim.scenario import WORKLOADS, workload_scenario
from lutcore.synth.flow import kept_on_failure, temp_work
from lutcore.synth.gatelevel import gate_sources
from lutcore.synth.liberty import DEFAULT_LIBERTY
from lutcore.synth.power import (
    ACTIVITIES,
    Power,
    PowerModel,
    by_block,
    by_kind,
    netlist_power,
    pin_activity,
    read_saif,
    sta_loads,
    sta_power,
)
from lutcore.synth.report import run_synth

__all__ = ["DEPTH", "power_columns", "run_power", "workload_shape"]

#: the reduction length of the workload's output tiles (capped by the tile's ``max_k``)
DEPTH = 256
#: the activity OpenSTA's vectorless propagation starts from on every input (per clock)
INPUT_ACTIVITY = 0.1
GLUE = "top_glue"


def workload_shape(cfg: TileConfig) -> tuple[int, int, int]:
    """``(rows, depth, cols)`` of a power run: one row tile, two column tiles, each output
    reducing ``min(DEPTH, max_k)`` activations, rounded down to a whole number of K-slices
    (K = 6: 252)."""
    return cfg.M, min(DEPTH, cfg.max_k) // cfg.K * cfg.K, 2 * cfg.N


def _energy(power: dict[str, Power], seconds: float, macs: int, w_bits: int) -> dict:
    total = Power.sum(power.values())
    joules = total.total * seconds
    return {
        "energy_pj": joules * 1e12,
        "pj_per_mac": joules * 1e12 / macs,
        "pj_per_weight_bit_mac": joules * 1e12 / (macs * w_bits),
        "tops_per_w": 2 * macs / joules / 1e12,
        "power_w": {
            "total": total.to_dict(),
            "by_block": {b: p.to_dict() for b, p in power.items()},
        },
    }


def run_power(
    cfg: TileConfig,
    out_root: Path,
    *,
    workload: str = "layer",
    activity: str = "simulated",
    clock_ns: float | None = None,
    liberty: Path = DEFAULT_LIBERTY,
    report: dict | None = None,
    progress=print,
) -> dict:
    """Measure ``cfg``'s power on ``workload`` (:data:`~lutcore.sim.scenario.WORKLOADS`);
    write ``out_root/<slug>/power.{json,md}``. ``clock_ns`` adds the figures at that clock
    period (they are always given at the reported Fmax). ``report``: the synthesis report
    already written to ``out_root/<slug>/`` with ``liberty`` (a sweep's), instead of
    synthesizing again. Tools and the liberty's power data are checked before any work."""
    if workload not in WORKLOADS:
        raise ValueError(f"workload={show(workload)}: allowed {', '.join(WORKLOADS)}")
    if activity not in ACTIVITIES:
        raise ValueError(f"activity={show(activity)}: allowed {', '.join(ACTIVITIES)}")
    if clock_ns is not None and not 0.1 <= clock_ns <= 1000:
        raise ValueError(f"clock_ns={clock_ns}: allowed 0.1..1000")
    if arch_of(cfg).macro_tile is not None:
        benched = [name for name, arch in REGISTRY.items() if arch.macro_tile is None]
        raise ValueError(
            f"arch={show(cfg.arch)}: power needs a tile whose whole logic is its netlist "
            f"({', '.join(benched)}); this one's SRAM banks are macros outside it"
        )
    PowerModel.read(liberty, cells=set())  # refuses a liberty without power data
    require("sta")
    if activity == "simulated":
        require_simulators(["verilator"])
    started = time.perf_counter()
    rep = report or run_synth(cfg, out_root, liberty=liberty, progress=progress)
    out_dir = out_root / cfg.slug
    netlist = out_dir / "netlist.v"
    fmax_mhz = rep["timing"]["fmax_mhz"]
    rows, depth, cols = workload_shape(cfg)
    macs = rows * depth * cols
    blocks = arch_of(cfg).blocks
    work = temp_work(out_root)
    with kept_on_failure(work, out_root / f"{cfg.slug}.power.failed"):
        result = {
            "config": cfg.to_dict(),
            "slug": cfg.slug,
            "activity": activity,
            "workload": {"name": workload, "gemm": f"{rows}x{depth}x{cols}", "macs": macs},
            "fmax_mhz": fmax_mhz,
            "tools": rep["tools"],
            "liberty": rep["liberty"],
            "parts": [p for p in cfg.parts if p != "tile"],
        }
        if activity == "vectorless":
            progress(f"[power] {cfg.slug}: OpenSTA vectorless, input activity {INPUT_ACTIVITY}")
            power = sta_power(
                liberty,
                netlist,
                cfg.slug,
                work / "sta",
                1000.0 / fmax_mhz,
                input_activity=INPUT_ACTIVITY,
            )
            result["input_activity_per_cycle"] = INPUT_ACTIVITY
            cycles = None
        else:
            scenario = workload_scenario(cfg, workload, rows, depth, cols, seed=7)
            progress(f"[power] {cfg.slug}: building the gate-level model (Verilator, SAIF) ...")
            sources, top = gate_sources(cfg, netlist, liberty, work / "gl", cfg.slug)
            built = build_gatelevel(cfg, sources, top, "verilator", saif=True)
            progress(f"[power] {cfg.slug}: running the {workload} workload ({rows}x{depth}x{cols})")
            bench = run_scenario(built, scenario, name=f"power_{workload}")
            saif = built.directory / "runs" / f"power_{workload}" / "dump.saif"
            _, nets = read_saif(saif, f"{top}/netlist")
            cycles = nets[""]["clk"].toggles // 2
            progress(f"[power] {cfg.slug}: {cycles} cycles simulated; slews and loads (OpenSTA)")
            cells, loads = sta_loads(liberty, netlist, cfg.slug, work / "sta")
            pins = pin_activity(loads, nets)
            model = PowerModel.read(liberty, set(cells.values()))
            seconds = cycles / (fmax_mhz * 1e6)
            power = netlist_power(liberty, cells, loads, pins, seconds, model=model)
            result["power_by_kind_w"] = {
                b: {k: p.total for k, p in split.items()}
                for b, split in by_kind(power, cells, model, blocks, GLUE).items()
            }
            result["workload"] |= {
                "cycles": cycles,
                "utilization": bench["utilization"],
                "output_words_checked": int(rows * cols),
                "bit_exact": True,  # run_scenario raised otherwise
            }
        blocks_power = by_block(power, blocks, GLUE)
        seconds = (cycles or 0) / (fmax_mhz * 1e6)
        if activity == "simulated":
            result["at_fmax"] = _energy(blocks_power, seconds, macs, cfg.w_bits)
        else:  # power at one clock period; energy per MAC at the tile's full rate
            per_cycle = cfg.macs_per_cycle
            result["at_fmax"] = _energy(blocks_power, 1.0 / (fmax_mhz * 1e6), per_cycle, cfg.w_bits)
            result["at_fmax"]["note"] = "energy per MAC at the full rate (macs_per_cycle)"
        if result["parts"]:
            result["converters"] = _converters(
                cfg,
                out_dir,
                liberty,
                work,
                fmax_mhz,
                seconds or 1.0 / (fmax_mhz * 1e6),
                result["at_fmax"],
                macs if activity == "simulated" else cfg.macs_per_cycle,
            )
        if clock_ns is not None:
            scale = (1000.0 / clock_ns) / fmax_mhz
            scaled = {
                b: Power(p.internal * scale, p.switching * scale, p.leakage)
                for b, p in blocks_power.items()
            }
            period = clock_ns * 1e-9
            result["at_clock_ns"] = {"clock_ns": clock_ns} | (
                _energy(scaled, (cycles or 1) * period, macs, cfg.w_bits)
                if activity == "simulated"
                else _energy(scaled, period, cfg.macs_per_cycle, cfg.w_bits)
            )
        result["seconds"] = round(time.perf_counter() - started, 1)
        write_atomic(out_dir / "power.json", json.dumps(result, indent=2) + "\n")
        write_atomic(out_dir / "power.md", power_markdown(result))
    progress(f"[power] wrote {out_dir / 'power.md'}")
    return result


def _converters(cfg, out_dir, liberty, work, fmax_mhz, seconds, at, macs) -> dict:
    """The FP path's converters (separate netlists): OpenSTA's vectorless power of each at
    the tile's clock (no workload bench drives them here), and the energy figures of tile
    plus converters over the same time."""
    by_part = {}
    for part in cfg.parts[1:]:
        cells = sta_power(
            liberty,
            out_dir / f"netlist_{part}.v",
            part_name(cfg, part),
            work / f"sta_{part}",
            1000.0 / fmax_mhz,
            input_activity=INPUT_ACTIVITY,
        )
        by_part[part] = Power.sum(cells.values()).to_dict()
    joules = (at["power_w"]["total"]["total"] + sum(p["total"] for p in by_part.values())) * seconds
    return {
        "method": f"vectorless estimate: OpenSTA report_power, {INPUT_ACTIVITY} toggles per "
        "cycle on every input, at the tile's clock for the whole run",
        "power_w": by_part,
        "pj_per_mac_with_converters": joules * 1e12 / macs,
        "tops_per_w_with_converters": 2 * macs / joules / 1e12,
    }


def power_columns(
    cfg: TileConfig, reports: Path, liberty: Path, report: dict, *, workload: str
) -> dict:
    """A sweep point's power columns (``run_sweep``'s ``power`` hook): the point's netlist,
    already synthesized into ``reports``, running ``workload``. Tiles without a workload
    bench (PIM) get none."""
    if arch_of(cfg).macro_tile is not None:
        return {}
    r = run_power(
        cfg, reports, workload=workload, liberty=liberty, report=report, progress=lambda _: None
    )
    at = r["at_fmax"]
    return {
        "power_workload": workload,
        "power_mw": at["power_w"]["total"]["total"] * 1e3,
        "pj_per_mac": at["pj_per_mac"],
        "pj_per_weight_bit_mac": at["pj_per_weight_bit_mac"],
        "tops_per_w": at["tops_per_w"],
        "power_by_block_mw": {b: p["total"] * 1e3 for b, p in at["power_w"]["by_block"].items()},
        # FP paths: with their converters (vectorless estimate), else the tile's own figure
        "tops_per_w_with_converters": r.get("converters", {}).get(
            "tops_per_w_with_converters", at["tops_per_w"]
        ),
    }


def power_markdown(r: dict) -> str:
    """The power report for a reader."""
    at = r["at_fmax"]
    wl = r["workload"]
    lines = [
        f"# Power: {r['slug']}",
        "",
        f"Activity: **{r['activity']}**"
        + (
            f" (workload `{wl['name']}`, GEMM {wl['gemm']}, {wl.get('cycles')} cycles, "
            f"utilization {wl.get('utilization', 0):.1%}; the gate-level outputs were compared "
            f"word for word with the golden model: {wl.get('output_words_checked')} words, "
            "all equal)"
            if r["activity"] == "simulated"
            else f" (OpenSTA's propagation from {r['input_activity_per_cycle']} toggles per "
            "cycle on every input)"
        )
        + ".",
        "",
        f"At the reported Fmax, {r['fmax_mhz']} MHz:",
        "",
        "| block | internal (mW) | switching (mW) | leakage (uW) | total (mW) | share |",
        "|---|---|---|---|---|---|",
    ]
    total = at["power_w"]["total"]["total"] or 1.0
    for block, p in at["power_w"]["by_block"].items():
        lines.append(
            f"| {block} | {p['internal'] * 1e3:.4f} | {p['switching'] * 1e3:.4f} | "
            f"{p['leakage'] * 1e6:.3f} | {p['total'] * 1e3:.4f} | {p['total'] / total:.1%} |"
        )
    t = at["power_w"]["total"]
    lines += [
        f"| **total** | {t['internal'] * 1e3:.4f} | {t['switching'] * 1e3:.4f} | "
        f"{t['leakage'] * 1e6:.3f} | {t['total'] * 1e3:.4f} | |",
        "",
        f"- energy per MAC: **{at['pj_per_mac']:.4f} pJ** "
        f"({at['pj_per_weight_bit_mac']:.4f} pJ per weight-bit MAC)",
        f"- **{at['tops_per_w']:.3f} TOPS/W** (2 ops per MAC)",
    ]
    if "note" in at:
        lines.append(f"- {at['note']}")
    if "power_by_kind_w" in r:
        lines += [
            "",
            "By kind of cell (mW): flip-flops (accumulators, buffers, registers), the buffer "
            "trees of fanout repair (the broadcast into the array), the rest of the logic:",
            "",
            "| block | flip-flops | fanout buffers | logic |",
            "|---|---|---|---|",
        ]
        for block, split in r["power_by_kind_w"].items():
            lines.append(
                f"| {block} | {split['flip_flops'] * 1e3:.4f} | "
                f"{split['fanout_buffers'] * 1e3:.4f} | {split['logic'] * 1e3:.4f} |"
            )
        lines.append("")
    if "at_clock_ns" in r:
        c = r["at_clock_ns"]
        lines.append(
            f"- at {c['clock_ns']} ns: {c['power_w']['total']['total'] * 1e3:.4f} mW, "
            f"{c['pj_per_mac']:.4f} pJ/MAC, {c['tops_per_w']:.3f} TOPS/W"
        )
    if "converters" in r:
        conv = r["converters"]
        parts = ", ".join(f"{k} {v['total'] * 1e3:.4f} mW" for k, v in conv["power_w"].items())
        lines.append(
            f"- converters ({conv['method']}): {parts}; with them "
            f"{conv['pj_per_mac_with_converters']:.4f} pJ/MAC, "
            f"{conv['tops_per_w_with_converters']:.3f} TOPS/W"
        )
    lines += [
        "",
        f"Liberty `{r['liberty']['file']}` (sha256 {r['liberty']['sha256'][:16]}...), "
        + ", ".join(f"{k} {v}" for k, v in r["tools"].items())
        + f"; {r['seconds']} s.",
        "",
        "Method: toggles and static probabilities of every cell pin from Verilator's SAIF of "
        "the netlist (zero delay: no glitches), slews and loads from OpenSTA, energy from the "
        "liberty's internal_power tables, switching 1/2 C V^2 per toggle, state-dependent "
        "leakage (see `lutcore/synth/power.py`).",
        "",
    ]
    return "\n".join(lines)
