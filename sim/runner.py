"""Build the emitted Verilog for a simulator and run cocotb scenarios on it.

One build directory per (simulator, configuration) under ``build/cocotb/``; a build is reused
while its Verilog is unchanged (the Verilog is only rewritten when its text changes, so the
simulator's own up-to-date check works).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cocotb_tools.check_results import get_results
from cocotb_tools.runner import VerilatorControlFile, Verilog, get_runner

from lutcore.base.files import write_atomic
from lutcore.base.tools import require, sim_env
from lutcore.hw.config import TileConfig
from lutcore.hw.emit import part_name, part_verilog

from .lint import WAIVERS
from .scenario import Scenario

__all__ = [
    "SIMULATORS",
    "SimulationFailed",
    "Build",
    "build",
    "build_gatelevel",
    "run_scenario",
    "run_stream",
    "run_streams",
    "run_toggle_count",
]

SIMULATORS = ("verilator", "icarus")
BUILD_ROOT = Path(os.environ.get("LUTCORE_BUILD", "build")) / "cocotb"


class SimulationFailed(AssertionError):
    """A cocotb run failed or produced no result; the message says where the log is."""


@dataclass(frozen=True)
class Build:
    cfg: TileConfig
    simulator: str
    directory: Path
    waves: bool
    part: str = "tile"
    #: the simulation's top module when it is not the emitted part's (a gate-level wrapper)
    toplevel: str | None = None
    #: run-time arguments of the simulator (random initial values of a gate-level model)
    plusargs: tuple[str, ...] = ()

    @property
    def top(self) -> str:
        return self.toplevel or part_name(self.cfg, self.part)


#: the programs each simulator needs
SIMULATOR_TOOLS = {"verilator": ("verilator",), "icarus": ("iverilog", "vvp")}


def require_simulators(simulators: list[str]) -> None:
    """:class:`~lutcore.base.tools.ToolMissing` for the first program any of ``simulators``
    lacks, before anything is built."""
    for simulator in simulators:
        for tool in SIMULATOR_TOOLS[simulator]:
            require(tool)


def _prepare_env(simulator: str) -> None:
    env = sim_env()
    os.environ["PATH"] = env["PATH"]
    os.environ["MAKEFLAGS"] = env["MAKEFLAGS"]
    require_simulators([simulator])


def build(
    cfg: TileConfig, simulator: str = "verilator", *, waves: bool = False, part: str = "tile"
) -> Build:
    """Emit the Verilog of the tile (or of one of its converters, ``part``) and build the
    simulation model (reused when up to date). ``waves`` (or ``WAVES=1`` in the environment)
    builds a separate, tracing model."""
    waves = waves or os.environ.get("WAVES", "") == "1"
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator={simulator!r}: allowed {', '.join(SIMULATORS)}")
    _prepare_env(simulator)
    top = part_name(cfg, part)
    directory = (BUILD_ROOT / simulator / (top + ("_waves" if waves else ""))).resolve()
    source = directory / f"{top}.v"
    text = part_verilog(cfg, part)
    if not source.exists() or source.read_text() != text:
        write_atomic(source, text)
    sources = [Verilog(source)]
    if simulator == "verilator":
        sources.insert(0, VerilatorControlFile(WAIVERS))
    runner = get_runner(simulator)
    _build_model(runner, sources=sources, hdl_toplevel=top, build_dir=directory, waves=waves)
    return Build(cfg, simulator, directory, waves, part)


def _build_model(runner, *, build_dir: Path, **kw) -> None:
    """``runner.build`` with the log in ``build_dir``; a failure names the log."""
    log = build_dir / "build.log"
    try:
        runner.build(build_dir=build_dir, timescale=("1ns", "1ps"), log_file=log, **kw)
    except RuntimeError as exc:  # cocotb says only "Command failed with return code: N"
        raise RuntimeError(
            f"building the {runner.__class__.__name__} model failed ({exc}); log {log}"
        ) from None


#: Verilator on a gate-level netlist: the cell models and the netlist are not lint-clean
#: (unused internal outputs, generated names); flip-flops start at random values
#: (``--x-initial unique`` with ``+verilator+rand+reset+2``), like silicon without a reset.
#: Only the top's ports are visible to the bench: cocotb's ``--public-flat-rw`` (every net
#: public) makes 100 MB of C++ out of 7,000 cells and a quarter of an hour to compile.
GATELEVEL_VERILATOR_ARGS = (
    "-Wno-fatal",
    "-Wno-lint",
    "-Wno-style",
    "--x-initial",
    "unique",
    "--no-public-flat-rw",
    "--public-depth",
    "1",
)


#: what a SAIF run records: the netlist's nets (the cells' pins), not the cell models' insides
SAIF_CONTROL = Path(__file__).with_name("verilator_saif.vlt")


def build_gatelevel(
    cfg: TileConfig,
    sources: list[Path],
    toplevel: str,
    simulator: str = "verilator",
    *,
    waves: bool = False,
    part: str = "tile",
    saif: bool = False,
) -> Build:
    """Build a simulation model of a mapped netlist: ``sources`` are its Verilog files
    (wrapper, netlist, cell models), ``toplevel`` the wrapper with the RTL's ports, so every
    bench of ``part`` of ``cfg`` runs on it unchanged. Icarus starts flip-flops at X,
    Verilator at random values. ``saif`` (Verilator): every run writes the switching
    activity of every net of the netlist to ``dump.saif`` in its run folder, and the
    flip-flops start at 0."""
    waves = waves or saif or os.environ.get("WAVES", "") == "1"
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator={simulator!r}: allowed {', '.join(SIMULATORS)}")
    if saif and simulator != "verilator":
        raise ValueError(f"saif with simulator={simulator!r}: only verilator writes SAIF")
    _prepare_env(simulator)
    suffix = "_saif" if saif else "_waves" if waves else ""
    directory = (BUILD_ROOT / simulator / (toplevel + suffix)).resolve()
    verilator = simulator == "verilator"
    args = list(GATELEVEL_VERILATOR_ARGS) if verilator else []
    files = [Verilog(path) for path in sources]
    if saif:  # Yosys names its nets _123_: Verilator skips those unless told
        args += ["--trace-saif", "--trace-underscore"]
        # the C++ of a traced netlist is large: unoptimized it compiles in half the time
        # (measured 170 s against 377 s for the default tile) and runs 35% slower
        args += ["-CFLAGS", "-O0"]
        files.insert(0, VerilatorControlFile(SAIF_CONTROL))
    _build_model(
        get_runner(simulator),
        sources=files,
        hdl_toplevel=toplevel,
        build_dir=directory,
        build_args=args,
        waves=waves,
    )
    # an activity run starts every flip-flop at 0: the activity file's first value is then
    # the netlist's real one (random values would each count as a toggle at time 0)
    plusargs = (f"+verilator+rand+reset+{0 if saif else 2}",) if verilator else ()
    return Build(cfg, simulator, directory, waves, part, toplevel, plusargs)


def _failure(log: Path) -> str:
    """The testbench's assertion message from a simulation log, if any."""
    text = log.read_text(errors="replace") if log.exists() else ""
    found = [ln.strip() for ln in text.splitlines() if "AssertionError:" in ln]
    return found[0] if found else "cocotb test failed or did not run"


def run_scenario(built: Build, scenario: Scenario, name: str = "run") -> dict:
    """Run ``scenario`` on a build; returns the testbench's measurements. Raises
    :class:`SimulationFailed` (with the log path) when any check fails."""
    if scenario.cfg != built.cfg or built.part != "tile":
        raise ValueError("scenario and build are for different configurations")
    return _run(built, "lutcore.sim.cocotb_tile", name, scenario.save)


def run_stream(
    built: Build,
    inputs: list[int],
    expected: list[int],
    *,
    name: str = "stream",
    seed: int = 0,
    p_gap: float = 0.0,
    p_stall: float = 0.0,
) -> dict:
    """Run a one-in, one-out stream component (a converter: ``i`` -> ``o``) on a build: the
    ``inputs`` payloads with random idle gaps, ``o`` read with random backpressure, every
    output payload compared with ``expected`` (the first mismatch reported with its index
    and both values). Raises :class:`SimulationFailed` when a check fails."""
    return run_streams(
        built, {"i": inputs}, {"o": expected}, name=name, seed=seed, p_gap=p_gap, p_stall=p_stall
    )


def run_streams(
    built: Build,
    inputs: dict[str, list[int]],
    expected: dict[str, list[int]],
    *,
    name: str = "streams",
    seed: int = 0,
    p_gap: float = 0.0,
    p_stall: float = 0.0,
) -> dict:
    """:func:`run_stream` with several streams: each input stream (by name, e.g. ``"cmd"``)
    driven with its payloads concurrently, each output stream's payloads compared in order
    with its expected list (the PIM tile's ``y`` and ``rsp``)."""
    data = {
        "inputs": {k: [hex(v) for v in vs] for k, vs in inputs.items()},
        "expected": {k: [hex(v) for v in vs] for k, vs in expected.items()},
        "seed": seed,
        "p_gap": p_gap,
        "p_stall": p_stall,
    }
    return _run(
        built, "lutcore.sim.cocotb_stream", name, lambda path: path.write_text(json.dumps(data))
    )


def run_toggle_count(
    built: Build, ports: list[str], cycles: int, *, clock: bool = True, name: str = "toggles"
) -> dict[str, int]:
    """Run the clock of a build for ``cycles`` cycles (``clock=False``: held low for as
    long) and return the toggles of each of ``ports`` as the testbench itself counted them
    (:mod:`lutcore.sim.cocotb_toggles`)."""
    data = {"cycles": cycles, "clock": clock, "ports": ports}
    report = _run(
        built, "lutcore.sim.cocotb_toggles", name, lambda path: path.write_text(json.dumps(data))
    )
    return report["toggles"]


def _run(built: Build, module: str, name: str, save) -> dict:
    run_dir = built.directory / "runs" / name
    run_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=run_dir) as tmp:
        scenario_path = Path(tmp) / "scenario.data"
        report_path = Path(tmp) / "report.json"
        save(scenario_path)
        results_xml = run_dir / "results.xml"
        log = run_dir / "sim.log"
        runner = get_runner(built.simulator)
        try:
            runner.test(
                test_module=module,
                hdl_toplevel=built.top,
                hdl_toplevel_lang="verilog",
                build_dir=built.directory,
                test_dir=run_dir,
                results_xml=str(results_xml),
                extra_env={
                    "LUTCORE_SCENARIO": str(scenario_path),
                    "LUTCORE_REPORT": str(report_path),
                },
                waves=built.waves,
                plusargs=list(built.plusargs),
                timescale=("1ns", "1ps"),
                log_file=log,
            )
        except SystemExit:  # the runner exits when a test failed under pytest
            raise SimulationFailed(f"{name}: {_failure(log)}; log {log}") from None
        tests, failed = get_results(results_xml)
        if tests == 0 or failed or not report_path.exists():
            raise SimulationFailed(f"{name}: {_failure(log)}; log {log}")
        return json.loads(report_path.read_text())
