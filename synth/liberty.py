"""Cell libraries: the project's compact default liberty and checks on any user liberty.

The default library ``lutcore_sky130hd_compact.lib`` ships with the project. It is written by
:func:`compact_liberty` from the SkyWater sky130_fd_sc_hd typical corner (tt_025C_1v80,
Apache-2.0): library header and table templates as they are, then a compact set of common
cells with their areas, pin capacitances, functions, timing tables and power groups
(``leakage_power`` per input state, ``internal_power`` tables) copied unchanged.
Regenerate with ``python -m lutcore.synth.liberty path/to/sky130hd_tt.lib.gz``.
"""

from __future__ import annotations

import gzip
import io
import re
import sys
import zlib
from pathlib import Path

from lutcore.base.files import decode_text, read_bounded

__all__ = [
    "COMPACT_CELLS",
    "DEFAULT_LIBERTY",
    "LibertyError",
    "cell_pins",
    "check_liberty",
    "compact_liberty",
    "read_liberty_text",
]

DEFAULT_LIBERTY = Path(__file__).with_name("lutcore_sky130hd_compact.lib")
PREFIX = "sky130_fd_sc_hd__"

#: Inverters/buffers in several drive strengths (for ABC's buffering and sizing), the 2-4
#: input NAND/NOR/AND/OR, XOR/XNOR (2 and 3 inputs: adders), MUX2, the common AOI/OAI,
#: majority, D flip-flops without and with reset, and the tie cell. No full/half adder
#: cells: ABC maps single-output cells only.
COMPACT_CELLS = tuple(
    PREFIX + name
    for name in [
        "inv_1",
        "inv_2",
        "inv_4",
        "inv_8",
        "inv_16",
        "buf_1",
        "buf_2",
        "buf_4",
        "buf_8",
        "buf_16",
        "nand2_1",
        "nand2_2",
        "nand2_4",
        "nand3_1",
        "nand3_2",
        "nand4_1",
        "nor2_1",
        "nor2_2",
        "nor2_4",
        "nor3_1",
        "nor4_1",
        "and2_1",
        "and2_2",
        "and3_1",
        "and4_1",
        "or2_1",
        "or2_2",
        "or3_1",
        "or4_1",
        "xor2_1",
        "xor2_2",
        "xnor2_1",
        "xnor2_2",
        "xor3_1",
        "xnor3_1",
        "mux2_1",
        "mux2_2",
        "mux2i_1",
        "a21oi_1",
        "a21oi_2",
        "a21o_1",
        "o21ai_1",
        "o21ai_2",
        "o21a_1",
        "a22oi_1",
        "a22o_1",
        "o22ai_1",
        "o22a_1",
        "a211oi_1",
        "o211ai_1",
        "a31oi_1",
        "o31ai_1",
        "a32oi_1",
        "o32ai_1",
        "a2bb2oi_1",
        "o2bb2ai_1",
        "a21boi_0",
        "o21bai_1",
        "maj3_1",
        "dfxtp_1",
        "dfxtp_2",
        "dfxtp_4",
        "dfrtp_1",
        "conb_1",
    ]
)


class LibertyError(ValueError):
    """A liberty file is unreadable or lacks a cell function the flow needs."""


#: larger than any real liberty (sky130's full typical corner is 13 MB of text)
MAX_LIBERTY_BYTES = 1 << 30


def read_liberty_text(path: Path) -> str:
    """Text of a plain or gzip-compressed liberty file (a regular file of at most
    :data:`MAX_LIBERTY_BYTES`, compressed or not)."""
    raw = read_bounded(path, "liberty", LibertyError, MAX_LIBERTY_BYTES)
    if raw[:2] == b"\x1f\x8b":
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(raw)) as f:
                raw = f.read(MAX_LIBERTY_BYTES + 1)
        except (OSError, EOFError, zlib.error) as exc:  # truncated or corrupted archive
            raise LibertyError(f"liberty {path}: damaged gzip file ({exc})") from None
        if len(raw) > MAX_LIBERTY_BYTES:
            raise LibertyError(f"liberty {path}: more than {MAX_LIBERTY_BYTES:,} bytes unpacked")
    return decode_text(raw, path, "liberty", LibertyError)


def _group_end(text: str, start: int) -> int:
    """Index just past the ``}`` closing the group whose ``{`` is the first at/after start."""
    depth = 0
    for match in re.finditer(r"[{}]", text[start:]):
        depth += 1 if match.group() == "{" else -1
        if depth == 0:
            return start + match.end()
    raise LibertyError("unbalanced braces in liberty text")


def cell_groups(text: str) -> dict[str, tuple[int, int]]:
    """``{cell name: (start, end)}`` of every ``cell (...) { ... }`` group."""
    groups = {}
    for match in re.finditer(r'^\s*cell\s*\(\s*"?([\w$]+)"?\s*\)\s*\{', text, flags=re.M):
        groups[match.group(1)] = (match.start(), _group_end(text, match.start()))
    return groups


def cell_pins(text: str) -> dict[str, tuple[float, dict[str, tuple[str, str | None]]]]:
    """``{cell: (area, {pin: (direction, function or None)})}`` of every cell."""
    cells = {}
    for name, (start, end) in cell_groups(text).items():
        body = text[start:end]
        area = re.search(r"\barea\s*:\s*([\d.eE+-]+)", body)
        pins = {}
        for pin in re.finditer(r'(?<![\w])pin\s*\(\s*"?(\w+)"?\s*\)\s*\{', body):
            group = body[pin.start() : _group_end(body, pin.start())]
            direction = re.search(r'direction\s*:\s*"?(\w+)', group)
            function = re.search(r'function\s*:\s*"([^"]+)"', group)
            pins[pin.group(1)] = (
                direction.group(1) if direction else "",
                function.group(1).strip() if function else None,
            )
        cells[name] = (float(area.group(1)) if area else 0.0, pins)
    return cells


def compact_liberty(full_text: str, source_name: str) -> str:
    """The compact library: ``full_text``'s header and the :data:`COMPACT_CELLS`."""
    groups = cell_groups(full_text)
    missing = [c for c in COMPACT_CELLS if c not in groups]
    if missing:
        raise LibertyError(f"{source_name}: lacks cells {', '.join(missing)}")
    header_end = min(start for start, _ in groups.values())
    header = full_text[:header_end].rstrip()
    name = re.search(r'library\s*\(\s*"?([\w.]+)"?\s*\)', header)
    header = header.replace(name.group(0), 'library ("lutcore_sky130hd_compact")', 1)
    cells = [full_text[slice(*groups[c])] for c in COMPACT_CELLS]
    banner = (
        "/* lutcore compact cell library: a subset of the SkyWater sky130_fd_sc_hd library,\n"
        f"   typical corner tt_025C_1v80 ({source_name}). Areas, pin capacitances, functions,\n"
        "   timing tables and power groups are copied unchanged.\n"
        "   Copyright 2020 The SkyWater PDK Authors, Apache License 2.0\n"
        "   (https://www.apache.org/licenses/LICENSE-2.0). Generated by\n"
        "   `python -m lutcore.synth.liberty`; do not edit. */\n"
    )
    body = "\n".join(cell.strip().join(["    ", ""]) for cell in cells)
    return f"{banner}{header}\n\n{body}\n}}\n"


def check_liberty(path: Path) -> str:
    """Validate that ``path`` can map a design; returns the library name.

    The flow needs a D flip-flop (``ff`` group with ``next_state : "D"``-like function), an
    inverter and a 2-input NAND or NOR (ABC can build everything else from those).
    """
    text = read_liberty_text(path)
    lib = re.search(r'library\s*\(\s*"?([\w.\-]+)"?\s*\)', text)
    if lib is None:
        raise LibertyError(f"liberty {path}: no `library (...)` group")
    gates = set()  # (inputs, normalized output function) of single-output cells
    for _, pins in cell_pins(text).values():
        ins = tuple(sorted(p for p, (d, _) in pins.items() if d == "input"))
        funcs = [f for d, f in pins.values() if d == "output" and f]
        if len(funcs) == 1:
            norm = funcs[0].replace(" ", "").replace("*", "&").replace("+", "|")
            norm = re.sub(r"\((!?\w+)\)", r"\1", norm)  # "(!A)|(!B)" is "!A|!B"
            while norm.startswith("(") and norm.endswith(")"):
                norm = norm[1:-1]
            gates.add((ins, norm))

    def has(pattern: str, n_inputs: int) -> bool:
        return any(
            len(ins) == n_inputs and re.fullmatch(pattern.format(*ins), f) for ins, f in gates
        )

    needs = {
        "D flip-flop (ff group)": re.search(r"\bff\s*\(", text) is not None,
        'inverter (function "!A")': has(r"!\(?{0}\)?", 1),
        "2-input NAND or NOR": has(r"!\(({0}[&|]{1}|{1}[&|]{0})\)|!{0}[&|]!{1}|!{1}[&|]!{0}", 2),
    }
    absent = [need for need, ok in needs.items() if not ok]
    if absent:
        raise LibertyError(f"liberty {path}: no cell for {', '.join(absent)}")
    return lib.group(1)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m lutcore.synth.liberty FULL_SKY130_HD_TT.lib[.gz]", file=sys.stderr)
        return 2
    source = Path(argv[0])
    text = compact_liberty(read_liberty_text(source), source.name)
    DEFAULT_LIBERTY.write_text(text)
    print(f"wrote {DEFAULT_LIBERTY} ({len(COMPACT_CELLS)} cells, {len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
