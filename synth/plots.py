"""The sweep's figures as PNG and SVG (matplotlib): density against weight width, area by
block, the area-throughput Pareto front, density against N at fixed M*N*K, density against
array size, table kind and g.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from lutcore.base.files import atomic_path

from .analysis import best_by_size, best_by_width, ok_rows, shape_families

__all__ = ["write_plots"]


def write_plots(rows: list[dict], folder: Path) -> list[Path]:
    """The sweep's figures as PNG and SVG in ``folder``; returns the files written. A figure
    whose data the sweep lacks is not drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written: list[Path] = []
    colors = {
        "lut": "tab:blue",
        "mac": "tab:orange",
        "fpmac": "tab:red",
        "fplut": "tab:green",
        "pim": "tab:purple",
    }

    def save(fig, stem: str) -> None:
        for ext in ("png", "svg"):
            path = folder / f"{stem}.{ext}"
            with atomic_path(path) as tmp:  # a name of its own: sweeps may share the folder
                fig.savefig(
                    tmp,
                    dpi=130,
                    bbox_inches="tight",
                    metadata={"Date": None} if ext == "svg" else None,
                )
            written.append(path)
        plt.close(fig)

    def finish(fig, ax, stem: str, **legend) -> None:
        """Legend, grid and :func:`save`: the line plots' common ending."""
        ax.legend(**legend)
        ax.grid(alpha=0.3)
        save(fig, stem)

    best = best_by_width(rows)
    if best:
        fig, ax = plt.subplots(figsize=(6, 4))
        for arch, pts in sorted(best.items()):
            ws = sorted(pts)
            ax.plot(
                ws,
                [pts[w]["tops_per_mm2"] for w in ws],
                "o-",
                color=colors[arch],
                label=f"{arch.upper()} (best point per width)",
            )
        ax.set(
            xlabel="weight bits",
            ylabel="TOPS/mm$^2$",
            yscale="log",
            title="Compute density vs weight width (int8 activations)",
        )
        finish(fig, ax, "density_vs_wbits")

        picks = [best[a][w] for a in sorted(best) for w in sorted(best[a])]
        blocks = sorted({b for r in picks for b in r["area_by_block"]})
        fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(picks)), 4))
        bottom = [0.0] * len(picks)
        for block in blocks:
            heights = [r["area_by_block"].get(block, 0.0) / 1e3 for r in picks]
            ax.bar(range(len(picks)), heights, bottom=bottom, label=block)
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        ax.set_xticks(
            range(len(picks)), [f"{r['arch'].upper()} w{r['w_bits']}" for r in picks], rotation=45
        )
        ax.set(ylabel="area (10$^3$ um$^2$)", title="Area by block (best point per width)")
        ax.legend(fontsize=7)
        save(fig, "area_by_block")

    ok = ok_rows(rows)
    if ok:
        fig, ax = plt.subplots(figsize=(6, 4))
        for arch in sorted({r["arch"] for r in ok}):
            pts = sorted(ok_rows(ok, arch=arch), key=lambda r: r["area_um2"])
            ax.scatter(
                [r["area_um2"] / 1e3 for r in pts],
                [r["tops"] for r in pts],
                color=colors[arch],
                label=arch.upper(),
                s=14,
            )
            front, top = [], -1.0  # Pareto: more throughput for more area, nothing dominated
            for r in pts:
                if r["tops"] > top:
                    front.append(r)
                    top = r["tops"]
            ax.step(
                [r["area_um2"] / 1e3 for r in front],
                [r["tops"] for r in front],
                where="post",
                color=colors[arch],
                alpha=0.6,
            )
        ax.set(xlabel="area (10$^3$ um$^2$)", ylabel="TOPS", title="Area vs throughput (Pareto)")
        finish(fig, ax, "pareto")

    powered = [r for r in ok if isinstance(r.get("tops_per_w"), int | float)]
    if powered:
        fig, ax = plt.subplots(figsize=(6, 4))
        for arch in sorted({r["arch"] for r in powered}):
            pts = [r for r in powered if r["arch"] == arch]
            ax.scatter(
                [r["tops_per_mm2"] for r in pts],
                [r["tops_per_w"] for r in pts],
                color=colors[arch],
                label=arch.upper(),
                s=14,
            )
            for r in pts:
                ax.annotate(f"w{r['w_bits']}", (r["tops_per_mm2"], r["tops_per_w"]), fontsize=6)
        ax.set(
            xlabel="TOPS/mm$^2$",
            ylabel="TOPS/W",
            xscale="log",
            yscale="log",
            title=f"Energy efficiency vs density ({powered[0]['power_workload']} workload)",
        )
        finish(fig, ax, "energy_vs_density")

    groups = shape_families(ok)
    if groups:
        fig, ax = plt.subplots(figsize=(6, 4))
        for (arch, mnk, w, a, *_), pts in sorted(groups.items()):
            pts.sort(key=lambda r: (r["N"], r["M"]))
            ax.plot(
                [r["N"] for r in pts],
                [r["tops_per_mm2"] for r in pts],
                "o-",
                color=colors[arch],
                alpha=0.8,
                label=f"{arch.upper()} MNK={mnk} w{w} a{a}",
            )
        ax.set(
            xlabel="N",
            xscale="log",
            ylabel="TOPS/mm$^2$",
            title="Density vs N at fixed M*N*K (elongation)",
        )
        finish(fig, ax, "density_vs_n", fontsize=7)

    sizes = best_by_size(ok)
    if sizes:
        fig, ax = plt.subplots(figsize=(6, 4))
        narrowest = min(w for _, w in sizes)  # drawn strongest
        for (fmt, w), by_size in sizes.items():
            for side, style in (("lut", "o-"), ("mac", "s--")):
                pts = [(mnk, pair[side]) for mnk, pair in by_size.items() if side in pair]
                if pts:
                    ax.plot(
                        [mnk for mnk, _ in pts],
                        [r["tops_per_mm2"] for _, r in pts],
                        style,
                        color=colors[side],
                        alpha=1.0 if w == narrowest else 0.4,
                        label=f"{side.upper()} {fmt} w{w} (best per size)",
                    )
        ax.set(
            xlabel="array size M*N*K (MACs of one beat)",
            xscale="log",
            yscale="log",
            ylabel="TOPS/mm$^2$",
            title="Density vs array size",
        )
        finish(fig, ax, "density_vs_size", fontsize=7)

    variants = defaultdict(list)
    for r in ok_rows(ok, arch="lut"):
        key = (r["M"], r["N"], r["K"], r["w_bits"], r["a_bits"], r["planes_per_cycle"])
        variants[key].append(r)
    variants = {k: v for k, v in variants.items() if len({(r["g"], r["symmetric"]) for r in v}) > 1}
    if variants:
        key, pts = max(variants.items(), key=lambda kv: len(kv[1]))
        pts.sort(key=lambda r: (r["g"], not r["symmetric"]))
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.bar(
            [f"g={r['g']} {'sym' if r['symmetric'] else 'unsigned'}" for r in pts],
            [r["tops_per_mm2"] for r in pts],
            color="tab:blue",
        )
        ax.set(
            ylabel="TOPS/mm$^2$",
            title=f"LUT table kind and g (M{key[0]} N{key[1]} K{key[2]} w{key[3]} a{key[4]})",
        )
        ax.tick_params(axis="x", rotation=30)
        save(fig, "ablation_table_g")
    return written
