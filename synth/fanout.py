"""Fanout repair on a flat mapped netlist: buffer trees for nets ABC left unbuffered.

ABC's ``buffer`` does not split nets driven by flip-flops (its combinational inputs), so the
tile's broadcast control bits (accumulate enable, plane index) reach thousands of pins from
one flip-flop. This pass does what a physical flow's fanout repair does: every net with more
than ``max_fanout`` loads gets a tree of buffers, each driving at most ``max_fanout`` loads.
It edits Yosys' ``write_verilog -noattr -noexpr`` output, one instance per statement.
"""

from __future__ import annotations

import re
from pathlib import Path

from .liberty import cell_pins

__all__ = ["find_buffer", "output_pins", "repair_fanout"]

_INSTANCE = re.compile(r"^  (\S+) (\S+) \((.*?)\n  \);\n", flags=re.M | re.S)
_PIN = re.compile(r"\.(\w+)\(([^()]*)\)")


def output_pins(liberty_text: str) -> dict[str, set[str]]:
    """``{cell: {output pin names}}`` from a liberty text."""
    return {
        cell: {pin for pin, (direction, _) in pins.items() if direction == "output"}
        for cell, (_, pins) in cell_pins(liberty_text).items()
    }


def find_buffer(liberty_text: str) -> tuple[str, str, str, float]:
    """The median-size non-inverting buffer, ``(cell, in pin, out pin, area)``: it drives
    16 loads comfortably without the area of the largest (sky130 hd: ``buf_4``)."""
    found = []
    for cell, (area, pins) in cell_pins(liberty_text).items():
        ins = [p for p, (d, _) in pins.items() if d == "input"]
        outs = [(p, f) for p, (d, f) in pins.items() if d == "output"]
        func = (outs[0][1] or "").strip("() ") if len(outs) == 1 else None
        if len(ins) == 1 and func == ins[0] and "clk" not in cell:
            found.append((area, cell, ins[0], outs[0][0]))
    if not found:
        raise ValueError("liberty has no non-inverting buffer cell for fanout repair")
    # Plain buffers only when the library names them so: not clock, delay or isolation cells.
    plain = [f for f in found if re.search(r"(^|_)buf_\d+$", f[1])]
    candidates = sorted(plain or found)
    area, cell, pin_in, pin_out = candidates[len(candidates) // 2]
    return cell, pin_in, pin_out, area


def repair_fanout(
    netlist: Path, liberty_text: str, buffer: tuple[str, str, str], max_fanout: int = 16
) -> int:
    """Rewrite ``netlist`` in place; returns the number of buffers inserted.

    ``buffer`` is ``(cell, input pin, output pin)``, e.g. ``("sky130_fd_sc_hd__buf_8", "A",
    "X")``. The clock net is left alone (clock trees are not this flow's business).
    """
    text = netlist.read_text()
    outputs = output_pins(liberty_text)
    loads: dict[str, list[tuple[int, str]]] = {}  # net -> [(instance index, pin)]
    instances = list(_INSTANCE.finditer(text))
    for index, inst in enumerate(instances):
        cell_outputs = outputs.get(inst.group(1), set())
        for pin, net in _PIN.findall(inst.group(3)):
            if pin not in cell_outputs and net.strip():
                loads.setdefault(net.strip(), []).append((index, pin))
    rename: dict[tuple[int, str], str] = {}
    new_wires, new_cells = [], []
    cell, pin_in, pin_out = buffer
    count = 0
    for net, sinks in loads.items():
        if net == "clk" or len(sinks) <= max_fanout:
            continue
        # Build the tree bottom-up: split sinks into groups, each behind one buffer, and
        # repeat on the buffers until the root net drives at most max_fanout of them.
        # A driver is a load pin (instance index, pin) or a buffer's text with its input open.
        drivers: list = list(sinks)
        depth = 0
        while len(drivers) > max_fanout:
            buffered = []
            for g in range(0, len(drivers), max_fanout):
                wire = f"{_plain(net)}_fo{depth}_{g // max_fanout}"
                new_wires.append(wire)
                for sink in drivers[g : g + max_fanout]:
                    if isinstance(sink, tuple):
                        rename[sink] = wire
                    else:
                        new_cells.append(sink.replace("@IN@", wire))
                count += 1
                buffered.append(
                    f"  {cell} _fobuf_{count}_ (\n    .{pin_in}(@IN@),\n"
                    f"    .{pin_out}({wire})\n  );\n"
                )
            drivers = buffered
            depth += 1
        root = net + " " if net.startswith("\\") else net  # escaped names end with a space
        for sink in drivers:
            if isinstance(sink, tuple):
                rename[sink] = root
            else:
                new_cells.append(sink.replace("@IN@", root))
    if not count:
        return 0

    out, pos = [], 0
    for index, inst in enumerate(instances):
        out.append(text[pos : inst.start(3)])

        def repin(m: re.Match, index: int = index) -> str:
            target = rename.get((index, m.group(1)))
            return f".{m.group(1)}({target})" if target else m.group(0)

        out.append(_PIN.sub(repin, inst.group(3)))
        pos = inst.end(3)
    out.append(text[pos:])
    body = "".join(out)
    decls = "".join(f"  wire {w};\n" for w in new_wires)
    header_end = body.index(");\n", body.index("\nmodule ")) + 3  # after the port list
    body = body[:header_end] + decls + body[header_end:]
    tail = body.rindex("endmodule")
    body = body[:tail] + "".join(new_cells) + "endmodule\n"
    netlist.write_text(body)
    return count


def _plain(net: str) -> str:
    return "fo_" + re.sub(r"\W", "_", net.strip("\\ ")) + "_"
