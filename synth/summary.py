"""The sweep's ``summary.md``: LUT/MAC density ratios, the crossover weight width, the best
shapes, the FP16 and PIM tables, and the papers' figures (:mod:`lutcore.synth.papers`) side
by side. The numbers come from :mod:`lutcore.synth.analysis`."""

from __future__ import annotations

from pathlib import Path

from lutcore.base.files import write_atomic

from .analysis import (
    LUT_MAC_PAIRS,
    best_by_size,
    best_by_width,
    best_ternary,
    crossover,
    lut_mac_ratios,
    ok_rows,
    shape_families,
    shape_name,
)
from .papers import PAPERS

__all__ = [
    "CLAIMS",
    "energy_section",
    "fp16_section",
    "pim_section",
    "scale_section",
    "summarize",
    "ternary_section",
    "write_summary",
]

#: the papers' figures the integer sweep's summary lists
CLAIMS = ("lut_crossover_w_bits", "lut_tc_w2a8_density", "naive_pair_ratios")


def summarize(rows: list[dict], name: str) -> str:
    """``summary.md`` text of a sweep's result rows."""
    ok, failed = ok_rows(rows), [r for r in rows if r["status"] != "ok"]
    best = best_by_width(rows)
    ratios = lut_mac_ratios(best)
    lines = [
        f"# Sweep `{name}`: LUT against MAC",
        "",
        f"{len(rows)} points: {len(ok)} synthesized, {len(failed)} failed. Density = TOPS/mm^2 "
        "(1 MAC = 2 ops) at the OpenSTA Fmax; each ratio compares the best LUT and best MAC "
        "point at that weight width, int8 activations.",
        "",
        "| w_bits | best LUT TOPS/mm^2 | its point | best MAC TOPS/mm^2 | its point | LUT/MAC |",
        "|---|---|---|---|---|---|",
    ]
    for w, ratio in ratios.items():
        lut, mac = best["lut"][w], best["mac"][w]
        lines.append(
            f"| {w} | {lut['tops_per_mm2']:.4f} | `{lut['slug']}` | {mac['tops_per_mm2']:.4f} "
            f"| `{mac['slug']}` | **{ratio:.2f}x** |"
        )
    cross = crossover(ratios)
    lines += [""]
    if not ratios:
        lines.append("No weight width has both a LUT and a MAC point: no ratio to report.")
    elif cross is None:
        lines.append(
            f"**Crossover**: none in the swept widths ({min(ratios)}..{max(ratios)} bits): the "
            "LUT tile is denser at every one."
        )
    else:
        lines.append(
            f"**Crossover**: at {cross}-bit weights the best MAC point is denser "
            f"(LUT/MAC {ratios[cross]:.2f}x); the LUT tile wins below."
        )
    for arch in ("lut", "mac"):
        pts = ok_rows(rows, arch=arch)
        if pts:
            top = max(pts, key=lambda r: r["tops_per_mm2"])
            lines.append(
                f"**Best {arch.upper()} point overall**: `{top['slug']}` ({shape_name(top)}, "
                f"{top['w_bits']}-bit weights, a_bits {top['a_bits']}): "
                f"{top['tops_per_mm2']:.4f} TOPS/mm^2, {top['area_um2']:,.0f} um^2, "
                f"{top['fmax_mhz']} MHz."
            )
    shape_lines = []
    for (arch, mnk, w, a, *_), pts in sorted(shape_families(rows).items()):
        top = max(pts, key=lambda r: r["tops_per_mm2"])
        low = min(pts, key=lambda r: r["tops_per_mm2"])
        shape_lines.append(
            f"- {arch.upper()}, M*N*K = {mnk}, w{w} a{a}: best {shape_name(top)} "
            f"({top['tops_per_mm2']:.4f}), worst {shape_name(low)} ({low['tops_per_mm2']:.4f})"
        )
    if shape_lines:
        lines += ["", "**Best shape at fixed M*N*K** (the elongation question):", *shape_lines]
    lines += ternary_section(rows)
    lines += fp16_section(rows)
    lines += scale_section(rows)
    lines += energy_section(rows)
    lines += pim_section(rows)
    lines += ["", "## Against the papers' claims", ""]
    lines += [f"- Claim: {PAPERS[c].sentence()}." for c in CLAIMS]
    lines += ["", _verdict(ratios, cross), ""]
    if failed:
        lines += ["## Failed points", ""]
        lines += [f"- `{r['slug']}`: {r['error']}" for r in failed]
        lines.append("")
    return "\n".join(lines)


def ternary_section(rows: list[dict]) -> list[str]:
    """Markdown lines: ternary (BitNet b1.58) weights with int8 activations, the densest
    point of each design (:data:`~lutcore.synth.analysis.TERNARY_DESIGNS`): base-3 LUT
    groups, 2-bit planes on the LUT tile, the add/subtract/skip MAC and the 2-bit signed
    MAC, with the weight stream's bits per weight and each one's density against the
    add/subtract MAC (and TOPS/W with power)."""
    best = best_ternary(rows)
    if not best:
        return []
    base = best.get("MAC, add/subtract/skip")
    power = any(isinstance(r.get("tops_per_w"), int | float) for r in best.values())
    lines = [
        "",
        "## Ternary weights (BitNet b1.58), int8 activations",
        "",
        "The densest point of each design; the ratio is against the add/subtract/skip MAC "
        "(the multiplier-free ternary baseline).",
        "",
        "| design | bits/weight | TOPS/mm^2 | its point | area um^2 | Fmax MHz |"
        + (" TOPS/W |" if power else "")
        + " vs add/sub MAC |",
        "|---|---|---|---|---|---|" + ("---|" if power else "") + "---|",
    ]
    for name, r in best.items():
        bits = r.get("bits_per_weight") or r["w_bits"]
        ratio = f"**{r['tops_per_mm2'] / base['tops_per_mm2']:.2f}x**" if base else "-"
        tops_w = (
            f" {r['tops_per_w']:.3f} |"
            if power and "tops_per_w" in r
            else (" - |" if power else "")
        )
        lines.append(
            f"| {name} | {float(bits):.2f} | {r['tops_per_mm2']:.4f} | `{r['slug']}` | "
            f"{r['area_um2']:,.0f} | {r['fmax_mhz']} |{tops_w} {ratio} |"
        )
    return lines


def fp16_section(rows: list[dict]) -> list[str]:
    """Markdown lines comparing, per weight width, the best FP16-activation point of each
    design against the FP16 MAC baseline: the LUT tile on block FP (tile plus activation
    and dequant converters), LUT Tensor Core's FP-table tile (plus its dequant converter),
    and the pre-aligned integer MAC (the MAC tile with the LUT tile's converters, FIGNA's
    idea). One table per accumulation of the FP tiles (FP32, and FP16 and exact fixed point
    where the sweep has such points): the FP-table tile and the FP16 MAC are compared at
    the same one; the integer designs accumulate exactly and appear in each."""
    lines = _fp16_table(rows, "fp32")
    for acc in ("fp16", "fixed"):
        if any(r.get("acc_format") == acc for r in ok_rows(rows)):
            lines += _fp16_table(rows, acc)
    return lines


def _fp16_table(rows: list[dict], acc: str) -> list[str]:
    """:func:`fp16_section`'s table for the FP tiles' points accumulating in ``acc``."""
    rows = [r for r in rows if r.get("acc_format", acc) == acc]
    best = best_by_width(rows, a_bits=None, act_format="fp16")
    lut_fp16, fp16_mac = PAPERS["lut_tc_w1_fp16_density"], PAPERS["fp16_mac_density"]
    fp = best.get("fpmac", {})
    if not fp:
        return []
    designs = [
        ("lut", "LUT, block FP (+conv.)", "LUT/FP16 MAC"),
        ("fplut", "LUT, FP16 tables (+dequant)", "FP-table/FP16 MAC"),
        ("mac", "pre-aligned MAC (+conv.)", "pre-aligned/FP16 MAC"),
    ]
    designs = [d for d in designs if best.get(d[0])]
    width = acc.upper()
    lines = [
        "",
        "## FP16 activations"
        + {"fp32": "", "fp16": ", FP16 accumulation"}.get(acc, ", exact fixed-point accumulation"),
        "",
        "The block-FP LUT and pre-aligned MAC points include their activation converter "
        "(FP16 -> block FP) and dequant converter (-> FP32 with scales); "
        + (
            "the FP-table LUT tile takes FP16 words into FP16 tables, sums the looked-up "
            "entries exactly in fixed-point accumulators and includes its dequant converter "
            "(the scales, one rounding); the FP16 MAC dequantizes weights to FP16 and sums "
            "the exact products of K-term dot products in fixed-point accumulators, with a "
            "one-term dequant converter (one rounding to FP32)."
            if acc == "fixed"
            else "the FP-table LUT tile takes FP16 words into FP16 tables, adds them in "
            f"floating point into {width} accumulators and includes its dequant converter "
            "(the scales); the FP16 MAC dequantizes weights to FP16, takes fused K-term FP16 "
            f"dot products and accumulates in {width}."
        )
        + " Ratios against the FP16 MAC at each width.",
        "",
        "| w_bits | FP16 MAC TOPS/mm^2 | "
        + " | ".join(f"{label} | {ratio}" for _, label, ratio in designs)
        + " |",
        "|---|---|" + "---|---|" * len(designs),
    ]
    for w in sorted(fp):
        base = fp[w]["tops_per_mm2"]
        cells = [f"{base:.4f} (`{fp[w]['slug']}`)"]
        for arch, _, _ in designs:
            r = best[arch].get(w)
            cells += (
                [
                    f"{r['tops_per_mm2']:.4f} (a{r['a_bits']}, {r['fmax_mhz']:.0f} MHz"
                    + (", offset out)" if r.get("offset") == "output" else ")"),
                    f"**{r['tops_per_mm2'] / base:.2f}x**",
                ]
                if r and base > 0
                else ["-", "-"]
            )
        lines.append(f"| {w} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Papers: {PAPERS['lut_tc_w1_fp16_density'].sentence()} "
        f"({lut_fp16.value / fp16_mac.value:.1f}x); "
        f"{PAPERS['figna_fp16_int4_gain'].sentence()} ({PAPERS['figna_fp16_int4_gain'].value}x).",
    ]
    return lines


def scale_section(rows: list[dict]) -> list[str]:
    """Markdown lines: density against array size ``M*N*K`` (per activation format and
    weight width, the densest LUT and multiply-based point at each size and their ratio),
    and whether the LUT advantage grows with size, as table sharing across ``N`` columns
    amortizes the precompute (LUT Tensor Core's elongated-tile argument)."""
    families = best_by_size(rows)
    if not families:
        return []
    lines = [
        "",
        "## Density against array size",
        "",
        "At each size M*N*K the densest LUT point and the densest multiply-based point (any "
        "shape of that size in the sweep); FP16 rows include the converters.",
        "",
        "| activations | w_bits | M*N*K | best LUT TOPS/mm^2 | its shape | best MAC TOPS/mm^2 "
        "| its shape | LUT/MAC |",
        "|---|---|---|---|---|---|---|---|",
    ]
    trends = []
    for (fmt, w), sizes in families.items():
        ratios = {}
        for mnk, pair in sizes.items():
            lut, mac = pair.get("lut"), pair.get("mac")
            cells = [
                f"{r['tops_per_mm2']:.4f} | {r['arch']} {shape_name(r)}" if r else "- | -"
                for r in (lut, mac)
            ]
            ratio = "-"
            if lut and mac and mac["tops_per_mm2"] > 0:
                ratios[mnk] = lut["tops_per_mm2"] / mac["tops_per_mm2"]
                ratio = f"**{ratios[mnk]:.2f}x**"
            lines.append(f"| {fmt} | {w} | {mnk} | {' | '.join(cells)} | {ratio} |")
        if len(ratios) > 1:
            first, last = min(ratios), max(ratios)
            verb = "grows" if ratios[last] > ratios[first] else "does not grow"
            trends.append(
                f"- {fmt}, w{w}: LUT/MAC {verb} with size, {ratios[first]:.2f}x at "
                f"{first} to {ratios[last]:.2f}x at {last}."
            )
    if trends:
        lines += ["", "**Does the LUT advantage grow with the array?**", *trends]
    return lines


def energy_section(rows: list[dict]) -> list[str]:
    """Markdown lines for a sweep with power (``--power``): per activation format and weight
    width, the most energy-efficient LUT point (TOPS/W) against the most efficient
    multiply-based one (the MAC tile for integer activations, the FP16 MAC for FP16)."""
    pts = [r for r in ok_rows(rows) if isinstance(r.get("tops_per_w"), int | float)]
    if not pts:
        return []
    lines = [
        "",
        "## Energy (gate-level activity)",
        "",
        f"Workload `{pts[0]['power_workload']}`: each point's netlist ran it on Verilator "
        "(outputs checked word for word), power from its toggles with the liberty's tables at "
        "the point's Fmax (`lutcore power`). 1 MAC = 2 ops. In parentheses: with the FP "
        "path's separately synthesized converters, whose power is OpenSTA's vectorless "
        "estimate (no bench drives them in a power run); the best points and the ratio are "
        "taken with them, as the FP16 MAC converts inside its tile.",
        "",
        "| activations | w_bits | best LUT TOPS/W | pJ/MAC | its point | best MAC TOPS/W | "
        "pJ/MAC | its point | LUT/MAC |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for act, (luts, macs) in LUT_MAC_PAIRS.items():
        here = [r for r in pts if r.get("act_format", "int") == act]
        for w in sorted({r["w_bits"] for r in here}):
            side = [
                max(
                    (r for r in here if r["w_bits"] == w and r["arch"] in archs),
                    key=_whole_tops_per_w,
                    default=None,
                )
                for archs in (luts, macs)
            ]
            cells = [
                f"{r['tops_per_w']:.3f}{_with_converters(r)} | {r['pj_per_mac']:.4f} | "
                f"`{r['slug']}`"
                if r
                else "- | - | -"
                for r in side
            ]
            ratio = (
                f"**{_whole_tops_per_w(side[0]) / _whole_tops_per_w(side[1]):.2f}x**"
                if all(side)
                else "-"
            )
            lines.append(f"| {act} | {w} | {cells[0]} | {cells[1]} | {ratio} |")
    figlut = PAPERS["figlut_energy_gain"].value
    lines += [
        "",
        f"Papers: {PAPERS['lut_tc_int8_energy_gain'].sentence()}; "
        f"{PAPERS['lut_tc_fp16_energy_gain'].sentence()}; "
        f"{PAPERS['figlut_energy_gain'].sentence()} ({figlut[0]}-{figlut[1]}x).",
    ]
    return lines


def _whole_tops_per_w(row: dict) -> float:
    """TOPS/W of the whole path: an FP point with its converters."""
    return row.get("tops_per_w_with_converters", row["tops_per_w"])


def _with_converters(row: dict) -> str:
    with_conv = _whole_tops_per_w(row)
    return f" ({with_conv:.3f})" if with_conv != row["tops_per_w"] else ""


def pim_section(rows: list[dict]) -> list[str]:
    """Markdown lines for the PIM tile's points: per batch B (= M) and read ports, the
    synthesized logic, the SRAM estimate and the density with and without the SRAM."""
    pts = sorted(
        ok_rows(rows, arch="pim"),
        key=lambda r: (
            r.get("sram_banks", 0),
            r["M"],
            r["N"],
            r["read_ports"],
            r.get("sram_bits", 0),
        ),
    )
    if not pts:
        return []
    lines = [
        "",
        "## PIM tile",
        "",
        "Logic from Yosys; the SRAM banks are an analytic estimate (see the reports). The "
        "data-independent throughput (a step takes ceil(N / read ports) cycles); pattern-aware "
        "lookups shorten steps (measured by `make pim`). *Logic only* is what the PIM "
        "function adds to an SRAM that is there anyway (SAIL's cache); *overhead* is the "
        f"logic's area as a share of the SRAM's (SAIL: {PAPERS['sail_overhead'].value:g}%). "
        "Fmax includes the banks' read (their timing model); in brackets, with the banks' "
        "ports untimed.",
        "",
        "| point | B | banks x KB | N x R | logic um^2 | SRAM estimate um^2 | overhead | "
        "Fmax MHz | TOPS/mm^2 (logic + SRAM) | TOPS/mm^2 (logic only) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in pts:
        # rows of sweeps from before the bank columns existed show no bank shape
        banks = r.get("sram_banks") or 0
        shape = f"{banks} x {r['sram_bits'] / banks / 8192:.1f}" if banks else "-"
        logic_only = f" ({r['fmax_logic_only_mhz']:.0f})" if r.get("fmax_logic_only_mhz") else ""
        lines.append(
            f"| `{r['slug']}` | {r['M']} | {shape} | "
            f"{r['N']} x {r['read_ports']} | {r['area_um2']:,.0f} | {r['sram_area_um2']:,.0f} | "
            f"{100 * r['area_um2'] / r['sram_area_um2']:.1f}% | {r['fmax_mhz']:.0f}{logic_only} | "
            f"{r['tops_per_mm2']:.4f} | {r['tops_per_mm2_logic']:.4f} |"
        )
    return lines


def _verdict(ratios: dict[int, float], crossover: int | None) -> str:
    if not ratios:
        return "No LUT/MAC pair to compare."
    parts = []
    top = max(ratios)
    claim = PAPERS["lut_crossover_w_bits"].value
    pair = PAPERS["naive_pair_ratios"]
    naive = dict(zip(pair.extra["w_bits"], pair.value, strict=True))
    tensor_core = PAPERS["lut_tc_w2a8_density"].value / PAPERS["a100_int8_density"].value
    if crossover is None and top < claim:
        parts.append(
            f"The LUT tile is denser at every swept width, but the sweep stops at {top} bits: "
            f"no verdict on the ~{claim}-bit claim."
        )
    elif crossover is None:
        parts.append(
            f"Here the LUT tile stays denser up to {top}-bit weights: consistent with the "
            "claim that a well-designed LUT tile keeps its advantage to wide weights."
        )
    elif crossover > claim:
        parts.append(
            f"Crossover at {crossover} bits: agrees with 'up to about {claim}-bit weights'."
        )
    else:
        parts.append(
            f"Crossover at {crossover} bits, earlier than the paper's ~{claim} bits. Expected with "
            "int8 activations: the paper's large factors come from FP16 activations, where "
            "the multiplier side is far more expensive; with small integers an int8 x "
            "narrow-digit multiplier is cheap."
        )
    close = [w for w, r in ratios.items() if 0.9 <= r <= 1.1]
    if close:
        parts.append(
            f"At {', '.join(map(str, close))} bits the two are within 10% of each other: "
            "parity on this flow, not an advantage either way."
        )
    if 2 in ratios:
        parts.append(
            f"At 2-bit weights LUT/MAC = {ratios[2]:.2f}x here, against the naive pair's "
            f"{naive[2]}x on the same flow and the paper's ~{tensor_core:.1f}x tensor-core "
            "figure (28 nm, FP-capable "
            f"baseline): {'agrees with' if ratios[2] >= 1.2 else 'falls short of'} a "
            "clear LUT advantage at 2 bits."
        )
    return " ".join(parts)


def write_summary(rows: list[dict], folder: Path, name: str) -> Path:
    path = folder / "summary.md"
    write_atomic(path, summarize(rows, name))
    return path
