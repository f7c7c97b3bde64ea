"""Test scenarios: the matrices and stream throttling one simulation run checks.

A scenario is saved as ``.npz`` (arrays plus the configuration as JSON) so the simulator
process, which imports the testbench, sees exactly what the test generated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lutcore.hw.config import FP16, TileConfig, show

from . import fpgolden

__all__ = [
    "WORKLOADS",
    "Scenario",
    "code_range",
    "corner_scenario",
    "layer_scenario",
    "random_scenario",
    "workload_scenario",
    "zeros_scenario",
]


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
    unsigned 1-bit codes, ternary weights -1..1)."""
    if cfg.weight_format == "ternary":
        return -1, 1
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
    all_ones = {"signed": -1, "bcq": 1, "ternary": -1}.get(cfg.weight_format, (1 << cfg.w_bits) - 1)
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


#: named workloads for activity (power) runs: a real layer, uniform random data, all zeros
WORKLOADS = ("layer", "random", "zeros")


def zeros_scenario(cfg: TileConfig, rows: int, depth: int, cols: int, **kw) -> Scenario:
    """Zero activations, zero codes and zero points (FP tiles: +0.0 words; the FP16 baseline:
    scales of 1.0): the least data switching a GEMM can have."""
    if cfg.scale_in_command:
        kw.setdefault("scale", np.full(cols, fpgolden.to_bits(1.0, FP16)))
    zero = np.zeros(cols, np.int64) if cfg.has_zero_point else None
    return Scenario(
        cfg, np.zeros((rows, depth), np.int64), np.zeros((depth, cols), np.int64), zero, **kw
    )


def layer_scenario(
    cfg: TileConfig, rows: int, depth: int, cols: int, *, layer: str = "ffn_up", **kw
) -> Scenario:
    """The first ``rows`` tokens, ``depth`` input features and ``cols`` output columns of a
    real all-MiniLM-L6-v2 linear layer (block 0, :data:`~lutcore.sim.model.LAYERS`),
    quantized as the tile takes them: integer activations per token to ``a_bits`` by
    absmax (symmetric), FP activations as FP16 words; weights per column over the whole
    ``depth`` by round-to-nearest (unsigned codes with a zero point, or symmetric signed
    codes), ternary by absmean over the tensor, BCQ as its binary planes (tile column
    ``j * w_bits + i`` is plane ``i`` of output column ``j``); the FP16 baseline's scales
    are the quantizer's FP16 scales."""
    from . import model, quant

    x = model.layer_inputs(0)[layer]
    w = model.layer_weight(layer)
    if rows > x.shape[0] or depth > x.shape[1] or cols > w.shape[1] * max(1, cfg.w_bits):
        raise ValueError(
            f"layer {show(layer)} is {x.shape[0]} tokens x {x.shape[1]} -> {w.shape[1]}: "
            f"rows={rows}, depth={depth}, cols={cols} do not fit"
        )
    x, w = x[:rows, :depth], w[:depth]
    if cfg.fp_words:
        a = fpgolden.to_bits(x, FP16)
    else:
        a, _ = quant.quantize_absmax(x, cfg.a_bits)
    zero = None
    if cfg.weight_format == "ternary":
        codes = quant.quantize_ternary(w[:, :cols]).codes
    elif cfg.weight_format == "bcq":
        planes = quant.quantize_bcq(w[:, : -(-cols // cfg.w_bits)], cfg.w_bits, depth).planes
        codes = np.moveaxis(planes, 0, -1).reshape(depth, -1)[:, :cols]
    elif cfg.weight_format == "signed":
        top = (1 << (cfg.w_bits - 1)) - 1 or 1
        w = w[:, :cols]
        peak = np.abs(w).max(axis=0, keepdims=True)
        codes = np.rint(w / np.where(peak > 0, peak, 1.0) * top)
        codes = np.clip(codes, *code_range(cfg)).astype(np.int64)
    else:
        qw = quant.quantize_rtn(w[:, :cols], cfg.w_bits, depth)
        codes = qw.codes.astype(np.int64)
        if cfg.has_zero_point:
            zero = qw.zero[0].astype(np.int64)
        if cfg.scale_in_command:
            kw.setdefault("scale", qw.scale[0])
    return Scenario(cfg, a, codes, zero, **kw)


def workload_scenario(
    cfg: TileConfig, workload: str, rows: int, depth: int, cols: int, *, seed: int = 0
) -> Scenario:
    """The scenario of a named workload (:data:`WORKLOADS`), streams unthrottled, one output
    tile reducing ``depth``."""
    if workload not in WORKLOADS:
        raise ValueError(f"workload={show(workload)}: allowed {', '.join(WORKLOADS)}")
    make = {"layer": layer_scenario, "random": random_scenario, "zeros": zeros_scenario}
    extra = {"seed": seed} if workload == "random" else {}
    return make[workload](cfg, rows, depth, cols, k_per_tile=depth, **extra)
