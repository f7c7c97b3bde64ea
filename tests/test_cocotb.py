"""cocotb on the emitted Verilog (Verilator for every configuration, Icarus for one):
random GEMMs with random valid gaps and ready backpressure, corner cases at the maximum
runtime K, a GEMM of A 4x512 @ W 512x256 and a long GEMV on the default tile."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from lutcore.hw.config import TileConfig, tile_config
from lutcore.hw.presets import PRESETS
from lutcore.sim.runner import SimulationFailed, build, run_scenario, run_stream, run_streams
from lutcore.sim.scenario import corner_scenario, random_scenario

from .support import CONFIGS, require_tool

pytestmark = pytest.mark.cocotb


@functools.cache
def _build(simulator: str, name: str):
    return build(CONFIGS[name], simulator)


def built(simulator: str, name: str):
    if simulator == "verilator":
        require_tool("verilator")
    else:
        require_tool("iverilog")
        require_tool("vvp")
    return _build(simulator, name)


@pytest.mark.parametrize("name", CONFIGS)
def test_random_gemm_with_backpressure(name):
    cfg = CONFIGS[name]
    b = built("verilator", name)
    # Ragged shapes exercise the padding; k_per_tile splits K into several output passes.
    sc = random_scenario(
        cfg,
        2 * cfg.M + 1,
        7 * cfg.K - 1,
        2 * cfg.N + 3,
        seed=21,
        p_gap=0.25,
        p_stall=0.3,
        k_per_tile=min(cfg.max_k, 3 * cfg.K),
    )
    report = run_scenario(b, sc, name="random_gemm")
    assert report["tiles"] == 3 * 3 * 3


@pytest.mark.parametrize("name", ["paper", "mac_bitparallel_signed4", "fplut_w2"])
def test_reset_in_the_middle_of_a_tile(name):
    """The RTL forgets a tile cut short by a reset: no result beat after it, then a whole
    GEMM exact (the same bench runs on the mapped netlists in test_gatelevel.py)."""
    cfg = CONFIGS[name]
    sc = random_scenario(
        cfg,
        cfg.M + 1,
        4 * cfg.K,
        cfg.N,
        seed=9,
        p_gap=0.2,
        p_stall=0.2,
        k_per_tile=2 * cfg.K,
        reset_mid_tile=True,
    )
    assert run_scenario(built("verilator", name), sc, name="reset_mid_tile")["tiles"] == 2 * 2


@pytest.mark.parametrize("name", CONFIGS)
def test_corners_at_max_runtime_k(name):
    cfg = CONFIGS[name]
    report = run_scenario(
        built("verilator", name), corner_scenario(cfg, seed=5, p_stall=0.2), name="corners"
    )
    assert report["weight_beats"] == report["tiles"] * cfg.max_slices * cfg.beats_per_slice


def test_default_gemm_4x512_by_512x256():
    cfg = CONFIGS["paper"]
    sc = random_scenario(cfg, 4, 512, 256, seed=1, p_gap=0.2, p_stall=0.3)
    report = run_scenario(built("verilator", "paper"), sc, name="gemm_4x512x256")
    assert report["tiles"] == 2 * 4


def test_default_long_gemv_keeps_the_array_busy():
    cfg = CONFIGS["paper"]
    sc = random_scenario(cfg, 1, 4096, 256, seed=2)
    report = run_scenario(built("verilator", "paper"), sc, name="gemv_4096x256")
    assert report["utilization"] >= 0.95, report


@pytest.mark.parametrize("scenario", ["random", "corners"])
def test_icarus(scenario):
    name = "w3_int4"
    cfg = CONFIGS[name]
    if scenario == "random":
        sc = random_scenario(cfg, 5, 40, 40, seed=8, p_gap=0.3, p_stall=0.3, k_per_tile=16)
    else:
        sc = corner_scenario(cfg, seed=8, depth=128)
    run_scenario(built("icarus", name), sc, name=scenario)


@pytest.mark.parametrize("simulator", ["verilator", "icarus"])
def test_a_wrong_result_fails_the_run(simulator):
    """Harness self-test: when the expected value is off by one, the cocotb test fails and
    the failure reaches pytest with the mismatch."""
    name = "w3_int4"
    sc = random_scenario(CONFIGS[name], 2, 16, 8, seed=1, corrupt=True)
    with pytest.raises(SimulationFailed):
        run_scenario(built(simulator, name), sc, name="corrupt")


# ---- the converters' emitted Verilog -------------------------------------------------------

FP_PATH = tile_config(M=2, N=8, K=4, group=32, max_k=256, act_format="fp16", a_bits=8)
BCQ_PATH = FP_PATH.replace(
    act_format="bf16", a_bits=16, weight_format="bcq", w_bits=3, out_format="fp16"
)


def _const_value(layout, value) -> int:
    return layout.const(value).as_value().value


@pytest.mark.parametrize(
    "cfg", [FP_PATH, BCQ_PATH.replace(act_block="chunk")], ids=["fp16_a8_group", "bf16_a16_chunk"]
)
def test_activation_converter_verilog(cfg):
    """Random blocks with every special value, through the emitted Verilog on Verilator:
    every output beat (mantissas, exponent, running sum, flags) equals the golden model."""
    require_tool("verilator")
    from lutcore.hw.layouts import bfp_layout, fp_act_layout
    from lutcore.sim import fpgolden

    from .support import special_blocks

    blocks = special_blocks(cfg.act_fmt, cfg.bfp_block, np.random.default_rng(3))
    q, x, _, nonfinite = fpgolden.to_bfp(
        blocks, cfg.act_fmt, cfg.bfp_block, cfg.a_bits, cfg.act_rounding
    )
    lanes, per_block = cfg.act_lanes, cfg.bfp_block // cfg.act_lanes
    inputs, expected = [], []
    for b, block in enumerate(blocks):
        running = 0
        for r in range(per_block):
            part = slice(r * lanes, (r + 1) * lanes)
            inputs.append(_const_value(fp_act_layout(cfg), block[part].tolist()))
            running += int(q[b, part].sum())
            expected.append(
                _const_value(
                    bfp_layout(cfg),
                    {
                        "q": q[b, part].tolist(),
                        "x": int(x[b, 0]),
                        "total": running,
                        "nonfinite": int(nonfinite[b, 0]),
                        "last": int(r == per_block - 1),
                    },
                )
            )
    built = build(cfg, "verilator", part="act_converter")
    report = run_stream(built, inputs, expected, name="random", p_gap=0.3, p_stall=0.3)
    assert report["outputs"] == len(expected)


def _dequant_stream(cfg: TileConfig, items_per_lane: int, seed: int):
    """Input payloads and expected output payloads of the dequant converter: random items
    with overflow, underflow, zero, NaN and tie corners, outputs from the golden model."""
    from amaranth.lib.data import ArrayLayout

    from lutcore.hw.layouts import dequant_item_layout
    from lutcore.sim import fpgolden

    from .support import dequant_items

    lanes, width = cfg.dequant_lanes, cfg.out_fmt.width
    items, ints, coeffs, x = dequant_items(cfg, items_per_lane * lanes, np.random.default_rng(seed))
    words = fpgolden.dequant(ints, coeffs, x, cfg.out_fmt)
    layout = ArrayLayout(dequant_item_layout(cfg), lanes)
    inputs = [_const_value(layout, items[i : i + lanes]) for i in range(0, len(items), lanes)]
    expected = [
        sum(int(w) << (lane * width) for lane, w in enumerate(words[i : i + lanes]))
        for i in range(0, len(words), lanes)
    ]
    return inputs, expected


@pytest.mark.parametrize(
    "cfg",
    [FP_PATH, BCQ_PATH, FP_PATH.replace(arch="fplut", a_bits=16)],
    ids=["uniform_fp32", "bcq3_fp16", "fplut_fp32_results"],
)
def test_dequant_converter_verilog(cfg):
    """Random items with overflow, underflow, zero, NaN and tie corners through the emitted
    Verilog on Verilator: every output word equals the golden model."""
    require_tool("verilator")
    inputs, expected = _dequant_stream(cfg, 40, seed=5)
    built = build(cfg, "verilator", part="dequant")
    report = run_stream(built, inputs, expected, name="random", p_gap=0.3, p_stall=0.3)
    assert report["outputs"] == len(expected)


def test_a_wrong_converter_word_fails_the_run():
    """Harness self-test for the stream bench: one expected word off by one fails the run."""
    require_tool("verilator")
    inputs, expected = _dequant_stream(FP_PATH, 8, seed=6)
    expected[3] ^= 1
    with pytest.raises(SimulationFailed, match="output 3 of"):
        run_stream(build(FP_PATH, "verilator", part="dequant"), inputs, expected, name="corrupt")


# ---- the PIM tile's emitted Verilog --------------------------------------------------------

PIM = PRESETS["pim_b4"]


def test_pim_tile_verilog():
    """The PIM tile on Verilator with every stream driven at once (random gaps and
    backpressure): one table load of a batch of four, five output tiles (extreme codes and
    repeated patterns among them), and memory-mode writes and reads of rows above the
    tables, and both in-memory conversions on the banks' region (FP16 -> block FP with
    special words, integer -> FP16); every result word, read word and conversion exponent
    equals the golden model's."""
    require_tool("verilator")
    from lutcore.hw.config import FP16
    from lutcore.hw.pim_programs import Conversion
    from lutcore.sim import pim_driver

    from .support import special_blocks

    rng = np.random.default_rng(12)
    k = 64  # the load uses rows below 64 / K * entries; memory mode works above them
    a = rng.integers(*PIM.a_range, (PIM.M, k), endpoint=True)
    a[1] = PIM.a_range[0]
    program = [pim_driver.Load(a)]
    for i in range(5):
        codes = rng.integers(0, 8, (k, PIM.N))
        if i == 0:
            codes[:] = 7
        if i == 1:
            codes[:, 1:] = codes[:, :1]
        program.append(pim_driver.Compute(codes, rng.integers(0, 8, PIM.N)))
    rows = range(k // PIM.K * PIM.entries, PIM.sram_rows)
    banks, picked = rng.integers(0, PIM.banks, 6), rng.choice(rows, 6, replace=False)
    picks = [(int(b), int(r)) for b, r in zip(banks, picked, strict=True)]
    words = rng.integers(0, 1 << PIM.sram_word_bits, 6)
    program += [pim_driver.Write(b, r, int(w)) for (b, r), w in zip(picks, words, strict=True)]
    program += [pim_driver.Read(b, r) for b, r in picks]
    # both conversions in the banks' region: FP16 words with the special cases in as bit
    # planes, the results read back (checked against lutcore.sim.pim_model.convert_region)
    cols = PIM.banks * PIM.sram_word_bits
    fp16 = special_blocks(FP16, cols, rng)[[0, 5, 7]]
    ints = rng.integers(-(1 << 17), 1 << 17, (1, cols)) >> rng.integers(0, 18, cols)
    reads = 0
    for conversion, blocks in ((Conversion.FP16_TO_BFP, fp16), (Conversion.INT_TO_FP16, ints)):
        for words in blocks:
            ops = pim_driver.conversion_ops(PIM, conversion, words)
            program += ops
            reads += sum(isinstance(op, pim_driver.Read | pim_driver.Convert) for op in ops)
    inputs, expected = pim_driver.program_streams(PIM, program)
    report = run_streams(build(PIM, "verilator"), inputs, expected, p_gap=0.2, p_stall=0.3)
    assert report["outputs"] == 5 + 6 + reads
