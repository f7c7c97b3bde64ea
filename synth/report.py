"""``lutcore synth``: synthesize a tile and write ``report.json`` and ``report.md``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from amaranth import __version__ as amaranth_version

from lutcore import __version__
from lutcore.base import procs
from lutcore.base.files import write_atomic
from lutcore.base.yosys import yosys_version
from lutcore.hw.arch import arch_of
from lutcore.hw.config import TileConfig

from .flow import SynthResult, combine, kept_on_failure, liberty_digest, synthesize, temp_work
from .fpga import check_fpga_args, fpga_estimate
from .liberty import DEFAULT_LIBERTY, check_liberty
from .sram import sram_estimate

__all__ = ["build_report", "run_synth"]


def sta_version() -> str | None:
    if not shutil.which("sta"):
        return None
    proc = procs.run(["sta", "-version"])
    return proc.stdout.strip() or None


def build_report(cfg: TileConfig, result: SynthResult, liberty: Path, lib_name: str) -> dict:
    """The report as data: configuration, tools, library, areas, timing, throughput."""
    weight_bit_macs = cfg.weight_bit_macs_per_cycle
    sram = sram_estimate(cfg) if arch_of(cfg).macro_tile is not None else None
    macs = cfg.macs_per_cycle
    fmax_hz = result.timing["fmax_mhz"] * 1e6
    area_mm2 = (result.area_total + (sram["area_um2"] if sram else 0.0)) * 1e-6
    rep = {
        "config": cfg.to_dict(),
        "slug": cfg.slug,
        "tools": {
            "lutcore": __version__,
            "amaranth": amaranth_version,
            "yosys": yosys_version(),
            "opensta": sta_version(),
        },
        "liberty": {
            "name": lib_name,
            "file": liberty.name,
            "sha256": liberty_digest(liberty),
        },
        "area_um2": {
            "total": round(result.area_total, 1),
            "sequential": round(result.area_sequential, 1),
            "by_block": {k: round(v, 1) for k, v in result.area_by_block.items()},
            "method": "kept hierarchy: flip-flops mapped first (resets kept), each module's "
            "logic mapped once on its own (ABC, delay target, sizing) however often it is "
            "instantiated (an array's columns), fanout-repair buffers added inside their "
            "module; a block's area is its modules' areas times their instances, the total "
            "is the sum of the blocks and is the netlist OpenSTA times",
        },
        "modules": result.modules,
        "flip_flops": result.flip_flops,
        "cells": dict(sorted(result.cells.items())),
        "cell_count": sum(result.cells.values()),
        "booth_multipliers": result.booth_multipliers,
        "rtl_adders": result.rtl_adders,
        "transistors_cmos_estimate": result.transistors,
        "timing": result.timing,
        "throughput": {
            "weight_bit_macs_per_cycle": weight_bit_macs,
            "macs_per_cycle": macs,
            "bits_per_weight": round(cfg.bits_per_weight, 4),
            "tops": round(2 * macs * fmax_hz / 1e12, 6),
            "tops_per_mm2": round(2 * macs * fmax_hz / 1e12 / area_mm2, 4),
        },
        "synthesis_seconds": round(result.seconds, 1),
        "peak_memory_mib": result.peak_memory_mib,
    }
    if sram:
        rep["sram"] = sram
        rep["area_um2"]["total_with_sram_estimate"] = round(result.area_total + sram["area_um2"], 1)
        rep["throughput"]["density_area"] = "logic (Yosys) + SRAM estimate"
    return rep


def _weights(rep: dict) -> str:
    """The weights a MAC takes, as the throughput line names them."""
    config, bits = rep["config"], rep["throughput"].get("bits_per_weight")
    if config.get("weight_format") == "ternary":
        return f"ternary weights ({bits:.2f} bits a weight on the stream)"
    return f"{config['w_bits']}-bit weights"


def report_markdown(rep: dict) -> str:
    area, timing, thr = rep["area_um2"], rep["timing"], rep["throughput"]
    lines = [
        f"# Synthesis report: `{rep['slug']}`",
        "",
        "Configuration: " + ", ".join(f"{k}={v}" for k, v in rep["config"].items()) + ".",
        "",
        f"Tools: lutcore {rep['tools']['lutcore']}, Amaranth {rep['tools']['amaranth']}, "
        f"{rep['tools']['yosys']}, OpenSTA {rep['tools']['opensta'] or 'not installed'}.",
        f"Liberty: `{rep['liberty']['name']}` ({rep['liberty']['file']}, sha256 "
        f"`{rep['liberty']['sha256'][:16]}...`).",
        "",
        "## Area (um^2)",
        "",
        "| block | area | share |",
        "|---|---|---|",
    ]
    for block, value in area["by_block"].items():
        lines.append(f"| {block} | {value:,.1f} | {value / area['total']:.1%} |")
    lines += [
        f"| **total** | **{area['total']:,.1f}** | 100% |",
        "",
        f"{'Tile and converters' if 'parts' in timing else 'Tile'} (the timed netlist): "
        f"**{area['total']:,.1f} um^2**, "
        f"of which sequential {area['sequential']:,.1f}; {rep['cell_count']} cells; "
        f"CMOS transistor estimate (generic gates, lower bound) "
        f"{rep['transistors_cmos_estimate']}; {rep['booth_multipliers']} multipliers "
        "(Booth-encoded by `synth -booth`).",
        "RTL adders and subtractors (`$add`/`$sub` before synthesis, per instance): "
        + ", ".join(f"{b} {n:,}" for b, n in rep.get("rtl_adders", {}).items())
        + ".",
        f"Method: {area['method']}.",
        "",
        "## Timing",
        "",
        f"Source: {timing['source']}. Clock target {timing['clock_ns']} ns; critical path "
        f"**{timing['critical_path_ns']} ns**, Fmax **{timing['fmax_mhz']} MHz**.",
    ]
    if "startpoint" in timing:
        lines.append(
            f"Path: `{timing['startpoint']}` -> `{timing['endpoint']}`, "
            f"{timing['logic_levels']} logic levels."
        )
    if "sram_model" in timing:
        model, logic = timing["sram_model"], timing["logic_only"]
        limit = "paths" if timing["limited_by"] == "paths" else "macros' minimum period"
        lines.append(
            f"SRAM read included: each bank is a `{model['cell']}` macro cell (read access "
            f"{', '.join(map(str, model['access_ns']))} ns from the rising edge, setup "
            f"{', '.join(map(str, model['setup_ns']))} ns, minimum period "
            f"{model['min_period_ns']} ns = {model['fmax_limit_mhz']} MHz; figures of "
            f"{model['source']}); Fmax is set by the {limit}. "
            f"With the banks' ports untimed: {logic['critical_path_ns']} ns "
            f"({logic['fmax_mhz']} MHz), `{logic['startpoint']}` -> `{logic['endpoint']}`."
        )
    for part, t in timing.get("parts", {}).items():
        lines.append(
            f"- {part}: {t['critical_path_ns']} ns ({t['fmax_mhz']} MHz), "
            f"`{t.get('startpoint')}` -> `{t.get('endpoint')}`"
        )
    if "parts" in timing:
        lines.append(
            "The tile and its converters are synthesized and timed separately (each registers "
            "its outputs); Fmax is the slowest part's. The glue between them is not included."
        )
    for check, path in timing.get("async_reset_checks", {}).items():
        lines.append(
            f"Asynchronous reset {check} check (not the clock's path group): slack "
            f"{path['slack_ns']} ns, `{path['startpoint']}` -> `{path['endpoint']}`."
        )
    lines.append(
        f"Fanout repair: {timing['fanout_buffers_inserted']} buffers inserted; largest fanout "
        f"now `{timing['max_fanout_net']}` with {timing['max_fanout']} loads."
    )
    flops = rep.get("flip_flops", {})
    if flops:
        lines += [
            "",
            "## Flip-flops and resets",
            "",
            "Checked by the flow: every reset flip-flop of the RTL keeps its reset in the "
            "netlist (a flip-flop the mapping removed as constant or duplicate excepted).",
            "",
            "| block | RTL bits | with reset | netlist bits | reached by rst |",
            "|---|---|---|---|---|",
            *(
                f"| {b} | {c['rtl']} | {c['rtl_reset']} | {c['netlist']} | {c['netlist_reset']} |"
                for b, c in flops.items()
            ),
        ]
    if "sram" in rep:
        sram = rep["sram"]
        lines += [
            "",
            "## SRAM (estimate, not synthesized)",
            "",
            f"{sram['banks']} banks x {sram['words_per_bank']} words x {sram['word_bits']} bits "
            f"({sram['bits']:,} bits, {sram['read_ports_per_bank']} read port(s) per bank): "
            f"**{sram['area_um2']:,.1f} um^2** estimated ({sram['area_per_bank_um2']:,.1f} per "
            f"bank). Model: {sram['model']}. The logic above is synthesized with the banks as "
            "external macros; the timing includes their read (see Timing). Logic + SRAM "
            "estimate: "
            f"**{area['total_with_sram_estimate']:,.1f} um^2**.",
        ]
    lines += [
        "",
        "## Throughput and density",
        "",
        f"{thr['weight_bit_macs_per_cycle']} weight-bit MACs/cycle = {thr['macs_per_cycle']:g} "
        f"MACs/cycle at {_weights(rep)}; {thr['tops']} TOPS at Fmax; "
        f"**{thr['tops_per_mm2']} TOPS/mm^2** (1 MAC = 2 ops, "
        f"{thr.get('density_area', 'total area')}).",
        "",
        f"Synthesis wall time {rep['synthesis_seconds']} s; peak memory "
        f"{rep['peak_memory_mib']['yosys']:,} MiB (Yosys with ABC), "
        f"{rep['peak_memory_mib']['opensta']:,} MiB (OpenSTA). " + _repeated(rep["modules"]),
        "",
    ]
    if "fpga" in rep:
        fpga = rep["fpga"]
        lines += [
            f"## FPGA estimate: {fpga['family']} {fpga['device']}",
            "",
            f"Flow: {fpga['flow']} (ports inside the fabric, no I/O constraints).",
            "",
            "| resource | placed | available |",
            "|---|---|---|",
            *(f"| {k} | {v} | {fpga['available'][k]} |" for k, v in sorted(fpga["placed"].items())),
            "",
            "After synth_ecp5: "
            + ", ".join(f"{k} {v}" for k, v in fpga["synth_cells"].items())
            + " (a CCU2C carry cell counts as two LUT4).",
            f"Fmax **{fpga['fmax_mhz']} MHz** (median of seeds "
            + ", ".join(f"{s}: {f}" for s, f in fpga["fmax_mhz_by_seed"].items())
            + f"); {fpga['seconds']} s.",
            "",
        ]
    return "\n".join(lines)


def _repeated(modules: dict[str, int]) -> str:
    """The repeated modules of a report, e.g. ``lut_column x 64``."""
    found = [f"`{m.split('__', 1)[-1]}` x {n}" for m, n in modules.items() if n > 1]
    return f"Mapped once, instantiated: {', '.join(found)}." if found else ""


def run_synth(
    cfg: TileConfig,
    out_root: Path,
    *,
    liberty: Path = DEFAULT_LIBERTY,
    clock_ns: float = 5.0,
    fpga_device: str | None = None,
    fpga_seeds: tuple[int, ...] = (1, 2, 3),
    progress=print,
    units: str = "shared",
) -> dict:
    """Synthesize ``cfg`` and write ``out_root/<slug>/report.{json,md}`` (and the netlist);
    with ``fpga_device`` (e.g. ``"85k"``) the report adds the ECP5 estimate; ``units`` as
    :func:`~lutcore.synth.flow.synthesize`.
    Work happens in a temporary folder; nothing is left half-written on failure."""
    lib_name = check_liberty(liberty)
    if not 0.1 <= clock_ns <= 1000:
        raise ValueError(f"clock_ns={clock_ns}: allowed 0.1..1000")
    if fpga_device is not None:
        check_fpga_args(fpga_device, fpga_seeds)
    out_dir = out_root / cfg.slug
    work = temp_work(out_root)
    with kept_on_failure(work, out_root / f"{cfg.slug}.failed"):
        results = {
            part: synthesize(
                cfg,
                work / part,
                liberty=liberty,
                clock_ns=clock_ns,
                progress=progress,
                part=part,
                units=units,
            )
            for part in cfg.parts
        }
        result = combine(results)
        rep = build_report(cfg, result, liberty, lib_name)
        rep["units"] = units
        if fpga_device is not None:
            rep["fpga"] = fpga_estimate(
                cfg, work / "fpga", device=fpga_device, seeds=fpga_seeds, progress=progress
            )
        write_atomic(out_dir / "netlist.v", result.netlist.read_text())
        for part, res in results.items():
            if part != "tile":
                write_atomic(out_dir / f"netlist_{part}.v", res.netlist.read_text())
        write_atomic(out_dir / "report.json", json.dumps(rep, indent=2) + "\n")
        write_atomic(out_dir / "report.md", report_markdown(rep))
    progress(f"[synth] wrote {out_dir / 'report.md'}")
    return rep
