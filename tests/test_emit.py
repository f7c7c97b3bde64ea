"""Emitted Verilog: stable, named for its configuration, no machine paths, lint-clean."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from amaranth import __version__ as amaranth_version

import lutcore
from lutcore.base.yosys import yosys_version
from lutcore.hw.config import TileConfig, tile_config
from lutcore.hw.emit import part_name, part_verilog, tile_verilog, top_name, write_tile
from lutcore.hw.presets import DEFAULT, PRESETS
from lutcore.sim.lint import lint

from .support import CONFIGS, require_tool


@pytest.mark.parametrize(
    "name, blocks",
    [
        ("utable_w1", {"control", "lut_array", "lut_column", "precompute", "table_buffer"}),
        ("mac_bitparallel_signed4", {"act_buffer", "control", "mac_array", "mac_column"}),
    ],
)
def test_verilog_is_deterministic_and_path_free(name, blocks):
    cfg = CONFIGS[name]
    text = tile_verilog(cfg)
    assert text == tile_verilog(cfg)
    for noise in ("/work/", "/home/", "/tmp/", "/opt/", ".py:", "src ="):
        assert noise not in text, noise
    modules = re.findall(r"^module (\S+?)\(", text, flags=re.M)
    assert set(modules) == {cfg.slug} | {f"{cfg.slug}__{b}" for b in blocks}
    assert cfg.slug.startswith(f"{cfg.arch}_")
    assert f"//   w_bits = {cfg.w_bits}" in text and f"//   arch = {cfg.arch}" in text


@pytest.mark.parametrize(
    "name, unit",
    [
        ("utable_w1", "lut_column"),
        ("fpmac_w2", "fpmac_column"),
        ("fplut_w2", "fplut_column"),
        ("small_mac", "mac_column"),
    ],
)
def test_array_columns_are_one_module(name, unit):
    """The array's N columns are one module, instantiated as col_0 .. col_<N-1> inside the
    array block; without sharing, every column is its own module (the Amaranth model's
    structure)."""
    cfg = CONFIGS.get(name) or PRESETS[name]
    text = tile_verilog(cfg)
    module = f"{cfg.slug}__{unit}"
    assert len(re.findall(rf"^module {module}\(", text, flags=re.M)) == 1
    found = sorted(int(n) for n in re.findall(rf"^  {module} col_(\d+) \(", text, flags=re.M))
    assert found == list(range(cfg.N))
    flat = part_verilog(cfg, "tile", shared=False)
    columns = re.findall(r"^module (\S+__col_\d+)\(", flat, flags=re.M)
    assert len(columns) == cfg.N and module not in flat


def test_write_tile_outputs_and_no_leftovers(tmp_path):
    cfg = CONFIGS["utable_w1"]
    path = write_tile(cfg, tmp_path)
    assert path.name == f"{cfg.slug}.v"
    assert TileConfig.from_dict(json.loads(path.with_suffix(".json").read_text())) == cfg
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"{cfg.slug}.{ext}" for ext in ("core", "json", "v")]


@pytest.mark.parametrize("name", ["utable_w1", "fplut_w2"])
def test_fusesoc_core_names_the_emitted_files(tmp_path, name):
    """The CAPI2 core parses with FuseSoC's own parser, lists every emitted Verilog file,
    and names the tile (and each converter part) as top module."""
    from fusesoc.capi2.core import CoreInterface
    from fusesoc.capi2.coreparser import Core2Parser

    cfg = CONFIGS[name]
    path = write_tile(cfg, tmp_path)
    core = CoreInterface(Core2Parser(), path.with_suffix(".core"))
    assert str(core.name) == f"lutcore:tile:{cfg.slug}:{lutcore.__version__}"
    files = [f["name"] for f in core.get_files({"target": "default"})]
    assert sorted(files) == sorted(f"{part_name(cfg, p)}.v" for p in cfg.parts)
    assert all((tmp_path / f).exists() for f in files)
    assert core.get_toplevel({"target": "default"}) == cfg.slug
    assert core.get_toplevel({"target": "lint"}) == cfg.slug
    for part in cfg.parts[1:]:
        assert core.get_toplevel({"target": part}) == part_name(cfg, part)
    text = path.with_suffix(".core").read_text()
    assert f"#   w_bits = {cfg.w_bits}" in text and "read_ports" not in text


HASHES = json.loads(Path(__file__).with_name("verilog_sha256.json").read_text())


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_emitted_verilog_is_unchanged(name):
    """Every part of every preset emits the recorded Verilog: the same logic (the text after
    the header) and the same file. A refactor that changes either shows up here."""
    tools = {"amaranth": amaranth_version, "yosys": yosys_version().split(" (")[0]}
    if tools != HASHES["tools"]:
        pytest.skip(f"recorded with {HASHES['tools']}, running {tools}: re-record the list")
    cfg = PRESETS[name]
    for part in cfg.parts:
        design = part_name(cfg, part)
        assert design in HASHES["designs"], f"{design}: not in tests/verilog_sha256.json"
        recorded = HASHES["designs"][design]
        text = part_verilog(cfg, part)
        lines = text.splitlines(True)
        first = next(i for i, ln in enumerate(lines) if not ln.startswith("//"))
        body = "".join(lines[first:])  # after the header comment
        assert hashlib.sha256(body.encode()).hexdigest() == recorded["body"], design
        assert hashlib.sha256(text.encode()).hexdigest() in recorded["file"], design


def test_slug_distinguishes_every_parameter():
    variants = {
        DEFAULT.replace(**{name: value})
        for name, value in [
            ("M", 4),
            ("N", 32),
            ("K", 8),
            ("g", 2),
            ("symmetric", False),
            ("w_bits", 4),
            ("weight_format", "signed"),
            ("a_bits", 16),
            ("planes_per_cycle", 2),
            ("max_k", 1024),
            ("pipeline", 2),
            ("arch", "mac"),
        ]
    } | {DEFAULT}
    assert len({top_name(c) for c in variants}) == len(variants)
    fp = PRESETS["fplut_w2_acc16"]  # the FP-table tile's knobs
    fp_variants = {fp, fp.replace(offset="output"), fp.replace(acc_format="fp32")}
    assert len({top_name(c) for c in fp_variants}) == len(fp_variants)
    assert len({part_name(c, "dequant") for c in fp_variants}) == len(fp_variants)


@pytest.mark.parametrize("name", CONFIGS)
def test_verilator_lint_clean(name, tmp_path):
    require_tool("verilator")
    cfg = CONFIGS[name]
    findings = lint(write_tile(cfg, tmp_path), top_name(cfg))
    assert findings == [], "\n".join(findings[:20])


FP_PATHS = {
    "bcq3_bf16": tile_config(
        M=2,
        N=8,
        K=4,
        group=16,
        max_k=64,
        act_format="bf16",
        a_bits=8,
        weight_format="bcq",
        w_bits=3,
        out_format="fp16",
    ),
    # the FP-table tile takes FP16 words itself: no activation converter
    "fplut": tile_config(
        arch="fplut", M=2, N=8, K=4, group=16, max_k=64, act_format="fp16", a_bits=16
    ),
}


@pytest.mark.parametrize("name", FP_PATHS)
def test_fp_configuration_emits_and_lints_its_converters(name, tmp_path):
    """With FP activations `make verilog` also writes the converters the configuration
    needs, each named by its configuration, each lint clean."""
    require_tool("verilator")
    cfg = FP_PATHS[name]
    write_tile(cfg, tmp_path)
    names = {p.stem for p in tmp_path.glob("*.v")}
    assert names == {part_name(cfg, part) for part in cfg.parts}
    want = {
        "bcq3_bf16": {
            "actconv_l16_bf16b16rne_a8_w3b_fp16",
            "dequant_l2_kmax64_bf16b16rne_a8_w3b_fp16",
        },
        "fplut": {"dequant_fp32in_l2_kmax64_fp16b16rne_a16_w2u_fp32"},
    }[name]
    assert want <= names and len(names) == len(want) + 1, names
    for part in cfg.parts:
        text = (tmp_path / f"{part_name(cfg, part)}.v").read_text()
        assert f"module {part_name(cfg, part)}(" in text and "act_format = " in text
        findings = lint(tmp_path / f"{part_name(cfg, part)}.v", part_name(cfg, part))
        assert findings == [], "\n".join(findings[:20])


@pytest.mark.parametrize("part", ["pim_fp16_to_bfp", "pim_int_to_fp16"])
def test_pim_converter_engines_lint_clean(part, tmp_path):
    """The PIM tile's in-memory converters (synthesized on request by `make pim`) emit
    lint-clean Verilog named by their program and width."""
    from lutcore.hw.emit import part_verilog

    require_tool("verilator")
    cfg = tile_config(act_format="fp16", a_bits=16)
    name = part_name(cfg, part)
    assert name.startswith(part) and name.endswith("_c128")
    path = tmp_path / f"{name}.v"
    path.write_text(part_verilog(cfg, part))
    findings = lint(path, name)
    assert findings == [], "\n".join(findings[:20])
