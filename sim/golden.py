"""NumPy golden model of the tiles, written from the arithmetic (docs/design.md, "The
arithmetic").

It shares nothing with the RTL generator but the :class:`~lutcore.hw.config.TileConfig`: tables are
built from their definition ``T[p] = sum_j a_j * t_j(p)``, planes are combined with the
closed-form offset term; base-3 ternary tables are indexed by each group's base-3 value;
the MAC baseline's digits are ``planes_per_cycle`` planes of the
code minus the zero point's, multiplied and shifted; :func:`reference_matmul` is the plain
integer matmul both must equal exactly. All integer arrays are ``int64``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from lutcore.hw.config import TileConfig

from . import fpgolden

__all__ = [
    "pattern_matrix",
    "ternary_patterns",
    "group_values",
    "ternary_slice",
    "build_tables",
    "stored_entries",
    "lookup",
    "bit_planes",
    "plane_coefficients",
    "weight_values",
    "lut_slice",
    "mac_slice",
    "tile_result",
    "tile_schedule",
    "tile_matmul",
    "pad_to",
    "reference_matmul",
]


def ternary_patterns(g: int) -> np.ndarray:
    """``t[r, j]`` in {-1, 0, +1}: every ternary vector of ``g`` weights, row ``r`` the one
    whose base-3 value ``sum_j t_j * 3**j`` is ``r - (3**g - 1)/2`` (digit ``t_j + 1`` of
    ``r`` in base 3)."""
    r = np.arange(3**g)[:, None]
    return (r // 3 ** np.arange(g)[None, :]) % 3 - 1


def group_values(codes: np.ndarray, g: int) -> np.ndarray:
    """``v[..., c, n] = sum_j t[c*g + j, n] * 3**j`` of ternary weights ``codes[..., K, N]``."""
    t = np.asarray(codes, dtype=np.int64)
    t = t.reshape(*t.shape[:-2], t.shape[-2] // g, g, t.shape[-1])
    return np.einsum("...cjn,j->...cn", t, 3 ** np.arange(g))


def ternary_slice(cfg: TileConfig, a: np.ndarray, codes: np.ndarray, zero=None) -> np.ndarray:
    """One K-slice of ternary weights through base-3 tables: every chunk's full table
    ``T[r] = sum_j a_j * t_j(r)`` over all ``3**g`` vectors (:func:`ternary_patterns`), read
    at the row of each weight group's value, summed over chunks."""
    g = cfg.g
    chunks = np.asarray(a, dtype=np.int64).reshape(cfg.M, cfg.chunks, g)
    tables = chunks @ ternary_patterns(g).T  # [M, C, 3**g]
    rows = group_values(codes, g) + (3**g - 1) // 2  # [C, N]
    looked = np.take_along_axis(tables[:, :, None, :], rows[None, :, :, None], axis=-1)[..., 0]
    return looked.sum(axis=1)


def pattern_matrix(g: int, symmetric: bool) -> np.ndarray:
    """``t[p, j]`` for every g-bit pattern ``p``: bit j of p (unsigned) or +-1 (symmetric)."""
    bits = (np.arange(1 << g)[:, None] >> np.arange(g)[None, :]) & 1
    return (2 * bits - 1) if symmetric else bits


def build_tables(a: np.ndarray, g: int, symmetric: bool) -> np.ndarray:
    """Full tables ``T[..., c, p]`` of activations ``a[..., K]`` split into chunks of ``g``."""
    a = np.asarray(a, dtype=np.int64)
    chunks = a.reshape(*a.shape[:-1], a.shape[-1] // g, g)
    return chunks @ pattern_matrix(g, symmetric).T


def stored_entries(tables: np.ndarray, g: int, symmetric: bool) -> np.ndarray:
    """What the hardware stores of a full table: ``T[e | 2**(g-1)]`` (symmetric) or
    ``T[e + 1]`` (unsigned, ``T[0] = 0`` is implicit)."""
    half = 1 << (g - 1)
    return tables[..., half:] if symmetric else tables[..., 1:]


def lookup(entries: np.ndarray, idx: np.ndarray, g: int, symmetric: bool) -> np.ndarray:
    """``T[idx]`` read back from the stored entries of one table, with the symmetric sign rule
    ``T[p] = -T[~p]``. ``entries[..., e]`` broadcast against ``idx``."""
    idx = np.asarray(idx, dtype=np.int64)
    if symmetric:
        half = 1 << (g - 1)
        msb = idx >> (g - 1)
        low = np.where(msb == 1, idx & (half - 1), ~idx & (half - 1))
        value = np.take_along_axis(entries, low[..., None], axis=-1)[..., 0]
        return np.where(msb == 1, value, -value)
    full = np.concatenate([np.zeros_like(entries[..., :1]), entries], axis=-1)
    return np.take_along_axis(full, idx[..., None], axis=-1)[..., 0]


def bit_planes(codes: np.ndarray, w_bits: int) -> np.ndarray:
    """``planes[i, ...]`` = bit ``i`` (0/1) of each ``w_bits``-bit code (two's complement for
    negative codes)."""
    codes = np.asarray(codes, dtype=np.int64) & ((1 << w_bits) - 1)
    return (codes[None, ...] >> np.arange(w_bits).reshape(-1, *[1] * codes.ndim)) & 1


def plane_coefficients(cfg: TileConfig) -> np.ndarray:
    """``c_i`` with ``Wq = sum_i c_i * w_i``: ``2**i``, the signed top plane ``-2**(b-1)``."""
    c = 1 << np.arange(cfg.w_bits, dtype=np.int64)
    if cfg.signed_codes:
        c[-1] = -c[-1]
    return c


def weight_values(cfg: TileConfig, codes: np.ndarray, zero: np.ndarray | None) -> np.ndarray:
    """Integer weights ``W`` from codes: ``Wq - z`` (unsigned), ``Wq`` (signed; ternary:
    the weights -1, 0, +1 themselves) or ``2*Wq - 1`` (BCQ binary planes, +-1)."""
    codes = np.asarray(codes, dtype=np.int64)
    if cfg.weight_format in ("signed", "ternary"):
        return codes
    if cfg.weight_format == "bcq":
        return 2 * codes - 1
    return codes - np.asarray(zero, dtype=np.int64)[None, :]


def lut_slice(cfg: TileConfig, a: np.ndarray, codes: np.ndarray, zero: np.ndarray | None):
    """One K-slice through the LUT method: ``a[M, K]``, ``codes[K, N]`` -> ``int64[M, N]``.

    Plane partials ``P_i[m, n] = sum_c T_m,c[idx_i,c,n]``. Symmetric tables use
    ``2 * sum_k a_k (Wq_k - z) = (sum_i c_i - 2z) * S + sum_i c_i * P_i`` with ``S = sum_k a_k``
    (the all-ones entry); unsigned tables ``sum_i c_i * P_i - z * S``. BCQ planes (+-1) are the
    symmetric table's pattern itself: ``P_0`` (symmetric) or ``2 * P_0 - S`` (unsigned).
    Base-3 ternary groups: :func:`ternary_slice`. With ``offset = "output"`` the tile's own
    ``[M, N+1]``: ``sum_i c_i P_i`` and, in column ``N``, ``S`` (the dequant converter forms
    ``((sum_i c_i - 2z) * S + sum_i c_i P_i) / 2``).
    """
    if cfg.base3:
        return ternary_slice(cfg, a, codes)
    g = cfg.g
    entries = stored_entries(build_tables(a, g, cfg.symmetric), g, cfg.symmetric)  # [M, C, E]
    planes = bit_planes(codes, cfg.beats_per_slice * cfg.planes_per_cycle)  # [b, K, N]
    place = 1 << np.arange(g)
    idx = np.einsum("bcjn,j->bcn", planes.reshape(len(planes), cfg.chunks, g, cfg.N), place)
    # partial[b, m, n] = sum_c lookup(entries[m, c], idx[b, c, n])
    looked = lookup(entries[None, :, :, None, :], idx[:, None, :, :], g, cfg.symmetric)
    partial = looked.sum(axis=2)
    coeff = plane_coefficients(cfg)
    weighted = np.einsum("b,bmn->mn", coeff, partial)
    s = np.asarray(a, dtype=np.int64).sum(axis=1)[:, None]  # S per row
    if cfg.weight_format == "bcq":
        return partial[0] if cfg.symmetric else 2 * partial[0] - s
    if getattr(cfg, "offset_out", False):  # the tile's y: acc = sum_i c_i P_i, and S
        return np.concatenate([weighted, s], axis=1)
    z = np.zeros(cfg.N, np.int64) if zero is None else np.asarray(zero, np.int64)
    if cfg.symmetric:
        twice = (coeff.sum() - 2 * z)[None, :] * s + weighted
        assert np.all(twice % 2 == 0), "symmetric-table identity broken"
        return twice // 2
    return weighted - z[None, :] * s


def mac_slice(cfg: TileConfig, a: np.ndarray, codes: np.ndarray, zero: np.ndarray | None):
    """One K-slice through the MAC baseline's method: ``a[M, K]``, ``codes[K, N]``.

    The code is split into digits of ``ppc = planes_per_cycle`` planes (one per beat, least
    significant first); beat ``t``'s digit is ``d_t = sum_j 2**j * w_(t*ppc+j)``, minus the zero
    point's digit ``z_t`` (unsigned weights), or with its top plane weighted ``-2**(ppc-1)``
    on the last beat (signed weights); a BCQ plane's digit is ``2*w - 1``. Then
    ``sum_t 2**(t*ppc) * (a @ d_t)``.
    """
    ppc, beats = cfg.planes_per_cycle, cfg.beats_per_slice
    planes = bit_planes(codes, beats * ppc)  # [b, K, N]
    zplanes = None if zero is None else bit_planes(zero, cfg.w_bits)  # [b, N]
    a = np.asarray(a, dtype=np.int64)
    out = np.zeros((cfg.M, cfg.N), np.int64)
    for t in range(beats):
        weight = 1 << np.arange(ppc, dtype=np.int64)
        if cfg.signed_codes and t == beats - 1:
            weight[-1] = -weight[-1]
        group = slice(t * ppc, (t + 1) * ppc)
        digit = np.einsum("jkn,j->kn", planes[group], weight)
        if cfg.weight_format == "bcq":
            digit = 2 * digit - 1
        if cfg.has_zero_point:
            digit = digit - np.einsum("jn,j->n", zplanes[group], weight)[None, :]
        out += (a @ digit) << (t * ppc)
    return out


def tile_result(
    cfg: TileConfig,
    a: np.ndarray,
    codes: np.ndarray,
    zero: np.ndarray | None,
    scale: np.ndarray | None = None,
):
    """One output tile over a runtime K of ``a.shape[1]`` (a multiple of ``K``, at most
    ``max_k``): the sum over its K-slices of :func:`lut_slice` (LUT tile) or
    :func:`mac_slice` (MAC baseline). The FP16 baseline (``scale``: FP16 words per column)
    returns words of its ``acc_format``: each slice's fused dot products
    (:func:`lutcore.sim.fpgolden.fp_dot`) of the activations and the weights dequantized to
    FP16, accumulated by additions in ``acc_format`` from +0
    (:func:`lutcore.sim.fpgolden.acc_add`), or with ``acc_format = "fixed"`` the exact sum of
    all products (:func:`lutcore.sim.fpgolden.fixed_dot`); the FP-table tile's words come from
    :func:`lutcore.sim.fpgolden.fplut_matmul`."""
    k_total = a.shape[1]
    if k_total % cfg.K or not cfg.K <= k_total <= cfg.max_k:
        raise ValueError(f"runtime K={k_total}: must be a multiple of K={cfg.K} up to max_k")
    return TILE_RESULTS[cfg.arch](cfg, a, codes, zero, scale)


def _slices(method):
    def result(cfg, a, codes, zero, scale):
        out = 0
        for k0 in range(0, a.shape[1], cfg.K):
            out = out + method(cfg, a[:, k0 : k0 + cfg.K], codes[k0 : k0 + cfg.K], zero)
        return out

    return result


def _fpmac_result(cfg, a, codes, zero, scale):
    weights = fpgolden.dequant_weights(weight_values(cfg, codes, zero), scale)
    if cfg.fixed_acc:  # exact: integers of 2**fixed_lsb (Python integers: up to 93 bits)
        return fpgolden.fixed_dot(a, weights)
    acc = np.zeros((cfg.M, cfg.N), np.int64)  # +0
    for k0 in range(0, a.shape[1], cfg.K):
        dot = fpgolden.fp_dot(a[:, k0 : k0 + cfg.K], weights[k0 : k0 + cfg.K], cfg.acc_fmt)
        acc = fpgolden.acc_add(cfg, acc, dot)
    return acc


#: the golden model of one output tile of each arch: the LUT tile's by table lookups, the
#: others' (integer) by multiplication, the FP tiles' in FP16/FP32 arithmetic
TILE_RESULTS = {
    "lut": _slices(lut_slice),
    "mac": _slices(mac_slice),
    "pim": _slices(mac_slice),
    "fpmac": _fpmac_result,
    "fplut": lambda cfg, a, codes, zero, scale: fpgolden.fplut_matmul(cfg, a, codes, zero),
}


def pad_to(x: np.ndarray, shape: tuple[int, ...], fill: int | np.ndarray = 0) -> np.ndarray:
    """``x`` padded at the end of each axis to ``shape`` with ``fill``."""
    out = np.empty(shape, np.int64)
    out[...] = fill
    out[tuple(slice(0, s) for s in x.shape)] = x
    return out


def tile_schedule(
    cfg: TileConfig,
    a: np.ndarray,
    codes: np.ndarray,
    zero: np.ndarray | None,
    k_step: int | None = None,
    scale: np.ndarray | None = None,
) -> Iterator[tuple]:
    """The tile's schedule for ``A[Mt, Kt] @ W[Kt, Nt]``: output tiles of ``M x N`` in row-major
    order, each reducing ``k_step`` (default ``max_k``) at a time. Edges are zero-padded;
    padding columns get code = zero point, so their weight is 0 (and scale 1.0).

    Yields ``(m0, n0, k0, a_tile[M, k], codes_tile[k, N], zero_tile[N] or None,
    scale_tile[N] or None)``.
    """
    k_step = k_step or cfg.max_k
    if k_step % cfg.K or not cfg.K <= k_step <= cfg.max_k:
        raise ValueError(f"k_step={k_step}: must be a multiple of K={cfg.K} up to max_k")
    mt, kt = a.shape
    nt = codes.shape[1]
    mp, np_, kp = (-(-mt // cfg.M) * cfg.M, -(-nt // cfg.N) * cfg.N, -(-kt // cfg.K) * cfg.K)
    z_p = None if zero is None else pad_to(np.asarray(zero), (np_,))
    a_p = pad_to(a, (mp, kp))
    codes_p = pad_to(codes, (kp, np_), 0 if z_p is None else z_p[None, :])
    s_p = None if scale is None else pad_to(np.asarray(scale), (np_,), 0x3C00)
    for m0 in range(0, mp, cfg.M):
        for n0 in range(0, np_, cfg.N):
            z = None if z_p is None else z_p[n0 : n0 + cfg.N]
            sc = None if s_p is None else s_p[n0 : n0 + cfg.N]
            for k0 in range(0, kp, k_step):
                k1 = min(kp, k0 + k_step)
                a_t, w_t = a_p[m0 : m0 + cfg.M, k0:k1], codes_p[k0:k1, n0 : n0 + cfg.N]
                yield m0, n0, k0, a_t, w_t, z, sc


def tile_matmul(cfg: TileConfig, a: np.ndarray, codes: np.ndarray, zero: np.ndarray | None):
    """Whole ``A[Mt, Kt] @ W[Kt, Nt]`` through the tile's schedule (:func:`tile_schedule`),
    each output tile by :func:`tile_result`, partial K results summed."""
    mt, nt = a.shape[0], codes.shape[1]
    out = np.zeros((-(-mt // cfg.M) * cfg.M, -(-nt // cfg.N) * cfg.N), np.int64)
    for m0, n0, _, a_t, w_t, z, _ in tile_schedule(cfg, a, codes, zero):
        out[m0 : m0 + cfg.M, n0 : n0 + cfg.N] += tile_result(cfg, a_t, w_t, z)
    return out[:mt, :nt]


def reference_matmul(cfg: TileConfig, a: np.ndarray, codes: np.ndarray, zero: np.ndarray | None):
    """The specification: ``A.astype(int64) @ W`` with ``W`` from :func:`weight_values`."""
    return np.asarray(a, dtype=np.int64) @ weight_values(cfg, codes, zero)
