"""Helpers the tests share (not tests): tool gating, the configurations every RTL-level
test covers, and stimulus generators of the floating-point blocks."""

from __future__ import annotations

import numpy as np
import pytest

from lutcore.base.tools import ToolMissing, in_ci, require
from lutcore.hw.config import FP32, TileConfig
from lutcore.hw.presets import PRESETS
from lutcore.sim import fpgolden as fg

__all__ = ["CONFIGS", "dequant_items", "in_ci", "require_tool", "special_blocks", "tie_operands"]

#: The configurations every RTL-level test covers (presets by name; the runtime-K ceiling
#: kept modest where the corner test runs at max_k).
CONFIGS: dict[str, TileConfig] = {
    name: PRESETS[name]
    for name in (
        "paper",
        "utable_w1",
        "g2_signed4",
        "w3_int4",
        "bitparallel_int16",
        "mac_paper",
        "mac_bitparallel_signed4",
        "bcq3",
        "ternary_base3",
        "ternary_planes",
        "mac_ternary",
        "fpmac_w2",
        "fplut_w2",
        "fplut_w2_acc16",
        "fplut_w2_offout",
        "fplut_w2_fixed",
        "fpmac_w2_fixed",
    )
}


def require_tool(tool: str) -> str:
    """The tool's path; outside CI a missing tool skips (saying how to get it), in CI fails."""
    try:
        return require(tool)
    except ToolMissing as exc:
        if in_ci():
            pytest.fail(f"CI=true and {exc}")
        pytest.skip(str(exc))


def special_blocks(fmt, block: int, rng) -> np.ndarray:
    """Blocks of random magnitudes over the whole exponent range plus every special case."""
    n = 40
    x = rng.standard_normal((n, block)) * 2.0 ** rng.integers(-30, 16, (n, 1))
    x *= 2.0 ** rng.integers(-8, 3, (n, block))
    with np.errstate(over="ignore"):
        bits = fg.to_bits(x, fmt)
    inf = fmt.exp_field_max << fmt.frac_bits
    bits[0, 0] = inf | (1 << (fmt.width - 1))  # -inf
    bits[1, -1] = inf | 5  # NaN
    bits[2, :] = 1  # all smallest subnormals
    bits[3, :] = 0  # all zeros
    bits[4, ::2] = 1 << (fmt.width - 1)  # negative zeros
    bits[5, :] = inf - 1  # largest finite: rounds up into saturation
    bits[6, 0] = (1 << fmt.frac_bits) - 1  # largest subnormal next to normals
    return bits


def tie_operands(frac_bits: int, limit: int) -> list[tuple[int, int]]:
    """Two (integer, FP16 coefficient) pairs whose exact product lies halfway between two
    output values: the first rounds down to even, the second up; integers within ``limit``."""
    found = {}
    for coeff, sig in ((0x3C00, 1024), (0x3BFF, 2047)):  # 1.0 and 2047/1024
        for value in range(1, limit + 1):
            product = value * sig
            low = (product & -product).bit_length() - 1  # trailing zeros
            bits = product.bit_length() - low
            if bits == frac_bits + 2:  # one bit beyond the kept significand, and it is set
                found.setdefault((product >> (low + 1)) & 1, (value, coeff))
            if len(found) == 2:
                return [found[0], found[1]]
    raise AssertionError("no tie operands in range")


def dequant_items(
    cfg: TileConfig, n: int, rng
) -> tuple[list[dict], np.ndarray, np.ndarray, np.ndarray]:
    """Random items over the full operand ranges plus overflow, underflow, zero and NaN
    cases; returns the items and the golden model's ``ints``, ``coeffs``, ``x``."""
    terms = cfg.dequant_terms
    acc_max = (1 << (cfg.acc_bits - 2)) - 1
    ints = rng.integers(-acc_max, acc_max, (n, terms)) >> rng.integers(0, cfg.acc_bits, (n, terms))
    coeffs = rng.integers(0, 0x7C00, (n, terms)) | (rng.integers(0, 2, (n, terms)) << 15)
    if cfg.act_format != "int":
        lo, hi = -(1 << (cfg.bfp_exp_bits - 1)), (1 << (cfg.bfp_exp_bits - 1)) - 1
        offset = int(getattr(cfg, "offset_out", False))  # room for x - 1 and x + 1
        x = rng.integers(lo + offset, hi - offset, n, endpoint=True)
    else:
        x = np.zeros(n, np.int64)
    coeffs[0] = 0x7BFF  # largest scale with the largest integers: overflow to inf in fp16
    ints[0] = acc_max
    coeffs[1] = 0x0001  # smallest subnormal scale: subnormal or zero results
    ints[1] = rng.integers(-5, 5, terms)
    ints[2] = 0  # exact zero -> +0
    coeffs[3, -1] = 0x7C00  # inf coefficient -> NaN
    coeffs[4, 0] = 0x7E01  # NaN coefficient -> NaN
    coeffs[5] = 0x8000  # negative zero scale
    for row, (value, coeff) in zip(
        (6, 7), tie_operands(cfg.out_fmt.frac_bits, acc_max), strict=True
    ):
        coeffs[row], ints[row], x[row] = 0, 0, 0  # exact ties: round to even (down, then up)
        coeffs[row, 0], ints[row, 0] = coeff, value
    items, ints_g = [], []
    for b in range(n):
        item = {"x": int(x[b])} if cfg.act_format != "int" else {}
        if cfg.fp_tables:  # an FP32 result: its significand and exponent are the term
            word = 0x7F7FFFFF if b == 0 else fg.round_to_format(int(ints[b, 0]), x[b], FP32)
            sign, sig, exp, _ = fg.decode(word, FP32)
            x[b] = exp
            items.append({"acc": int(word), "scale": int(coeffs[b, 0])})
            ints_g.append([-int(sig) if sign else int(sig)])
            continue
        if getattr(cfg, "offset_out", False):
            # the integer tile's twice-the-result and row sum: (acc + (C - 2z) * S) * 2**(x-1)
            # (the corners with S = 0 and x one higher, so that they stay the corners)
            total = int(rng.integers(-(1 << (cfg.total_bits - 2)), 1 << (cfg.total_bits - 2)))
            total = total if b > 7 else 0
            zero = int(rng.integers(0, 1 << cfg.w_bits)) if cfg.has_zero_point else 0
            item |= {"acc": int(ints[b, 0]), "scale": int(coeffs[b, 0]), "total": total}
            item |= {"zero": zero} if cfg.has_zero_point else {}
            if b <= 7:
                item["x"] = int(x[b]) + 1
            else:
                x[b] -= 1
            ints_g.append([int(ints[b, 0]) + (cfg.offset_coefficient - 2 * zero) * total])
        elif cfg.weight_format == "bcq":
            item |= {
                "planes": ints[b, :-1].tolist(),
                "alpha": coeffs[b, :-1].tolist(),
                "offset": int(coeffs[b, -1]),
                "total": int(ints[b, -1]),
            }
            ints_g.append(ints[b])
        elif cfg.has_zero_point:
            total = int(rng.integers(-(1 << (cfg.total_bits - 2)), 1 << (cfg.total_bits - 2)))
            zero = int(rng.integers(0, 1 << cfg.w_bits)) if b > 7 else 0  # corners: z = 0
            item |= {
                "acc": int(ints[b, 0]),
                "scale": int(coeffs[b, 0]),
                "zero": zero,
                "total": total,
            }
            ints_g.append([int(ints[b, 0]) - zero * total])
        else:
            item |= {"acc": int(ints[b, 0]), "scale": int(coeffs[b, 0])}
            ints_g.append([int(ints[b, 0])])
        items.append(item)
    return items, np.array(ints_g, np.int64), coeffs, x
