"""The mapped netlist is the design: resets kept, the netlist simulated by the RTL's own
benches (Icarus and Verilator, cell models from the liberty), timing from the clock's path
group, and the reset check failing a netlist that lost its resets."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest

from lutcore.hw.config import tile_config
from lutcore.hw.presets import DEFAULT, PRESETS
from lutcore.sim.runner import build_gatelevel, run_scenario, run_streams
from lutcore.sim.scenario import corner_scenario, random_scenario
from lutcore.synth.equiv import break_netlist
from lutcore.synth.flow import synthesize, synthesize_verilog
from lutcore.synth.gatelevel import cell_models, gate_sources, netlist_ports
from lutcore.synth.liberty import DEFAULT_LIBERTY, read_liberty_text
from lutcore.synth.netlist import NetlistError, check_resets, reset_reach
from lutcore.synth.report import run_synth

from .support import require_tool

pytestmark = pytest.mark.cocotb

#: Gate-level configurations: the default LUT tile (its netlist from the QoR run), a
#: bit-parallel signed MAC tile with its multipliers and two pipeline registers, the
#: FP-table tile (FP16 tables, FP32 accumulation), the PIM tile. Small, for CI's time.
GATE = {
    "default": DEFAULT,
    "mac_signed4_pipe2": PRESETS["gate_mac_signed4_pipe2"],
    "fplut_w2": PRESETS["gate_fplut_w2"],
    "pim": PRESETS["gate_pim"],
}
PIM = GATE["pim"]


def _simulators(simulator: str) -> None:
    for tool in ("verilator",) if simulator == "verilator" else ("iverilog", "vvp"):
        require_tool(tool)


@pytest.fixture(scope="module")
def gate_build(compact_reports, tmp_path_factory):
    """``gate_build(name, simulator)``: the simulation model of a configuration's mapped
    netlist (the default tile's from the QoR run, the others synthesized here), each built
    once for the module."""
    root = tmp_path_factory.mktemp("gl")
    netlists = {"default": compact_reports[0] / DEFAULT.slug / "netlist.v"}

    @functools.cache
    def make(name: str, simulator: str):
        cfg = GATE[name]
        if name not in netlists:
            run_synth(cfg, root / "reports", progress=lambda _: None)
            netlists[name] = root / "reports" / cfg.slug / "netlist.v"
        sources, top = gate_sources(
            cfg, netlists[name], DEFAULT_LIBERTY, root / f"{name}_{simulator}", cfg.slug
        )
        return build_gatelevel(cfg, sources, top, simulator)

    return make


@pytest.mark.parametrize(
    ("name", "simulator"),
    [("default", "icarus"), ("mac_signed4_pipe2", "icarus"), ("fplut_w2", "icarus")],
)
def test_netlist_runs_the_tile_bench_with_a_reset_mid_tile(gate_build, name, simulator):
    """The RTL's cocotb bench on the mapped netlist: random GEMM with random gaps and
    backpressure, reset in the middle of the second tile, then every word of every tile
    exact. (A netlist whose flip-flops lost their reset fails this: outputs stay X.)"""
    _simulators(simulator)
    cfg = GATE[name]
    built = gate_build(name, simulator)
    sc = random_scenario(
        cfg,
        2 * cfg.M + 1,
        3 * cfg.K,
        cfg.N + 3,
        seed=4,
        p_gap=0.25,
        p_stall=0.3,
        k_per_tile=cfg.K,
        reset_mid_tile=True,
    )
    report = run_scenario(built, sc, name="reset_mid_tile")
    assert report["tiles"] == 3 * 2 * 3


def test_netlist_on_verilator_from_random_flip_flop_values(compact_reports, tmp_path):
    """Verilator starts every flip-flop of the netlist at a random value (as silicon
    powers up); after the reset the corner cases at the largest runtime K are exact."""
    _simulators("verilator")
    from lutcore.synth.qor import QOR_CONFIGS

    cfg = QOR_CONFIGS["m1n8k8_utable_w1"]
    netlist = compact_reports[0] / cfg.slug / "netlist.v"
    sources, top = gate_sources(cfg, netlist, DEFAULT_LIBERTY, tmp_path, cfg.slug)
    built = build_gatelevel(cfg, sources, top, "verilator")
    assert "+verilator+rand+reset+2" in built.plusargs
    sc = corner_scenario(cfg, seed=3, depth=64, p_stall=0.2, reset_mid_tile=True)
    report = run_scenario(built, sc, name="corners")
    assert report["weight_beats"] == report["tiles"] * 64 // cfg.K * cfg.beats_per_slice


def test_pim_netlist_with_the_banks_behavioural_model(gate_build):
    """The PIM tile's netlist with its SRAM banks as the RTL's memory model: a table load,
    two output tiles, memory-mode traffic and an FP16 -> block-FP conversion in the banks,
    every word equal to the golden model's."""
    _simulators("icarus")
    from lutcore.hw.config import FP16
    from lutcore.hw.pim_programs import Conversion
    from lutcore.sim import fpgolden as fg
    from lutcore.sim import pim_driver

    rng = np.random.default_rng(7)
    k = 32
    a = rng.integers(*PIM.a_range, (PIM.M, k), endpoint=True)
    program = [pim_driver.Load(a)]
    for _ in range(2):
        program.append(
            pim_driver.Compute(rng.integers(0, 4, (k, PIM.N)), rng.integers(0, 4, PIM.N))
        )
    row = k // PIM.K * PIM.entries  # above the tables
    words = [int(w) for w in rng.integers(0, 1 << PIM.sram_word_bits, 2)]
    program += [pim_driver.Write(1, row, words[0]), pim_driver.Write(0, row + 1, words[1])]
    program += [pim_driver.Read(0, row + 1), pim_driver.Read(1, row)]
    # an FP16 -> block FP conversion on the banks (the engine's netlist)
    cols = PIM.banks * PIM.sram_word_bits
    fp16 = fg.to_bits(rng.standard_normal(cols) * 2.0 ** rng.integers(-8, 8, cols), FP16)
    convert = pim_driver.conversion_ops(PIM, Conversion.FP16_TO_BFP, fp16)
    program += convert
    inputs, expected = pim_driver.program_streams(PIM, program)
    built = gate_build("pim", "icarus")
    report = run_streams(built, inputs, expected, p_gap=0.2, p_stall=0.3)
    responses = sum(isinstance(op, pim_driver.Read | pim_driver.Convert) for op in convert)
    assert report["outputs"] == 2 + 2 + responses


def test_cell_models_come_from_the_liberty(tmp_path):
    """One Verilog model per liberty cell, written from its function and ff groups: the
    reset flip-flop clears on RESET_B low, the NAND is a NAND."""
    text = cell_models(DEFAULT_LIBERTY, tmp_path / "cells.v").read_text()
    cells = set(read_liberty_text(DEFAULT_LIBERTY).split('cell ("')[1:])
    assert text.count("\nmodule ") + text.startswith("module ") == len(cells)
    dfrtp = text[text.index("module sky130_fd_sc_hd__dfrtp_1(") :].split("endmodule")[0]
    assert "RESET_B" in dfrtp and "posedge CLK" in dfrtp
    nand = text[text.index("module sky130_fd_sc_hd__nand2_1(") :].split("endmodule")[0]
    assert "~(A & B)" in nand or all(term in nand for term in ("~A", "~B", " | "))


@pytest.fixture(scope="module")
def small_synth(tmp_path_factory):
    cfg = tile_config(M=1, N=4, K=4, max_k=64)
    work = tmp_path_factory.mktemp("small")
    return cfg, work, synthesize(cfg, work, progress=lambda _: None)


def test_resets_are_kept_and_a_lost_reset_fails_the_check(small_synth):
    """Every reset flip-flop of the RTL is reached by rst in the netlist (counted per block);
    the same netlist with rst cut inside the blocks (what `abc -dff` did) is refused,
    naming the block."""
    _, work, result = small_synth
    ffs = result.flip_flops
    assert sum(c["rtl_reset"] for c in ffs.values()) > 0
    for block, c in ffs.items():
        assert c["netlist_reset"] == c["rtl_reset"], block
    lib = read_liberty_text(DEFAULT_LIBERTY)
    stat = json.loads((work / "generic.json").read_text())
    broken = work / "broken.v"
    broken.write_text(break_netlist(result.netlist.read_text(), lib, "reset"))
    assert all(r == 0 for _, r in reset_reach(broken.read_text(), lib).values())
    with pytest.raises(NetlistError, match=r"__control: RTL \d+ of \d+ flip-flops reset"):
        check_resets(stat, broken, lib)


def test_wrapper_has_the_rtl_ports(small_synth):
    cfg, _, result = small_synth
    ports = netlist_ports(result.netlist.read_text(), cfg.slug)
    assert ports["y__payload"] == ("output", 64) and ports["clk"] == ("input", None)
    assert ports["a__payload"][1] == cfg.M * cfg.K * cfg.a_bits


ASYNC_COUNTER = """
module counter(input clk, input rst, input [3:0] a, output reg [7:0] q);
  always @(posedge clk or posedge rst)
    if (rst) q <= 8'h5a; else q <= q * a + 8'd1;
endmodule
"""


def test_asynchronous_reset_timing_is_from_the_clock_path_group(tmp_path):
    """A design with an asynchronous reset: the reset flip-flops are mapped to reset cells
    (counted by the check), the critical path is the clk group's register-to-register
    setup path, and the recovery/removal checks are reported apart (the first slack OpenSTA
    prints is the recovery check, which once gave 4,468 MHz)."""
    require_tool("sta")
    result = synthesize_verilog(ASYNC_COUNTER, "counter", tmp_path, progress=lambda _: None)
    timing = result.timing
    assert timing["path_group"] == "clk"
    assert set(timing["async_reset_checks"]) == {"recovery", "removal"}
    assert timing["async_reset_checks"]["recovery"]["startpoint"] == "rst"
    assert timing["startpoint"] != "rst" and timing["logic_levels"] >= 4
    assert 50 < timing["fmax_mhz"] < 1500  # a multiply-add chain, not a reset pin
    assert result.flip_flops["top_glue"] == {
        "rtl": 8,
        "rtl_reset": 8,
        "netlist": 8,
        "netlist_reset": 8,
    }
    assert result.cells.get("sky130_fd_sc_hd__dfrtp_1") == 8
