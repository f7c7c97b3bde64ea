"""Synthesis flow (work in progress for issue 3): cell library, bad input, report."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lutcore.cli import main
from lutcore.hw.config import DEFAULT, TileConfig
from lutcore.sim.tools import in_ci
from lutcore.synth.liberty import (
    COMPACT_CELLS,
    DEFAULT_LIBERTY,
    LibertyError,
    check_liberty,
    compact_liberty,
    read_liberty_text,
)
from lutcore.synth.report import run_synth

from .conftest import require_tool

SMALL = TileConfig(M=1, N=8, K=8, g=4, symmetric=False, w_bits=1, max_k=256)
FULL_SKY130 = Path(
    os.environ.get(
        "LUTCORE_SKY130_LIB", Path(__file__).parents[2] / "shared/libs/sky130hd_tt.lib.gz"
    )
)


def full_library() -> Path:
    if not FULL_SKY130.exists():
        message = f"full sky130 library not found at {FULL_SKY130} (set LUTCORE_SKY130_LIB)"
        if in_ci():
            pytest.fail(f"CI=true and {message}")
        pytest.skip(message)
    return FULL_SKY130


def test_shipped_library_is_the_generated_subset():
    source = full_library()
    text = compact_liberty(read_liberty_text(source), source.name)
    assert DEFAULT_LIBERTY.read_text() == text, "run `python -m lutcore.synth.liberty <lib>`"
    for cell in COMPACT_CELLS:
        assert f'cell ("{cell}")' in text
    assert "internal_power" not in text and "Apache" in text


def test_liberty_without_flip_flop_is_refused(tmp_path):
    lib = tmp_path / "noff.lib"
    lib.write_text(
        'library ("x") {\n  cell ("inv") { area : 1; pin ("A") { direction : input; }\n'
        '    pin ("Y") { direction : output; function : "!A"; } }\n'
        '  cell ("nand") { area : 1; pin ("Y") { direction : output; function : "!(A&B)"; } }\n}\n'
    )
    with pytest.raises(LibertyError) as info:
        check_liberty(lib)
    assert str(lib) in str(info.value) and "D flip-flop" in str(info.value)


def test_unreadable_liberty_and_cli_writes_nothing(tmp_path, capsys):
    with pytest.raises(LibertyError, match="cannot read"):
        check_liberty(tmp_path / "missing.lib")
    out = tmp_path / "reports"
    with pytest.raises(SystemExit) as info:
        main(["synth", "--liberty", str(tmp_path / "missing.lib"), "-o", str(out)])
    assert info.value.code == 2
    assert "missing.lib: cannot read" in capsys.readouterr().err
    assert not out.exists()


@pytest.fixture(scope="module")
def default_report(tmp_path_factory):
    """The paper's tile on the compact library (about a minute)."""
    require_tool("sta")
    out = tmp_path_factory.mktemp("reports")
    return out, run_synth(DEFAULT, out, progress=lambda _: None)


def test_report_files_and_block_areas(default_report):
    out, rep = default_report
    folder = out / DEFAULT.slug
    assert sorted(p.name for p in folder.iterdir()) == ["netlist.v", "report.json", "report.md"]
    assert not [p for p in out.iterdir() if p.name.startswith(".work-")]
    assert json.loads((folder / "report.json").read_text()) == rep
    area = rep["area_um2"]
    blocks = area["by_block"]
    assert all(blocks[b] > 0 for b in ("precompute", "table_buffer", "control", "lut_array"))
    # the four blocks account for the tile: what is left at the top is within 2%
    assert abs(blocks["top_glue"]) <= 0.02 * area["by_block_total"]
    # blocks (mapped one by one) plus fanout buffers sum to the timed netlist within 2%
    assert sum(blocks.values()) == pytest.approx(area["total"], rel=0.02)
    assert rep["liberty"]["name"] == "lutcore_sky130hd_compact"
    assert rep["timing"]["source"] == "OpenSTA"
    assert rep["timing"]["max_fanout"] <= 16  # fanout repair leaves no broadcast net behind


def test_density_follows_from_area_and_fmax(default_report):
    _, rep = default_report
    thr = rep["throughput"]
    assert thr["weight_bit_macs_per_cycle"] == DEFAULT.M * DEFAULT.N * DEFAULT.K
    expected = 2 * thr["macs_per_cycle"] * rep["timing"]["fmax_mhz"] * 1e6 / 1e12
    assert thr["tops_per_mm2"] == pytest.approx(expected / (rep["area_um2"]["total"] * 1e-6), 1e-3)


def test_compact_library_area_within_10_percent_of_full(tmp_path):
    require_tool("sta")
    compact = run_synth(SMALL, tmp_path / "compact", progress=lambda _: None)
    full = run_synth(SMALL, tmp_path / "full", liberty=full_library(), progress=lambda _: None)
    ratio = compact["area_um2"]["total"] / full["area_um2"]["total"]
    assert 0.9 <= ratio <= 1.1, ratio
