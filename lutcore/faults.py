"""``make faults``: the CLI under bad input and signals, as a table (beside the CLI it drives).

Every input of :func:`bad_inputs` (unreadable, endless or damaged files, impossible output
paths, malformed names, grids and addresses, out-of-range parameters) goes through
``lutcore`` in this process and is classified: a *clear error* exits non-zero with a
message of at most three lines and no traceback; anything else is a *bad behaviour*. Then
sweeps of four small points are stopped by SIGINT (to the process group, as Ctrl-C) and
SIGTERM (to the process, as ``kill``) with one and two workers: the time from the signal
to the exit, the exit status, how many points stayed cached and whether any tool is left
running. Results: ``faults.md`` and ``faults.json``.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from lutcore.base.files import MAX_TABLE_BYTES, write_atomic

__all__ = [
    "SWEEP_GRID",
    "alive",
    "bad_inputs",
    "cached_points",
    "children",
    "classify",
    "run_faults",
    "start_cli",
    "stop_time",
    "tool_pids",
    "wait_for",
]

#: four MAC points of a few seconds each
SWEEP_GRID = (
    *("--grid", "arch=mac", "--grid", "M=1", "--grid", "N=1,2,3,4", "--grid", "K=2"),
    *("--grid", "w_bits=1", "--grid", "max_k=4", "--name", "faults"),
)


def bad_inputs(tmp: Path) -> list[tuple[str, list[str]]]:
    """``(category, argv)`` of each bad input, with the files it needs written in ``tmp``."""
    from lutcore.synth.liberty import DEFAULT_LIBERTY

    f = tmp / "inputs"
    f.mkdir(parents=True, exist_ok=True)
    raw = gzip.compress(DEFAULT_LIBERTY.read_bytes())
    files = {
        "cut.lib.gz": raw[: len(raw) // 3],
        "flipped.lib.gz": raw[:200] + bytes(b ^ 0x5A for b in raw[200:400]) + raw[400:],
        "binary.toml": b"M = 2\n\xff",
        "huge.toml": b"#" * (MAX_TABLE_BYTES + 1),
        "deep.json": b"[" * 100_000 + b"]" * 100_000,
        "duplicate.json": b'{"M": 2, "M": 4}',
        "list.json": b"[1, 2]",
        "two_tables.toml": b"[tile]\nM = 2\n[other]\nx = 1\n",
        "broken.toml": b"[[grid]\n",
        "empty.toml": b"",
        "a_file": b"x",
    }
    for name, data in files.items():
        (f / name).write_bytes(data)
    grid = ["sweep", "--grid", "w_bits=1"]
    long = "x" * 200_000
    return [
        *(
            ("config file", ["verilog", "--config", str(path)])
            for path in [
                f / "binary.toml",
                "/dev/zero",
                "/nonexistent.toml",
                f,
                f / "huge.toml",
                f / "deep.json",
                f / "duplicate.json",
                f / "list.json",
                f / "two_tables.toml",
            ]
        ),
        *(
            ("sweep spec", ["sweep", "--spec", str(path)])
            for path in [f / "broken.toml", f / "binary.toml", "/dev/zero", f / "empty.toml"]
        ),
        *(
            ("liberty", ["synth", "--liberty", str(path)])
            for path in [
                "/dev/zero",
                f / "cut.lib.gz",
                f / "flipped.lib.gz",
                f / "binary.toml",
                "/nonexistent.lib",
            ]
        ),
        ("synth option", ["synth", "--clock-ns", "0"]),
        ("synth option", ["synth", "--clock-ns", "nan"]),
        ("synth option", ["synth", "--fpga", "99k"]),
        ("synth option", ["synth", "--fpga-seeds", "-1"]),
        ("output path", ["verilog", "-o", str(f / "a_file")]),
        ("output path", ["verilog", "-o", "/dev/null/x"]),
        ("output path", ["verilog", "-o", "/proc/x"]),
        ("output path", ["synth", "-o", "/proc/x"]),
        ("output path", [*grid, "-o", "/proc/x"]),
        ("output path", ["ports", "-o", str(f)]),
        ("output path", ["diagram", "-o", str(f)]),
        ("output path", ["layers", "-o", "/proc/x"]),
        ("output path", ["pim", "-o", "/proc/x"]),
        ("output path", ["bench", "-o", "/proc/x"]),
        ("output path", ["qor", "-o", "/proc/x"]),
        ("output path", ["synth", "-o", str(tmp / 'with "quotes"')]),
        ("sweep name/grid", [*grid, "--name", "n" * 300]),
        ("sweep name/grid", [*grid, "--name=-rf"]),
        ("sweep name/grid", [*grid, "--grid", "w_bits=2"]),
        ("sweep name/grid", ["sweep", "--grid", "w_bits"]),
        ("sweep name/grid", ["sweep", "--grid", "q=1"]),
        ("sweep name/grid", ["sweep", "--grid", "read_ports=2"]),
        ("sweep name/grid", [*grid, "-j", "0"]),
        ("Dask address", [*grid, "--scheduler", "not a url"]),
        ("Dask address", [*grid, "--scheduler", "http://127.0.0.1:8786"]),
        ("Dask address", [*grid, "--scheduler", "tcp://127.0.0.1"]),
        (
            "Dask address",
            [*grid, "--scheduler", "tcp://127.0.0.1:1", "--connect-timeout", "1", "-o", str(tmp)],
        ),
        ("Dask address", [*grid, "--connect-timeout", "0"]),
        ("parameter", ["verilog", "--w-bits", "9"]),
        ("parameter", ["verilog", "--M", "0"]),
        ("parameter", ["verilog", "--K", "12", "--max-k", "4096"]),
        ("parameter", ["verilog", "--g", "7"]),
        ("parameter", ["verilog", "--arch", "mac", "--g", "2"]),
        ("parameter", ["verilog", "--M", "4096", "--N", "4096", "--K", "4096"]),
        ("parameter", ["verilog", "--weight-format", long]),
        ("parameter", ["verilog", "--arch", long]),
        ("parameter", ["verilog", "--preset", "paper", "--arch", "mac"]),
        ("parameter", ["verilog", "--config", str(f / "list.json"), "--preset", "paper"]),
        ("parameter", ["verilog", "--arch", "fpmac", "--act-format", "int"]),
        ("parameter", ["verilog", "--arch", "pim", "--N", "32"]),
        ("parameter", ["verilog", "--pipeline", "3"]),
        ("parameter", ["verilog", "--planes-per-cycle", "3"]),
        ("parameter", ["verilog", "--weight-format", "ternary", "--g", "6", "--K", "6"]),
        ("parameter", ["verilog", "--ternary-code", "planes"]),
        ("parameter", ["verilog", "--arch", "pim", "--weight-format", "ternary"]),
        ("parameter", ["layers", "--rtl-tokens", "-1"]),
    ]


def classify(argv: list[str]) -> tuple[bool, str]:
    """Run ``lutcore argv`` here; (a clear error?, what happened)."""
    from lutcore.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code, how = main(argv), "returned"
        except SystemExit as exc:
            code, how = exc.code, "exit"
        except BaseException as exc:  # what this counts as a bad behaviour
            return False, f"{type(exc).__name__}: {str(exc)[:200]}"
    lines = [ln for ln in err.getvalue().splitlines() if ln.strip()]
    message = lines[-1][:300] if lines else "(no message)"
    # argparse prints its usage above its one error line
    errors = [ln for ln in lines if "error:" in ln]
    clear = code not in (0, None) and len(errors) == 1 and "Traceback" not in err.getvalue()
    return clear, f"{how} {code}: {message}"


def _stat(pid: int | str) -> list[str]:
    """The fields of ``/proc/<pid>/stat`` after the command name (state, parent PID, ...);
    empty when the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def alive(pids: set[int]) -> set[int]:
    """Those of ``pids`` still running (not gone, not zombies)."""
    return {pid for pid in pids if _stat(pid)[:1] not in ([], ["Z"])}


def children(pid: int) -> set[int]:
    """The processes whose parent is ``pid``."""
    return {child for child in _pids() if _stat(child)[1:2] == [str(pid)]}


def tool_pids(folder: Path) -> set[int]:
    """Running processes whose command line names ``folder`` and that are not lutcore itself
    (its sweep workers are forks with its command line): the tools working there."""
    found = set()
    for pid in _pids():
        try:
            line = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if str(folder) in line and "lutcore.cli" not in line:
            found.add(pid)
    return alive(found)


def start_cli(argv: list[str], tmp: Path) -> subprocess.Popen:
    """``lutcore argv`` in its own process group (as a shell job is), with its temporary
    folder (ABC's scratch) under ``tmp``, so that every tool it runs names ``tmp``."""
    scratch = tmp / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "lutcore.cli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env=dict(os.environ, TMPDIR=str(scratch)),
    )


def wait_for(condition, timeout: float = 120.0):
    """``condition()``'s first true value, polled every 50 ms; TimeoutError after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(f"nothing after {timeout} s")


def cached_points(out: Path) -> list[dict]:
    """The rows cached so far by the :data:`SWEEP_GRID` sweep into ``out`` (not a point
    being written: its temporary name starts with a dot)."""
    points = sorted((out / "faults" / "points").glob("*.json"))
    return [json.loads(p.read_text()) for p in points if not p.name.startswith(".")]


def stop_time(sig: int, jobs: int, tmp: Path) -> dict:
    """Stop a :data:`SWEEP_GRID` sweep with ``sig`` once a point is cached and the next is
    being synthesized: seconds from the signal to the exit, exit status, cached points,
    tools left."""
    out = tmp / f"sweep {signal.Signals(sig).name} j{jobs} [x]"
    proc = start_cli(["sweep", *SWEEP_GRID, "-j", str(jobs), "-o", str(out)], tmp)
    wait_for(lambda: (out / "faults" / "points").is_dir() and cached_points(out))
    wait_for(lambda: tool_pids(tmp))
    started = time.monotonic()
    if sig == signal.SIGINT:
        os.killpg(proc.pid, sig)  # Ctrl-C reaches the whole foreground group
    else:
        os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=60)
    return {
        "signal": signal.Signals(sig).name,
        "jobs": jobs,
        "seconds": round(time.monotonic() - started, 2),
        "exit": proc.returncode,
        "cached": len(cached_points(out)),
        "tools_left": len(tool_pids(tmp)),
        "traceback": "Traceback" in err,
    }


def run_faults(out_dir: Path, tmp: Path) -> dict:
    """Classify :func:`bad_inputs`, time the stops; write ``faults.md`` and ``faults.json``."""
    rows = []
    for category, argv in bad_inputs(tmp):
        clear, what = classify(argv)
        rows.append({"category": category, "argv": argv, "clear": clear, "result": what})
        print(f"[faults] {'clear' if clear else 'BAD  '} {' '.join(argv)[:80]}", flush=True)
    stops = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        for jobs in (1, 2):
            stops.append(stop_time(sig, jobs, tmp))
            print(f"[faults] stop: {stops[-1]}", flush=True)
    result = {"inputs": rows, "stops": stops}
    write_atomic(out_dir / "faults.json", json.dumps(result, indent=1) + "\n")
    categories = sorted({r["category"] for r in rows})
    lines = [
        "# Bad input and signals",
        "",
        f"{len(rows)} bad inputs: {sum(r['clear'] for r in rows)} clear errors, "
        f"{sum(not r['clear'] for r in rows)} bad behaviours.",
        "",
        "| category | inputs | clear errors |",
        "|---|---|---|",
        *(
            f"| {c} | {sum(r['category'] == c for r in rows)} | "
            f"{sum(r['clear'] for r in rows if r['category'] == c)} |"
            for c in categories
        ),
        "",
        "| signal | -j | seconds to exit | exit status | points cached (of 4) | tools left |",
        "|---|---|---|---|---|---|",
        *(
            f"| {s['signal']} | {s['jobs']} | {s['seconds']} | {s['exit']} | {s['cached']} | "
            f"{s['tools_left']} |"
            for s in stops
        ),
        "",
        "Each input and its result: `faults.json`.",
        "",
    ]
    write_atomic(out_dir / "faults.md", "\n".join(lines))
    return result


if __name__ == "__main__":
    import tempfile

    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("build/faults")
    with tempfile.TemporaryDirectory(prefix="lutcore-faults-") as scratch:
        run_faults(target, Path(scratch))
    print(f"[faults] wrote {target / 'faults.md'}")
