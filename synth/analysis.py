"""What a sweep's rows say, as data: the best point per architecture and weight width, the
LUT/MAC density ratios, the shape families (the elongation question).

Density is TOPS/mm^2 (1 MAC = 2 ops, MACs per cycle at the configured weight width, Fmax
from the report's timing). A ratio at a weight width compares each architecture's *best*
point at that width (int8 activations), so neither side is judged by a poor configuration.
"""

from __future__ import annotations

from collections import defaultdict

__all__ = [
    "LUT_MAC_PAIRS",
    "TERNARY_DESIGNS",
    "best_by_size",
    "best_ternary",
    "best_by_width",
    "crossover",
    "lut_mac_ratios",
    "ok_rows",
    "shape_families",
    "shape_name",
]


def ok_rows(rows: list[dict], **match) -> list[dict]:
    """The synthesized rows whose fields equal ``match``. Ternary rows only when ``match``
    asks for ``weight_format="ternary"``: a ternary weight has ``w_bits = 2`` but is not a
    2-bit weight, so every per-width comparison leaves it out."""
    ternary = match.get("weight_format") == "ternary"
    return [
        r
        for r in rows
        if r["status"] == "ok"
        and (r.get("weight_format") == "ternary") == ternary
        and all(r.get(k) == v for k, v in match.items())
    ]


#: the ternary comparison: each design's rows (int8 activations) and its name
TERNARY_DESIGNS = (
    ("LUT, base-3 groups", {"arch": "lut", "weight_format": "ternary", "ternary_code": "base3"}),
    (
        "LUT, 2-bit planes (W_INT2)",
        {"arch": "lut", "weight_format": "ternary", "ternary_code": "planes"},
    ),
    ("MAC, add/subtract/skip", {"arch": "mac", "weight_format": "ternary"}),
    ("MAC, 2-bit signed multiply", {"arch": "mac", "weight_format": "signed", "w_bits": 2}),
)


def best_ternary(rows: list[dict]) -> dict[str, dict]:
    """``{design: densest row}`` of :data:`TERNARY_DESIGNS` with int8 activations (designs
    without a row left out)."""
    best = {}
    for name, match in TERNARY_DESIGNS:
        pts = ok_rows(rows, act_format="int", a_bits=8, **match)
        if pts:
            best[name] = max(pts, key=lambda r: r["tops_per_mm2"])
    return best


def best_by_width(
    rows: list[dict], a_bits: int | None = 8, act_format: str = "int"
) -> dict[str, dict[int, dict]]:
    """``{arch: {w_bits: best row}}`` by TOPS/mm^2 among the points with ``act_format``
    activations (integer ones of ``a_bits``; any mantissa width when ``a_bits`` is None)."""
    best: dict[str, dict[int, dict]] = defaultdict(dict)
    match = {"act_format": act_format} | ({} if a_bits is None else {"a_bits": a_bits})
    for r in ok_rows(rows, **match):
        cur = best[r["arch"]].get(r["w_bits"])
        if cur is None or r["tops_per_mm2"] > cur["tops_per_mm2"]:
            best[r["arch"]][r["w_bits"]] = r
    return best


#: the LUT designs and their multiply-based baselines, per activation format
LUT_MAC_PAIRS = {"int": (("lut",), ("mac",)), "fp16": (("lut", "fplut"), ("fpmac",))}


def best_by_size(rows: list[dict]) -> dict[tuple[str, int], dict[int, dict[str, dict]]]:
    """``{(act_format, w_bits): {M*N*K: {"lut": best row, "mac": best row}}}``: at each
    array size the densest LUT design and the densest multiply-based one
    (:data:`LUT_MAC_PAIRS`); only formats and widths with at least two sizes."""
    found: dict = defaultdict(lambda: defaultdict(dict))
    for r in ok_rows(rows):
        fmt = r.get("act_format", "int")
        luts, macs = LUT_MAC_PAIRS.get(fmt, ((), ()))
        side = "lut" if r["arch"] in luts else "mac" if r["arch"] in macs else None
        if side is None:
            continue
        cell = found[fmt, r["w_bits"]][r["M"] * r["N"] * r["K"]]
        if side not in cell or r["tops_per_mm2"] > cell[side]["tops_per_mm2"]:
            cell[side] = r
    return {k: dict(sorted(v.items())) for k, v in sorted(found.items()) if len(v) > 1}


def lut_mac_ratios(best: dict) -> dict[int, float]:
    widths = sorted(set(best.get("lut", {})) & set(best.get("mac", {})))
    return {
        w: best["lut"][w]["tops_per_mm2"] / best["mac"][w]["tops_per_mm2"]
        for w in widths
        if best["mac"][w]["tops_per_mm2"] > 0
    }


def shape_families(rows: list[dict]) -> dict[tuple, list[dict]]:
    """Synthesized points that differ only in tile shape at one volume ``M*N*K`` (same arch,
    widths, g, table kind, planes per cycle, pipeline), keyed ``(arch, mnk, w_bits, a_bits,
    ...)``; only families with more than two shapes (the elongation question)."""
    families = defaultdict(list)
    for r in ok_rows(rows):
        design = tuple(r.get(k) for k in ("g", "symmetric", "planes_per_cycle", "pipeline"))
        key = (r["arch"], r["M"] * r["N"] * r["K"], r["w_bits"], r["a_bits"], *design)
        families[key].append(r)
    return {k: v for k, v in families.items() if len({shape_name(r) for r in v}) > 2}


def shape_name(r: dict) -> str:
    return f"M{r['M']} N{r['N']} K{r['K']}"


def crossover(ratios: dict[int, float]) -> int | None:
    """The narrowest weight width at which the best MAC point is denser, if any."""
    return next((w for w, ratio in ratios.items() if ratio < 1), None)
