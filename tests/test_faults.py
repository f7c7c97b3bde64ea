"""Faults and bad input: the RTL's response to out-of-contract port values, and the CLI and
sweeps under bad files, bad paths, bad addresses, signals and a dying parent."""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from amaranth.sim import Simulator

from lutcore.base import files
from lutcore.cli import main
from lutcore.faults import (
    SWEEP_GRID,
    alive,
    bad_inputs,
    cached_points,
    children,
    classify,
    start_cli,
    tool_pids,
    wait_for,
)
from lutcore.hw.arch import make_tile
from lutcore.hw.config import tile_config
from lutcore.hw.pim_tile import PimTile
from lutcore.hw.presets import PRESETS
from lutcore.sim import pim_driver
from lutcore.sim.amaranth_driver import simulate_jobs
from lutcore.sim.scenario import random_scenario
from lutcore.sim.streams import decode_result, encode_weights, first_mismatch, gemm_jobs
from lutcore.synth import sweep
from lutcore.synth.liberty import DEFAULT_LIBERTY, LibertyError, cell_groups, read_liberty_text

from .support import require_tool

# ---- the RTL's own ports ------------------------------------------------------------------

#: one small tile per stream architecture, each with max_slices = 2 (a power of two: the
#: 2-bit n_slices field can carry 3, one more than the tile holds)
STREAM_TILES = {
    "lut": tile_config(M=1, N=3, K=4, max_k=8),
    "mac": tile_config("mac", M=2, N=2, K=3, w_bits=3, max_k=6, pipeline=2),
    "fpmac": tile_config("fpmac", M=1, N=2, K=2, w_bits=2, max_k=4, pipeline=2),
    "fplut": tile_config("fplut", M=1, N=2, K=4, w_bits=2, max_k=8, group=8),
}


def _jobs(cfg, k_per_tile: int, seed: int):
    sc = random_scenario(cfg, cfg.M, 2 * k_per_tile, 2 * cfg.N, seed=seed)
    return gemm_jobs(cfg, sc.a, sc.codes, sc.zero, k_per_tile=k_per_tile, scale=sc.scale)


def _set_slices(cfg, job, n: int) -> None:
    mask = (1 << cfg.slice_count_bits) - 1
    job.cmd = job.cmd & ~mask | n


@pytest.mark.parametrize("arch", STREAM_TILES)
def test_slice_count_outside_the_contract_is_clamped(arch):
    """n_slices above max_slices behaves as max_slices (the tile used to hang when max_slices
    is a power of two) and 0 as 1: every result word as documented, and the tile goes on."""
    cfg = STREAM_TILES[arch]
    assert cfg.max_slices == 2 and (1 << cfg.slice_count_bits) - 1 > cfg.max_slices
    full = _jobs(cfg, cfg.max_k, seed=3)
    for job in full[::2]:  # every other tile says 3 slices, sends 2
        _set_slices(cfg, job, cfg.max_slices + 1)
    one = _jobs(cfg, cfg.K, seed=4)
    for job in one[1::2]:
        _set_slices(cfg, job, 0)
    jobs = full + one
    results, _ = simulate_jobs(cfg, jobs, seed=1, p_gap=0.2, p_stall=0.2, max_cycles=5_000)
    assert len(results) == len(jobs)
    for i, (got, job) in enumerate(zip(results, jobs, strict=True)):
        problem = first_mismatch(got, job.expected)
        assert problem is None, f"{arch} job {i}: {problem}"


@pytest.mark.parametrize("arch", STREAM_TILES)
def test_weights_without_a_command_wait_and_activations_run_ahead(arch):
    """With no cmd, a w beat is never taken and the a stream takes slices_ahead beats (the
    documented figure), then stops."""
    cfg = STREAM_TILES[arch]
    dut = make_tile(cfg)
    job = _jobs(cfg, cfg.max_k, seed=5)[0]
    seen = {"w": 0, "a": 0}

    async def bench(ctx):
        ctx.set(dut.w.payload.as_value(), job.weights[0])
        ctx.set(dut.a.payload.as_value(), job.acts[0])
        ctx.set(dut.w.valid, 1)
        ctx.set(dut.a.valid, 1)
        ctx.set(dut.y.ready, 1)
        for _ in range(40):
            _, _, w_ready, a_ready = await ctx.tick().sample(dut.w.ready, dut.a.ready)
            seen["w"] += w_ready
            seen["a"] += a_ready

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert seen == {"w": 0, "a": cfg.slices_ahead}, seen


@pytest.mark.parametrize("arch", STREAM_TILES)
def test_output_latency_and_tile_boundary_bubbles_are_as_documented(arch):
    """y comes latency_cycles after a tile's last weight beat; with y always ready a tile
    boundary costs latency_cycles - 1 idle cycles on w (what docs/interface*.md state)."""
    cfg = STREAM_TILES[arch]
    jobs = _jobs(cfg, cfg.max_k, seed=6)
    trace: list[dict] = []
    simulate_jobs(cfg, jobs, trace=trace)
    w = [i for i, t in enumerate(trace) if t["w.valid"] and t["w.ready"]]
    y = [i for i, t in enumerate(trace) if t["y.valid"] and t["y.ready"]]
    per = len(w) // len(jobs)
    last = [w[(j + 1) * per - 1] for j in range(len(jobs))]
    assert [y[j] - last[j] for j in range(len(jobs))] == [cfg.latency_cycles] * len(jobs)
    gaps = [w[(j + 1) * per] - last[j] - 1 for j in range(len(jobs) - 1)]
    assert gaps == [cfg.latency_cycles - 1] * (len(jobs) - 1)


def test_pim_load_beyond_the_sram_is_clamped():
    """A PIM load command with n_slices above max_slices loads max_slices slices, returns to
    idle (taking no further activation beat), and a compute over them is exact."""
    cfg = tile_config("pim", symmetric=False, M=2, N=2, K=8, w_bits=2, max_k=16)
    assert (1 << cfg.slice_count_bits) - 1 > cfg.max_slices == 2
    rng = np.random.default_rng(2)
    a = rng.integers(*cfg.a_range, (cfg.M, cfg.max_k), endpoint=True)
    codes = rng.integers(0, 1 << cfg.w_bits, (cfg.max_k, cfg.N))
    zero = rng.integers(0, 1 << cfg.w_bits, cfg.N) if cfg.has_zero_point else None
    dut = PimTile(cfg)
    out = {}

    async def send(ctx, stream, value):
        ctx.set(stream.valid, 1)
        ctx.set(stream.payload.as_value(), value)
        await ctx.tick().until(stream.ready)
        ctx.set(stream.valid, 0)

    async def bench(ctx):
        beyond = pim_driver.Load(np.zeros((cfg.M, (cfg.max_slices + 1) * cfg.K), np.int64))
        await send(ctx, dut.cmd, pim_driver.encode_command(cfg, beyond))
        for beat in pim_driver.encode_acts(cfg, a):
            await send(ctx, dut.a, beat)
        ctx.set(dut.a.valid, 1)  # one beat more than the SRAM holds: must not be taken
        taken = 0
        for _ in range(200):
            _, _, a_ready, idle = await ctx.tick().sample(dut.a.ready, dut.cmd.ready)
            taken += a_ready
            if idle:
                break
        ctx.set(dut.a.valid, 0)
        out["extra_taken"], out["idle"] = taken, idle
        job = pim_driver.Compute(codes[: cfg.max_slices * cfg.K], zero)
        await send(ctx, dut.cmd, pim_driver.encode_command(cfg, job))
        for s in range(cfg.max_slices):
            for beat in encode_weights(cfg, codes[s * cfg.K : (s + 1) * cfg.K]):
                await send(ctx, dut.w, beat)
        ctx.set(dut.y.ready, 1)
        for _ in range(1000):
            _, _, valid, payload = await ctx.tick().sample(dut.y.valid, dut.y.payload.as_value())
            if valid:
                out["y"] = payload
                break

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert out["idle"] and out["extra_taken"] == 0
    want = pim_driver.expected_result(cfg, a, pim_driver.Compute(codes, zero))
    assert first_mismatch(decode_result(cfg, out["y"]), want) is None


# ---- files that are not what they claim -----------------------------------------------------


def _cli_error(capsys, argv: list[str], code: int = 2) -> str:
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    assert info.value.code == code, err
    assert "Traceback" not in err and err.startswith("lutcore: error: "), err
    assert len(err.splitlines()) == 1, err
    return err


def test_bad_config_files_are_named_errors(tmp_path, capsys):
    binary = tmp_path / "g.toml"
    binary.write_bytes(b"M = 2\n\xff")
    err = _cli_error(capsys, ["verilog", "--config", str(binary), "-o", str(tmp_path / "v")])
    assert str(binary) in err and "byte 0xff at offset 6" in err
    err = _cli_error(capsys, ["verilog", "--config", "/dev/zero"])
    assert "/dev/zero: not a regular file" in err
    big = tmp_path / "big.toml"
    big.write_bytes(b"#" * (files.MAX_TABLE_BYTES + 1))
    assert "larger than" in _cli_error(capsys, ["verilog", "--config", str(big)])
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    err = _cli_error(capsys, ["verilog", "--config", str(deep)])
    assert str(deep) in err and "nested too deeply" in err
    twice = tmp_path / "twice.JSON"  # the suffix in any case is JSON
    twice.write_text('{"M": 2, "M": 4}')
    assert "duplicate key 'M'" in _cli_error(capsys, ["verilog", "--config", str(twice)])
    bom = tmp_path / "bom.toml"  # a byte-order mark is accepted
    bom.write_bytes(b"\xef\xbb\xbfM = 1\nN = 4\nK = 4\nmax_k = 64\n")
    assert main(["verilog", "--config", str(bom), "-o", str(tmp_path / "v")]) == 0
    assert (tmp_path / "v" / f"{PRESETS['small'].slug}.v").exists()


def test_damaged_or_special_liberty_files_are_named_errors(tmp_path):
    raw = gzip.compress(DEFAULT_LIBERTY.read_bytes())
    cut = tmp_path / "cut.lib.gz"
    cut.write_bytes(raw[: len(raw) // 3])
    flipped = tmp_path / "flipped.lib.gz"
    flipped.write_bytes(raw[:200] + bytes(b ^ 0x5A for b in raw[200:400]) + raw[400:])
    for path in (cut, flipped):
        with pytest.raises(LibertyError, match=re.escape(f"liberty {path}: damaged gzip")):
            read_liberty_text(path)
    with pytest.raises(LibertyError, match="/dev/zero: not a regular file"):
        read_liberty_text(Path("/dev/zero"))


def test_a_failing_abc_keeps_its_logs_and_leaves_no_scratch_folders(tmp_path):
    """A library with just INV, NAND2 and DFF passes the pre-check, then the mapping fails:
    the error names a log that exists, and ABC's scratch folders are gone."""
    require_tool("sta")
    text = DEFAULT_LIBERTY.read_text()
    groups = cell_groups(text)
    keep = ["sky130_fd_sc_hd__inv_1", "sky130_fd_sc_hd__nand2_1", "sky130_fd_sc_hd__dfxtp_1"]
    header = text[: min(start for start, _ in groups.values())]
    lib = tmp_path / "three.lib"
    lib.write_text(header + "\n".join(text[slice(*groups[c])] for c in keep) + "\n}\n")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    out = tmp_path / "out"
    proc = _run_cli(
        ["synth", "--preset", "small", "--liberty", str(lib), "-o", str(out)], TMPDIR=scratch
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    logs = re.findall(r"log (\S+\.log)", proc.stderr)
    assert logs and all(Path(log).exists() for log in logs), proc.stderr
    assert not list(scratch.iterdir()) and not list(out.glob(".work-*"))


def test_every_bad_input_of_the_fault_table_is_a_clear_error(tmp_path):
    """The inputs `make faults` counts (files, output paths, names, grids, Dask addresses,
    parameters): each exits non-zero with one error line and no traceback, before work."""
    inputs = bad_inputs(tmp_path)
    assert len(inputs) >= 50
    for category, argv in inputs:
        clear, what = classify(argv)
        assert clear, f"{category}: lutcore {' '.join(argv)[:200]} -> {what}"


# ---- output locations and addresses, checked before any work --------------------------------


def test_output_locations_are_checked_first(tmp_path, capsys):
    afile = tmp_path / "README.md"
    afile.write_text("x")
    assert "exists and is not a folder" in _cli_error(capsys, ["verilog", "-o", str(afile)])
    err = _cli_error(capsys, ["synth", "-o", "/dev/null/x"])
    assert "has the file /dev/null in its path" in err
    assert "cannot write in /proc" in _cli_error(capsys, ["synth", "-o", "/proc/x"])
    assert not (tmp_path / "new").exists()
    _cli_error(capsys, ["verilog", "--w-bits", "9", "-o", str(tmp_path / "new")])
    assert not (tmp_path / "new").exists()  # nothing created for a refused command
    assert "is a folder" in _cli_error(capsys, ["ports", "-o", str(tmp_path)])
    err = _cli_error(capsys, ["sweep", "--grid", "w_bits=1", "--name", "n" * 300])
    assert "up to 64 characters" in err and "n" * 61 not in err  # the value is cut
    assert "a letter or digit" in _cli_error(capsys, ["sweep", "--grid", "w_bits=1", "--name=-rf"])
    err = _cli_error(capsys, ["sweep", "--grid", "w_bits=1", "--grid", "w_bits=2"])
    assert "--grid w_bits given twice" in err
    # every bus within one wire, but far beyond this machine's memory
    err = _cli_error(capsys, ["verilog", "--M", "8", "--N", "256", "--K", "256"])
    assert "cells" in err and "--force" in err
    err = _cli_error(capsys, ["verilog", "--M", "16", "--N", "512", "--K", "16"])
    assert "one result beat (y) is 180,224 bits, above 65,536 (one wire)" in err
    assert tile_config(K=12).max_k == 4092  # the default follows K
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.startswith("lutcore ")


@pytest.mark.parametrize(
    ("address", "says"),
    [
        ("not a url", "expected SCHEME://HOST:PORT"),
        ("http://127.0.0.1:8786", "expected SCHEME://HOST:PORT"),
        ("tcp://127.0.0.1", "expected SCHEME://HOST:PORT"),
        ("tcp://127.0.0.1:1", "no connection within 1 s"),
    ],
)
def test_dask_addresses_are_checked_before_anything_is_created(tmp_path, capsys, address, says):
    out = tmp_path / "out"
    argv = ["sweep", "--grid", "arch=mac", "--grid", "w_bits=1", "--scheduler", address]
    err = _cli_error(capsys, [*argv, "--connect-timeout", "1", "-o", str(out)])
    assert says in err
    if "no connection" not in err:
        assert not out.exists()


def test_a_second_sweep_of_a_folder_is_refused_with_the_holders_pid(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    spec = sweep.grid_spec(["arch=mac", "w_bits=1"], "s")
    with sweep.folder_lock(folder):
        probe = subprocess.run(
            [sys.executable, "-c", _LOCK_PROBE, str(folder)], capture_output=True, text=True
        )
    assert f"in use by another sweep (PID {os.getpid()})" in probe.stdout, probe.stderr
    assert spec.points  # the spec itself is fine


_LOCK_PROBE = """
import sys
from pathlib import Path
from lutcore.synth.sweep import SweepError, folder_lock
try:
    with folder_lock(Path(sys.argv[1])):
        print("taken")
except SweepError as exc:
    print(exc)
"""


# ---- the cache ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["", '{"slug": ', "[]", '{"slug": "x"}', '{"status": "ok"}', "\xff"],
    ids=["empty", "truncated", "list", "other slug", "status only", "not text"],
)
def test_damaged_cache_entries_are_reported_and_recomputed(tmp_path, text):
    cfg = tile_config("mac", M=1, N=1, K=2, w_bits=1, max_k=4)
    path = tmp_path / "points" / "key.json"
    path.parent.mkdir()
    if text == '{"status": "ok"}':
        text = json.dumps({"slug": cfg.slug, **cfg.to_dict(), "status": "ok"})
    path.write_bytes(text.encode("utf-8", "surrogateescape") if text != "\xff" else b"\xff")
    said: list[str] = []
    assert sweep._cached(path, cfg, said.append) is None
    assert len(said) == 1 and str(path) in said[0] and "recomputing" in said[0]


def test_atomic_outputs_get_the_mode_of_a_plain_open(tmp_path):
    old = os.umask(0o022)
    try:
        files.write_atomic(tmp_path / "x.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "x.txt").stat().st_mode & 0o777 == 0o644


def test_a_missing_simulator_is_found_before_anything_is_built(monkeypatch):
    from lutcore.base import tools
    from lutcore.experiments import bench

    real = tools.shutil.which
    monkeypatch.setattr(
        tools.shutil,
        "which",
        lambda tool, path=None: None if tool == "iverilog" else real(tool, path=path),
    )
    monkeypatch.setattr(bench, "build", lambda *a, **k: pytest.fail("built before the check"))
    with pytest.raises(tools.ToolMissing, match="iverilog"):
        bench.run_bench(PRESETS["small"], Path("unused"), ["verilator", "icarus"])


# ---- signals, children, exit status -------------------------------------------------------


def _run_cli(argv: list[str], **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lutcore.cli", *argv],
        capture_output=True,
        text=True,
        env=dict(os.environ, **{k: str(v) for k, v in env.items()}),
        timeout=300,
    )


@pytest.mark.parametrize(("sig", "jobs"), [(signal.SIGINT, 1), (signal.SIGTERM, 2)])
def test_a_signal_stops_the_sweep_keeps_finished_points_and_ends_every_tool(tmp_path, sig, jobs):
    require_tool("sta")
    out = tmp_path / "out dir [1] $x"  # also: paths go into Yosys and Tcl quoted
    proc = start_cli(["sweep", *SWEEP_GRID, "-j", str(jobs), "-o", str(out)], tmp_path)
    wait_for(lambda: (out / "faults" / "points").is_dir() and len(cached_points(out)) >= 1)
    tools = wait_for(lambda: tool_pids(tmp_path))  # the next point is being synthesized
    workers = children(proc.pid)
    started = time.monotonic()
    if sig == signal.SIGINT:
        os.killpg(proc.pid, sig)  # Ctrl-C reaches the whole foreground group
    else:
        os.kill(proc.pid, sig)  # `kill PID`
    _, err = proc.communicate(timeout=60)
    stop_s = time.monotonic() - started
    assert proc.returncode == 128 + sig, err
    assert "Traceback" not in err and f"interrupted ({signal.Signals(sig).name})" in err, err
    assert not alive(tools | workers) and not tool_pids(tmp_path)
    rows = cached_points(out)
    assert 1 <= len(rows) < 4 and all(r["status"] == "ok" for r in rows)
    # the stop came before a point in progress could finish
    assert stop_s < min(r["seconds"] for r in rows), (stop_s, [r["seconds"] for r in rows])
    assert not (out / "faults" / "results.json").exists()  # only a complete set is written
    stamps = {p: p.stat().st_mtime_ns for p in (out / "faults" / "points").iterdir()}
    resumed = _run_cli(["sweep", *SWEEP_GRID, "-o", str(out)])
    assert resumed.returncode == 0, resumed.stderr
    results = json.loads((out / "faults" / "results.json").read_text())
    assert [r["status"] for r in results] == ["ok"] * 4
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())  # not recomputed


def test_workers_and_tools_end_when_the_sweep_is_killed(tmp_path):
    require_tool("sta")
    out = tmp_path / "out"
    proc = start_cli(["sweep", *SWEEP_GRID, "-j", "2", "-o", str(out)], tmp_path)
    tools = wait_for(lambda: tool_pids(tmp_path))
    workers = children(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert wait_for(lambda: not alive(tools | workers | tool_pids(tmp_path)), timeout=10)
    before = len(list((out / "faults" / "points").glob("*.json")))
    time.sleep(1.0)
    assert len(list((out / "faults" / "points").glob("*.json"))) == before


def test_a_synthesis_stopped_by_sigterm_ends_itstool_pids(tmp_path):
    out = tmp_path / "out"
    proc = start_cli(["synth", "--preset", "small", "-o", str(out)], tmp_path)
    tools = wait_for(lambda: tool_pids(tmp_path))
    os.kill(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143 and "Traceback" not in err, err
    assert not alive(tools) and not tool_pids(tmp_path)
    assert not list(out.glob("*/report.json")) and not list(out.glob(".work-*"))


def test_failed_points_exit_nonzero_without_absolute_paths(tmp_path, monkeypatch, capsys):
    from lutcore.synth import report

    def broken(cfg, out_root, **kwargs):
        raise RuntimeError(f"no luck in {out_root.resolve()}/{cfg.slug}.failed/yosys.log")

    monkeypatch.setattr(report, "run_synth", broken)  # forked workers inherit it
    code = main(["sweep", "--grid", "arch=mac", "--grid", "w_bits=1,2", "-o", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1 and "--retry-failed" in err
    rows = json.loads((tmp_path / "cli" / "results.json").read_text())
    assert [r["status"] for r in rows] == ["failed", "failed"]
    assert all(str(tmp_path) not in r["error"] and "reports/" in r["error"] for r in rows)
