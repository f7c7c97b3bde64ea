"""The PIM tile's cycle model: the lookup schedule (pattern-aware or not), the cycles of a
load, of an output tile and of a batched GEMV, defined from the lookups themselves. The RTL
is held to it cycle for cycle (``tests/test_pim.py``).

The results of the PIM tile are exact integers, so its golden model is the integer matmul
(:func:`lutcore.sim.golden.reference_matmul`); what is specific to it is this schedule.
"""

from __future__ import annotations

import numpy as np

from lutcore.hw.config import TileConfig

__all__ = [
    "COMPUTE_OVERHEAD",
    "gemv_cycles",
    "load_cycles",
    "step_cycles",
    "step_indices",
    "tile_cycles",
]

#: cycles between a compute command and its first step issuing, and from a tile's last step
#: issuing to its result being readable and the next command accepted (the RTL's fixed
#: pipeline: command -> idle, step registers, data stage, accumulators)
COMPUTE_OVERHEAD = 4


def step_indices(cfg: TileConfig, codes: np.ndarray) -> np.ndarray:
    """The table indices of every step of one output tile: ``codes[k, N]`` (``k`` a multiple
    of ``K``) -> ``idx[slice, plane, bank, column]``, the ``g`` bits of plane ``b`` of the
    chunk's codes (bit ``j`` from activation ``j`` of the chunk)."""
    codes = np.asarray(codes, np.int64) & ((1 << cfg.w_bits) - 1)
    k, n = codes.shape
    planes = (codes[None] >> np.arange(cfg.w_bits)[:, None, None]) & 1  # [b, k, N]
    chunks = planes.reshape(cfg.w_bits, k // cfg.K, cfg.banks, cfg.g, n)
    idx = (chunks << np.arange(cfg.g)[None, None, None, :, None]).sum(axis=3)  # [b, s, c, N]
    return idx.transpose(1, 0, 2, 3)


def step_cycles(cfg: TileConfig, idx: np.ndarray, *, pattern_aware: bool | None = None):
    """Cycles of each step, ``idx[..., bank, column]`` -> ``[...]``: every bank serves
    ``read_ports`` lookups a cycle; pattern-aware, a bank owes one read per distinct non-zero
    index (index 0 is the constant 0), otherwise one per column. A step takes at least one
    cycle."""
    pattern_aware = cfg.pattern_aware if pattern_aware is None else pattern_aware
    idx = np.asarray(idx)
    if pattern_aware:
        onehot = np.zeros((*idx.shape[:-1], 1 << cfg.g), bool)
        np.put_along_axis(onehot, idx, True, axis=-1)
        reads = onehot[..., 1:].sum(axis=-1)
    else:
        reads = np.full(idx.shape[:-1], idx.shape[-1])
    per_bank = -(-reads // cfg.read_ports)
    return np.maximum(1, per_bank.max(axis=-1))


def tile_cycles(cfg: TileConfig, codes: np.ndarray, *, pattern_aware: bool | None = None) -> int:
    """Cycles of the steps of one output tile (``codes[k, N]``)."""
    return int(step_cycles(cfg, step_indices(cfg, codes), pattern_aware=pattern_aware).sum())


def load_cycles(cfg: TileConfig, n_slices: int) -> int:
    """Cycles to write the tables of ``n_slices`` K-slices (one row per bank per cycle)."""
    return n_slices * cfg.entries + 2


def gemv_cycles(cfg: TileConfig, codes: np.ndarray, *, pattern_aware: bool | None = None):
    """Cycles of a batched LUT-GEMV ``A[M, k] @ W[k, N_total]``: one table load, then one
    output tile per ``N`` columns (zero-padded). Returns ``(load, compute)``."""
    k, total = codes.shape
    pad = -(-total // cfg.N) * cfg.N
    codes = np.pad(np.asarray(codes), ((0, 0), (0, pad - total)))
    idx = step_indices(cfg, codes)  # [s, b, c, pad]
    idx = idx.reshape(*idx.shape[:3], pad // cfg.N, cfg.N).transpose(3, 0, 1, 2, 4)
    steps = step_cycles(cfg, idx, pattern_aware=pattern_aware)  # [groups, s, b]
    compute = int(steps.sum()) + COMPUTE_OVERHEAD * (pad // cfg.N)
    return load_cycles(cfg, k // cfg.K), compute
