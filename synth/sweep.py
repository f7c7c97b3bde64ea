"""Design-space sweeps: every grid point emitted, synthesized, timed and reported.

A sweep spec (TOML or JSON) names the sweep and lists one or more ``[[grid]]`` tables; each
is the cartesian product of its parameter lists (a scalar is a one-element list) over the
configuration parameters (:data:`lutcore.hw.config.PARAMETERS`), plus two conveniences:

* ``planes_per_cycle = "w_bits"`` means bit-parallel at each weight width;
* ``mnk = 512`` (instead of ``M``/``N``/``K``) means every power-of-two shape with
  ``M*N*K = 512`` that the point's ``g`` allows (``K`` a multiple of ``g`` for LUT tiles),
  limited by ``mnk_max_m`` (default 8), ``mnk_min_k`` and ``mnk_max_k`` (default any).

``lutcore sweep --grid KEY=V1,V2 ...`` builds one grid from flags instead.

Optional top-level keys: ``clock_ns`` (default 5.0) and ``liberty`` (a path; default the
compact library). Every point is validated before anything runs; an impossible point is
reported with its grid and reason. Points that name the same design (e.g. MAC points that
differ only in ``g``) run once.

Each finished point is cached as ``points/<key>.json`` under the sweep's folder, ``key``
hashing the configuration, clock, liberty contents, tool versions and the generator and
flow sources: an interrupted sweep
resumes without recomputing them, and a failed point is recorded with its error (it is
retried only with ``retry_failed``). A cached row is checked against its configuration
and the result schema when read (:func:`row_problem`); a damaged one is reported and
recomputed. Points run in local processes (``jobs``) or on a Dask cluster (``scheduler``
address); results go to ``results.csv`` and ``results.json``, written only for the whole
set. A sweep holds a lock on its folder (:func:`folder_lock`). Interrupted, a local sweep
ends its workers and their tools at once and keeps every point finished before the stop;
a worker also ends when its parent dies.

With a :class:`PowerHook` (``lutcore sweep --power WORKLOAD``) every point also runs its
netlist on the workload and its row gains power columns (``power_mw``, ``pj_per_mac``,
``tops_per_w``...); the workload is part of the point's key.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import hashlib
import io
import itertools
import json
import multiprocessing
import os
import re
import signal
import threading
import time
import urllib.parse
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from lutcore import __version__
from lutcore.base import procs
from lutcore.base.files import check_output_dir, read_table_file, write_atomic
from lutcore.base.tools import ToolMissing
from lutcore.base.yosys import YosysError
from lutcore.hw.arch import REGISTRY, applies_to
from lutcore.hw.config import PARAMETERS, ConfigError, TileConfig, show

from .flow import liberty_digest
from .liberty import DEFAULT_LIBERTY, LibertyError, check_liberty

__all__ = [
    "COLUMNS",
    "DEFAULT_SPEC",
    "PowerHook",
    "SweepError",
    "SweepSpec",
    "check_scheduler",
    "grid_spec",
    "load_spec",
    "row_problem",
    "run_point",
    "run_sweep",
]

#: the small default grid of `make sweep`; `make sweep-full` runs ``sweeps/full.toml``
DEFAULT_SPEC = Path(__file__).with_name("sweeps") / "default.toml"

_PARAMS = set(PARAMETERS)
_EXTRA = {"mnk", "mnk_max_m", "mnk_max_n", "mnk_min_k", "mnk_max_k"}

#: result columns, in CSV order
COLUMNS = [
    "slug",
    "status",
    *PARAMETERS,
    "area_um2",
    "area_by_block",
    "critical_path_ns",
    "fmax_mhz",
    "timing_source",
    "weight_bit_macs_per_cycle",
    "macs_per_cycle",
    "bits_per_weight",
    "tops",
    "tops_per_mm2",
    "sram_area_um2",
    "sram_banks",
    "sram_bits",
    "tops_per_mm2_logic",
    "fmax_logic_only_mhz",
    "seconds",
    "error",
]


class SweepError(ValueError):
    """A malformed sweep spec or an impossible grid point (names the file, grid and why)."""


@dataclass(frozen=True)
class PowerHook:
    """What a sweep adds per point for power: ``name`` (the workload; part of each point's
    key) and ``measure(cfg, reports, liberty, report) -> columns`` (a picklable function
    of the layer above, which simulates the point's netlist)."""

    name: str
    measure: object


@dataclass
class SweepSpec:
    name: str
    points: list[TileConfig]
    clock_ns: float = 5.0
    liberty: Path = DEFAULT_LIBERTY


def _shapes(mnk: int, g: int | None, limits: dict) -> list[tuple[int, int, int]]:
    """Power-of-two ``(M, N, K)`` with ``M*N*K == mnk`` within ``limits`` (``K`` a multiple
    of ``g`` for a table design)."""
    powers = [1 << i for i in range(mnk.bit_length())]
    out = []
    for m, k in itertools.product(powers, powers):
        n, rest = divmod(mnk, m * k)
        if rest or n < 1 or m > limits.get("mnk_max_m", 8) or (g and k % g):
            continue
        if n > limits.get("mnk_max_n", mnk):
            continue
        if not limits.get("mnk_min_k", 1) <= k <= limits.get("mnk_max_k", mnk):
            continue
        out.append((m, n, k))
    return sorted(out)


def _grid_points(grid: dict, where: str) -> list[TileConfig]:
    unknown = sorted(set(grid) - _PARAMS - _EXTRA)
    if unknown:
        raise SweepError(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed: "
            f"{', '.join(sorted(_PARAMS | _EXTRA))}"
        )
    if "mnk" in grid and {"M", "N", "K"} & set(grid):
        raise SweepError(f"{where}: give either mnk or M/N/K, not both")
    axes = {}
    for key, value in grid.items():
        if key in _EXTRA:
            continue
        values = value if isinstance(value, list) else [value]
        if not values:
            raise SweepError(f"{where}: {key} is an empty list")
        axes[key] = values
    mnk = grid.get("mnk")
    for key in _EXTRA - {"mnk"}:
        if key in grid and (mnk is None or not isinstance(grid[key], int) or grid[key] < 1):
            raise SweepError(f"{where}: {key}={show(grid[key])}: a positive integer, with mnk")
    volumes = mnk if isinstance(mnk, list) and mnk else [mnk]
    for v in volumes if mnk is not None else []:
        if not isinstance(v, int) or isinstance(v, bool) or v < 1 or v & (v - 1):
            raise SweepError(
                f"{where}: mnk={show(mnk)}: must be a power of two (or a list of them)"
            )
    # A grid over several archs: a key applies to the points of the archs that take it (a
    # MAC point has no g); a key no arch of the grid takes is refused by name.
    archs = [a for a in axes.get("arch", ["lut"]) if a in REGISTRY]
    for key in axes:
        if (
            key != "arch"
            and archs
            and not any(key in REGISTRY[a].config.parameters() for a in archs)
        ):
            raise SweepError(
                f"{where}: {key} applies to arch {', '.join(applies_to(key))} only, not to "
                f"this grid's {', '.join(archs)}"
            )
    points: list[TileConfig] = []
    for combo in itertools.product(*axes.values()):
        params = dict(zip(axes, combo, strict=True))
        if params.get("arch", "lut") in REGISTRY:
            own = REGISTRY[params.get("arch", "lut")].config.parameters()
            params = {k: v for k, v in params.items() if k in own}
        if params.get("planes_per_cycle") == "w_bits":
            params["planes_per_cycle"] = params.get("w_bits", TileConfig.w_bits)
        shapes = [{}]
        if mnk is not None:
            arch = REGISTRY.get(params.get("arch", "lut"))
            tables = arch is not None and arch.config.uses_tables
            g = params.get("g", arch.config.g) if tables else None
            shapes = [dict(M=m, N=n, K=k) for v in volumes for m, n, k in _shapes(v, g, grid)]
            if not shapes:
                point = ", ".join(f"{k}={show(v)}" for k, v in params.items())
                raise SweepError(f"{where}: no shape with M*N*K={mnk} for {point}")
        for shape in shapes:
            try:
                point = TileConfig.from_dict(params | shape)
            except ConfigError as exc:
                point = ", ".join(f"{k}={show(v)}" for k, v in (params | shape).items())
                raise SweepError(f"{where}: impossible point {point}: {exc}") from None
            if point not in points:  # an axis that does not apply repeats a point
                points.append(point)
    return points


def spec_from_dict(data: dict, source: str) -> SweepSpec:
    """Validate a parsed spec; every point is built (and so checked) here."""
    allowed = {"name", "clock_ns", "liberty", "grid"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise SweepError(f"{source}: unknown key(s) {', '.join(unknown)}; allowed: {allowed}")
    name = data.get("name", "sweep")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", name):
        raise SweepError(
            f"{source}: name={show(name)}: a letter or digit, then letters, digits, - and _ "
            "(up to 64 characters: it names the output folder)"
        )
    grids = data.get("grid")
    if not isinstance(grids, list) or not grids or not all(isinstance(g, dict) for g in grids):
        raise SweepError(f"{source}: needs one or more [[grid]] tables")
    clock_ns = data.get("clock_ns", 5.0)
    if not isinstance(clock_ns, int | float) or not 0.1 <= clock_ns <= 1000:
        raise SweepError(f"{source}: clock_ns={show(clock_ns)}: allowed 0.1..1000")
    liberty = Path(data["liberty"]) if "liberty" in data else DEFAULT_LIBERTY
    check_liberty(liberty)
    points, seen = [], set()
    for i, grid in enumerate(grids):
        for cfg in _grid_points(grid, f"{source} [[grid]] #{i + 1}"):
            if cfg.slug not in seen:  # e.g. MAC points differing only in g
                seen.add(cfg.slug)
                points.append(cfg)
    return SweepSpec(name=name, points=points, clock_ns=float(clock_ns), liberty=liberty)


def grid_spec(flags: list[str], name: str = "cli") -> SweepSpec:
    """One grid from ``KEY=V1,V2`` strings (integers, true/false and words as in TOML)."""
    grid = {}
    for flag in flags:
        key, sep, values = flag.partition("=")
        if not sep or not key or not values:
            raise SweepError(f"--grid {show(flag)}: expected KEY=VALUE[,VALUE...]")
        if key.strip() in grid:
            raise SweepError(f"--grid {key.strip()} given twice: give one --grid KEY=V1,V2,...")
        grid[key.strip()] = [_scalar(v.strip()) for v in values.split(",")]
    return spec_from_dict({"name": name, "grid": [grid]}, "--grid flags")


def _scalar(text: str):
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return int(text)
    except ValueError:
        return text


def load_spec(path: Path) -> SweepSpec:
    """Read and validate a TOML or JSON sweep spec."""
    data = read_table_file(path, "sweep spec", SweepError)
    if not isinstance(data, dict):
        raise SweepError(f"sweep spec {path}: expected a table")
    return spec_from_dict(data, f"sweep spec {path}")


#: sources whose change changes a point's result: the generator and the synthesis flow
_RESULT_SOURCES = (
    "flow.py",
    "fanout.py",
    "liberty.py",
    "netlist.py",
    "report.py",
    "power.py",
    "sram.py",
)


def _tools() -> dict:
    """What a cached point depends on besides its configuration: tool versions and a digest
    of the generator and flow sources (a changed RTL generator invalidates the cache even
    when the version number did not move)."""
    from lutcore.base.yosys import yosys_version
    from lutcore.hw import config as hw_config

    from .report import sta_version

    here = Path(__file__).parent
    sources = sorted(Path(hw_config.__file__).parent.rglob("*.py"))
    sources += [here / name for name in _RESULT_SOURCES]
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()[:16]
    return {
        "lutcore": __version__,
        "sources": digest,
        "yosys": yosys_version(),
        "opensta": sta_version(),
    }


def point_key(
    cfg: TileConfig, clock_ns: float, liberty_sha: str, tools: dict, power: str | None = None
) -> str:
    extra = [power] if power else []  # keys of sweeps without power stay as they were
    blob = json.dumps([cfg.to_dict(), clock_ns, liberty_sha, tools, *extra], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


#: design failures a point records (and the sweep goes on); anything else (a full disk, a
#: missing tool, a file system that refuses writes) stops the sweep instead of being cached
#: as the point's failure
_POINT_FAILURES = (ConfigError, YosysError, LibertyError, RuntimeError, ValueError, MemoryError)
_ENVIRONMENT = (OSError, ToolMissing)


def run_point(cfg: TileConfig, reports: Path, liberty: Path, clock_ns: float, power=None) -> dict:
    """Synthesize one point and return its result row; a design failure is a row with its
    error (paths in it relative to the sweep folder). ``power``: a function
    ``(cfg, reports, liberty, report) -> columns`` that measures the synthesized point's
    power (the CLI's ``--power``; it lives above this layer)."""
    from .report import run_synth

    row = {"slug": cfg.slug, **cfg.to_dict()}
    started = time.perf_counter()
    try:
        rep = run_synth(cfg, reports, liberty=liberty, clock_ns=clock_ns, progress=lambda _: None)
        extra = power(cfg, reports, liberty, rep) if power is not None else {}
    except _ENVIRONMENT:
        raise
    except _POINT_FAILURES as exc:  # recorded, not raised: one bad point must not stop the sweep
        error = f"{type(exc).__name__}: {exc}"
        for folder in {str(reports.parent.resolve()), str(reports.parent)}:
            error = error.replace(folder + "/", "")
        return row | {
            "status": "failed",
            "error": error[:2000],
            "seconds": round(time.perf_counter() - started, 1),
        }
    thr = rep["throughput"]
    return row | {
        "status": "ok",
        "area_um2": rep["area_um2"]["total"],
        "area_by_block": rep["area_um2"]["by_block"],
        "critical_path_ns": rep["timing"]["critical_path_ns"],
        "fmax_mhz": rep["timing"]["fmax_mhz"],
        "timing_source": rep["timing"]["source"],
        "weight_bit_macs_per_cycle": thr["weight_bit_macs_per_cycle"],
        "macs_per_cycle": thr["macs_per_cycle"],
        "bits_per_weight": thr["bits_per_weight"],
        "tops": thr["tops"],
        "tops_per_mm2": thr["tops_per_mm2"],
        # the PIM tile's SRAM is an estimate beside the synthesized logic (the density above
        # includes it); the logic-only density is what a PIM cache adds to its SRAM
        "sram_area_um2": rep.get("sram", {}).get("area_um2", 0.0),
        "sram_banks": rep.get("sram", {}).get("banks", 0),
        "sram_bits": rep.get("sram", {}).get("bits", 0),
        "tops_per_mm2_logic": round(thr["tops"] / (rep["area_um2"]["total"] * 1e-6), 4),
        # the PIM tile is timed with its banks' read; this is its Fmax with the ports free
        "fmax_logic_only_mhz": rep["timing"].get("logic_only", {}).get("fmax_mhz", ""),
        **extra,
        "seconds": round(time.perf_counter() - started, 1),
        "error": "",
    }


#: the figures an ``ok`` row must carry, as positive numbers
_OK_FIGURES = ("area_um2", "critical_path_ns", "fmax_mhz", "macs_per_cycle", "tops")


def row_problem(row: object, cfg: TileConfig) -> str | None:
    """Why the cached ``row`` is not a result of ``cfg`` (None when it is one): wrong type,
    another configuration, an unknown status or missing figures."""
    if not isinstance(row, dict):
        return f"a {type(row).__name__}, not a result table"
    if row.get("slug") != cfg.slug:
        return f"slug {show(row.get('slug'))}, not this point's {cfg.slug}"
    wrong = [k for k, v in cfg.to_dict().items() if row.get(k, object()) != v]
    if wrong:
        return f"configuration differs in {', '.join(wrong)}"
    status = row.get("status")
    if status == "failed":
        return None if isinstance(row.get("error"), str) and row["error"] else "no error text"
    if status != "ok":
        return f'status {show(status)}: allowed "ok", "failed"'
    bad = [
        k
        for k in _OK_FIGURES
        if not isinstance(row.get(k), int | float) or isinstance(row.get(k), bool) or row[k] <= 0
    ]
    if bad or not isinstance(row.get("area_by_block"), dict):
        return f"missing or non-positive {', '.join(bad or ['area_by_block'])}"
    return None


def _cached(path: Path, cfg: TileConfig, say) -> dict | None:
    """The valid cached row at ``path``, or None (a damaged one is reported and recomputed)."""
    if not path.exists():
        return None
    try:
        row = read_table_file(path, "cached point", SweepError)
    except SweepError as exc:
        say(f"[sweep] {exc}; recomputing it")
        return None
    problem = row_problem(row, cfg)
    if problem:
        say(f"[sweep] cached point {path}: {problem}; recomputing it")
        return None
    return row


@contextlib.contextmanager
def folder_lock(folder: Path):
    """Hold the sweep folder for this process; a second sweep of the same folder is refused
    with the holder's PID (the lock goes with the process, however it ends)."""
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise SweepError(
                f"sweep folder {folder} is in use by another sweep (PID {holder}); wait for "
                "it to finish or give another --name / -o"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


_SCHEMES = ("tcp", "tls", "ws", "wss")


def check_scheduler(address: str) -> None:
    """Refuse a Dask scheduler address that is not ``SCHEME://HOST:PORT`` (scheme tcp, tls,
    ws or wss), before anything is created."""
    parts = urllib.parse.urlsplit(address)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in _SCHEMES or not parts.hostname or port is None or port == 0:
        raise SweepError(
            f"--scheduler {show(address)}: expected SCHEME://HOST:PORT with scheme "
            f"{', '.join(_SCHEMES)}, e.g. tcp://127.0.0.1:8786"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise SweepError(f"--scheduler {show(address)}: nothing may follow HOST:PORT")


def _worker_init(parent: int, stop) -> None:
    """A local worker: Ctrl-C is the parent's to handle, SIGTERM ends the worker (its tools
    follow), and the worker ends with its tools when the parent stops it or dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    threading.Thread(target=_watch_parent, args=(parent, stop), daemon=True).start()


def _watch_parent(parent: int, stop) -> None:
    while not stop.wait(0.2):
        if os.getppid() != parent:
            break
    procs.end_all()
    os._exit(1)


def _csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: json.dumps(v) if isinstance(v, dict) else v for k, v in row.items()})
    return out.getvalue()


def run_sweep(
    spec: SweepSpec,
    out_root: Path,
    *,
    jobs: int = 1,
    scheduler: str | None = None,
    connect_timeout: float = 10.0,
    retry_failed: bool = False,
    progress: bool = True,
    power: PowerHook | None = None,
) -> list[dict]:
    """Run ``spec`` into ``out_root/<name>/`` (see the module docstring); returns the rows in
    spec order. Interrupted (Ctrl-C, SIGTERM), it stops the running points and their tools,
    keeps every finished point in the cache and re-raises; the results files are only
    written for the whole set."""
    if jobs < 1:
        raise SweepError(f"jobs={jobs}: at least 1")
    if scheduler is not None:
        check_scheduler(scheduler)
    if not 0 < connect_timeout <= 3600:
        raise SweepError(f"connect_timeout={connect_timeout}: allowed 0 < seconds <= 3600")
    folder = out_root / spec.name
    check_output_dir(folder, "sweep folder", SweepError)
    folder.mkdir(parents=True, exist_ok=True)
    with folder_lock(folder):
        return _run_locked(
            spec, folder, jobs, scheduler, connect_timeout, retry_failed, progress, power
        )


def _run_locked(spec, folder, jobs, scheduler, connect_timeout, retry_failed, progress, power):
    cache = folder / "points"
    cache.mkdir(exist_ok=True)
    tools = _tools()
    lib_sha = liberty_digest(spec.liberty)
    workload = power.name if power else None
    keys = [point_key(cfg, spec.clock_ns, lib_sha, tools, workload) for cfg in spec.points]
    say = tqdm.write if progress else (lambda _: None)
    rows: dict[str, dict] = {}
    for key, cfg in zip(keys, spec.points, strict=True):
        row = _cached(cache / f"{key}.json", cfg, say)
        if row is not None and (row["status"] == "ok" or not retry_failed):
            rows[key] = row
    todo = [(k, cfg) for k, cfg in zip(keys, spec.points, strict=True) if k not in rows]
    client = _connect(scheduler, connect_timeout) if todo and scheduler else None
    bar = tqdm(
        total=len(keys),
        initial=len(keys) - len(todo),
        desc=f"sweep {spec.name}",
        unit="pt",
        disable=not progress,
        dynamic_ncols=True,
    )
    args = (folder / "reports", spec.liberty, spec.clock_ns, power.measure if power else None)

    def finished(key: str, row: dict) -> None:
        if key in rows:
            return
        write_atomic(cache / f"{key}.json", json.dumps(row, indent=1) + "\n")
        rows[key] = row
        bar.update()
        failed = sum(r["status"] != "ok" for r in rows.values())
        bar.set_postfix_str(f"{row['slug']} {row['status']}, {failed} failed")

    try:
        if client is not None:
            _run_dask(client, todo, args, finished)
        elif todo:
            _run_local(todo, args, jobs, finished)
    except BaseException:
        bar.close()
        say(
            f"[sweep] stopped: {len(rows)} of {len(keys)} points are in {cache}; "
            "run the same command again to resume"
        )
        raise
    bar.close()
    ordered = [rows[k] for k in keys]
    write_atomic(folder / "results.json", json.dumps(ordered, indent=1) + "\n")
    write_atomic(folder / "results.csv", _csv(ordered))
    return ordered


def _run_local(todo, args, jobs, finished) -> None:
    ctx = multiprocessing.get_context()
    stop = ctx.Event()
    pool = ProcessPoolExecutor(
        max_workers=min(jobs, len(todo)),
        mp_context=ctx,
        initializer=_worker_init,
        initargs=(os.getpid(), stop),
    )
    futures = {pool.submit(run_point, cfg, *args): k for k, cfg in todo}
    try:
        for future in as_completed(futures):
            finished(futures[future], future.result())
    except BaseException:
        stop.set()  # the workers end their tools and exit now; a point in progress is lost
        for future, key in futures.items():  # a result that arrived before the stop is kept
            if future.done() and not future.cancelled() and future.exception() is None:
                finished(key, future.result())
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _connect(scheduler: str, timeout: float):
    """A Dask client of ``scheduler``, or one line saying why there is none."""
    from distributed import Client

    try:
        return Client(scheduler, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        raise SweepError(
            f"Dask scheduler {scheduler}: no connection within {timeout:g} s ({reason})"
        ) from None


def _run_dask(client, todo, args, finished) -> None:
    from distributed import as_completed as dask_completed

    with client:
        futures = {client.submit(run_point, cfg, *args, pure=False): k for k, cfg in todo}
        try:
            for future in dask_completed(futures):
                finished(futures[future], future.result())
        except BaseException:
            client.cancel(list(futures))
            raise
