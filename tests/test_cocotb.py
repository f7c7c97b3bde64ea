"""cocotb on the emitted Verilog (Verilator for every configuration, Icarus for one):
random GEMMs with random valid gaps and ready backpressure, corner cases at the maximum
runtime K, a GEMM of A 4x512 @ W 512x256 and a long GEMV on the default tile."""

from __future__ import annotations

import functools

import pytest

from lutcore.sim.runner import SimulationFailed, build, run_scenario
from lutcore.sim.scenario import corner_scenario, random_scenario

from .conftest import CONFIGS, require_tool

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


@pytest.mark.parametrize("name", CONFIGS)
def test_corners_at_max_runtime_k(name):
    cfg = CONFIGS[name]
    report = run_scenario(
        built("verilator", name), corner_scenario(cfg, seed=5, p_stall=0.2), name="corners"
    )
    assert report["weight_beats"] == report["tiles"] * cfg.max_slices * cfg.beats_per_slice


def test_default_gemm_4x512_by_512x256():
    cfg = CONFIGS["default"]
    sc = random_scenario(cfg, 4, 512, 256, seed=1, p_gap=0.2, p_stall=0.3)
    report = run_scenario(built("verilator", "default"), sc, name="gemm_4x512x256")
    assert report["tiles"] == 2 * 4


def test_default_long_gemv_keeps_the_array_busy():
    cfg = CONFIGS["default"]
    sc = random_scenario(cfg, 1, 4096, 256, seed=2)
    report = run_scenario(built("verilator", "default"), sc, name="gemv_4096x256")
    assert report["utilization"] >= 0.95, report


@pytest.mark.parametrize("scenario", ["random", "corners"])
def test_icarus(scenario):
    name = "m2n32k8_w3_int4"
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
    name = "m2n32k8_w3_int4"
    sc = random_scenario(CONFIGS[name], 2, 16, 8, seed=1, corrupt=True)
    with pytest.raises(SimulationFailed):
        run_scenario(built(simulator, name), sc, name="corrupt")
