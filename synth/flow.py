"""ASIC-style synthesis of a tile with pyosys (Yosys + ABC) and timing with OpenSTA.

One Yosys run on the emitted Verilog with the hierarchy kept (``synth -booth``: Booth
multipliers where there are any): each block (precompute, table buffer, control, LUT
array; the MAC baseline's activation buffer, control, MAC array) is mapped on its own to
the liberty by ABC (``abc -dff``, delay target, then ``upsize; dnsize``). ABC leaves
broadcast nets unsplit, and its own ``buffer`` chains buffers, so :mod:`.fanout` then
gives every net with more than 16 loads a buffer tree inside its module (what a physical
flow's fanout repair does).

That one netlist is what is reported and timed: a block's area is its module's
``stat -liberty`` area plus its buffers, so the blocks sum to the total exactly, and
OpenSTA times it through the hierarchy. Keeping the hierarchy forgoes cross-block
optimization; the blocks meet at registers (table buffer, registered control broadcast)
or short paths. Flat mapping measured no smaller on the compact library and 11% larger on
the full sky130 one (ABC's flat mapping favours inverted-input NAND4s there).

Without ``sta`` the timing falls back to ABC's own delay estimate and says so.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from lutcore.hw.config import TileConfig
from lutcore.hw.emit import part_name, part_verilog
from lutcore.hw.tile import TILES

from .fanout import find_buffer, repair_fanout
from .liberty import DEFAULT_LIBERTY, check_liberty, read_liberty_text
from .yosys import YosysError, run_script

__all__ = ["SynthResult", "combine", "synthesize"]

MAX_FANOUT = 16
#: Cells synthesis must not pick (glob patterns, as in physical flows' dont-use lists):
#: power-management cells (isolation, keep-alive), probes, clock-tree cells (for CTS) and
#: delay cells (for hold fixing). ABC otherwise uses e.g. sky130's ``lpflow_isobufsrc`` as
#: an AND gate. Harmless for libraries without such cells.
DONT_USE = ("*lpflow*", "*probe*", "*clkbuf*", "*clkinv*", "*clkdly*", "*dlygate*", "*dlymetal*")


def _abc_script(delay_ps: int) -> str:
    # Map for delay, then buffer high-fanout nets and size cells before timing (see
    # DESIGN.md section 4: without it a broadcast net is timed through one inverter).
    return "\n".join(
        [
            "strash",
            "&get -n",
            "&fraig -x",
            "&put",
            "dc2",
            "strash",
            "&get -n",
            "&dch -f",
            f"&nf -D {delay_ps}",
            "&put",
            # no ABC `buffer`: it chains buffers on nets it believes non-critical (36 in a
            # row measured on a block's input broadcast); fanout repair builds trees instead
            f"upsize -D {delay_ps}",
            f"dnsize -D {delay_ps}",
            "stime -p",
        ]
    )


@dataclass
class SynthResult:
    """Everything a report needs (areas in um^2 of the liberty's unit, times in ns)."""

    area_total: float
    area_sequential: float
    area_by_block: dict[str, float]  # blocks and top-level glue, fanout buffers included
    cells: dict[str, int]
    booth_multipliers: int  # $mul cells Yosys mapped to Booth multipliers
    transistors: int | None  # lower bound from Yosys' CMOS model of the generic gates
    timing: dict
    netlist: Path
    seconds: float
    notes: list = field(default_factory=list)  # deviations from the method, per part


def _stat(path: Path) -> dict:
    return json.loads(path.read_text())


def _module_area(stat: dict, name: str) -> float:
    return float(stat["modules"]["\\" + name]["area"])


def _sta(netlist: Path, lib: Path, top: str, clock_ns: float, work: Path) -> dict:
    tcl = work / "sta.tcl"
    tcl.write_text(
        "\n".join(
            [
                f"read_liberty {lib}",
                f"read_verilog {netlist}",
                f"link_design {top}",
                f"create_clock -name clk -period {clock_ns} [get_ports clk]",
                "set_input_delay 0 -clock clk [delete_from_list [all_inputs] [get_ports clk]]",
                "set_output_delay 0 -clock clk [all_outputs]",
                "report_checks -path_delay max -digits 4",
                "exit",
            ]
        )
        + "\n"
    )
    proc = subprocess.run(
        ["sta", "-no_init", "-no_splash", "-exit", str(tcl)], capture_output=True, text=True
    )
    text = proc.stdout
    (work / "sta.log").write_text(text + proc.stderr)
    slack = re.search(r"(-?[\d.]+)\s+slack \((?:MET|VIOLATED)\)", text)
    if proc.returncode or slack is None or "Error" in proc.stderr + text:
        raise RuntimeError(f"OpenSTA failed (log {work / 'sta.log'}): {proc.stderr[-500:]}")
    start = re.search(r"Startpoint: (\S+)", text).group(1)
    end = re.search(r"Endpoint: (\S+)", text).group(1)
    # pins on the path, "  0.123  1.234 ^ _12_/Y (cell)": launch CLK and Q, then one output
    # per combinational cell, then the capture D pin
    levels = len(re.findall(r"^\s+[\d.]+\s+[\d.]+ [v^] \S+/\S+ \(", text, flags=re.M)) - 3
    delay = clock_ns - float(slack.group(1))
    return {
        "source": "OpenSTA",
        "critical_path_ns": round(delay, 4),
        "fmax_mhz": round(1000.0 / delay, 2),
        "startpoint": start,
        "endpoint": end,
        "logic_levels": max(levels, 0),
        "clock_ns": clock_ns,
    }


def fanout_profile(netlist: Path, threshold: int = 64) -> dict:
    """Largest fanout in a mapped netlist (per module, nets named ``module/net``) and how
    many nets exceed ``threshold``: a net driving thousands of pins makes any timing figure
    a statement about that net."""
    counts: dict[str, int] = {}
    text = netlist.read_text()
    for module in re.finditer(r"^module (\S+?)\s*\(.*?^endmodule\n", text, flags=re.M | re.S):
        for net in re.findall(r"\.[A-Z_][A-Z0-9_]*\(([^()]+)\)", module.group(0)):
            if net.strip() != "clk":
                key = f"{module.group(1)}/{net.strip()}"
                counts[key] = counts.get(key, 0) + 1
    worst = max(counts.items(), key=lambda kv: kv[1], default=("", 0))
    return {
        "max_fanout_net": worst[0],
        "max_fanout": worst[1] - 1,  # minus the driver pin
        f"nets_over_{threshold}": sum(1 for c in counts.values() if c - 1 > threshold),
    }


def _abc_delay(log: Path) -> float:
    delays = [float(d) for d in re.findall(r"Delay =\s+([\d.]+) ps", log.read_text())]
    return max(delays) / 1000.0


def synthesize(
    cfg: TileConfig,
    work: Path,
    *,
    liberty: Path = DEFAULT_LIBERTY,
    clock_ns: float = 5.0,
    progress=print,
    part: str = "tile",
) -> SynthResult:
    """Synthesize ``part`` of ``cfg`` (:func:`~lutcore.hw.emit.parts`: the tile or one of its
    converters) in ``work`` (created); see the module docstring for the method."""
    started = time.perf_counter()
    check_liberty(liberty)
    work.mkdir(parents=True, exist_ok=True)
    lib = work / "cells.lib"
    lib.write_text(read_liberty_text(liberty))
    top = part_name(cfg, part)
    design = work / "design.v"
    progress(f"[synth] {top}: emitting Verilog (minutes for the largest tiles) ...")
    design.write_text(part_verilog(cfg, part, macros=True))  # SRAM banks: an estimate
    abc = work / "abc.script"
    abc.write_text(_abc_script(int(clock_ns * 1000)))
    # `abc -dff` hands the flip-flops to ABC with the logic, so the delay target and sizing
    # cover register-to-register paths; the flip-flops are then mapped to library cells.
    avoid = " ".join(f"-dont_use {pattern}" for pattern in DONT_USE)
    progress(f"[synth] {top}: synthesis and mapping, hierarchy kept ...")
    netlist = work / "netlist.v"
    log = work / "yosys.log"
    notes = []

    def run(mode: str) -> list[str]:
        """One synthesis run; returns the generic cells left unmapped (if any). ``mode``:
        ``"dff"`` ABC maps the flip-flops' logic too (the method); ``"dffunmap"`` the same
        after turning enable flip-flops into plain ones and multiplexers (ABC otherwise
        leaves an enable it cannot absorb to dfflibmap, whose multiplexers nothing maps);
        ``"logic"`` dfflibmap first, then ABC on the logic alone."""
        abc_cmd = (
            f"abc {'' if mode == 'logic' else '-dff'} -liberty {lib} {avoid} "
            f"-D {int(clock_ns * 1000)} -script {abc}"
        )
        ffmap = f"dfflibmap -liberty {lib} {avoid}"
        mapping = {
            "dff": [abc_cmd, ffmap],
            "dffunmap": ["dffunmap -ce-only", abc_cmd, ffmap],
            "logic": [ffmap, abc_cmd],
        }[mode]
        run_script(
            [
                f"read_verilog {design}",
                f"hierarchy -top {top}",
                # Booth multipliers (the MAC baseline has them); no `share`: its SAT search
                # over mutually exclusive operators runs for hours on the FP datapaths
                f"synth -top {top} -booth -noshare",
                f"tee -q -o {work / 'stat_cmos.json'} stat -json -tech cmos",
                *mapping,
                "opt_clean -purge",
                "setundef -zero",
                "splitnets -ports",  # bit-level nets: OpenSTA reads no concatenated assigns
                "opt_clean -purge",
                f"tee -q -o {work / 'stat.json'} stat -json -liberty {lib}",
                f"write_verilog -noattr -noexpr -nohex -nodec {netlist}",
            ],
            log=log,
            label="synth",
            progress=progress,
        )
        return sorted(set(re.findall(r"^\s*\\?(\$_\w+)\s", netlist.read_text(), flags=re.M)))

    why = {
        "dffunmap": "ABC left enable flip-flops it could not absorb, so this part was mapped "
        "with enables turned into multiplexers first (`dffunmap -ce-only`)",
        "logic": "ABC aborted in its -dff mode (an ABC assertion), so this part was mapped "
        "with the flip-flops outside ABC (combinational logic sized for the clock target)",
    }
    for mode in ("dff", "dffunmap", "logic"):
        try:
            unmapped = run(mode)
        except YosysError as exc:
            # ABC's &nf flow with -dff aborts on some flip-flop groups whose D inputs are
            # module inputs (assertion in Abc_NtkRedirectCiCo; measured on the activation
            # converter's block buffer)
            if "return code 134" not in str(exc) or mode == "logic":
                raise
            progress(f"[synth] {top}: ABC aborted ({mode}); trying the next mapping")
            continue
        if not unmapped:
            break
        progress(f"[synth] {top}: {', '.join(unmapped)} left unmapped ({mode}); trying again")
    else:
        raise YosysError(f"{top}: cells left unmapped to the liberty: {', '.join(unmapped)}")
    if mode != "dff":
        notes.append(f"{top}: {why[mode]}")
    # broadcast nets still drive hundreds of pins: give them buffer trees
    lib_text = lib.read_text()
    buf_cell, buf_in, buf_out, buf_area = find_buffer(lib_text, DONT_USE)
    buffers = repair_fanout(netlist, lib_text, (buf_cell, buf_in, buf_out), MAX_FANOUT)
    progress(f"[synth] {top}: fanout repair inserted {sum(buffers.values())} x {buf_cell}")
    stat = _stat(work / "stat.json")
    # a module's `area` in Yosys' stat includes its submodules: the top's own cells are
    # the design's area minus the blocks'
    blocks = TILES[cfg.arch].BLOCKS if part == "tile" else ()
    glue = "top_glue" if part == "tile" else part  # a converter is one block
    by_block = {b: _module_area(stat, f"{top}__{b}") for b in blocks}
    by_block[glue] = float(stat["design"]["area"]) - sum(by_block.values())
    for name, module in [(b, f"{top}__{b}") for b in blocks] + [(glue, top)]:
        by_block[name] += buffers.get(module, 0) * buf_area
    cmos = _stat(work / "stat_cmos.json")["design"]
    # Yosys prints e.g. "50154+": a lower bound (cells it has no CMOS model for add nothing)
    transistors = str(cmos.get("estimated_num_transistors", "")).rstrip("+")

    if shutil.which("sta"):
        progress(f"[synth] {top}: OpenSTA timing at {clock_ns} ns ...")
        timing = _sta(netlist, lib, top, clock_ns, work)
    else:
        delay = _abc_delay(log)
        timing = {
            "source": "ABC delay estimate (OpenSTA `sta` not installed: apt-get install opensta)",
            "critical_path_ns": round(delay, 4),
            "fmax_mhz": round(1000.0 / delay, 2),
            "clock_ns": clock_ns,
        }
    timing.update(fanout_profile(netlist))
    timing["fanout_buffers_inserted"] = sum(buffers.values())
    cells = {k: int(v) for k, v in stat["design"].get("num_cells_by_type", {}).items()}
    cells = {k: v for k, v in cells.items() if not k.startswith(top)}  # not the submodules
    if any(buffers.values()):
        cells[buf_cell] = cells.get(buf_cell, 0) + sum(buffers.values())
    return SynthResult(
        area_total=sum(by_block.values()),
        area_sequential=float(stat["design"].get("sequential_area", 0.0)),
        area_by_block=by_block,
        cells=cells,
        booth_multipliers=len(
            re.findall(r"^Mapping cell .* to (?:un)?signed Booth", log.read_text(), flags=re.M)
        ),
        transistors=int(transistors) if transistors.isdigit() else None,
        timing=timing,
        netlist=netlist,
        seconds=time.perf_counter() - started,
        notes=notes,
    )


def combine(results: dict[str, SynthResult]) -> SynthResult:
    """One result for a tile and its converters (separately synthesized parts, each
    registered at its outputs): areas, cells and multipliers add up; the timing is the
    slowest part's, with every part's critical path under ``timing["parts"]``."""
    if len(results) == 1:
        return next(iter(results.values()))
    slowest = max(results.values(), key=lambda r: r.timing["critical_path_ns"])
    timing = dict(slowest.timing)
    timing["parts"] = {
        part: {
            k: r.timing.get(k) for k in ("critical_path_ns", "fmax_mhz", "startpoint", "endpoint")
        }
        for part, r in results.items()
    }
    cells: dict[str, int] = {}
    by_block: dict[str, float] = {}
    for r in results.values():
        for cell, count in r.cells.items():
            cells[cell] = cells.get(cell, 0) + count
        by_block.update(r.area_by_block)
    transistors = [r.transistors for r in results.values()]
    return SynthResult(
        area_total=sum(r.area_total for r in results.values()),
        area_sequential=sum(r.area_sequential for r in results.values()),
        area_by_block=by_block,
        cells=cells,
        booth_multipliers=sum(r.booth_multipliers for r in results.values()),
        transistors=None if None in transistors else sum(transistors),
        timing=timing,
        netlist=results["tile"].netlist,
        seconds=sum(r.seconds for r in results.values()),
        notes=[n for r in results.values() for n in r.notes],
    )


def liberty_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def temp_work(parent: Path) -> Path:
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=parent, prefix=".work-"))
