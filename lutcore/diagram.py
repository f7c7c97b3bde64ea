"""The block diagram of every architecture (``docs/blocks.svg``), drawn from the component
hierarchy itself: each tile of :data:`lutcore.docs.INTERFACE_DOCS` is elaborated and its
submodules become the boxes, in elaboration order, between the streams they serve; the
converters around a tile (its arch's parts) are drawn before and after it.

``lutcore diagram -o docs/blocks.svg`` writes it; a test regenerates it and compares.
"""

from __future__ import annotations

from html import escape

from amaranth.hdl import Fragment

from lutcore.hw.arch import arch_of, make_tile
from lutcore.hw.config import TileConfig

__all__ = ["block_rows", "blocks_svg"]

BOX_W, BOX_H, GAP, ROW_H, LEFT = 118, 34, 26, 78, 150


def submodules(cfg: TileConfig) -> list[str]:
    """The tile's submodule names, in elaboration order (the emitted ``<top>__<name>``)."""
    fragment = Fragment.get(make_tile(cfg), None)
    return [name for _, name, _ in fragment.subfragments]


def block_rows(configs: list[TileConfig]) -> list[tuple[str, list[str]]]:
    """``(label, boxes)`` per configuration: the converters before the tile, the tile's
    submodules, the converters after it."""
    rows = []
    for cfg in configs:
        parts = cfg.parts
        before = ["act_converter"] if "act_converter" in parts else []
        after = ["dequant"] if "dequant" in parts else []
        rows.append(
            (f"{cfg.arch}: {arch_of(cfg).description}", [*before, *submodules(cfg), *after])
        )
    return rows


def blocks_svg(configs: list[TileConfig]) -> str:
    rows = block_rows(configs)
    width = LEFT + max(len(boxes) for _, boxes in rows) * (BOX_W + GAP) + 90
    height = 40 + len(rows) * ROW_H
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12">',
        '<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="7" refY="4" '
        'orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#444"/></marker></defs>',
        '<text x="10" y="22" font-size="14" font-weight="bold">lutcore blocks: the tile of '
        "each architecture (submodules in elaboration order) and its converters</text>",
    ]
    for r, (label, boxes) in enumerate(rows):
        y = 40 + r * ROW_H
        out.append(f'<text x="10" y="{y + 12}" font-weight="bold">{escape(label)}</text>')
        x = 10
        out.append(f'<text x="{x}" y="{y + 42}">streams in</text>')
        prev = x + 70
        for i, box in enumerate(boxes):
            bx = LEFT + i * (BOX_W + GAP)
            fill = "#eef5ff" if box not in ("act_converter", "dequant") else "#fff5e6"
            out += [
                f'<line x1="{prev}" y1="{y + 38}" x2="{bx}" y2="{y + 38}" stroke="#444" '
                'marker-end="url(#arrow)"/>',
                f'<rect x="{bx}" y="{y + 21}" width="{BOX_W}" height="{BOX_H}" rx="4" '
                f'fill="{fill}" stroke="#335"/>',
                f'<text x="{bx + BOX_W // 2}" y="{y + 42}" text-anchor="middle">'
                f"{escape(box)}</text>",
            ]
            prev = bx + BOX_W
        out += [
            f'<line x1="{prev}" y1="{y + 38}" x2="{prev + GAP}" y2="{y + 38}" stroke="#444" '
            'marker-end="url(#arrow)"/>',
            f'<text x="{prev + GAP + 4}" y="{y + 42}">y</text>',
        ]
    out.append("</svg>")
    return "\n".join(out) + "\n"
