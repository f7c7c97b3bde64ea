"""Shared test configuration: the tile configurations the suite covers, tool gating."""

from __future__ import annotations

import pytest

from lutcore.hw.config import DEFAULT, TileConfig
from lutcore.sim.tools import ToolMissing, in_ci, require

#: The configurations every RTL-level test covers (issue: "Configurations the suite must
#: cover"), with the runtime-K ceiling kept modest where the corner test runs at max_k.
CONFIGS = {
    "default": DEFAULT,
    "m1n8k8_utable_w1": TileConfig(
        M=1, N=8, K=8, g=4, symmetric=False, w_bits=1, max_k=256, pipeline=0
    ),
    "m4n16k16_g2_signed4": TileConfig(
        M=4, N=16, K=16, g=2, w_bits=4, weight_format="signed", max_k=512, pipeline=2
    ),
    "m2n32k8_w3_int4": TileConfig(M=2, N=32, K=8, w_bits=3, a_bits=4, max_k=1024),
    "bitparallel_int16": TileConfig(
        M=2,
        N=16,
        K=8,
        w_bits=4,
        planes_per_cycle=4,
        weight_format="signed",
        a_bits=16,
        max_k=8192,
    ),
    # the MAC baseline: the paper's shape bit-serial with zero points, and bit-parallel
    # signed 4-bit weights with the adder-tree register
    "mac_default": DEFAULT.replace(arch="mac"),
    "mac_bitparallel_signed4": TileConfig(
        arch="mac",
        M=2,
        N=16,
        K=8,
        w_bits=4,
        planes_per_cycle=4,
        weight_format="signed",
        max_k=512,
        pipeline=2,
    ),
    # BCQ: three binary planes side by side (8 weights in 24 columns)
    "bcq3_symmetric": TileConfig(M=2, N=24, K=8, w_bits=3, weight_format="bcq", max_k=512),
    # the FP16 baseline: FP16 activations, FP16-dequantized weights, FP32 accumulation
    "fpmac_w2": TileConfig(
        arch="fpmac",
        M=2,
        N=16,
        K=4,
        w_bits=2,
        planes_per_cycle=2,
        act_format="fp16",
        a_bits=16,
        max_k=256,
        pipeline=2,
    ),
    # LUT Tensor Core's FP-table design point: FP16 tables, FP adds, FP32 accumulation
    "fplut_w2": TileConfig(
        arch="fplut", M=2, N=8, K=4, w_bits=2, act_format="fp16", a_bits=16, group=64, max_k=256
    ),
}


def require_tool(tool: str) -> str:
    """The tool's path; outside CI a missing tool skips (saying how to get it), in CI fails."""
    try:
        return require(tool)
    except ToolMissing as exc:
        if in_ci():
            pytest.fail(f"CI=true and {exc}")
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def compact_reports(tmp_path_factory):
    """The three QoR designs on the compact library (about two minutes): shared by the
    report, QoR-baseline, calibration and gate-level tests. Returns the reports' folder and
    ``{name: report}``; each design's netlist is ``<folder>/<slug>/netlist.v``."""
    from lutcore.synth.qor import QOR_CONFIGS
    from lutcore.synth.report import run_synth

    require_tool("sta")
    out = tmp_path_factory.mktemp("reports")
    reports = {n: run_synth(c, out, progress=lambda _: None) for n, c in QOR_CONFIGS.items()}
    return out, reports
