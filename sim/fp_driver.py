"""The floating-point path on the RTL: activation converter -> integer tile -> dequant converter,
each in Amaranth's simulator, checked stage by stage against :mod:`lutcore.sim.fpgolden`.

The host side is what an integrator's glue does: the integer tile's zero points are 0 (the
dequant converter subtracts ``zero * S``; the FP-table tile applies them itself, one output
tile per group), BCQ planes go side by side as columns (plane ``i`` of
weight ``n`` in column ``n * w_bits + i``), and the float32 sum over units happens after
the converter, in K order, as :func:`lutcore.sim.fpgolden.linear` defines it.
"""

from __future__ import annotations

import numpy as np

from lutcore.hw.act_converter import ActConverter
from lutcore.hw.config import TileConfig
from lutcore.hw.dequant import DequantConverter

from . import fpgolden
from .amaranth_driver import simulate_jobs, simulate_stream
from .quant import QuantWeights
from .streams import first_mismatch, gemm_jobs

__all__ = ["PathMismatch", "run_linear"]


class PathMismatch(AssertionError):
    """A stage of the RTL path differs from the golden model (names the stage, the first
    differing index and both values)."""


def _check(stage: str, got, want) -> None:
    problem = first_mismatch(got, want)
    if problem:
        raise PathMismatch(f"{stage}: {problem}")


def convert_blocks(cfg: TileConfig, blocks: np.ndarray, *, seed: int = 0, p_gap=0.2, p_stall=0.2):
    """Blocks ``[n, bfp_block]`` of activation words through the :class:`ActConverter`
    (``act_lanes`` words a beat, block after block). Returns ``q[n, bfp_block]`` and per block
    ``x``, ``total`` (from its last beat) and ``nonfinite``; checks that ``x`` and
    ``nonfinite`` are the same on every beat of a block and ``last`` marks its last beat."""
    lanes = cfg.act_lanes
    per_block = cfg.bfp_block // lanes
    dut = ActConverter(cfg)
    layout = dut.i.payload.shape()
    beats = [
        layout.const(row[i : i + lanes].tolist())
        for row in blocks
        for i in range(0, cfg.bfp_block, lanes)
    ]
    outs, _ = simulate_stream(dut, beats, seed=seed, p_gap=p_gap, p_stall=p_stall)
    n = len(blocks)
    q = np.array([list(o.q) for o in outs], np.int64).reshape(n, cfg.bfp_block)
    fields = {
        k: np.array([int(getattr(o, k)) for o in outs]).reshape(n, per_block)
        for k in ("x", "total", "nonfinite", "last")
    }
    for k in ("x", "nonfinite"):
        if not (fields[k] == fields[k][:, :1]).all():
            raise PathMismatch(f"activation converter: {k} changes within a block")
    want_last = np.zeros((n, per_block), np.int64)
    want_last[:, -1] = 1
    _check("activation converter last", fields["last"], want_last)
    return q, fields["x"][:, 0], fields["total"][:, -1], fields["nonfinite"][:, 0]


def _convert_activations(cfg: TileConfig, x: np.ndarray, seed: int):
    """``x[T, K]`` words through the :class:`ActConverter`, row by row, block by block."""
    t_rows, k_total = x.shape
    blocks = x.reshape(-1, cfg.bfp_block)
    q, xe, total, _ = convert_blocks(cfg, blocks, seed=seed)
    return q.reshape(t_rows, k_total), xe.reshape(t_rows, -1), total.reshape(t_rows, -1)


def _tile_columns(weights: QuantWeights) -> np.ndarray:
    """The tile's weight codes ``[K, columns]``: uniform codes, or BCQ planes side by side."""
    if weights.kind == "rtn":
        return weights.codes
    planes = weights.planes  # [p, K, N]
    return planes.transpose(1, 2, 0).reshape(planes.shape[1], -1)


def run_linear(
    cfg: TileConfig, x: np.ndarray, weights: QuantWeights, *, seed: int = 0
) -> dict[str, np.ndarray]:
    """``Y = X @ W`` through the three RTL blocks; every stage's output is compared with the
    golden model (:class:`PathMismatch` on the first difference). Returns the golden model's
    dictionary (see :func:`lutcore.sim.fpgolden.linear`) with the RTL's ``y``."""
    want = fpgolden.linear(cfg, x, weights)
    if cfg.fp_tables:
        return _run_fplut(cfg, x, weights, want, seed)
    unit = weights.group if cfg.act_format == "int" else cfg.bfp_block
    if unit % cfg.K:
        raise ValueError(
            f"a reduction unit of {unit} activations is not a whole number of K={cfg.K} slices: "
            "the integer tile cannot accumulate it (use act_block='group', or K == g)"
        )
    fmt = {"rtn": "unsigned", "bcq": "bcq"}[weights.kind]
    if cfg.weight_format != fmt or weights.w_bits != cfg.w_bits:
        raise ValueError(f"weights {weights.name} do not match the tile's {cfg.fp_slug}")

    # 1. activations
    if cfg.act_format == "int":
        q, xe, total = want["q"], want["x"], want["total"]
    else:
        q, xe, total = _convert_activations(cfg, x, seed)
        _check("activation converter q", q, want["q"])
        _check("activation converter x", xe, want["x"])
        _check("activation converter total", total, want["total"])

    # 2. the integer tile, one output tile per unit (zero points 0: the converter applies them)
    columns = _tile_columns(weights)
    zero = np.zeros(columns.shape[1], np.int64) if cfg.has_zero_point else None
    jobs = gemm_jobs(cfg, q, columns, zero, k_per_tile=unit)
    results, _ = simulate_jobs(cfg, jobs, seed=seed + 1, p_gap=0.1, p_stall=0.2)
    t_rows, n_units = q.shape[0], q.shape[1] // unit
    acc = np.zeros((t_rows + cfg.M, columns.shape[1] + cfg.N, n_units), np.int64)
    offset_out = getattr(cfg, "offset_out", False)
    for job, res in zip(jobs, results, strict=True):
        _check(f"tile result rows {job.row0}.. cols {job.col0}.. k {job.k0}", res, job.expected)
        acc[job.row0 : job.row0 + cfg.M, job.col0 : job.col0 + cfg.N, job.k0 // unit] = res[
            :, : cfg.N
        ]
        if offset_out:  # the tile's row sums are the converter's block sums
            _check(
                f"tile row sums rows {job.row0}.. k {job.k0}",
                res[:, cfg.N],
                pad_rows(total[:, job.k0 // unit], job.row0, cfg.M),
            )
    acc = acc[:t_rows, : columns.shape[1]]

    # 3. dequant converter
    items = []
    for t in range(t_rows):
        for col in range(want["units"].shape[1]):
            for j in range(n_units):
                grp = j * unit // weights.group
                with_total = cfg.weight_format != "signed" or offset_out
                item = {"total": int(total[t, j])} if with_total else {}
                if cfg.act_format != "int":
                    item["x"] = int(xe[t, j])
                if weights.kind == "bcq":
                    p = weights.w_bits
                    item["planes"] = acc[t, col * p : (col + 1) * p, j].tolist()
                    item["alpha"] = weights.alpha[grp, col].tolist()
                    item["offset"] = int(weights.offset[grp, col])
                else:
                    item["acc"] = int(acc[t, col, j])
                    item["scale"] = int(weights.scale[grp, col])
                    item["zero"] = int(weights.zero[grp, col])
                items.append(item)
    return _dequantize(cfg, items, want, seed)


def pad_rows(values: np.ndarray, row0: int, rows: int) -> np.ndarray:
    """``values[row0 : row0 + rows]``, zeros past the end (the tile's padded rows)."""
    out = np.zeros(rows, np.int64)
    part = values[row0 : row0 + rows]
    out[: len(part)] = part
    return out


def _dequantize(cfg: TileConfig, items: list[dict], want: dict, seed: int) -> dict:
    """The items (row-major over ``[T, N, units]``) through the :class:`DequantConverter`,
    checked against the golden ``units``; the golden dictionary with the RTL's ``y``."""
    dut = DequantConverter(cfg)
    lanes = cfg.dequant_lanes
    shape = want["units"].shape
    items = items + [items[-1]] * (-len(items) % lanes)  # pad the last beat
    layout = dut.i.payload.shape()
    beats = [layout.const(items[i : i + lanes]) for i in range(0, len(items), lanes)]
    outs, _ = simulate_stream(dut, beats, seed=seed + 2, p_gap=0.1, p_stall=0.2)
    words = np.array([int(o[lane]) for o in outs for lane in range(lanes)], np.int64)
    words = words[: int(np.prod(shape))].reshape(shape)
    _check("dequant converter", words, want["units"])
    return {**want, "y": fpgolden.sum_units(words, cfg.out_fmt)}


def _run_fplut(cfg: TileConfig, x: np.ndarray, weights: QuantWeights, want: dict, seed: int):
    """:func:`run_linear` on the FP-table tile: FP16 words straight into the tile, one output
    tile per quantization group with that group's zero points in the command (with
    ``offset = "output"`` in the dequant items, with the row sums), then the dequant
    converter on the tile's results."""
    if weights.kind != "rtn" or weights.w_bits != cfg.w_bits or weights.group != cfg.group:
        raise ValueError(f"weights {weights.name} do not match the tile's {cfg.fp_slug}")
    unit = weights.group
    t_rows, n = x.shape[0], weights.codes.shape[1]
    acc = np.zeros((t_rows + cfg.M, n + cfg.N, x.shape[1] // unit), np.int64)
    totals = np.zeros((t_rows + cfg.M, acc.shape[2]), np.int64)
    for j in range(acc.shape[2]):
        rows = slice(j * unit, (j + 1) * unit)
        jobs = gemm_jobs(cfg, x[:, rows], weights.codes[rows], weights.zero[j], k_per_tile=unit)
        results, _ = simulate_jobs(cfg, jobs, seed=seed + j, p_gap=0.1, p_stall=0.2)
        for job, res in zip(jobs, results, strict=True):
            _check(f"tile result rows {job.row0}.. cols {job.col0}.. group {j}", res, job.expected)
            acc[job.row0 : job.row0 + cfg.M, job.col0 : job.col0 + cfg.N, j] = res[:, : cfg.N]
            if cfg.offset_out:  # the row sums, the same in every column tile
                totals[job.row0 : job.row0 + cfg.M, j] = res[:, cfg.N]
    acc, totals = acc[:t_rows, :n], totals[:t_rows]
    _check("tile results", acc, want["acc"])
    if cfg.offset_out:
        _check("tile row sums", totals, want["total"])
    items = []
    for t in range(t_rows):
        for col in range(n):
            for j in range(acc.shape[2]):
                item = {"acc": int(acc[t, col, j]), "scale": int(weights.scale[j, col])}
                if cfg.offset_out:
                    item["total"] = int(totals[t, j])
                    if cfg.has_zero_point:
                        item["zero"] = int(weights.zero[j, col])
                items.append(item)
    return _dequantize(cfg, items, want, seed)
