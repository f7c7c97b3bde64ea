"""The tile's stream protocol as data: jobs (one per output tile), beat packing, checking.

Shared by the Amaranth-simulator unit tests and the cocotb testbenches, so both drive the
RTL exactly as an integrator would. Field offsets come from the layouts in
:mod:`lutcore.hw.layouts` (the interface definition); the arithmetic comes from
:mod:`lutcore.sim.golden`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from lutcore.hw.config import TileConfig
from lutcore.hw.layouts import cmd_layout

from . import golden

__all__ = ["TileJob", "pack", "unpack", "gemm_jobs", "first_mismatch", "assemble"]


def pack(values: np.ndarray, width: int) -> int:
    """Pack integers (two's complement, ``width`` bits each) element 0 at the LSB."""
    v = np.asarray(values, dtype=np.int64).ravel() & ((1 << width) - 1)
    bits = ((v[:, None] >> np.arange(width)) & 1).astype(np.uint8).ravel()
    return int.from_bytes(np.packbits(bits, bitorder="little").tobytes(), "little")


def unpack(word: int, count: int, width: int, *, signed: bool = True) -> np.ndarray:
    """Inverse of :func:`pack`: ``count`` fields of ``width`` bits from ``word`` (Python
    integers in an object array for fields wider than 62 bits)."""
    if width > 62:
        word, mask = int(word), (1 << width) - 1
        fields = [(word >> (i * width)) & mask for i in range(count)]
        if signed:
            fields = [f - (1 << width) if f >> (width - 1) else f for f in fields]
        return np.array(fields, dtype=object)
    nbytes = (count * width + 7) // 8
    raw = np.frombuffer(int(word).to_bytes(nbytes, "little"), dtype=np.uint8)
    bits = np.unpackbits(raw, bitorder="little")[: count * width].astype(np.int64)
    v = (bits.reshape(count, width) << np.arange(width)).sum(axis=1)
    if signed:
        v = np.where(v >> (width - 1), v - (1 << width), v)
    return v


@dataclass
class TileJob:
    """One output tile: what to send on ``cmd``, ``a`` and ``w``, and what ``y`` must be.

    ``row0``/``col0``/``k0`` locate it in the whole matmul; ``expected`` is the golden
    model's result for the tile (int64 ``[M, N]``).
    """

    row0: int
    col0: int
    k0: int
    cmd: int
    acts: list[int]
    weights: list[int]
    expected: np.ndarray


def encode_cmd(
    cfg: TileConfig, n_slices: int, zero: np.ndarray | None, scale: np.ndarray | None = None
) -> int:
    layout = cmd_layout(cfg)
    word = n_slices << layout["n_slices"].offset
    if cfg.zero_in_tile:
        word |= pack(zero, cfg.w_bits) << layout["zero"].offset
    if cfg.scale_in_command:
        word |= pack(scale, 16) << layout["scale"].offset
    return word


def encode_weights(cfg: TileConfig, codes: np.ndarray) -> list[int]:
    """Weight beats of one K-slice, ``codes[K, N]``: beat ``t`` holds planes
    ``t*ppc .. t*ppc+ppc-1``, field ``[n][j]`` bit ``k``; base-3 ternary groups: one beat,
    column ``n``'s group ``c`` coded as ``|v| + 2**(bits-1) * (v < 0)`` at bit
    ``c * bits`` (``v`` its base-3 value, ``bits = group_code_bits``)."""
    if cfg.base3:
        v = golden.group_values(codes, cfg.g)  # [C, N]
        code = np.abs(v) | (v < 0).astype(np.int64) << (cfg.group_code_bits - 1)
        return [pack(code.T, cfg.group_code_bits)]  # order [n][c]
    planes = golden.bit_planes(codes, cfg.w_bits)  # [b, K, N]
    ppc = cfg.planes_per_cycle
    beats = []
    for t in range(cfg.beats_per_slice):
        group = planes[t * ppc : (t + 1) * ppc]  # [ppc, K, N]
        beats.append(pack(group.transpose(2, 0, 1), 1))  # order [n][j][k]
    return beats


def gemm_jobs(
    cfg: TileConfig,
    a: np.ndarray,
    codes: np.ndarray,
    zero: np.ndarray | None,
    *,
    k_per_tile: int | None = None,
    scale: np.ndarray | None = None,
) -> list[TileJob]:
    """Split ``A[Mt, Kt] @ W`` into tile jobs in the tile's schedule
    (:func:`golden.tile_schedule`; ``k_per_tile`` defaults to ``max_k``; ``scale`` the FP16
    baseline's per-column scales)."""
    jobs = []
    schedule = golden.tile_schedule(cfg, a, codes, zero, k_per_tile, scale)
    for m0, n0, k0, a_t, w_t, z, sc in schedule:
        acts, weights = [], []
        for s0 in range(0, a_t.shape[1], cfg.K):
            acts.append(pack(a_t[:, s0 : s0 + cfg.K], cfg.act_word_bits))
            weights += encode_weights(cfg, w_t[s0 : s0 + cfg.K])
        cmd = encode_cmd(cfg, len(acts), z, sc)
        expected = golden.tile_result(cfg, a_t, w_t, z, sc)
        jobs.append(TileJob(m0, n0, k0, cmd, acts, weights, expected))
    return jobs


def decode_result(cfg: TileConfig, word: int) -> np.ndarray:
    """One ``y`` beat as ``[M, N]`` words (with ``offset = "output"``: ``[M, N + 1]``, column
    ``N`` the row sums, as the golden model gives them)."""
    signed = not cfg.fp_results  # FP words are unsigned bit patterns
    sums = cfg.M if getattr(cfg, "offset_out", False) else 0
    words = unpack(word, cfg.M * cfg.N + sums, cfg.result_bits, signed=signed)
    out = words[: cfg.M * cfg.N].reshape(cfg.M, cfg.N)
    return np.concatenate([out, words[cfg.M * cfg.N :, None]], axis=1) if sums else out


def first_mismatch(got: np.ndarray, want: np.ndarray) -> str | None:
    """``None`` if equal, else a message with the first differing index and both values."""
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        return f"shape {got.shape} != expected {want.shape}"
    bad = np.argwhere(got != want)
    if not len(bad):
        return None
    idx = tuple(int(i) for i in bad[0])
    return (
        f"{len(bad)} of {got.size} words differ; first at {idx}: "
        f"got {int(got[idx])}, expected {int(want[idx])}"
    )


def assemble(cfg: TileConfig, jobs: list[TileJob], results: Iterator[np.ndarray], shape):
    """Sum tile results (in job order) into the whole ``[Mt, Nt]`` product."""
    mt, nt = shape
    mp, np_ = -(-mt // cfg.M) * cfg.M, -(-nt // cfg.N) * cfg.N
    out = np.zeros((mp, np_), np.int64)
    for job, res in zip(jobs, results, strict=True):
        out[job.row0 : job.row0 + cfg.M, job.col0 : job.col0 + cfg.N] += res
    return out[:mt, :nt]
