"""The ``lutcore`` command: ``lutcore <subcommand> [config options]``.

Every subcommand that works on a tile takes ``--config FILE`` (TOML or JSON) and per-parameter
flags (``--M 4 --w-bits 3 --no-symmetric``...); flags override the file. The configuration,
the output location and the tools a command needs are checked before any work. Exit status:
0 done, 1 a failure (a tool, a point of a sweep), 2 bad input, 128 + the signal number when
interrupted (130 Ctrl-C, 143 SIGTERM).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import tempfile
from dataclasses import fields
from pathlib import Path

from lutcore import __version__
from lutcore.base.files import check_output_dir, check_output_file
from lutcore.base.tools import heartbeat, require
from lutcore.hw.config import CHOICES, DEFAULT_MAX_K, PARAMETERS, ConfigError, TileConfig, show
from lutcore.hw.units import UNITS

BUILD = Path("build")
#: above this estimate a tile takes minutes to emit and synthesize: say so before starting
LARGE_CELLS = 300_000
#: measured peak memory of synthesis and timing per estimated cell (bytes): OpenSTA holds
#: every instance of the hierarchical netlist (M8 N256 K16: 2.4 GiB for 2.27 M estimated)
BYTES_PER_CELL = 1_200
#: and their time per estimated cell (seconds; the same tile: 4 min 13 s)
SECONDS_PER_CELL = 1.2e-4


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _one_of(allowed, kind=str):
    """An argparse ``type`` taking one of ``allowed`` (argparse's own ``choices`` would
    echo a huge wrong value in full); use with ``metavar=_metavar(allowed)``."""

    def convert(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = text
        if value not in allowed:
            raise argparse.ArgumentTypeError(
                f"{show(value)}: allowed {', '.join(map(str, allowed))}"
            )
        return value

    return convert


def _metavar(allowed) -> str:
    return "{" + ",".join(map(str, allowed)) + "}"


def _parameter_types() -> dict[str, tuple[type, object, tuple[str, ...]]]:
    """Each configuration key but ``arch``: its type, its default (the LUT tile's, else
    the first arch's that takes it) and the archs that take it."""
    from lutcore.hw.arch import REGISTRY, applies_to

    out = {}
    for name in PARAMETERS[1:]:
        archs = applies_to(name)
        owner = REGISTRY["lut" if "lut" in archs else archs[0]].config
        field = {f.name: f for f in fields(owner)}[name]
        kind = {"bool": bool, "int": int, "str": str}[str(field.type).split(" |")[0]]
        out[name] = (kind, field.default, archs)
    return out


def add_config_options(parser: argparse.ArgumentParser) -> None:
    from lutcore.hw.arch import REGISTRY
    from lutcore.hw.presets import PRESETS

    group = parser.add_argument_group(
        "tile configuration (defaults: the paper's M2 N64 K4 LUT tile; a parameter that does "
        "not apply to the arch is refused)"
    )
    group.add_argument("--config", type=Path, help="TOML or JSON file of tile parameters")
    group.add_argument(
        "--preset",
        type=_one_of(list(PRESETS)),
        metavar="NAME",
        help=f"start from a named configuration: {', '.join(PRESETS)}",
    )
    group.add_argument(
        "--arch",
        type=_one_of(list(REGISTRY)),
        metavar=_metavar(REGISTRY),
        help="architecture (default lut)",
    )
    for name, (kind, default, archs) in _parameter_types().items():
        every = len(archs) == len(REGISTRY)
        shown = show(default)
        if default is None and name == "max_k":
            shown = f"the largest multiple of K up to {DEFAULT_MAX_K}"
        help_text = f"default {shown}" + ("" if every else f"; arch {', '.join(archs)}")
        if kind is bool:
            group.add_argument(
                _flag(name), dest=name, action=argparse.BooleanOptionalAction, help=help_text
            )
        else:
            allowed = CHOICES.get(name)
            group.add_argument(
                _flag(name),
                dest=name,
                type=kind if allowed is None else _one_of(allowed, kind),
                metavar=None if allowed is None else _metavar(allowed),
                help=help_text,
            )
    group.add_argument(
        "--force",
        action="store_true",
        help="elaborate a design larger than this machine's memory is estimated to hold",
    )


def config_from_args(args: argparse.Namespace) -> TileConfig:
    """The configuration of ``--preset`` or ``--config`` with the flags given on top,
    validated once after merging (so flags can complete a partial file)."""
    from lutcore.hw.config import config_from_dict, read_config_file
    from lutcore.hw.presets import preset

    if args.config and args.preset:
        raise ConfigError("give --config FILE or --preset NAME, not both")
    source = "configuration"
    data: dict = {}
    if args.config:
        data, source = read_config_file(args.config), f"config file {args.config}"
    elif args.preset:
        data = preset(args.preset).to_dict()
    flags = {name: getattr(args, name) for name in PARAMETERS if getattr(args, name) is not None}
    if args.preset and flags.get("arch", data["arch"]) != data["arch"]:
        raise ConfigError(
            f"--arch {flags['arch']} with --preset {args.preset} (arch {data['arch']})"
        )
    if flags and args.config:
        source += " with the flags given"
    try:
        cfg = config_from_dict(data | flags, source=source)
    except ConfigError as exc:
        raise ConfigError(_flag_names(str(exc))) from None
    _check_size(cfg, args.force)
    return cfg


def _check_size(cfg: TileConfig, force: bool) -> None:
    """Say what a large design will cost before elaborating it; refuse one that is not
    expected to fit in this machine's memory unless ``force``."""
    cells = cfg.estimated_cells
    if cells < LARGE_CELLS:
        return
    need = cells * BYTES_PER_CELL
    have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    cost = (
        f"{cfg.slug}: about {cells:,} cells; emitting and synthesizing it takes about "
        f"{cells * SECONDS_PER_CELL / 60:.0f} min and {need / 2**30:.1f} GiB"
    )
    if need > 0.8 * have and not force:
        raise ConfigError(
            f"{cost}, more than this machine's {have / 2**30:.0f} GiB allow; give --force to "
            "try anyway, or a smaller M, N, K"
        )
    print(f"[lutcore] large design: {cost}", flush=True)


def _flag_names(message: str) -> str:
    """``message`` with each parameter it names also spelled as its flag
    (``w_bits (--w-bits)=9``)."""
    for name in PARAMETERS:
        message = re.sub(rf"\b{name}=", f"{name} ({_flag(name)})=", message, count=1)
    return message


def cmd_verilog(args: argparse.Namespace) -> int:
    from lutcore.hw.emit import part_name, write_tile

    cfg = config_from_args(args)
    check_output_dir(args.out_dir, "output folder (-o)", ConfigError)
    with heartbeat(f"[verilog] elaborating {cfg.slug}"):
        path = write_tile(cfg, args.out_dir)
    print(f"wrote {path}, {path.with_suffix('.json')} and {path.with_suffix('.core')} (FuseSoC)")
    for part in cfg.parts[1:]:
        print(f"wrote {args.out_dir / part_name(cfg, part)}.v ({part.replace('_', ' ')})")
    return 0


def cmd_lint(args: argparse.Namespace) -> int:
    from lutcore.hw.emit import part_name, write_tile
    from lutcore.sim.lint import lint

    cfg = config_from_args(args)
    check_output_dir(args.out_dir, "output folder (-o)", ConfigError)
    require("verilator")  # before the elaboration, not after it
    with heartbeat(f"[lint] elaborating {cfg.slug}"):
        write_tile(cfg, args.out_dir)
    failed = 0
    for part in cfg.parts:
        path = args.out_dir / f"{part_name(cfg, part)}.v"
        findings = lint(path, part_name(cfg, part))
        for line in findings:
            print(line)
        print(f"{path}: {len(findings)} Verilator -Wall finding(s) beyond the documented waivers")
        failed |= bool(findings)
    return int(failed)


def cmd_ports(args: argparse.Namespace) -> int:
    from lutcore.docs import interface_markdown

    cfg = config_from_args(args)
    if args.output:
        check_output_file(args.output, "output file (-o)", ConfigError)
    text = interface_markdown(cfg)
    if args.output:
        from lutcore.base.files import write_atomic

        write_atomic(args.output, text)
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def cmd_diagram(args: argparse.Namespace) -> int:
    from lutcore.base.files import write_atomic
    from lutcore.diagram import blocks_svg
    from lutcore.docs import diagram_configs

    check_output_file(args.output, "output file (-o)", ConfigError)
    write_atomic(args.output, blocks_svg(diagram_configs()))
    print(f"wrote {args.output}")
    return 0


def cmd_formal(args: argparse.Namespace) -> int:
    from lutcore.sim.formal import FORMAL_CONFIGS, prove_lut_dot
    from lutcore.synth.equiv import EQUIV_CONFIGS, prove_tile

    for cfg in FORMAL_CONFIGS:
        prove_lut_dot(cfg)
        print(f"proved: LUT dot product == multiply reference for all inputs ({cfg.slug})")
    for cfg in EQUIV_CONFIGS:
        with tempfile.TemporaryDirectory(prefix="lutcore-equiv-") as tmp:
            found = prove_tile(cfg, Path(tmp))
        print(
            f"proved: mapped netlist == RTL from reset under every input sequence ({cfg.slug}: "
            f"{found['latches']} flip-flops in the miter)"
        )
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from lutcore.experiments.bench import run_bench

    cfg = config_from_args(args)
    check_output_dir(args.out_dir, "output folder (-o)", ConfigError)
    run_bench(cfg, args.out_dir, simulators=args.simulators)
    return 0


def cmd_layers(args: argparse.Namespace) -> int:
    from lutcore.experiments.layers import run_layers
    from lutcore.sim.model import ModelMissing

    if args.rtl_tokens < 0 or args.rtl_columns < 1:
        raise ConfigError(
            f"--rtl-tokens {args.rtl_tokens} --rtl-columns {args.rtl_columns}: allowed "
            "tokens >= 0 and columns >= 1"
        )
    check_output_dir(args.out_dir, "output folder (-o)", ConfigError)
    try:
        run_layers(args.out_dir, rtl_tokens=args.rtl_tokens, rtl_columns=args.rtl_columns)
    except ModelMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out_dir / 'errors.md'} and errors.csv")
    return 0


def cmd_pim(args: argparse.Namespace) -> int:
    from lutcore.experiments.pim import run_pim_bench
    from lutcore.sim.model import ModelMissing

    check_output_dir(args.out_dir, "output folder (-o)", ConfigError)
    try:
        run_pim_bench(args.out_dir, synth=not args.no_synth)
    except ModelMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out_dir / 'pim.md'}, patterns.csv and gemv.csv")
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from lutcore.synth.liberty import DEFAULT_LIBERTY, LibertyError
    from lutcore.synth.report import run_synth

    cfg = config_from_args(args)
    if args.fpga is None and args.fpga_seeds != [1, 2, 3]:
        raise ConfigError("--fpga-seeds is for the ECP5 estimate: give --fpga too")
    check_output_dir(args.out_dir, "output folder (-o)", ConfigError)
    try:
        run_synth(
            cfg,
            args.out_dir,
            liberty=args.liberty or DEFAULT_LIBERTY,
            clock_ns=args.clock_ns,
            fpga_device=args.fpga,
            fpga_seeds=tuple(args.fpga_seeds),
            units=args.units,
        )
    except (LibertyError, ValueError) as exc:
        raise ConfigError(str(exc)) from None
    return 0


def cmd_power(args: argparse.Namespace) -> int:
    from lutcore.experiments.power import run_power
    from lutcore.sim.model import ModelMissing
    from lutcore.synth.liberty import DEFAULT_LIBERTY, LibertyError

    cfg = config_from_args(args)
    check_output_dir(args.out_dir, "output folder (-o)", ConfigError)
    try:
        run_power(
            cfg,
            args.out_dir,
            workload=args.workload,
            activity=args.activity,
            clock_ns=args.clock_ns,
            liberty=args.liberty or DEFAULT_LIBERTY,
        )
    except (LibertyError, ValueError) as exc:
        raise ConfigError(str(exc)) from None
    except ModelMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_qor(args: argparse.Namespace) -> int:
    from lutcore.synth.qor import run_qor

    check_output_dir(args.out_dir, "output folder (-o)", ConfigError)
    try:
        problems = run_qor(args.out_dir, update=args.update)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    for line in problems:
        print(line)
    if not args.update:
        print(f"QoR: {len(problems)} figure(s) outside tolerance of the committed baseline")
    return 1 if problems else 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from lutcore.synth.liberty import LibertyError
    from lutcore.synth.plots import write_plots
    from lutcore.synth.summary import write_summary
    from lutcore.synth.sweep import (
        DEFAULT_SPEC,
        PowerHook,
        SweepError,
        grid_spec,
        load_spec,
        run_sweep,
    )

    power = None
    if args.power is not None:
        import functools

        from lutcore.experiments.power import power_columns
        from lutcore.sim.runner import require_simulators

        require("sta")
        require_simulators(["verilator"])
        power = PowerHook(args.power, functools.partial(power_columns, workload=args.power))
    try:
        if args.grid and args.spec:
            raise SweepError("give --spec FILE or --grid KEY=VALUES flags, not both")
        spec = (
            grid_spec(args.grid, args.name) if args.grid else load_spec(args.spec or DEFAULT_SPEC)
        )
        print(
            f"[sweep] {spec.name}: {len(spec.points)} points, -j {args.jobs}"
            + (f", Dask scheduler {args.scheduler}" if args.scheduler else "")
        )
        rows = run_sweep(
            spec,
            args.out_dir,
            jobs=args.jobs,
            scheduler=args.scheduler,
            connect_timeout=args.connect_timeout,
            retry_failed=args.retry_failed,
            power=power,
        )
    except (SweepError, LibertyError) as exc:
        raise ConfigError(str(exc)) from None
    folder = args.out_dir / spec.name
    plots = write_plots(rows, folder)
    summary = write_summary(rows, folder, spec.name)
    failed = sum(r["status"] != "ok" for r in rows)
    print(
        f"[sweep] {len(rows) - failed} ok, {failed} failed; wrote {folder}/results.csv, "
        f"results.json, {summary.name} and {len(plots)} plot files"
    )
    if failed:
        print(
            f"[sweep] the errors are in results.csv and {summary.name}; failed points are "
            "cached as failed: add --retry-failed to run them again",
            file=sys.stderr,
        )
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    from lutcore.sim.scenario import WORKLOADS
    from lutcore.synth.power import ACTIVITIES

    parser = argparse.ArgumentParser(prog="lutcore", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"lutcore {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("verilog", help="emit <slug>.v and <slug>.json for a tile")
    add_config_options(p)
    p.add_argument("-o", "--out-dir", type=Path, default=BUILD / "verilog", help="output folder")
    p.set_defaults(func=cmd_verilog)

    p = sub.add_parser("lint", help="emit and run verilator --lint-only -Wall")
    add_config_options(p)
    p.add_argument("-o", "--out-dir", type=Path, default=BUILD / "verilog", help="output folder")
    p.set_defaults(func=cmd_lint)

    p = sub.add_parser("ports", help="the tile's interface documentation (Markdown)")
    add_config_options(p)
    p.add_argument("-o", "--output", type=Path, help="write to this file instead of stdout")
    p.set_defaults(func=cmd_ports)

    p = sub.add_parser("diagram", help="the block diagram of every architecture (SVG)")
    p.add_argument("-o", "--output", type=Path, default=Path("docs/blocks.svg"), help="output file")
    p.set_defaults(func=cmd_diagram)

    p = sub.add_parser("synth", help="Yosys area per block, OpenSTA timing, report")
    add_config_options(p)
    p.add_argument("--liberty", type=Path, default=None, help="liberty (.lib or .lib.gz)")
    p.add_argument("--clock-ns", type=float, default=5.0, help="clock target for ABC and STA")
    p.add_argument(
        "--fpga",
        metavar="DEVICE",
        nargs="?",
        const="85k",
        help="add an ECP5 estimate (nextpnr out of context); DEVICE 12k/25k/45k/85k, default 85k",
    )
    p.add_argument(
        "--fpga-seeds", type=int, nargs="+", default=[1, 2, 3], help="nextpnr seeds (median)"
    )
    p.add_argument(
        "--units",
        choices=UNITS,
        default="shared",
        help="shared: map each repeated unit (an array column) once; flat: every copy, each "
        "block flattened (the per-block flow, for comparison; slow on large arrays)",
    )
    p.add_argument("-o", "--out-dir", type=Path, default=BUILD / "reports", help="output folder")
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser(
        "power", help="power per block, pJ/MAC and TOPS/W from the netlist's simulated activity"
    )
    add_config_options(p)
    for flag, allowed, default, text in (
        (
            "--workload",
            WORKLOADS,
            "layer",
            "data the netlist runs: a real MiniLM layer (default), uniform random, all zeros",
        ),
        (
            "--activity",
            ACTIVITIES,
            "simulated",
            "simulated (gate-level Verilator, default) or vectorless (OpenSTA's propagation)",
        ),
    ):
        p.add_argument(
            flag, default=default, type=_one_of(allowed), metavar=_metavar(allowed), help=text
        )
    p.add_argument("--liberty", type=Path, default=None, help="liberty with power data")
    p.add_argument(
        "--clock-ns", type=float, default=None, help="also report at this clock period (ns)"
    )
    p.add_argument("-o", "--out-dir", type=Path, default=BUILD / "reports", help="output folder")
    p.set_defaults(func=cmd_power)

    p = sub.add_parser("qor", help="synthesize the QoR designs, compare with the baseline")
    p.add_argument("--update", action="store_true", help="rewrite synth/qor_baseline.json")
    p.add_argument("-o", "--out-dir", type=Path, default=BUILD / "reports", help="output folder")
    p.set_defaults(func=cmd_qor)

    p = sub.add_parser("sweep", help="LUT/MAC design-space sweep: results, plots, summary")
    p.add_argument("--spec", type=Path, help="sweep spec (TOML/JSON); default: the small grid")
    p.add_argument(
        "--grid",
        action="append",
        metavar="KEY=V1,V2",
        help="one grid from flags instead of a spec, e.g. --grid arch=lut,mac --grid w_bits=1,2",
    )
    p.add_argument(
        "--name",
        default="cli",
        help="sweep name with --grid (its output folder): a letter or digit, then letters, "
        "digits, - and _, up to 64",
    )
    p.add_argument("-j", "--jobs", type=int, default=1, help="local worker processes")
    p.add_argument("--scheduler", help="Dask scheduler address (tcp://host:8786) instead")
    p.add_argument(
        "--connect-timeout",
        type=float,
        default=10.0,
        help="seconds to wait for the Dask scheduler (default 10)",
    )
    p.add_argument("--retry-failed", action="store_true", help="rerun points that failed")
    p.add_argument(
        "--power",
        metavar=_metavar(WORKLOADS),
        type=_one_of(WORKLOADS),
        help="also simulate every point's netlist on this workload: power, pJ/MAC, TOPS/W "
        "(minutes per point)",
    )
    p.add_argument("-o", "--out-dir", type=Path, default=BUILD / "sweep", help="output folder")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser(
        "formal",
        help="prove LUT dot products equal multiply references, and small tiles' mapped "
        "netlists equal their RTL",
    )
    p.set_defaults(func=cmd_formal)

    p = sub.add_parser("layers", help="real MiniLM layers through the FP path: error table")
    p.add_argument("-o", "--out-dir", type=Path, default=BUILD / "layers", help="output folder")
    p.add_argument("--rtl-tokens", type=int, default=0, help="also run N tokens on the RTL")
    p.add_argument("--rtl-columns", type=int, default=16, help="output columns on the RTL")
    p.set_defaults(func=cmd_layers)

    p = sub.add_parser("pim", help="PIM tile: pattern-aware saving, batched GEMV cycles")
    p.add_argument("-o", "--out-dir", type=Path, default=BUILD / "pim", help="output folder")
    p.add_argument(
        "--no-synth", action="store_true", help="skip the converters' synthesis (minutes)"
    )
    p.set_defaults(func=cmd_pim)

    p = sub.add_parser("bench", help="simulation throughput and array utilization")
    add_config_options(p)
    p.add_argument(
        "--simulators",
        nargs="+",
        default=["verilator", "icarus"],
        type=_one_of(("verilator", "icarus")),
        metavar="{verilator,icarus}",
    )
    p.add_argument("-o", "--out-dir", type=Path, default=BUILD / "bench", help="output folder")
    p.set_defaults(func=cmd_bench)
    return parser


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived; ``signum`` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _interrupt(signum, frame):
    raise Interrupted(signum)


def main(argv: list[str] | None = None) -> int:
    from lutcore.base import procs

    # progress lines of long runs must show up when the output goes to a file or a pipe
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)
    parser = build_parser()
    args = parser.parse_args(argv)
    # Ctrl-C and `kill` (SIGTERM) stop alike: running tools are ended, partial outputs
    # dropped, finished sweep points kept; the exit status says which signal
    previous = {s: signal.signal(s, _interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        return args.func(args)
    except ConfigError as exc:
        parser.exit(2, f"lutcore: error: {exc}\n")
    except RuntimeError as exc:  # missing tools, tool failures: say what and where
        parser.exit(1, f"lutcore: error: {exc}\n")
    except OSError as exc:  # the environment: a full disk, a file system refusing a write
        where = f"{exc.filename}: " if exc.filename else ""
        parser.exit(1, f"lutcore: error: {where}{exc.strerror or exc}\n")
    except KeyboardInterrupt as exc:
        signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
        procs.end_all()
        parser.exit(128 + signum, f"lutcore: interrupted ({signal.Signals(signum).name})\n")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())
