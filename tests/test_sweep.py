"""Sweeps: spec validation before work, parallel runs, cache and resume, failures recorded,
Dask equals local, summary arithmetic and plots."""

from __future__ import annotations

import json

import pytest

from lutcore.cli import main
from lutcore.hw.config import TileConfig, tile_config
from lutcore.synth import report
from lutcore.synth.analysis import TERNARY_DESIGNS
from lutcore.synth.plots import write_plots
from lutcore.synth.summary import summarize
from lutcore.synth.sweep import (
    DEFAULT_SPEC,
    SweepError,
    grid_spec,
    load_spec,
    run_sweep,
    spec_from_dict,
)

from .support import require_tool

#: two quick points: the smallest LUT tile and its MAC twin
TINY = {
    "name": "tiny",
    "grid": [{"arch": ["lut", "mac"], "M": 1, "N": 4, "K": 4, "w_bits": 1, "max_k": 64}],
}


def _same(rows_a: list[dict], rows_b: list[dict]) -> None:
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in rows_a]
    assert strip == [{k: v for k, v in r.items() if k != "seconds"} for r in rows_b]


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"grid": [{"arch": "lut", "Q": 3}]}, "unknown key(s) Q"),
        ({"grid": []}, "needs one or more [[grid]] tables"),
        ({"grid": [{"w_bits": [1, 2], "planes_per_cycle": 2}]}, "impossible point"),
        ({"grid": [{"mnk": 500}]}, "mnk=500: must be a power of two"),
        ({"grid": [{"mnk": 512, "M": 2}]}, "either mnk or M/N/K"),
        ({"grid": [{"w_bits": []}]}, "w_bits is an empty list"),
        ({"grid": [{}], "clock_ns": 0}, "clock_ns=0"),
        ({"grid": [{}], "name": "a b"}, 'name="a b"'),
    ],
)
def test_bad_specs_are_refused_by_name(spec, message):
    with pytest.raises(SweepError) as info:
        spec_from_dict(spec, "spec.toml")
    assert "spec.toml" in str(info.value) and message in str(info.value)


def test_impossible_point_names_its_grid_and_reason(tmp_path, capsys):
    spec = tmp_path / "bad.toml"
    spec.write_text("[[grid]]\nM = 2\n[[grid]]\nw_bits = 1\nplanes_per_cycle = 2\n")
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as info:
        main(["sweep", "--spec", str(spec), "-o", str(out)])
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert "[[grid]] #2: impossible point" in err and "planes_per_cycle=2" in err
    assert not out.exists()  # refused before any work
    spec.write_text("[[grid]\n")
    with pytest.raises(SweepError, match="malformed"):
        load_spec(spec)


def test_grid_keys_apply_per_arch():
    """In a grid over LUT and MAC, g is an axis of the LUT points only (no repeated MAC
    points); a key that no arch of the grid takes is refused by name."""
    spec = grid_spec(["arch=lut,mac", "g=2,4", "N=4", "max_k=64"], "per-arch")
    assert sorted(c.slug for c in spec.points if c.arch == "mac") == [
        tile_config("mac", N=4, max_k=64).slug
    ]
    assert {c.g for c in spec.points if c.arch == "lut"} == {2, 4}
    with pytest.raises(SweepError, match="read_ports applies to arch pim only"):
        grid_spec(["arch=lut,mac", "read_ports=1,2"])


def test_grid_from_cli_flags():
    spec = grid_spec(["arch=lut,mac", "w_bits=1,2", "symmetric=false", "N=8"], "flags")
    assert spec.name == "flags" and len(spec.points) == 4
    assert {(c.arch, c.w_bits) for c in spec.points} == {
        (a, w) for a in ("lut", "mac") for w in (1, 2)
    }
    assert all(c.N == 8 and not c.symmetric for c in spec.points if c.arch == "lut")
    with pytest.raises(SweepError, match="expected KEY=VALUE"):
        grid_spec(["w_bits"])
    with pytest.raises(SweepError, match=r"w_bits=9: allowed 1\.\.8"):
        grid_spec(["w_bits=2,9"])


def test_grid_expansion():
    spec = spec_from_dict(
        {
            "grid": [
                {
                    "arch": ["lut", "mac"],
                    "g": [2, 4],
                    "w_bits": [2, 4],
                    "planes_per_cycle": "w_bits",
                },
                {"arch": "lut", "mnk": 512, "mnk_max_m": 2, "w_bits": 2},
            ]
        },
        "s",
    )
    # MAC points differing only in g are one design: 2 (lut g) x 2 (w) + 2 (mac w)
    first, second = spec.points[:6], spec.points[6:]
    assert [c.arch for c in first].count("mac") == 2
    assert all(c.planes_per_cycle == c.w_bits and (c.M, c.N, c.K) == (2, 64, 4) for c in first)
    shapes = [(c.M, c.N, c.K) for c in second]
    assert all(m * n * k == 512 and m <= 2 and k % 4 == 0 for m, n, k in shapes)
    # M=1: K = 4..512 (8 powers of two); M=2: K = 4..256 (7)
    assert len(set(shapes)) == len(shapes) == 15 and (2, 16, 16) in shapes
    assert len(load_spec(DEFAULT_SPEC).points) >= 20  # the shipped grids validate
    fp16 = load_spec(DEFAULT_SPEC.with_name("fp16.toml")).points
    assert {c.arch for c in fp16} == {"lut", "mac", "fpmac", "fplut"} and len(fp16) == 118
    # the knobs at W1/2/4: FP32/FP16 x offset cell/output, and fixed-point with the offset
    # out; the FP16 MAC with each accumulation too
    assert sum(c.arch == "fplut" and c.offset_out for c in fp16) == 9
    for arch in ("fplut", "fpmac"):
        assert sum(c.arch == arch and c.fixed_acc for c in fp16) == 3, arch
    assert all(c.act_format == "fp16" for c in fp16)
    # the FP16 shapes: M*N*K = 512 and 2048, K 4..16, N up to 64, M up to 8, every design
    for arch in ("lut", "mac", "fpmac", "fplut"):
        shapes = {(c.M, c.N, c.K) for c in fp16 if c.arch == arch and c.w_bits == 2}
        sized = {s for s in shapes if s[0] * s[1] * s[2] in (512, 2048)}
        assert len(sized) == 17 and all(4 <= k <= 16 and n <= 64 for _, n, k in sized), arch
    grid = {"arch": "lut", "mnk": [64, 128], "mnk_max_n": 4, "mnk_max_k": 8, "w_bits": 2}
    pts = spec_from_dict({"grid": [grid]}, "s").points
    # 64 = M*N*4 (N <= 4): M4 N4, M8 N2; = M*N*8: M2 N4, M4 N2, M8 N1; 128: M8 N4 K4,
    # M4 N4 K8, M8 N2 K8
    small = {(4, 4, 4), (8, 2, 4), (2, 4, 8), (4, 2, 8), (8, 1, 8)}
    assert {(c.M, c.N, c.K) for c in pts} == small | {(8, 4, 4), (4, 4, 8), (8, 2, 8)}
    assert len(load_spec(DEFAULT_SPEC.with_name("full.toml")).points) >= 379
    # the PIM sweep reaches cache scale: 8 and 16 banks of 16-32 KB each
    pim = load_spec(DEFAULT_SPEC.with_name("pim.toml")).points
    cache = {(c.banks, c.sram_rows * c.sram_word_bits // 8192) for c in pim if c.banks >= 8}
    assert {b for b, _ in cache} == {8, 16} and all(16 <= kb <= 32 for _, kb in cache), cache
    ternary = load_spec(DEFAULT_SPEC.with_name("ternary.toml")).points
    for _, match in TERNARY_DESIGNS:  # every design of the ternary table has a point
        assert any(all(c.to_dict().get(k) == v for k, v in match.items()) for c in ternary)
    assert set(ternary) <= set(load_spec(DEFAULT_SPEC).points)


@pytest.fixture(scope="module")
def tiny_local(tmp_path_factory):
    require_tool("sta")
    out = tmp_path_factory.mktemp("sweep")
    return out, run_sweep(spec_from_dict(TINY, "tiny"), out, jobs=2, progress=False)


def test_local_sweep_results_and_resume(tiny_local):
    out, rows = tiny_local
    folder = out / "tiny"
    assert [r["status"] for r in rows] == ["ok", "ok"]
    assert [r["arch"] for r in rows] == ["lut", "mac"]
    assert json.loads((folder / "results.json").read_text()) == rows
    csv_lines = (folder / "results.csv").read_text().splitlines()
    assert csv_lines[0].startswith("slug,status,arch,M,N,K") and len(csv_lines) == 3
    for r in rows:  # each row is its report's figures
        rep = json.loads((folder / "reports" / r["slug"] / "report.json").read_text())
        assert r["area_um2"] == rep["area_um2"]["total"]
        assert r["tops_per_mm2"] == rep["throughput"]["tops_per_mm2"]
    cached = sorted((folder / "points").iterdir())
    assert len(cached) == 2
    stamps = {p: p.stat().st_mtime_ns for p in cached}
    # interrupted after one point: drop the other's cache entry, run again
    cached[1].unlink()
    again = run_sweep(spec_from_dict(TINY, "tiny"), out, jobs=1, progress=False)
    _same(again, rows)
    assert cached[0].stat().st_mtime_ns == stamps[cached[0]]  # not recomputed
    assert cached[1].exists()


def test_failed_point_is_recorded_and_others_finish(tmp_path, monkeypatch):
    require_tool("sta")
    real = report.run_synth

    def flaky(cfg: TileConfig, *args, **kwargs):
        if cfg.arch == "mac":
            raise RuntimeError("synthesis exploded")
        return real(cfg, *args, **kwargs)

    monkeypatch.setattr(report, "run_synth", flaky)  # forked workers inherit it
    rows = run_sweep(spec_from_dict(TINY, "tiny"), tmp_path, jobs=2, progress=False)
    assert [r["status"] for r in rows] == ["ok", "failed"]
    assert "synthesis exploded" in rows[1]["error"]
    summary = summarize(rows, "tiny")
    assert "1 failed" in summary and "synthesis exploded" in summary


def test_dask_cluster_gives_the_local_results(tiny_local, tmp_path):
    from distributed import LocalCluster

    _, local = tiny_local
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        rows = run_sweep(
            spec_from_dict(TINY, "tiny"),
            tmp_path,
            scheduler=cluster.scheduler_address,
            progress=False,
        )
    _same(rows, local)


def _row(arch, w, density, **extra):
    cfg = tile_config(arch=arch, w_bits=w, **extra)
    return {
        "slug": cfg.slug,
        "status": "ok",
        **cfg.to_dict(),
        "tops_per_mm2": density,
        "tops": density * 0.3,
        "area_um2": 3e5,
        "fmax_mhz": 100.0,
        "area_by_block": {"control": 1e4, "array": 2.9e5},
    }


def test_summary_ratios_crossover_and_plots(tmp_path):
    rows = [
        _row("lut", 1, 0.40),
        _row("mac", 1, 0.20),
        _row("lut", 2, 0.25),
        _row("mac", 2, 0.20),
        _row("mac", 2, 0.22, planes_per_cycle=2),  # the better MAC point counts
        _row("lut", 4, 0.10),
        _row("mac", 4, 0.125),
    ]
    text = summarize(rows, "synthetic")
    assert "**2.00x**" in text and f"**{0.25 / 0.22:.2f}x**" in text and "**0.80x**" in text
    assert "at 4-bit weights the best MAC point is denser" in text
    files = write_plots(rows, tmp_path)
    names = {p.name for p in files}
    assert {"density_vs_wbits.png", "density_vs_wbits.svg", "pareto.png"} <= names
    assert all(p.stat().st_size > 1000 for p in files)
    assert not [p for p in tmp_path.iterdir() if ".tmp." in p.name]


def test_summary_compares_fp16_points_with_the_fp16_mac(tmp_path):
    fp = {"act_format": "fp16", "a_bits": 16}
    rows = [
        _row("lut", 1, 0.40),  # int8: not part of the FP16 table
        _row("fpmac", 1, 0.05, planes_per_cycle=1, **fp),
        _row("lut", 1, 0.30, **fp),
        _row("mac", 1, 0.10, **fp),
        _row("fpmac", 2, 0.04, planes_per_cycle=2, **fp),
        _row("lut", 2, 0.20, **fp),
        _row("lut", 2, 0.24, **(fp | {"a_bits": 8})),  # the better LUT point counts
        _row("fplut", 1, 0.15, **fp),
    ]
    text = summarize(rows, "fp16")
    assert "## FP16 activations" in text
    assert "LUT, FP16 tables (+dequant) | FP-table/FP16 MAC" in text
    assert "| 1 | 0.0500" in text and "**6.00x**" in text and "**2.00x**" in text
    assert "**3.00x**" in text  # the FP-table point at 1 bit
    assert "| 2 | 0.0400" in text and "(a8, 100 MHz) | **6.00x** | - | - | - | - |" in text
    assert "about 18x" in text
    assert "## FP16 activations" not in summarize(rows[:1], "int only")
    assert all(p.stat().st_size > 1000 for p in write_plots(rows, tmp_path))  # every arch


def test_summary_density_against_array_size(tmp_path):
    """Per weight width, the densest LUT and multiply-based point at each M*N*K, their
    ratio, and whether it grows with the array; a size with one side only has no ratio."""
    rows = [
        _row("lut", 2, 0.20, M=2, N=16, K=16),  # 512
        _row("mac", 2, 0.25, M=2, N=16, K=16),
        _row("lut", 2, 0.30, M=8, N=16, K=16),  # 2048
        _row("lut", 2, 0.36, M=2, N=64, K=16),  # 2048: the better LUT point counts
        _row("mac", 2, 0.24, M=8, N=16, K=16),
        _row("lut", 2, 0.40, M=8, N=64, K=16),  # 8192, no MAC point
        _row("lut", 4, 0.10),  # one size only: no table rows for w4
    ]
    text = summarize(rows, "sizes")
    assert "## Density against array size" in text
    assert (
        "| int | 2 | 512 | 0.2000 | lut M2 N16 K16 | 0.2500 | mac M2 N16 K16 | **0.80x** |" in text
    )
    assert "| int | 2 | 2048 | 0.3600 | lut M2 N64 K16 |" in text and "**1.50x**" in text
    assert "| int | 2 | 8192 | 0.4000 | lut M8 N64 K16 | - | - | - |" in text
    assert "| int | 4 |" not in text
    assert "LUT/MAC grows with size, 0.80x at 512 to 1.50x at 2048" in text
    names = {p.name for p in write_plots(rows, tmp_path)}
    assert {"density_vs_size.png", "density_vs_size.svg"} <= names


def test_summary_compares_ternary_designs_apart_from_2_bit_weights(tmp_path):
    """Ternary rows have w_bits = 2 but stay out of the 2-bit LUT/MAC ratio; their own
    table has each design's densest point, bits per weight and ratio to the add/sub MAC."""
    ternary = {"weight_format": "ternary"}
    rows = [
        _row("lut", 2, 0.25),
        _row("mac", 2, 0.20),
        _row("lut", 2, 0.90, K=6, g=3, **ternary) | {"bits_per_weight": 5 / 3},
        _row("lut", 2, 0.70, K=4, g=2, **ternary) | {"bits_per_weight": 2.0},
        _row("lut", 2, 0.50, ternary_code="planes", **ternary),
        _row("mac", 2, 0.30, planes_per_cycle=2, **ternary),
        _row("mac", 2, 0.15, planes_per_cycle=2, weight_format="signed"),
    ]
    text = summarize(rows, "ternary")
    assert "| 2 | 0.2500 |" in text and "**1.25x**" in text  # the 2-bit ratio: 0.25 / 0.20
    assert "## Ternary weights (BitNet b1.58), int8 activations" in text
    table = [ln for ln in text.splitlines() if ln.startswith(("| LUT, ", "| MAC, "))]
    assert [ln.split(" | ")[0] for ln in table] == [
        "| LUT, base-3 groups",
        "| LUT, 2-bit planes (W_INT2)",
        "| MAC, add/subtract/skip",
        "| MAC, 2-bit signed multiply",
    ]
    assert "| 1.67 | 0.9000 | `lut_m2n64k6_g3s_w2t3_" in table[0] and "**3.00x**" in table[0]
    assert "| 2.00 | 0.5000 |" in table[1] and "**1.67x**" in table[1]
    assert "**1.00x**" in table[2] and "**0.50x**" in table[3]
    assert "## Ternary weights" not in summarize(rows[:2], "no ternary")


def test_fp16_summary_compares_fp_tiles_at_equal_accumulation():
    fp = {"act_format": "fp16", "a_bits": 16}
    mac, lut = {"planes_per_cycle": 2, **fp}, {"group": 64, **fp}
    rows = [
        _row("fpmac", 2, 0.10, **mac),
        _row("fpmac", 2, 0.20, acc_format="fp16", **mac),
        _row("fplut", 2, 0.30, **lut),
        _row("fplut", 2, 0.80, acc_format="fp16", **lut),
        _row("fpmac", 2, 0.05, acc_format="fixed", **mac),
        _row("fplut", 2, 0.35, acc_format="fixed", offset="output", **lut),
    ]
    text = summarize(rows, "acc")
    fp32, rest = text.split("## FP16 activations, FP16 accumulation")
    fp16, fixed = rest.split("## FP16 activations, exact fixed-point accumulation")
    assert "**3.00x**" in fp32 and "0.8000" not in fp32  # 0.30 / 0.10, FP32 against FP32
    assert "**4.00x**" in fp16 and "0.3500" not in fp16  # 0.80 / 0.20, FP16 against FP16
    assert "**7.00x**" in fixed and "offset out" in fixed  # 0.35 / 0.05, exact against exact
    assert "FP16 accumulation" not in summarize(rows[:4:2], "fp32 only")


def test_summary_lists_pim_points_with_and_without_the_sram(tmp_path):
    pim = {"symmetric": False, "N": 8, "K": 8, "max_k": 1024}
    rows = [
        _row("lut", 2, 0.20),
        _row("pim", 2, 0.0013, M=4, **pim)
        | {"sram_area_um2": 2.0e6, "tops_per_mm2_logic": 0.0128, "fmax_logic_only_mhz": 150.0}
        | {"sram_banks": 2, "sram_bits": 2 * 1920 * 40},
        _row("pim", 2, 0.0009, M=1, read_ports=2, **pim)
        | {"sram_area_um2": 1.0e6, "tops_per_mm2_logic": 0.0051},  # a row of an older sweep
    ]
    text = summarize(rows, "pim")
    assert "## PIM tile" in text
    lines = [ln for ln in text.splitlines() if ln.startswith("| `pim_")]
    assert [ln.split(" | ")[1] for ln in lines] == ["1", "4"]  # ordered by B
    assert "| 8 x 2 |" in lines[0] and "| 2,000,000 |" in lines[1] and "0.0128" in lines[1]
    # bank shape (2 x 1920 words x 40 bits = 9.4 KB each), logic / SRAM = 3e5 / 2e6, and
    # the Fmax with the banks' read beside the one with their ports free
    assert "| 2 x 9.4 |" in lines[1] and "| 15.0% |" in lines[1] and "| 100 (150) |" in lines[1]
    assert "| - |" in lines[0] and "| 100 |" in lines[0]
    assert "## PIM tile" not in summarize(rows[:1], "no pim")
    assert all(p.stat().st_size > 1000 for p in write_plots(rows, tmp_path))
