"""``make pim``: the PIM tile's lookup schedule measured on weights: the pattern-aware saving
on random and on real quantized transformer weights (all-MiniLM-L6-v2, block 0), and the
cycles of a batched GEMV per layer against the LUT tile's.

Cycles come from the schedule model (:mod:`lutcore.sim.pim_model`), which the tests hold to the
RTL cycle for cycle. Results: ``build/pim/{patterns,gemv}.csv`` and ``pim.md``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
from tqdm import tqdm

from lutcore.base.files import write_atomic
from lutcore.hw.config import tile_config
from lutcore.sim import model, pim_model, quant
from lutcore.synth.papers import PAPERS

__all__ = ["PIM_CONFIGS", "run_pim_bench", "SAIL_SAVING"]

#: SAIL's reported cycle reduction from pattern-aware LUT lookups
SAIL_SAVING = PAPERS["sail_pattern_saving"].value

#: PIM tiles measured: batch 4, two banks of 4-bit tables, N columns per step, R ports
PIM_CONFIGS = {
    f"N{n} R{r}": tile_config(
        arch="pim", M=4, N=n, K=8, symmetric=False, w_bits=4, read_ports=r, max_k=1536
    )
    for n, r in ((4, 1), (8, 1), (8, 2), (16, 2))
}


def _weights(rng) -> dict[str, tuple[np.ndarray, int]]:
    """Codes ``[k, n]`` to measure: uniform random codes, and RTN codes of every MiniLM
    layer (groups of 128) at 2, 3 and 4 bits."""
    out = {f"random w{b}": (rng.integers(0, 1 << b, (384, 1536)), b) for b in (2, 3, 4)}
    for layer in model.LAYERS:
        w = model.layer_weight(layer)
        for bits in (2, 3, 4):
            out[f"{layer} rtn{bits}"] = (quant.quantize_rtn(w, bits, 128).codes, bits)
    return out


def conversion_comparison(work: Path, progress=print) -> list[dict]:
    """Area and cycles of the in-memory converters (:mod:`lutcore.hw.pim_convert`: logic
    synthesized, the bit-sliced subarray an SRAM estimate) against the dedicated converters
    of the same FP path (the default tile with FP16 activations and 16-bit mantissas),
    per block of 128 words."""
    from lutcore.hw.emit import PIM_CONVERT_COLUMNS
    from lutcore.hw.pim_bank_convert import bank_cycles
    from lutcore.hw.pim_programs import (
        conversion_cycles,
        fp16_to_bfp_program,
        int_to_fp16_program,
    )
    from lutcore.hw.presets import DEFAULT
    from lutcore.synth.flow import synthesize
    from lutcore.synth.sram import macro_area

    cfg = DEFAULT.replace(act_format="fp16", a_bits=16)
    words = PIM_CONVERT_COLUMNS
    rows = []
    pairs = (
        (
            "FP16 -> block FP16",
            "pim_fp16_to_bfp",
            fp16_to_bfp_program(cfg.a_bits),
            "act_converter",
            2 * cfg.bfp_block // cfg.act_lanes * words // cfg.bfp_block,
        ),
        (
            "integer -> FP16/FP32",
            "pim_int_to_fp16",
            int_to_fp16_program(cfg.acc_bits),
            "dequant",
            words // cfg.dequant_lanes,
        ),
    )
    for what, part, program, dedicated, dedicated_cycles in pairs:
        engine = synthesize(cfg, work / part, part=part, progress=progress)
        other = synthesize(cfg, work / dedicated, part=dedicated, progress=progress)
        subarray = macro_area(len(program.rows), words)
        rows.append(
            {
                "conversion": what,
                "in-memory cycles / 128 words": conversion_cycles(program),
                # the same program on the PIM tile's banks (any number of columns), engine
                # start to idle as above: one read port, then two
                "in banks, 1 / 2 read ports": " / ".join(
                    str(bank_cycles(program, ports) - 1) for ports in (1, 2)
                ),
                "in-memory logic um^2": round(engine.area_total),
                "in-memory subarray um^2 (estimate)": round(subarray),
                "in-memory Fmax MHz": engine.timing["fmax_mhz"],
                "dedicated": dedicated,
                "dedicated cycles / 128 words": dedicated_cycles,
                "dedicated um^2": round(other.area_total),
                "dedicated Fmax MHz": other.timing["fmax_mhz"],
            }
        )
    return rows


def run_pim_bench(out_dir: Path, *, synth: bool = True) -> tuple[list[dict], list[dict]]:
    """Measure and write ``patterns.csv``, ``gemv.csv`` and ``pim.md`` into ``out_dir``
    (with ``synth``, also the converters' comparison, which synthesizes four blocks)."""
    rng = np.random.default_rng(0)
    weights = _weights(rng)
    patterns = []
    for (wname, (codes, bits)), (cname, base) in tqdm(
        [(w, c) for w in weights.items() for c in PIM_CONFIGS.items()], desc="pim", unit="pt"
    ):
        cfg = base.replace(w_bits=bits, max_k=codes.shape[0])
        _, aware = pim_model.gemv_cycles(cfg, codes, pattern_aware=True)
        _, every = pim_model.gemv_cycles(cfg, codes, pattern_aware=False)
        idx = pim_model.step_indices(cfg, codes[:, : cfg.N * (codes.shape[1] // cfg.N)])
        patterns.append(
            {
                "weights": wname,
                "pim": cname,
                "zero_index_share": float((idx == 0).mean()),
                "cycles_all_reads": every,
                "cycles_pattern_aware": aware,
                "saving": 1 - aware / every,
            }
        )
    gemv = []
    for layer in model.LAYERS:
        codes = quant.quantize_rtn(model.layer_weight(layer), 2, 128).codes
        k, n_total = codes.shape
        for batch in (1, 4, 8):
            row = {"layer": f"{layer} ({k}x{n_total})", "B": batch}
            for cname in ("N8 R1", "N8 R2"):
                cfg = PIM_CONFIGS[cname].replace(M=batch, w_bits=2, max_k=k)
                load, aware = pim_model.gemv_cycles(cfg, codes, pattern_aware=True)
                _, every = pim_model.gemv_cycles(cfg, codes, pattern_aware=False)
                row[f"pim {cname} all reads"] = load + every
                row[f"pim {cname} pattern-aware"] = load + aware
            same = tile_config(M=batch, N=8, K=8, w_bits=2, max_k=k)
            paper = tile_config(M=batch, N=64, K=4, w_bits=2, max_k=k)
            row["lut M=B N8 K8"] = same.gemv_cycles(k, n_total)
            row["lut M=B N64 K4"] = paper.gemv_cycles(k, n_total)
            gemv.append(row)
    conversions = []
    if synth:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="lutcore-pim-") as tmp:
            conversions = conversion_comparison(Path(tmp), progress=lambda _: None)
    _write(out_dir, patterns, gemv, conversions)
    return patterns, gemv


def _csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _table(rows: list[dict]) -> list[str]:
    """A Markdown table of dictionaries (their keys as the header)."""
    return [
        "| " + " | ".join(rows[0]) + " |",
        "|" + "---|" * len(rows[0]),
        *("| " + " | ".join(str(v) for v in r.values()) + " |" for r in rows),
    ]


def _write(out_dir: Path, patterns: list[dict], gemv: list[dict], conversions: list[dict]):
    write_atomic(out_dir / "patterns.csv", _csv(patterns))
    write_atomic(out_dir / "gemv.csv", _csv(gemv))
    lines = [
        "# PIM tile: pattern-aware lookups and batched GEMV cycles",
        "",
        "Cycles from the PIM tile's schedule model (held to the RTL cycle for cycle by "
        "`tests/test_pim.py`). A step is one weight plane of one K-slice for N columns; each "
        "bank (one 4-bit table per step) serves R reads a cycle. *All reads*: one read per "
        "column. *Pattern-aware*: columns with the same index share a read and index 0 "
        "(all-zero bits, entry 0) is not read. Batch B = 4 (the saving does not depend on B).",
        "",
        "## Pattern-aware saving (cycles of the compute phase)",
        "",
        "| weights | " + " | ".join(PIM_CONFIGS) + " | zero-index share |",
        "|---|" + "---|" * (len(PIM_CONFIGS) + 1),
    ]
    by_weights: dict[str, dict] = {}
    for r in patterns:
        by_weights.setdefault(r["weights"], {})[r["pim"]] = r
    for wname, cells in by_weights.items():
        shares = {round(c["zero_index_share"], 3) for c in cells.values()}
        lines.append(
            f"| {wname} | "
            + " | ".join(f"{cells[c]['saving']:.1%}" for c in PIM_CONFIGS)
            + f" | {max(shares):.1%} |"
        )
    real = [r for r in patterns if not r["weights"].startswith("random")]
    rand = [r for r in patterns if r["weights"].startswith("random")]
    lines += [
        "",
        f"Mean saving: random weights {np.mean([r['saving'] for r in rand]):.1%}, real MiniLM "
        f"RTN weights {np.mean([r['saving'] for r in real]):.1%} (SAIL reports "
        f"{SAIL_SAVING:.1%} on its workloads). With R = N every column has its own port and "
        "nothing is saved; the saving grows as ports get scarcer.",
        "",
        "## Cycles per batched GEMV (RTN 2-bit weights, group 128)",
        "",
        "PIM: table load (K/8 slices x 15 rows) + compute. LUT tile: unthrottled, one weight "
        "beat a cycle (same step shape M=B N8 K8, and the paper's M=B N64 K4); its table "
        "precompute overlaps the weights and the activations are streamed per output tile.",
        "",
        *_table(gemv),
        "",
        "Both tiles read one table entry for all B rows at once, so the cycles per GEMV do "
        "not depend on B: per activation vector they fall as 1/B.",
    ]
    if conversions:
        lines += [
            "",
            "## In-memory type conversion against the dedicated converters",
            "",
            "In-memory: the bit-serial, word-parallel engine (`hw/pim_convert.py`) on 128 words "
            "in a bit-sliced subarray (one row per bit plane, two rows read and one written a "
            "cycle); its logic synthesized, its subarray an SRAM estimate (`synth/sram.py`). "
            "Dedicated: the activation converter and the dequant converter of the default tile "
            "with FP16 activations (the dequant converter also multiplies by the scale; the "
            "in-memory integer -> FP16 program converts only). Same flow and library. "
            "*In banks*: the same program on the PIM tile's own table banks "
            "(`hw/pim_bank_convert.py`, macros without a same-cycle bypass: one read port "
            "reads operand B a cycle after A, and an op that reads its predecessor's result "
            "waits a cycle), start to idle like the subarray engine's.",
            "",
            *_table(conversions),
        ]
        write_atomic(out_dir / "conversions.csv", _csv(conversions))
    write_atomic(out_dir / "pim.md", "\n".join(lines) + "\n")
