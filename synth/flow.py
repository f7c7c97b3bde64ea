"""ASIC-style synthesis of a tile with pyosys (Yosys + ABC) and timing with OpenSTA.

One Yosys run on the emitted Verilog with the hierarchy kept (``synth -booth``: Booth
multipliers where there are any): the flip-flops are mapped first (``dfflibmap``, resets
kept: see :func:`synthesize_verilog`), then each module (the blocks: precompute, table
buffer, control, LUT array; the MAC baseline's activation buffer, control, MAC array; and
the units below them, an array's column, mapped once however often it is instantiated) has
its logic mapped on its own to the liberty by ABC (delay target, then ``upsize; dnsize``).
ABC leaves broadcast nets unsplit, and its own ``buffer`` chains buffers, so
:mod:`lutcore.synth.fanout` then gives every net with more than 16 loads a buffer tree inside
its module (what a physical flow's fanout repair does), a submodule's input pin weighing
what its port drives inside.

That one netlist is what is reported and timed: a block's area is its modules' ``stat
-liberty`` areas times their instances plus their buffers, so the blocks sum to the total
exactly, and OpenSTA times the whole netlist through the hierarchy. Keeping the
hierarchy forgoes cross-block optimization; the blocks meet at registers (table buffer,
registered control broadcast) or short paths. Flat mapping measured no smaller on the
compact library and 11% larger on the full sky130 one (ABC's flat mapping favours
inverted-input NAND4s there).

The critical path is the worst setup path of the ``clk`` path group; recovery and removal
checks of asynchronous resets are reported apart. Without ``sta`` the timing falls back to
ABC's own delay estimate and says so.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lutcore.base import procs
from lutcore.base.tools import heartbeat
from lutcore.base.yosys import YosysError, quote, run_script
from lutcore.hw.arch import arch_of
from lutcore.hw.config import TileConfig, show
from lutcore.hw.emit import part_name, part_verilog
from lutcore.hw.units import UNITS

from .fanout import find_buffer, repair_fanout
from .liberty import DEFAULT_LIBERTY, check_liberty, read_liberty_text
from .netlist import FlopCount, check_resets, hierarchy, modules
from .sram import bank_figures, timed_top

__all__ = [
    "SynthResult",
    "combine",
    "kept_on_failure",
    "sta_timing",
    "synthesize",
    "synthesize_verilog",
]

MAX_FANOUT = 16
#: Cells synthesis must not pick (glob patterns, as in physical flows' dont-use lists):
#: power-management cells (isolation, keep-alive), probes, clock-tree cells (for CTS) and
#: delay cells (for hold fixing). ABC otherwise uses e.g. sky130's ``lpflow_isobufsrc`` as
#: an AND gate. Harmless for libraries without such cells.
DONT_USE = ("*lpflow*", "*probe*", "*clkbuf*", "*clkinv*", "*clkdly*", "*dlygate*", "*dlymetal*")


def _abc_commands(delay_ps: int) -> list[str]:
    # Map for delay, then size cells before timing (without sizing a broadcast net is
    # timed through one inverter).
    return [
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
    #: per block: flip-flop bits in the RTL and the netlist, each with how many use the reset
    flip_flops: dict = field(default_factory=dict)
    #: every module of the netlist and its instances in the design (each mapped once)
    modules: dict = field(default_factory=dict)
    #: the largest resident memory of Yosys (with ABC) and of OpenSTA, MiB
    peak_memory_mib: dict = field(default_factory=dict)
    #: per block: ``$add``/``$sub`` cells of the RTL before synthesis, per instance
    rtl_adders: dict = field(default_factory=dict)


def _stat(path: Path) -> dict:
    return json.loads(path.read_text())


def _module_area(stat: dict, name: str) -> float:
    return float(stat["modules"]["\\" + name]["area"])


def _sta_paths(text: str) -> dict[str, str]:
    """``{path group: report section}`` of one ``report_checks`` output (OpenSTA prints the
    worst path of every group: ``clk`` for setup/hold, ``**async_default**`` for
    recovery/removal)."""
    sections = re.split(r"^(?=Startpoint: )", text, flags=re.M)
    found = {}
    for section in sections:
        group = re.search(r"^Path Group: (\S+)", section, flags=re.M)
        if group and group.group(1) not in found:
            found[group.group(1)] = section
    return found


def _path_figures(section: str) -> dict:
    slack = re.search(r"(-?[\d.]+)\s+slack \((?:MET|VIOLATED)\)", section)
    # pins on the path, "  0.123  1.234 ^ _12_/Y (cell)": launch CLK and Q, then one output
    # per combinational cell, then the capture D pin
    levels = len(re.findall(r"^\s+[\d.]+\s+[\d.]+ [v^] \S+/\S+ \(", section, flags=re.M)) - 3
    return {
        "slack_ns": float(slack.group(1)),
        "startpoint": re.search(r"Startpoint: (\S+)", section).group(1),
        "endpoint": re.search(r"Endpoint: (\S+)", section).group(1),
        "logic_levels": max(levels, 0),
    }


def sta_timing(
    netlist: Path,
    lib: Path,
    top: str,
    clock_ns: float,
    work: Path,
    *,
    macros: tuple[str, str, str] | None = None,
    name: str = "sta",
) -> dict:
    """Time ``netlist`` with OpenSTA: the worst setup path of the ``clk`` path group sets the
    critical path (a recovery check of an asynchronous reset is in another group and is
    reported apart, with the removal check).

    ``macros``: (top module, Verilog, liberty) of a wrapper that instantiates ``top`` with
    macro cells on some of its ports (the PIM tile's SRAM banks,
    :func:`~lutcore.synth.sram.timed_top`); the wrapper is then what is timed. ``name``
    names the script and log (``<name>.tcl``, ``<name>.log`` in ``work``)."""
    reads = [f"read_liberty {lib.name}", f"read_verilog {netlist.name}"]
    if macros:
        top, verilog, liberty = macros
        (work / f"{name}_macros.lib").write_text(liberty)
        (work / f"{name}_macros.v").write_text(verilog)
        reads += [f"read_liberty {name}_macros.lib", f"read_verilog {name}_macros.v"]
    tcl = work / f"{name}.tcl"
    tcl.write_text(
        "\n".join(
            [
                # names relative to `work` (OpenSTA globs the path of read_liberty: a folder
                # name with brackets would not be found)
                *reads,
                f"link_design {top}",
                f"create_clock -name clk -period {clock_ns} [get_ports clk]",
                "set_input_delay 0 -clock clk [delete_from_list [all_inputs] [get_ports clk]]",
                "set_output_delay 0 -clock clk [all_outputs]",
                'puts "== setup"',
                "report_checks -path_delay max -digits 4",
                'puts "== hold"',
                "report_checks -path_delay min -digits 4",
                "exit",
            ]
        )
        + "\n"
    )
    proc = procs.run(["sta", "-no_init", "-no_splash", "-exit", tcl.name], cwd=work)
    text = proc.stdout
    log = work / f"{name}.log"
    log.write_text(text + proc.stderr)
    setup, _, hold = text.partition("== hold")
    setup, hold = _sta_paths(setup), _sta_paths(hold)
    if proc.returncode or "clk" not in setup or "Error" in proc.stderr + text:
        raise RuntimeError(f"OpenSTA failed (log {log}): {proc.stderr[-500:]}")
    worst = _path_figures(setup["clk"])
    delay = clock_ns - worst.pop("slack_ns")
    timing = {
        "source": "OpenSTA",
        "path_group": "clk",
        "critical_path_ns": round(delay, 4),
        "fmax_mhz": round(1000.0 / delay, 2),
        **worst,
        "clock_ns": clock_ns,
    }
    asynchronous = {
        check: _path_figures(found["**async_default**"])
        for check, found in (("recovery", setup), ("removal", hold))
        if "**async_default**" in found
    }
    if asynchronous:  # slack at the clock target, as OpenSTA states it
        timing["async_reset_checks"] = asynchronous
    return timing


def _with_sram(
    logic: dict, netlist: Path, lib: Path, top: str, clock_ns: float, work: Path, cfg
) -> dict:
    """The timing with the SRAM banks' model (:mod:`lutcore.synth.sram`) on the ports:
    the worst path through a bank's read or into its inputs, and Fmax no higher than the
    macros' minimum period allows."""
    figures = bank_figures(cfg)
    timing = sta_timing(
        netlist,
        lib,
        top,
        clock_ns,
        work,
        macros=timed_top(netlist.read_text(), top, cfg),
        name="sta_sram",
    )
    paths = timing["fmax_mhz"]
    timing["fmax_mhz"] = min(paths, figures["fmax_limit_mhz"])
    timing["limited_by"] = "paths" if paths <= figures["fmax_limit_mhz"] else "sram min period"
    timing["sram_model"] = figures
    timing["logic_only"] = {
        k: logic[k]
        for k in ("critical_path_ns", "fmax_mhz", "startpoint", "endpoint", "logic_levels")
    }
    return timing


def fanout_profile(netlist: Path, threshold: int = 64) -> dict:
    """Largest fanout in a mapped netlist (per module, nets named ``module/net``) and how
    many nets exceed ``threshold``: a net driving thousands of pins makes any timing figure
    a statement about that net."""
    counts: dict[str, int] = {}
    for name, text in modules(netlist.read_text()).items():
        for net in re.findall(r"\.[A-Z_][A-Z0-9_]*\(([^()]+)\)", text):
            if net.strip() != "clk":
                key = f"{name}/{net.strip()}"
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
    units: str = "shared",
) -> SynthResult:
    """Synthesize ``part`` of ``cfg`` (:attr:`~lutcore.hw.config.TileConfig.parts`: the tile
    or one of its converters) in ``work`` (created); see the module docstring for the method.

    ``units``: ``"shared"`` maps every repeated unit (an array's column) once and
    instantiates it; ``"flat"`` emits every copy and flattens each block into one module
    before mapping (the per-block flow, for comparison: minutes to hours on large arrays)."""
    if units not in UNITS:
        raise ValueError(f"units={show(units)}: allowed {', '.join(map(show, UNITS))}")
    top = part_name(cfg, part)
    progress(f"[synth] {top}: emitting Verilog ...")
    blocks = arch_of(cfg).blocks if part == "tile" else ()
    with heartbeat(f"[synth] {top}: emitting Verilog", progress):
        # SRAM banks: an estimate
        verilog = part_verilog(cfg, part, macros=True, shared=units == "shared")
    return synthesize_verilog(
        verilog,
        top,
        work,
        blocks=blocks,
        glue="top_glue" if part == "tile" else part,  # a converter is one block
        liberty=liberty,
        clock_ns=clock_ns,
        progress=progress,
        flatten_blocks=units == "flat",
        sram=cfg if arch_of(cfg).macro_tile is not None and part == "tile" else None,
    )


def synthesize_verilog(
    verilog: str,
    top: str,
    work: Path,
    *,
    blocks: tuple[str, ...] = (),
    glue: str = "top_glue",
    liberty: Path = DEFAULT_LIBERTY,
    clock_ns: float = 5.0,
    progress=print,
    flatten_blocks: bool = False,
    sram: TileConfig | None = None,
) -> SynthResult:
    """Map the Verilog text ``verilog`` (top module ``top``, submodules ``<top>__<block>``
    for each of ``blocks``; what is left of the top is ``glue``) and time it.

    ``sram``: the configuration whose SRAM banks are the netlist's ``sram__*`` ports; the
    netlist is then timed twice, with the banks' timing model on those ports (the figures
    reported: the SRAM read and the macros' minimum period included) and, for comparison,
    with the ports free (``timing["logic_only"]``).

    Modules below a block (an array's columns) are mapped once however often they are
    instantiated, and counted per instance; ``flatten_blocks`` flattens each block into one
    module first.

    Mapping order: flip-flops first (``dfflibmap``: a synchronous reset or an enable the
    library has no cell for becomes logic in front of a plain flip-flop, an asynchronous
    reset maps to a reset flip-flop), then ABC maps and sizes the combinational logic for
    the clock target. ``abc -dff`` (flip-flops through ABC) drops synchronous and
    asynchronous resets in Yosys 0.70, and it renames every flip-flop; mapped first, the
    flip-flops keep their RTL names. The netlist's flip-flops are then checked to keep
    every reset the RTL had (:func:`~lutcore.synth.netlist.check_resets`);
    :mod:`lutcore.synth.equiv` proves small
    netlists equal to their RTL."""
    started = time.perf_counter()
    check_liberty(liberty)
    work.mkdir(parents=True, exist_ok=True)
    lib = work / "cells.lib"
    lib.write_text(read_liberty_text(liberty))
    design = work / "design.v"
    design.write_text(verilog)
    # inline (`+cmd;cmd`, commas for blanks): Yosys hands a script file's path to ABC
    # unquoted, which breaks on a folder name with spaces
    commands = _abc_commands(int(clock_ns * 1000))
    abc = "+" + ";".join(commands).replace(" ", ",")
    (work / "abc.script").write_text("\n".join(commands) + "\n")  # for the reader
    avoid = " ".join(f"-dont_use {pattern}" for pattern in DONT_USE)
    progress(f"[synth] {top}: synthesis and mapping, hierarchy kept ...")
    netlist = work / "netlist.v"
    log = work / "yosys.log"
    flatten = []
    if flatten_blocks:
        kept = " ".join(f"{top}__{b}" for b in blocks)
        flatten = [*([f"setattr -mod -set keep_hierarchy 1 {kept}"] if kept else []), "flatten"]
    with procs.peak_memory() as yosys_peak:
        run_script(
            [
                f"read_verilog {quote(design)}",
                f"hierarchy -top {top}",
                *flatten,
                # the RTL's adders and subtractors, counted before synthesis merges them
                # (`synth` starts with the same `proc`)
                "proc",
                f"tee -q -o {quote(work / 'stat_rtl.json')} stat -json",
                # Booth multipliers (the MAC baseline has them); no `share`: its SAT search
                # over mutually exclusive operators runs for hours on the FP datapaths
                f"synth -top {top} -booth -noshare",
                f"tee -q -o {quote(work / 'stat_cmos.json')} stat -json -tech cmos",
                f"write_json {quote(work / 'generic.json')}",  # for the reset check
                f"dfflibmap -liberty {quote(lib)} {avoid}",
                f"abc -liberty {quote(lib)} {avoid} -D {int(clock_ns * 1000)} -script {abc}",
                "opt_clean -purge",
                "setundef -zero",
                "splitnets -ports",  # bit-level nets: OpenSTA reads no concatenated assigns
                "opt_clean -purge",
                f"tee -q -o {quote(work / 'stat.json')} stat -json -liberty {quote(lib)}",
                f"write_verilog -noattr -noexpr -nohex -nodec {quote(netlist)}",
            ],
            log=log,
            label="synth",
            progress=progress,
        )
    unmapped = sorted(set(re.findall(r"^\s*\\?(\$_\w+)\s", netlist.read_text(), flags=re.M)))
    if unmapped:
        raise YosysError(f"{top}: cells left unmapped to the liberty: {', '.join(unmapped)}")
    # broadcast nets still drive hundreds of pins: give them buffer trees
    lib_text = lib.read_text()
    buf_cell, buf_in, buf_out, buf_area = find_buffer(lib_text, DONT_USE)
    buffers = repair_fanout(netlist, lib_text, (buf_cell, buf_in, buf_out), MAX_FANOUT)
    cmos = _stat(work / "stat_cmos.json")
    flops = check_resets(_stat(work / "generic.json"), netlist, lib_text)
    stat = _stat(work / "stat.json")
    tree = hierarchy(netlist.read_text(), top, blocks, glue)
    # a module's `area` in Yosys' stat includes its submodules' instances: the top's own
    # cells are the design's area minus the blocks'
    by_block = {b: _module_area(stat, f"{top}__{b}") for b in blocks}
    by_block[glue] = float(stat["design"]["area"]) - sum(by_block.values())
    # fanout buffers: inserted once per module, present once per instance
    placed = {m: n * tree.count[m] for m, n in buffers.items() if m in tree.count}
    for module, n in placed.items():
        by_block[tree.block[module]] += n * buf_area
    progress(
        f"[synth] {top}: {len(tree.count)} modules mapped, {sum(tree.count.values())} "
        f"instances; fanout repair placed {sum(placed.values())} x {buf_cell}"
    )
    # Yosys prints e.g. "50154+": a lower bound (cells it has no CMOS model for add nothing)
    transistors = str(cmos["design"].get("estimated_num_transistors", "")).rstrip("+")

    sta_peak = procs.PeakMemory()
    if shutil.which("sta"):
        progress(f"[synth] {top}: OpenSTA timing at {clock_ns} ns ...")
        with procs.peak_memory() as sta_peak:
            timing = sta_timing(netlist, lib, top, clock_ns, work)
            if sram is not None:
                timing = _with_sram(timing, netlist, lib, top, clock_ns, work, sram)
    else:
        delay = _abc_delay(log)
        timing = {
            "source": "ABC delay estimate (OpenSTA `sta` not installed: apt-get install opensta)",
            "critical_path_ns": round(delay, 4),
            "fmax_mhz": round(1000.0 / delay, 2),
            "clock_ns": clock_ns,
        }
    timing.update(fanout_profile(netlist))
    timing["fanout_buffers_inserted"] = sum(placed.values())
    cells = {k: int(v) for k, v in stat["design"].get("num_cells_by_type", {}).items()}
    cells = {k: v for k, v in cells.items() if k not in tree.count}  # not the submodules
    if any(placed.values()):
        cells[buf_cell] = cells.get(buf_cell, 0) + sum(placed.values())
    return SynthResult(
        area_total=sum(by_block.values()),
        area_sequential=float(stat["design"].get("sequential_area", 0.0)),
        area_by_block=by_block,
        cells=cells,
        booth_multipliers=_booth_multipliers(log, design, tree.count),
        rtl_adders=_adders_by_block(_stat(work / "stat_rtl.json"), tree),
        transistors=int(transistors) if transistors.isdigit() else None,
        timing=timing,
        netlist=netlist,
        seconds=time.perf_counter() - started,
        flip_flops=_flops_by_block(flops, tree),
        modules=dict(tree.count),
        peak_memory_mib={"yosys": round(yosys_peak.mib), "opensta": round(sta_peak.mib)},
    )


def _booth_multipliers(log: Path, design: Path, count: dict[str, int]) -> int:
    """Booth multipliers in the design: each one Yosys mapped (its log names the line of
    ``design`` it came from) times the instances of the module holding that line."""
    starts = [
        (number, found.group(1))
        for number, line in enumerate(design.read_text().splitlines(), start=1)
        if (found := re.match(r"module \\?(\S+?)\s*\(", line))
    ]
    total = 0
    for line in re.findall(
        r"^Mapping cell \S+?:(\d+)\$\d+ to (?:un)?signed Booth", log.read_text(), flags=re.M
    ):
        module = next(name for start, name in reversed(starts) if start <= int(line))
        total += count.get(module, 0)
    return total


def _adders_by_block(stat: dict, tree) -> dict[str, int]:
    """Each block's ``$add`` and ``$sub`` cells of the RTL (before synthesis), its modules'
    counts times their instances (a table precompute's adders are the ones it states)."""
    out: dict[str, int] = {}
    for name, module in stat["modules"].items():
        name = name.lstrip("\\")
        if name in tree.count:
            cells = module.get("num_cells_by_type", {})
            n = int(cells.get("$add", 0)) + int(cells.get("$sub", 0))
            block = tree.block[name]
            out[block] = out.get(block, 0) + n * tree.count[name]
    return out


def _flops_by_block(flops: dict[str, FlopCount], tree) -> dict[str, dict]:
    """Each block's flip-flop counts: its modules' counts times their instances."""
    out: dict[str, dict] = {}
    for module, count in flops.items():
        if module not in tree.count:
            continue
        own = out.setdefault(tree.block[module], dict.fromkeys(asdict(count), 0))
        for key, value in asdict(count).items():
            own[key] += value * tree.count[module]
    return out


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
        flip_flops={b: c for r in results.values() for b, c in r.flip_flops.items()},
        modules={m: n for r in results.values() for m, n in r.modules.items()},
        rtl_adders={b: n for r in results.values() for b, n in r.rtl_adders.items()},
        peak_memory_mib={
            tool: max(r.peak_memory_mib.get(tool, 0) for r in results.values())
            for tool in ("yosys", "opensta")
        },
    )


def liberty_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@contextlib.contextmanager
def kept_on_failure(work: Path, kept: Path):
    """Remove the work folder ``work`` after the block, except when the block fails (an
    interrupt is not a failure): then ``work`` becomes ``kept``, so the logs the error
    names exist, and the error's message points there (its type kept where it can be)."""
    try:
        yield
    except Exception as exc:
        shutil.rmtree(kept, ignore_errors=True)
        work.replace(kept)
        message = str(exc).replace(str(work), str(kept))
        try:
            moved = type(exc)(message)
        except Exception:  # an exception type with another constructor
            moved = RuntimeError(message)
        raise moved from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def temp_work(parent: Path) -> Path:
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=parent, prefix=".work-"))
