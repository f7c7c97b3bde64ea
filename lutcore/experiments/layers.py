"""``make layers``: real transformer layers (all-MiniLM-L6-v2, block 0) through the
floating-point path, per weight format and activation path.

For every linear layer of the block, every weight quantization (round-to-nearest per group
of 64 and 128 at 2, 3 and 4 bits; BCQ per group of 128 at 2, 3, 4 bits) and every
activation path (FP16/BF16 to block floating point with 8- or 16-bit mantissas, a shared
exponent per group or per table chunk; LUT Tensor Core's FP-table tile and the FP16 MAC
baseline's own arithmetic for uniform weights), and BitNet b1.58's integer path (absmax INT8
activations, ternary absmean weights next to 2-bit RTN and BCQ; :func:`int8_rows`), the
golden model's output is compared with

* the float layer (float64 activations and unquantized weights): the whole error;
* float64 matmul of the same rounded activations and the same dequantized weights: the
  error the block-FP conversion and the dequant rounding add.

With ``--rtl`` the first tokens and columns of each layer also run through the RTL (the
activation converter, the tile and the dequant converter in Amaranth's simulator),
checked word for word against the golden model. Results: ``errors.csv`` and ``errors.md``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import NamedTuple

import numpy as np
from tqdm import tqdm

from lutcore.base.files import write_atomic
from lutcore.hw.config import FORMATS, FP16, FP32, TileConfig, tile_config
from lutcore.hw.dequant import FP16_ONE
from lutcore.hw.presets import PRESETS
from lutcore.sim import fpgolden, golden, model, quant

__all__ = ["ACT_PATHS", "WEIGHT_FORMATS", "run_layers"]


class ActPath(NamedTuple):
    """An activation path: its name, the activation format and mantissa width, the block
    (or the FP tile, ``"fplut"``/``"fpmac"``), the rounding, the FP tiles' accumulation and
    the FP-table tile's offset (:attr:`~lutcore.hw.config.Tables.offset`)."""

    name: str
    act_format: str
    a_bits: int
    block: str
    rounding: str
    acc_format: str = "fp32"
    offset: str = "cell"


#: activation paths
ACT_PATHS = [
    ActPath("fp16-bfp16-group", "fp16", 16, "group", "rne"),
    ActPath("fp16-bfp8-group", "fp16", 8, "group", "rne"),
    ActPath("fp16-bfp8-group-trunc", "fp16", 8, "group", "trunc"),
    ActPath("fp16-bfp8-chunk", "fp16", 8, "chunk", "rne"),
    ActPath("bf16-bfp16-group", "bf16", 16, "group", "rne"),
    ActPath("bf16-bfp8-group", "bf16", 8, "group", "rne"),
    # LUT Tensor Core's FP-table tile (FP16 tables of 4 activations, FP adds, FP32
    # accumulation, or FP16 as the authors' array; uniform weights only)
    ActPath("fp16-fptable", "fp16", 16, "fplut", "rne"),
    ActPath("fp16-fptable-acc16", "fp16", 16, "fplut", "rne", "fp16"),
    # ...and as the authors' array: FP16 accumulation, the offset out of the array
    ActPath("fp16-fptable-acc16-offout", "fp16", 16, "fplut", "rne", "fp16", "output"),
    # ...and with exact fixed-point accumulation (one rounding per output, in the converter)
    ActPath("fp16-fptable-fixed-offout", "fp16", 16, "fplut", "rne", "fixed", "output"),
    # the FP16 baseline (K=4 fused dot products, FP32 or FP16 accumulation; uniform weights)
    ActPath("fp16-fpmac", "fp16", 16, "fpmac", "rne"),
    ActPath("fp16-fpmac-acc16", "fp16", 16, "fpmac", "rne", "fp16"),
    ActPath("fp16-fpmac-fixed", "fp16", 16, "fpmac", "rne", "fixed"),
]

#: weight formats: (kind, bits, group)
WEIGHT_FORMATS = [
    *[("rtn", b, g) for g in (64, 128) for b in (2, 3, 4)],
    *[("bcq", b, 128) for b in (2, 3, 4)],
]

#: BitNet b1.58's path: absmax INT8 activations per token into an integer tile, exact; the
#: weights ternary by absmean (per tensor, as BitNet, and per group of 128) next to 2-bit
#: round-to-nearest and BCQ: (kind, bits, group; None is per tensor)
INT8_WEIGHTS = [("ternary", 2, None), ("ternary", 2, 128), ("rtn", 2, 128), ("bcq", 2, 128)]
INT8_PATH = "int8-absmax-token"

FIELDS = [
    "layer",
    "K",
    "N",
    "tokens",
    "weights",
    "activations",
    "mean_rel_err",
    "max_rel_err",
    "conv_mean_rel_err",
    "conv_max_rel_err",
    "rtl",
]


def fpmac_linear(x_words, qw: quant.QuantWeights, acc_format: str = "fp32"):
    """The FP16 baseline's golden result for a whole layer: one output tile per group (its
    scales in the command) and per up to 64 columns (a tile's result beat is one wire), the
    groups' results (``acc_format`` words; exact fixed-point sums rounded once to FP32)
    summed in K order."""
    t_rows, k_total = x_words.shape
    n = qw.codes.shape[1]
    units = np.empty((t_rows, n, k_total // qw.group), np.int64)

    def tile(columns: int) -> TileConfig:
        return tile_config(
            arch="fpmac",
            M=t_rows,
            N=columns,
            K=4,
            w_bits=qw.w_bits,
            planes_per_cycle=qw.w_bits,
            act_format="fp16",
            a_bits=16,
            max_k=qw.group,
            acc_format=acc_format,
        )

    step = max(1, min(64, (1 << 16) // (t_rows * tile(1).result_bits)))
    for c0 in range(0, n, step):
        cols = slice(c0, min(n, c0 + step))
        cfg = tile(cols.stop - c0)
        for j, k0 in enumerate(range(0, k_total, qw.group)):
            rows = slice(k0, k0 + qw.group)
            result = golden.tile_result(
                cfg, x_words[:, rows], qw.codes[rows, cols], qw.zero[j, cols], qw.scale[j, cols]
            )
            if cfg.fixed_acc:  # exact sums: normalized and rounded once to FP32
                result = fpgolden.dequant(result[..., None], FP16_ONE, cfg.fixed_lsb, cfg.out_fmt)
            units[:, cols, j] = result
    return fpgolden.sum_units(units, FP32 if acc_format == "fixed" else FORMATS[acc_format])


def path_config(kind: str, bits: int, group: int, act: ActPath) -> TileConfig:
    """The tile of one point of the grid: the LUT tile on block FP, or the FP-table tile."""
    fplut = act.block == "fplut"
    fmt, a_bits, block, rounding = act.act_format, act.a_bits, act.block, act.rounding
    return tile_config(
        arch="fplut" if fplut else "lut",
        M=2,
        N=16,
        K=4 if fplut else 8,
        max_k=4096,
        w_bits=bits,
        group=group,
        weight_format="bcq" if kind == "bcq" else "unsigned",
        act_format=fmt,
        a_bits=a_bits,
        # the FP-table tile takes FP16 words whole: no block or rounding of its own
        **(
            {"acc_format": act.acc_format, "offset": act.offset}
            if fplut
            else {"act_block": block, "act_rounding": rounding}
        ),
    )


def run_layers(out_dir: Path, *, rtl_tokens: int = 0, rtl_columns: int = 16) -> list[dict]:
    """Run the grid and write ``errors.csv`` / ``errors.md`` into ``out_dir`` atomically.
    ``rtl_tokens > 0`` also simulates that many tokens and ``rtl_columns`` output columns of
    every point through the RTL (minutes per point)."""
    from lutcore.sim.fp_driver import run_linear

    inputs = model.layer_inputs(0)
    points = [
        (layer, w, a)
        for layer in model.LAYERS
        for w in WEIGHT_FORMATS
        for a in ACT_PATHS
        if not (a[3] in ("fpmac", "fplut") and w[0] == "bcq")
    ]
    rows = []
    quantized: dict = {}
    for layer, (kind, bits, group), act in tqdm(points, desc="layers", unit="point"):
        x, w = inputs[layer], model.layer_weight(layer)
        key = (layer, kind, bits, group)
        if key not in quantized:
            quantized[key] = _quantize(w, kind, bits, group)
        qw = quantized[key]
        if act[3] == "fpmac":
            xb = fpgolden.to_bits(x, FP16)
            y = fpmac_linear(xb, qw, act.acc_format)
            cfg = None
        else:
            cfg = path_config(kind, bits, group, act)
            xb = fpgolden.to_bits(x, cfg.act_fmt)
            y = fpgolden.linear(cfg, xb, qw)["y"]
        whole = fpgolden.relative_error(y, x @ w)
        conv = fpgolden.relative_error(
            y, fpgolden.from_bits(xb, FORMATS[act[1]]) @ qw.dequantized()
        )
        rtl = "-"
        if rtl_tokens and cfg is not None and act[3] in ("group", "fplut"):
            cols = rtl_columns * (bits if kind == "bcq" else 1)
            sub = _columns(qw, rtl_columns)
            run_linear(cfg.replace(N=min(cols, 64)), xb[:rtl_tokens], sub)
            rtl = f"bit-exact ({rtl_tokens} tokens x {rtl_columns} columns)"
        rows.append(_row(layer, x, w, qw, act[0], whole, conv, rtl))
    rows += int8_rows(inputs, rtl_tokens=rtl_tokens, rtl_columns=rtl_columns)
    _write(rows, out_dir)
    return rows


def _quantize(w: np.ndarray, kind: str, bits: int, group: int | None) -> quant.QuantWeights:
    if kind == "ternary":
        return quant.quantize_ternary(w, group)
    return (quant.quantize_bcq if kind == "bcq" else quant.quantize_rtn)(w, bits, group)


#: the ternary tile the RTL check runs: base-3 groups of 3 weights (TL2's 5-bit codes)
TERNARY_RTL = PRESETS["ternary_base3"]


def int8_rows(inputs: dict, *, rtl_tokens: int = 0, rtl_columns: int = 16) -> list[dict]:
    """BitNet's integer path on every layer (:data:`INT8_WEIGHTS`): the tile's integer
    result is exact, so the output ``(q * s_a) @ W`` (float64, ``W`` the dequantized
    weights) carries only the quantization error; *conversion* is 0. With ``rtl_tokens``
    the ternary weights' first tokens and columns also run through the base-3 ternary tile
    (Amaranth's simulator), word for word against the integer matmul."""
    rows = []
    for layer in model.LAYERS:
        x, w = inputs[layer], model.layer_weight(layer)
        q, s_a = quant.quantize_absmax(x, 8)
        for kind, bits, group in INT8_WEIGHTS:
            qw = _quantize(w, kind, bits, group)
            y = (q * s_a[:, None]) @ qw.dequantized()
            whole = fpgolden.relative_error(y, x @ w)
            rtl = "-"
            if rtl_tokens and kind == "ternary":
                rtl = _ternary_rtl(q[:rtl_tokens], qw.codes[:, :rtl_columns])
            exact = {"mean": 0.0, "max": 0.0}
            rows.append(_row(layer, x, w, qw, INT8_PATH, whole, exact, rtl))
    return rows


def _row(layer, x, w, qw, activations: str, whole: dict, conv: dict, rtl: str) -> dict:
    """One result row (:data:`FIELDS`)."""
    return {
        "layer": layer,
        "K": w.shape[0],
        "N": w.shape[1],
        "tokens": x.shape[0],
        "weights": qw.name,
        "activations": activations,
        "mean_rel_err": whole["mean"],
        "max_rel_err": whole["max"],
        "conv_mean_rel_err": conv["mean"],
        "conv_max_rel_err": conv["max"],
        "rtl": rtl,
    }


def _ternary_rtl(q: np.ndarray, codes: np.ndarray) -> str:
    """``q @ codes`` through :data:`TERNARY_RTL` (output tiles of ``max_k``; the scales are
    applied after the exact integers); raises on the first differing word."""
    from lutcore.sim.amaranth_driver import simulate_jobs
    from lutcore.sim.streams import assemble, first_mismatch, gemm_jobs

    cfg = TERNARY_RTL
    jobs = gemm_jobs(cfg, q, codes, None)
    results, _ = simulate_jobs(cfg, jobs, seed=1, p_gap=0.2, p_stall=0.2)
    got = assemble(cfg, jobs, results, (q.shape[0], codes.shape[1]))
    problem = first_mismatch(got, q @ codes)
    if problem:
        raise AssertionError(f"ternary tile {cfg.slug}: {problem}")
    return f"bit-exact ({q.shape[0]} tokens x {codes.shape[1]} columns, {cfg.slug})"


def _columns(qw: quant.QuantWeights, n: int) -> quant.QuantWeights:
    """The first ``n`` output columns of quantized weights."""
    pick = {}
    for name in ("scale", "zero", "codes", "alpha", "offset"):
        value = getattr(qw, name)
        pick[name] = None if value is None else value[..., :n] if name == "codes" else value[:, :n]
    planes = None if qw.planes is None else qw.planes[:, :, :n]
    return quant.QuantWeights(qw.kind, qw.w_bits, qw.group, planes=planes, **pick)


def _write(rows: list[dict], out_dir: Path) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(out_dir / "errors.csv", buf.getvalue())
    lines = [
        "# Real layers through the floating-point and the INT8 paths (all-MiniLM-L6-v2, block 0)",
        "",
        f"One sentence ({rows[0]['tokens']} tokens). Relative error = |y - ref| / RMS(ref) per "
        "output element, mean and max. *Whole*: against the float layer (unquantized weights, "
        "float64); *conversion*: against float64 matmul of the same rounded activations and "
        "dequantized weights (what block FP and the dequant rounding add). The "
        f"`{INT8_PATH}` rows are BitNet b1.58's path: absmax INT8 activations per token into "
        "an exact integer tile (conversion 0). Ternary weights are post-training absmean "
        "ternarizations of a model not trained for them: their error compares the weight "
        "formats, it is not what a BitNet-trained model loses.",
        "",
        "| layer | weights | activations | whole mean | whole max | conversion mean "
        "| conversion max | RTL |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['layer']} ({r['K']}x{r['N']}) | {r['weights']} | {r['activations']} | "
            f"{r['mean_rel_err']:.4f} | {r['max_rel_err']:.3f} | {r['conv_mean_rel_err']:.2e} "
            f"| {r['conv_max_rel_err']:.2e} | {r['rtl']} |"
        )
    write_atomic(out_dir / "errors.md", "\n".join(lines) + "\n")
