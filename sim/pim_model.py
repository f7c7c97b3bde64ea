"""The PIM tile's cycle model: the lookup schedule (pattern-aware or not), the cycles of a
load, of an output tile and of a batched GEMV, defined from the lookups themselves. The RTL
is held to it cycle for cycle (``tests/test_pim.py``).

The results of the PIM tile are exact integers, so its golden model is the integer matmul
(:func:`lutcore.sim.golden.reference_matmul`); what is specific to it is this schedule,
and the in-memory conversions on its banks' region (:func:`convert_region`, from the
formats' definitions in :mod:`lutcore.sim.fpgolden`).
"""

from __future__ import annotations

import numpy as np

from lutcore.hw.config import FP16, TileConfig
from lutcore.hw.pim_programs import Conversion, convert_programs, int_width

from . import fpgolden

__all__ = [
    "COMPUTE_OVERHEAD",
    "conversion_io",
    "convert_region",
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


def conversion_io(cfg: TileConfig, program: Conversion) -> tuple[list[str], list[str]]:
    """The region rows a conversion reads its words from and writes its results to, bit 0
    first: FP16 -> block FP reads ``f0..f9, e0..e4, s`` (an FP16 word) and writes
    ``q0..q{a_bits-1}``; integer -> FP16 reads ``i0..`` (``int_width`` bits) and writes
    ``h0..h15``."""
    if program == Conversion.FP16_TO_BFP:
        inputs = [f"f{i}" for i in range(10)] + [f"e{i}" for i in range(5)] + ["s"]
        return inputs, [f"q{j}" for j in range(cfg.a_bits)]
    return [f"i{j}" for j in range(int_width(cfg))], [f"h{j}" for j in range(16)]


def _exponent_field(word: int) -> int | None:
    """The effective exponent field of an FP16 word whose significand is not zero
    (subnormals 1, infinity 30: it becomes the largest finite value), ``None`` for a zero
    or a NaN (NaN becomes 0)."""
    field, frac = (word >> 10) & 31, word & 1023
    if field == 31:
        return None if frac else 30
    if field == 0:
        return 1 if frac else None
    return field


def convert_region(cfg: TileConfig, program: Conversion, memory: dict) -> tuple[dict, int]:
    """What a ``CONVERT`` leaves in the banks and answers, from the formats' definitions:
    ``memory[(bank, row)]`` holds the words written so far; the conversion reads each
    column's word from its input rows (all must have been written), writes its result's
    bits into the output rows, and every other region row becomes unknown (removed; the
    programs' temporaries). Returns ``(memory, exp)``: ``exp`` the largest effective
    exponent field of the block (0 if every word is zero or NaN) for FP16 -> block FP, 0
    for integer -> FP16."""
    rows = convert_programs(cfg)[program].rows
    inputs, outputs = conversion_io(cfg, program)
    width, banks, base = cfg.sram_word_bits, cfg.banks, cfg.table_rows
    words = np.zeros(banks * width, np.int64)
    for i, name in enumerate(inputs):
        for b in range(banks):
            key = (b, base + rows[name])
            if key not in memory:
                raise ValueError(f"conversion input row {name} (bank {b}, row {key[1]}) unwritten")
            bits = (memory[key] >> np.arange(width)) & 1
            words[b * width : (b + 1) * width] |= bits << i
    if program == Conversion.FP16_TO_BFP:
        q, _, _, _ = fpgolden.to_bfp(words, FP16, len(words), cfg.a_bits, "rne")
        out = np.asarray(q, np.int64) & ((1 << cfg.a_bits) - 1)
        fields = [f for f in map(_exponent_field, words.tolist()) if f is not None]
        exp = max(fields, default=0)
    else:
        bits = len(inputs)
        signed = np.where(words >> (bits - 1), words - (1 << bits), words)
        out = np.array([fpgolden.round_to_format(int(v), 0, FP16) for v in signed], np.int64)
        exp = 0
    unchanged = {base + rows[n] for n in inputs}  # the tables and the input rows
    kept = {key: w for key, w in memory.items() if key[1] < base or key[1] in unchanged}
    for j, name in enumerate(outputs):
        for b in range(banks):
            plane = ((out[b * width : (b + 1) * width] >> j) & 1) << np.arange(width)
            kept[b, base + rows[name]] = int(plane.sum())
    return kept, exp
