"""Fanout repair on a mapped netlist: buffer trees for nets ABC left unbuffered.

ABC's ``buffer`` does not split nets driven by flip-flops (its combinational inputs), so the
tile's broadcast control bits (accumulate enable, plane index) reach thousands of pins from
one flip-flop. This pass does what a physical flow's fanout repair does: every net with more
than ``max_fanout`` loads gets a tree of buffers, each driving at most ``max_fanout`` loads.
It edits Yosys' ``write_verilog -noattr -noexpr`` output, one instance per statement.

Every module is repaired once, however often it is instantiated: a net inside a module gets
its tree there, and an input port of a submodule is one load of the parent's net (a
broadcast into ``N`` columns gets a tree of ``N`` loads in the parent, and each column's
port net its own tree inside the column).
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

from .liberty import cell_groups, cell_pins
from .netlist import INSTANCE as _INSTANCE
from .netlist import MODULE as _MODULE
from .netlist import PIN as _PIN
from .netlist import module_outputs

__all__ = ["BUFFER_PREFIX", "find_buffer", "output_pins", "repair_fanout"]

#: the instance names of the buffers fanout repair inserts begin with this
BUFFER_PREFIX = "_fobuf_"


def output_pins(liberty_text: str) -> dict[str, set[str]]:
    """``{cell: {output pin names}}`` from a liberty text."""
    return {
        cell: {pin for pin, (direction, _) in pins.items() if direction == "output"}
        for cell, (_, pins) in cell_pins(liberty_text).items()
    }


def find_buffer(liberty_text: str, dont_use: tuple[str, ...] = ()) -> tuple[str, str, str, float]:
    """The fanout-tree buffer, ``(cell, in pin, out pin, area)``: the smallest plain
    non-inverting buffer rated (output ``max_capacitance``) for at least four times the
    load of the smallest one. A tree node drives 16 loads; the choice depends on the
    drive strengths only, so two libraries with the same buffers pick the same cell
    (sky130 hd: ``buf_4``). Cells matching a ``dont_use`` glob are not considered."""
    found = []
    for cell, (area, pins) in cell_pins(liberty_text).items():
        ins = [p for p, (d, _) in pins.items() if d == "input"]
        outs = [(p, f) for p, (d, f) in pins.items() if d == "output"]
        func = (outs[0][1] or "").strip("() ") if len(outs) == 1 else None
        if (
            len(ins) == 1
            and func == ins[0]
            and "clk" not in cell
            and not any(fnmatch.fnmatchcase(cell, pattern) for pattern in dont_use)
        ):
            found.append((area, cell, ins[0], outs[0][0]))
    if not found:
        raise ValueError("liberty has no non-inverting buffer cell for fanout repair")
    # Plain buffers only when the library names them so: not clock, delay or isolation cells.
    plain = sorted([f for f in found if re.search(r"(^|_)buf_\d+$", f[1])] or found)
    groups = cell_groups(liberty_text)
    drive = {cell: _max_capacitance(liberty_text[slice(*groups[cell])]) for _, cell, _, _ in plain}
    floor = 4 * min(drive.values())
    area, cell, pin_in, pin_out = next((f for f in plain if drive[f[1]] >= floor), plain[-1])
    return cell, pin_in, pin_out, area


def _max_capacitance(cell_text: str) -> float:
    caps = re.findall(r"max_capacitance\s*:\s*([\d.eE+-]+)", cell_text)
    return max(map(float, caps), default=0.0)


def repair_fanout(
    netlist: Path, liberty_text: str, buffer: tuple[str, str, str], max_fanout: int = 16
) -> dict[str, int]:
    """Rewrite ``netlist`` in place; returns ``{module: buffers inserted}`` (once per module,
    however often it is instantiated).

    Each module is repaired on its own, submodules before their parents: loads are the
    input pins of library cells and of submodule instances. A submodule's input pin weighs
    what its port net drives inside the submodule after repair (at most ``max_fanout``; 0
    when unused), so a net crossing into ``N`` instances gets the tree a flat netlist would.
    ``buffer`` is ``(cell, input pin, output pin)``, e.g. ``("sky130_fd_sc_hd__buf_4", "A",
    "X")``. The clock net is left alone (clock trees are not this flow's business).
    """
    text = netlist.read_text()
    outputs = output_pins(liberty_text) | module_outputs(text)
    found = {m.group(1): m for m in _MODULE.finditer(text)}
    bodies: dict[str, str] = {}
    counts: dict[str, int] = {}
    roots: dict[str, dict[str, int]] = {}  # module -> net -> loads on its root after repair

    def repair(name: str) -> None:
        if name in bodies:
            return
        bodies[name] = ""  # a cycle would recurse forever; netlists have none
        body = found[name].group(0)
        for inst in _INSTANCE.finditer(body):
            if inst.group(1) in found:
                repair(inst.group(1))
        bodies[name], counts[name], roots[name] = _repair_module(
            body, outputs, buffer, max_fanout, roots
        )

    for name in found:
        repair(name)
    out, pos = [], 0
    for name, module in found.items():
        out += [text[pos : module.start()], bodies[name]]
        pos = module.end()
    out.append(text[pos:])
    if any(counts.values()):
        netlist.write_text("".join(out))
    return counts


def _repair_module(
    text: str,
    outputs: dict[str, set[str]],
    buffer: tuple[str, str, str],
    max_fanout: int,
    roots: dict[str, dict[str, int]],
) -> tuple[str, int, dict[str, int]]:
    """One module's repair: its text, the buffers inserted and each net's root loads."""
    loads: dict[str, list[tuple[int, str, int]]] = {}  # net -> [(instance, pin, weight)]
    instances = list(_INSTANCE.finditer(text))
    for index, inst in enumerate(instances):
        kind = inst.group(1)
        if kind not in outputs:
            continue  # not a cell of the liberty or a module of the netlist
        inner = roots.get(kind)  # a submodule: its port nets' loads inside
        for pin, net in _PIN.findall(inst.group(3)):
            if pin not in outputs[kind] and net.strip():
                weight = 1 if inner is None else inner.get(pin.strip(), 0)
                if weight:
                    loads.setdefault(net.strip(), []).append((index, pin, weight))
    rename: dict[tuple[int, str], str] = {}
    new_wires, new_cells = [], []
    cell, pin_in, pin_out = buffer
    count = 0
    root_loads = {}
    for net, sinks in loads.items():
        total = sum(w for _, _, w in sinks)
        if net == "clk" or total <= max_fanout:
            root_loads[net] = total
            continue
        # Build the tree bottom-up: pack sinks into groups of at most max_fanout loads,
        # each behind one buffer, and repeat on the buffers (one load each) until the
        # root net drives at most max_fanout of them. A driver is a load pin (instance
        # index, pin, weight) or a buffer's text with its input open.
        drivers: list = list(sinks)
        depth = 0
        while sum(_weight(d) for d in drivers) > max_fanout:
            buffered = []
            for g, group in enumerate(_groups(drivers, max_fanout)):
                wire = f"{_plain(net)}_fo{depth}_{g}"
                new_wires.append(wire)
                for sink in group:
                    if isinstance(sink, tuple):
                        rename[sink[:2]] = wire
                    else:
                        new_cells.append(sink.replace("@IN@", wire))
                count += 1
                buffered.append(
                    f"  {cell} {BUFFER_PREFIX}{count}_ (\n    .{pin_in}(@IN@),\n"
                    f"    .{pin_out}({wire})\n  );\n"
                )
            drivers = buffered
            depth += 1
        root_loads[net] = sum(_weight(d) for d in drivers)
        root = net + " " if net.startswith("\\") else net  # escaped names end with a space
        for sink in drivers:
            if isinstance(sink, tuple):
                rename[sink[:2]] = root
            else:
                new_cells.append(sink.replace("@IN@", root))
    if not count:
        return text, 0, root_loads

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
    header_end = body.index(");\n") + 3  # after the port list
    body = body[:header_end] + decls + body[header_end:]
    tail = body.rindex("endmodule")
    return body[:tail] + "".join(new_cells) + "endmodule\n", count, root_loads


def _weight(driver) -> int:
    return driver[2] if isinstance(driver, tuple) else 1


def _groups(drivers: list, max_fanout: int) -> list[list]:
    """Consecutive groups of ``drivers`` of at most ``max_fanout`` loads each (a driver
    weighing more is a group of its own)."""
    groups, current, load = [], [], 0
    for driver in drivers:
        weight = _weight(driver)
        if current and load + weight > max_fanout:
            groups.append(current)
            current, load = [], 0
        current.append(driver)
        load += weight
    return [*groups, current] if current else groups


def _plain(net: str) -> str:
    return "fo_" + re.sub(r"\W", "_", net.strip("\\ ")) + "_"
