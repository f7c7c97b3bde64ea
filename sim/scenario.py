"""Test scenarios: the matrices and stream throttling one simulation run checks.

A scenario is saved as ``.npz`` (arrays plus the configuration as JSON) so the simulator
process, which imports the testbench, sees exactly what the test generated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lutcore.hw.config import FP16, TileConfig

from . import fpgolden

__all__ = ["Scenario", "code_range", "corner_scenario", "random_scenario"]


@dataclass
class Scenario:
    """``A[Mt, Kt] @ W`` with weight codes ``codes[Kt, Nt]`` and zero points ``zero[Nt]``
    (``None`` for signed weights); ``k_per_tile`` is the runtime K per output tile (default
    ``max_k``); ``p_gap``/``p_stall`` throttle the input streams and the result stream.
    ``corrupt`` makes the testbench expect a wrong first word: a self-test of the harness
    (the run must fail). The FP16 baseline's activations are FP16 words and ``scale[Nt]``
    holds its per-column FP16 scales. ``reset_mid_tile``: the bench first runs into the
    middle of the second tile, resets the tile there, then runs the whole scenario."""

    cfg: TileConfig
    a: np.ndarray
    codes: np.ndarray
    zero: np.ndarray | None
    seed: int = 0
    p_gap: float = 0.0
    p_stall: float = 0.0
    k_per_tile: int | None = None
    corrupt: bool = False
    scale: np.ndarray | None = None
    reset_mid_tile: bool = False

    def save(self, path: Path) -> None:
        meta = {
            "cfg": self.cfg.to_dict(),
            "seed": self.seed,
            "p_gap": self.p_gap,
            "p_stall": self.p_stall,
            "k_per_tile": self.k_per_tile,
            "corrupt": self.corrupt,
            "reset_mid_tile": self.reset_mid_tile,
        }
        arrays = {"a": self.a, "codes": self.codes}
        for name in ("zero", "scale"):
            if getattr(self, name) is not None:
                arrays[name] = getattr(self, name)
        with open(path, "wb") as f:
            np.savez(f, meta=np.array(json.dumps(meta)), **arrays)

    @classmethod
    def load(cls, path: Path) -> Scenario:
        with np.load(path) as data:
            meta = json.loads(str(data["meta"]))
            zero, scale = data.get("zero", None), data.get("scale", None)
            return cls(
                TileConfig.from_dict(meta["cfg"]),
                data["a"],
                data["codes"],
                zero,
                meta["seed"],
                meta["p_gap"],
                meta["p_stall"],
                meta["k_per_tile"],
                meta["corrupt"],
                scale,
                meta.get("reset_mid_tile", False),
            )


def code_range(cfg: TileConfig) -> tuple[int, int]:
    """Inclusive range of weight codes: two's complement or unsigned ``w_bits`` (BCQ planes are
    unsigned 1-bit codes)."""
    if cfg.weight_format == "signed":
        return -(1 << (cfg.w_bits - 1)), (1 << (cfg.w_bits - 1)) - 1
    if cfg.weight_format == "bcq":
        return 0, 1
    return 0, (1 << cfg.w_bits) - 1


def random_scenario(
    cfg: TileConfig, rows: int, depth: int, cols: int, *, seed: int = 0, **kw
) -> Scenario:
    """Uniformly random activations, codes and zero points over their full ranges (the FP
    tiles: FP16 activations over a wide exponent range with infinities, NaNs, subnormals
    and zeros among them; the FP16 baseline also random scales that keep every weight
    finite)."""
    rng = np.random.default_rng(seed)
    if cfg.fp_words:
        if cfg.scale_in_command:
            kw.setdefault("scale", fp16_scales(cfg, cols, rng))
        a = fp16_activations((rows, depth), rng)
    else:
        a = rng.integers(*cfg.a_range, size=(rows, depth), endpoint=True)
    codes = rng.integers(*code_range(cfg), size=(depth, cols), endpoint=True)
    zero = rng.integers(*code_range(cfg), size=cols, endpoint=True) if cfg.has_zero_point else None
    return Scenario(cfg, a, codes, zero, seed=seed, **kw)


def fp16_activations(shape: tuple[int, int], rng) -> np.ndarray:
    """FP16 words: normals over exponents 2**-20..2**12, with 2% each of zeros, subnormals,
    infinities and NaNs."""
    value = rng.standard_normal(shape) * 2.0 ** rng.integers(-20, 12, shape)
    words = fpgolden.to_bits(value, FP16)
    pick = rng.random(shape)
    words = np.where(pick < 0.02, 0, words)
    words = np.where((pick >= 0.02) & (pick < 0.04), rng.integers(1, 1 << 10, shape), words)
    words = np.where((pick >= 0.04) & (pick < 0.06), 0x7C00 | (words & 0x8000), words)
    return np.where((pick >= 0.06) & (pick < 0.08), 0x7E00, words)


def fp16_scales(cfg: TileConfig, cols: int, rng) -> np.ndarray:
    """FP16 scales per column: random fractions (down to ``2**-18``) of the largest scale
    that keeps ``scale * W`` finite for every weight."""
    largest = 65504.0 / (1 << cfg.w_bits)
    return fpgolden.to_bits(largest * rng.random(cols) * 2.0 ** rng.integers(-18, 0, cols), FP16)


def corner_scenario(cfg: TileConfig, *, seed: int = 0, depth: int | None = None, **kw) -> Scenario:
    """Extremes at the maximum runtime K (one output tile reduces ``depth``, default
    ``max_k``): rows of all-minimum, all-maximum and alternating activations against columns
    of all-zero codes, all-one codes, the extreme codes, alternating codes and random codes,
    with the zero point at 0, at its maximum and random. The all-minimum row against the
    code/zero pair that maximizes ``|W|`` drives the accumulator to its bound."""
    depth = depth or cfg.max_k
    rng = np.random.default_rng(seed)
    lo, hi = cfg.a_range
    if cfg.fp_words:  # extremes as FP16 words: +-largest, +-inf, NaN, -0, subnormal
        lo, hi = 0xFBFF, 0x7BFF
    c_lo, c_hi = code_range(cfg)
    all_ones = {"signed": -1, "bcq": 1}.get(cfg.weight_format, (1 << cfg.w_bits) - 1)
    rows = [
        np.full(depth, lo),
        np.full(depth, hi),
        np.where(np.arange(depth) % 2, lo, hi),
        rng.integers(lo, hi, size=depth, endpoint=True)
        if not cfg.fp_words
        else rng.choice([0x7C00, 0xFC00, 0x7E00, 0x8000, 0x0001, 0x7BFF], size=depth),
    ]
    col_codes = [
        np.zeros(depth, np.int64),  # every plane all zeros
        np.full(depth, all_ones),  # every plane all ones
        np.full(depth, c_lo),
        np.full(depth, c_hi),
        np.where(np.arange(depth) % 2, c_lo, c_hi),
        rng.integers(c_lo, c_hi, size=depth, endpoint=True),
    ]
    zeros = [0, c_hi, None] if cfg.has_zero_point else [None]
    codes, zero = [], []
    for z in zeros:
        for col in col_codes:
            codes.append(col)
            zero.append(rng.integers(c_lo, c_hi, endpoint=True) if z is None else z)
    a = np.stack(rows)
    codes_arr = np.stack(codes, axis=1)
    zero_arr = np.array(zero, np.int64) if cfg.has_zero_point else None
    if cfg.scale_in_command:
        largest = fpgolden.to_bits(65504.0 / (1 << cfg.w_bits), FP16)
        kw.setdefault("scale", np.full(len(codes), largest))
    return Scenario(cfg, a, codes_arr, zero_arr, seed=seed, k_per_tile=depth, **kw)
