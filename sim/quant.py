"""Weight quantizers: round-to-nearest per group (uniform codes, FP16 scale and integer zero
point), binary-coding quantization (BCQ, LUT-GEMM's format) and BitNet b1.58's absmean
ternary weights; and BitNet's absmax per-token INT8 activations.

Both store their parameters exactly as the hardware reads them (FP16 words), and
:meth:`QuantWeights.dequantized` gives the weights those parameters mean, in float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lutcore.hw.config import FP16

from .fpgolden import from_bits, to_bits

__all__ = ["QuantWeights", "quantize_absmax", "quantize_bcq", "quantize_rtn", "quantize_ternary"]


@dataclass
class QuantWeights:
    """Weights ``W[K, N]`` quantized per group of ``group`` rows along K and per column.

    ``kind == "rtn"``: ``codes[K, N]`` unsigned ``w_bits``, ``scale[G, N]`` FP16 words,
    ``zero[G, N]`` integers: ``W = scale * (codes - zero)``.
    ``kind == "bcq"``: ``planes[w_bits, K, N]`` in {0, 1} (1 means +1, 0 means -1),
    ``alpha[G, N, w_bits]`` and ``offset[G, N]`` FP16 words:
    ``W = sum_i alpha_i * (2*planes_i - 1) + offset``.
    ``kind == "ternary"``: ``codes[K, N]`` in {-1, 0, +1}, ``scale[G, N]`` FP16 words:
    ``W = scale * codes`` (one scale for the whole tensor when ``per_tensor``).
    """

    kind: str
    w_bits: int
    group: int
    scale: np.ndarray | None = None
    zero: np.ndarray | None = None
    codes: np.ndarray | None = None
    planes: np.ndarray | None = None
    alpha: np.ndarray | None = None
    offset: np.ndarray | None = None
    per_tensor: bool = False

    @property
    def name(self) -> str:
        if self.per_tensor:
            return f"{self.kind}_tensor"
        return (
            f"{self.kind}_g{self.group}"
            if self.kind == "ternary"
            else (f"{self.kind}{self.w_bits}_g{self.group}")
        )

    def per_row(self, values: np.ndarray) -> np.ndarray:
        """Per-group parameters ``[G, N, ...]`` repeated to every row ``[K, N, ...]``."""
        return np.repeat(values, self.group, axis=0)

    def dequantized(self) -> np.ndarray:
        """``W[K, N]`` (float64) exactly as the stored parameters define it."""
        if self.kind == "rtn":
            scale = self.per_row(from_bits(self.scale, FP16))
            return scale * (self.codes - self.per_row(self.zero))
        if self.kind == "ternary":
            return self.per_row(from_bits(self.scale, FP16)) * self.codes
        alpha = self.per_row(from_bits(self.alpha, FP16))  # [K, N, q]
        signs = np.moveaxis(2 * self.planes - 1, 0, -1)  # [K, N, q]
        return (alpha * signs).sum(axis=-1) + self.per_row(from_bits(self.offset, FP16))


def _groups(w: np.ndarray, group: int) -> np.ndarray:
    k, n = w.shape
    if k % group:
        raise ValueError(f"K={k} is not a multiple of the quantization group {group}")
    return w.reshape(k // group, group, n)


def quantize_rtn(w: np.ndarray, w_bits: int, group: int) -> QuantWeights:
    """Asymmetric round-to-nearest: per group and column the range ``[min, max]`` maps onto
    codes ``0..2**w_bits - 1``; the scale is rounded to FP16 first, so codes are chosen for
    the scale the hardware uses."""
    g = _groups(np.asarray(w, np.float64), group)
    lo, hi = g.min(axis=1), g.max(axis=1)
    levels = (1 << w_bits) - 1
    scale = to_bits(np.maximum((hi - lo) / levels, 2.0**-24), FP16)  # never 0 in FP16
    s = from_bits(scale, FP16)
    zero = np.clip(np.round(-lo / s), 0, levels).astype(np.int64)
    codes = np.clip(np.round(g / s[:, None, :]) + zero[:, None, :], 0, levels).astype(np.int64)
    return QuantWeights("rtn", w_bits, group, scale=scale, zero=zero, codes=codes.reshape(w.shape))


def quantize_bcq(w: np.ndarray, w_bits: int, group: int, iterations: int = 8) -> QuantWeights:
    """Binary-coding quantization with offset: greedy planes (each the sign of the residual,
    ``alpha`` its mean magnitude), then alternating refinement — least-squares ``alpha`` and
    offset for the current planes, planes re-chosen as the nearest of the ``2**w_bits``
    representable values. Parameters are rounded to FP16 before the final plane choice."""
    g = _groups(np.asarray(w, np.float64), group)  # [G, group, N]
    groups, _, n = g.shape
    offset = g.mean(axis=1)  # [G, N]
    resid = g - offset[:, None, :]
    alpha = np.zeros((groups, n, w_bits))
    planes = np.zeros((w_bits, *g.shape), np.int64)
    for i in range(w_bits):
        sign = np.where(resid >= 0, 1, -1)
        alpha[..., i] = np.abs(resid).mean(axis=1)
        planes[i] = (sign + 1) // 2
        resid = resid - alpha[:, None, :, i] * sign
    # every sign pattern and the value it represents, for the nearest-value plane choice
    patterns = ((np.arange(1 << w_bits)[:, None] >> np.arange(w_bits)) & 1) * 2 - 1  # [P, q]

    def nearest(alpha, offset):
        values = np.einsum("gnq,pq->gnp", alpha, patterns) + offset[..., None]  # [G, N, P]
        best = np.abs(g[..., None] - values[:, None]).argmin(axis=-1)  # [G, group, N]
        return np.moveaxis((patterns[best] + 1) // 2, -1, 0)  # [q, G, group, N]

    for _ in range(iterations):
        signs = np.moveaxis(2 * planes - 1, 0, -1).transpose(0, 2, 1, 3)  # [G, N, group, q]
        basis = np.concatenate([signs, np.ones((*signs.shape[:-1], 1))], axis=-1)
        target = g.transpose(0, 2, 1)[..., None]  # [G, N, group, 1]
        sol = (np.linalg.pinv(basis) @ target)[..., 0]  # least squares, rank-safe
        alpha, offset = np.abs(sol[..., :-1]), sol[..., -1]
        planes = nearest(alpha, offset)
    alpha_bits, offset_bits = to_bits(alpha, FP16), to_bits(offset, FP16)
    planes = nearest(from_bits(alpha_bits, FP16), from_bits(offset_bits, FP16))
    return QuantWeights(
        "bcq",
        w_bits,
        group,
        planes=planes.reshape(w_bits, -1, n),
        alpha=alpha_bits,
        offset=offset_bits,
    )


def quantize_ternary(w: np.ndarray, group: int | None = None) -> QuantWeights:
    """BitNet b1.58's absmean ternary weights: ``gamma`` the mean ``|W|`` (of the whole
    tensor, or per ``group`` rows along K and per column), rounded to FP16;
    ``codes = clip(round(W / gamma), -1, 1)``.

    Post-training ternarization of a model not trained for it (BitNet trains with it) loses
    much of the layer: the error compares weight formats, it is not a trained model's accuracy.
    """
    w = np.asarray(w, np.float64)
    g = _groups(w, group or w.shape[0])  # [G, group, N]
    tensor = np.full((1, w.shape[1]), np.abs(w).mean())
    gamma = tensor if group is None else np.abs(g).mean(axis=1)
    scale = to_bits(np.maximum(gamma, 2.0**-24), FP16)
    s = from_bits(scale, FP16)
    codes = np.clip(np.rint(g / s[:, None, :]), -1, 1).astype(np.int64).reshape(w.shape)
    return QuantWeights(
        "ternary", 2, group or w.shape[0], scale=scale, codes=codes, per_tensor=group is None
    )


def quantize_absmax(x: np.ndarray, bits: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """BitNet's absmax activations, per token (row): ``q = clip(round(x * Q / max|x|), -Q, Q)``
    with ``Q = 2**(bits-1) - 1``; returns ``q`` (int64) and each row's scale
    ``max|x| / Q`` (float64), ``x ~= q * scale``. An all-zero row has scale 1."""
    x = np.asarray(x, np.float64)
    top = (1 << (bits - 1)) - 1
    peak = np.abs(x).max(axis=1)
    scale = np.where(peak > 0, peak / top, 1.0)
    q = np.clip(np.rint(x / scale[:, None]), -top, top).astype(np.int64)
    return q, scale
