"""Quality-of-results baselines: committed area and Fmax of three tiles, with tolerances.

``synth/qor_baseline.json`` holds, per design, the configuration and the figures of the
default flow (compact library, 5 ns target): timed-netlist area (um^2), area per block and
Fmax (MHz, OpenSTA). :func:`compare` lists every figure outside its tolerance, in either
direction: a loss is a regression to explain, a gain is a new level to commit
(``lutcore qor --update``) so it cannot be lost silently later.
"""

from __future__ import annotations

import json
from pathlib import Path

from lutcore.base.files import write_atomic
from lutcore.hw.config import TileConfig
from lutcore.hw.presets import PRESETS

from .flow import liberty_digest
from .liberty import DEFAULT_LIBERTY
from .report import run_synth

__all__ = [
    "BASELINE",
    "QOR_CONFIGS",
    "TOLERANCE",
    "compare",
    "load_baseline",
    "run_qor",
    "snapshot",
    "write_baseline",
]

BASELINE = Path(__file__).with_name("qor_baseline.json")
#: relative tolerances (written into the baseline, which then rules): total area, area of
#: each block (>= 1% of the tile), Fmax
TOLERANCE = {"area": 0.03, "block_area": 0.05, "fmax": 0.05}
#: The paper's tile, a minimal unsigned-table 1-bit tile, and a g=2 signed-weight tile with
#: two pipeline registers: three table kinds / widths / pipeline depths.
QOR_CONFIGS = {
    "default": PRESETS["paper"],
    "m1n8k8_utable_w1": PRESETS["qor_utable_w1"],
    "m2n16k8_g2_signed4_pipe2": PRESETS["qor_g2_signed4_pipe2"],
}


def snapshot(rep: dict) -> dict:
    """The figures a baseline keeps from a synthesis report."""
    return {
        "config": rep["config"],
        "area_um2": rep["area_um2"]["total"],
        "block_area_um2": rep["area_um2"]["by_block"],
        "fmax_mhz": rep["timing"]["fmax_mhz"],
        "timing_source": rep["timing"]["source"],
    }


def load_baseline(path: Path = BASELINE) -> dict:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"QoR baseline {path}: unreadable ({exc})") from None
    missing = sorted(set(QOR_CONFIGS) - set(data.get("designs", {})))
    if missing:
        raise ValueError(f"QoR baseline {path}: no entry for {', '.join(missing)}")
    return data


def compare(name: str, rep: dict, baseline: dict) -> list[str]:
    """Every figure of report ``rep`` outside tolerance of ``baseline['designs'][name]``."""
    base, tolerance = baseline["designs"][name], baseline.get("tolerance", TOLERANCE)
    now = snapshot(rep)
    problems = []
    if rep["liberty"]["sha256"] != baseline["liberty_sha256"]:
        problems.append(f"{name}: liberty differs from the baseline's ({rep['liberty']['file']})")
    # parameters added since the baseline was written take their defaults
    if TileConfig.from_dict(now["config"]) != TileConfig.from_dict(base["config"]):
        problems.append(f"{name}: configuration differs from the baseline's")
    if now["timing_source"] != base["timing_source"]:
        problems.append(f"{name}: timing from {now['timing_source']}, baseline from OpenSTA")

    def check(what: str, value: float, ref: float, tol: float) -> None:
        if abs(value - ref) > tol * abs(ref):
            problems.append(
                f"{name}: {what} {value:,.2f} vs baseline {ref:,.2f} "
                f"({value / ref - 1:+.1%}, tolerance ±{tol:.0%})"
            )

    check("area um^2", now["area_um2"], base["area_um2"], tolerance["area"])
    check("Fmax MHz", now["fmax_mhz"], base["fmax_mhz"], tolerance["fmax"])
    for block, ref in base["block_area_um2"].items():
        if ref >= 0.01 * base["area_um2"]:
            value = now["block_area_um2"].get(block, 0.0)
            check(f"{block} area um^2", value, ref, tolerance["block_area"])
    if problems and rep["tools"]["yosys"] != baseline["tools"]["yosys"]:
        problems.append(
            f"{name}: note: {rep['tools']['yosys']} here, baseline made with "
            f"{baseline['tools']['yosys']}"
        )
    return problems


def run_qor(out_root: Path, *, update: bool = False, progress=print) -> list[str]:
    """Synthesize every :data:`QOR_CONFIGS` design with the default flow, compare with the
    committed baseline (or rewrite it with ``update``); returns the problems found."""
    baseline = None if update else load_baseline()  # a broken baseline stops before work
    reports, problems = {}, []
    for i, (name, cfg) in enumerate(QOR_CONFIGS.items(), 1):
        progress(f"[qor] {i}/{len(QOR_CONFIGS)} {name}")
        reports[name] = rep = run_synth(cfg, out_root, progress=progress)
        if baseline is not None:
            base = baseline["designs"][name]
            progress(
                f"[qor] {name}: area {rep['area_um2']['total']:,.1f} um^2 "
                f"(baseline {base['area_um2']:,.1f}), Fmax {rep['timing']['fmax_mhz']} MHz "
                f"(baseline {base['fmax_mhz']})"
            )
            problems += compare(name, rep, baseline)
    if update:
        write_baseline(reports)
        progress(f"[qor] wrote {BASELINE}")
    return problems


def write_baseline(reports: dict[str, dict], path: Path = BASELINE) -> None:
    """Write the baseline from default-flow reports of every :data:`QOR_CONFIGS` design."""
    any_rep = next(iter(reports.values()))
    data = {
        "note": "lutcore QoR baseline: default flow (compact liberty, 5 ns target); "
        "regenerate with `lutcore qor --update` and explain the change in the commit",
        "tools": any_rep["tools"],
        "liberty_sha256": liberty_digest(DEFAULT_LIBERTY),
        "tolerance": TOLERANCE,
        "designs": {name: snapshot(reports[name]) for name in QOR_CONFIGS},
    }
    write_atomic(path, json.dumps(data, indent=2) + "\n")
