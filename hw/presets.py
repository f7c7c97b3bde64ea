"""Named configurations: the paper's tile, small ones for the edit-test loop, and the ones
CI covers. ``lutcore verilog --preset NAME`` starts from one (flags override it); tests and
flows take them by name instead of spelling them out again.
"""

from __future__ import annotations

from .config import TileConfig, tile_config

__all__ = ["DEFAULT", "PRESETS", "preset"]

#: The paper's tile: M2 N64 K4, g=4 symmetric tables, 2-bit unsigned weights, int8.
DEFAULT = tile_config()

PRESETS: dict[str, TileConfig] = {
    "paper": DEFAULT,
    # the smallest useful LUT tile (the edit-test loop; formal equivalence)
    "small": tile_config(M=1, N=4, K=4, max_k=64),
    "small_mac": tile_config("mac", M=1, N=2, K=2, w_bits=1, max_k=16),
    # the configurations every RTL-level test covers
    "utable_w1": tile_config(M=1, N=8, K=8, symmetric=False, w_bits=1, max_k=256, pipeline=0),
    "g2_signed4": tile_config(
        M=4, N=16, K=16, g=2, w_bits=4, weight_format="signed", max_k=512, pipeline=2
    ),
    "w3_int4": tile_config(M=2, N=32, K=8, w_bits=3, a_bits=4, max_k=1024),
    "bitparallel_int16": tile_config(
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
    "mac_paper": tile_config("mac"),
    "mac_bitparallel_signed4": tile_config(
        "mac",
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
    "bcq3": tile_config(M=2, N=24, K=8, w_bits=3, weight_format="bcq", max_k=512),
    # ternary (BitNet b1.58) weights: base-3 groups of 3 (5 bits, 1.67 bits a weight), the
    # same weights as 2-bit planes (W_INT2), and the add/subtract/skip MAC baseline
    "ternary_base3": tile_config(M=2, N=16, K=6, g=3, weight_format="ternary", max_k=384),
    "ternary_planes": tile_config(
        M=2, N=16, K=4, weight_format="ternary", ternary_code="planes", max_k=256
    ),
    "mac_ternary": tile_config(
        "mac", M=2, N=16, K=4, weight_format="ternary", planes_per_cycle=2, max_k=256
    ),
    # the FP16 baseline: FP16 activations, FP16-dequantized weights, FP32 accumulation
    "fpmac_w2": tile_config(
        "fpmac", M=2, N=16, K=4, w_bits=2, planes_per_cycle=2, max_k=256, pipeline=2
    ),
    # LUT Tensor Core's FP-table design point: FP16 tables, FP adds, FP32 accumulation
    "fplut_w2": tile_config("fplut", M=2, N=8, K=4, w_bits=2, group=64, max_k=256),
    # the FP-table tile with LUT Tensor Core's own accumulation: FP16, no zero point
    "fplut_w2_acc16": tile_config(
        "fplut",
        M=2,
        N=8,
        K=4,
        w_bits=2,
        weight_format="signed",
        group=64,
        max_k=256,
        acc_format="fp16",
    ),
    # the SRAM-PIM tile: two banks of B=4 tables, 3-bit weights
    "pim_b4": tile_config("pim", M=4, N=4, K=8, w_bits=3, max_k=128),
    # the QoR designs beside the paper's tile: a minimal unsigned-table 1-bit tile and a
    # g=2 signed-weight tile with two pipeline registers
    "qor_utable_w1": tile_config(M=1, N=8, K=8, symmetric=False, w_bits=1, max_k=256),
    "qor_g2_signed4_pipe2": tile_config(
        M=2, N=16, K=8, g=2, w_bits=4, weight_format="signed", max_k=512, pipeline=2
    ),
    # gate-level simulation (small, for CI's time): a bit-parallel signed MAC with its
    # multipliers and two pipeline registers, the FP-table tile, the PIM tile
    "gate_mac_signed4_pipe2": tile_config(
        "mac",
        M=1,
        N=8,
        K=4,
        w_bits=4,
        planes_per_cycle=4,
        weight_format="signed",
        max_k=64,
        pipeline=2,
    ),
    "gate_fplut_w2": tile_config("fplut", M=1, N=4, K=4, w_bits=2, group=64, max_k=64),
    "gate_pim": tile_config("pim", M=2, N=4, K=8, w_bits=2, max_k=64),
}
# the FP16-accumulating FP-table tile with the authors' function: the offset out of the
# array (the dequant converter adds it), so one chunk and one plane a beat is one FP16 add
# per cell; pipeline 2
PRESETS["fplut_w2_offout"] = PRESETS["fplut_w2_acc16"].replace(offset="output", pipeline=2)
# and with exact fixed-point accumulation (integers of 2**-24, one rounding per output in
# the dequant converter): the FP-table tile at the integer tile's clock
PRESETS["fplut_w2_fixed"] = PRESETS["fplut_w2_offout"].replace(acc_format="fixed")
# the FP16 baseline with the same exact accumulation (integers of 2**-48, normalized and
# rounded once by a one-term dequant converter)
PRESETS["fpmac_w2_fixed"] = PRESETS["fpmac_w2"].replace(acc_format="fixed")


def preset(name: str) -> TileConfig:
    """The preset ``name``; a :class:`~lutcore.hw.config.ConfigError` lists the names."""
    from .config import ConfigError

    if name not in PRESETS:
        raise ConfigError(f"preset {name!r}: allowed {', '.join(PRESETS)}")
    return PRESETS[name]
