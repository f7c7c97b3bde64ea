"""Reading a mapped netlist (Yosys ``write_verilog -noattr -noexpr`` of liberty cells):
its modules, cell instances and flip-flops, and which flip-flops the reset reaches, against
the same count in the design before mapping.

The reset check exists because a mapping step can drop a reset silently (Yosys 0.70's
``abc -dff`` turns flip-flops with a synchronous or asynchronous reset into plain ones): a
netlist whose flip-flops lost a reset the RTL had would be reported as if it were the design.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .liberty import cell_groups, cell_pins

__all__ = [
    "INSTANCE",
    "MODULE",
    "PIN",
    "FlopCount",
    "NetlistError",
    "check_resets",
    "flip_flop_cells",
    "hierarchy",
    "module_outputs",
    "modules",
    "reset_reach",
    "rtl_reset_reach",
]

#: one cell instance in Yosys' netlist: ``  TYPE NAME (\n    .PIN(net),\n ... \n  );``
INSTANCE = re.compile(r"^  (\S+) (\S+) \((.*?)\n  \);\n", flags=re.M | re.S)
#: one pin connection ``.PIN(net)``; a submodule's port may be an escaped name
#: (``.\\o__payload[3] (net)``, the name including its closing blank)
PIN = re.compile(r"\.(\\\S+ |\w+)\(([^()]*)\)")
_PORT_DECL = re.compile(r"^  (input|output|inout) (?:\[\d+:\d+\] )?(\\\S+ |\w+);$", flags=re.M)
MODULE = re.compile(r"^module (\S+?)\s*\(.*?^endmodule\n", flags=re.M | re.S)
_ASSIGN = re.compile(r"^  assign (.+?) = (.+?);$", flags=re.M)

#: Yosys' fine-grained flip-flop types after ``synth`` (``$_SDFF_PP0_``, ``$_DFFE_PN1P_``, ...)
_RTL_FLOP = re.compile(r"^\$_(S?DFF|SDFFC?E|DFFE|DFFSRE?|ALDFFE?|DLATCH)")


class NetlistError(RuntimeError):
    """A mapped netlist does not keep what the RTL has (e.g. its resets)."""


@dataclass(frozen=True)
class FlopCount:
    """Flip-flop bits of one module: in the RTL (after generic synthesis) and in the
    mapped netlist, each with how many of them use the reset."""

    rtl: int
    rtl_reset: int  # reached by the reset net (at D through logic, or at a reset pin)
    netlist: int
    netlist_reset: int

    @property
    def lost(self) -> int:
        """Reset flip-flops missing from the netlist beyond those it removed altogether
        (a flip-flop removed as constant or duplicate takes its reset with it)."""
        removed = max(0, self.rtl - self.netlist)
        return max(0, self.rtl_reset - removed - self.netlist_reset)


def modules(text: str) -> dict[str, str]:
    """``{module name: module text}`` of a netlist."""
    return {m.group(1): m.group(0) for m in MODULE.finditer(text)}


def module_outputs(text: str) -> dict[str, set[str]]:
    """``{module: {output port names}}`` of a netlist (names as its pins spell them)."""
    return {
        name: {port for direction, port in _PORT_DECL.findall(body) if direction == "output"}
        for name, body in modules(text).items()
    }


@dataclass(frozen=True)
class Hierarchy:
    """The module tree of a netlist under ``top``: ``count[module]`` instances of each module
    in the whole design (``top``: 1), ``block[module]`` the block it belongs to (a module
    ``<top>__<block>`` and every module below it; the top's own cells are ``glue``)."""

    count: dict[str, int]
    block: dict[str, str]


def hierarchy(text: str, top: str, blocks: tuple[str, ...] = (), glue: str = "top_glue"):
    """The :class:`Hierarchy` of netlist ``text`` (a module instantiated ``k`` times inside a
    module instantiated ``n`` times counts ``k * n``)."""
    bodies = modules(text)
    children = {
        name: [i.group(1) for i in INSTANCE.finditer(body) if i.group(1) in bodies]
        for name, body in bodies.items()
    }
    count: dict[str, int] = {top: 1}
    block: dict[str, str] = {top: glue}
    frontier = [top]
    while frontier:  # breadth first: every parent's count is final before its children
        parent = frontier.pop(0)
        for child in children.get(parent, ()):
            if child not in count:
                frontier.append(child)
                count[child] = 0
                named = child.removeprefix(f"{top}__")
                block[child] = named if parent == top and named in blocks else block[parent]
            count[child] += count[parent]
    return Hierarchy(count, block)


def flip_flop_cells(liberty_text: str) -> set[str]:
    """Cells of a liberty with an ``ff`` group (flip-flops)."""
    return {
        cell
        for cell, (start, end) in cell_groups(liberty_text).items()
        if re.search(r"\bff\s*\(", liberty_text[start:end])
    }


def reset_reach(
    netlist_text: str, liberty_text: str, reset: str = "rst"
) -> dict[str, tuple[int, int]]:
    """``{module: (flip-flops, flip-flops the reset reaches)}``: a flip-flop is reached when
    the module's ``reset`` net arrives at one of its inputs through combinational cells (a
    synchronous reset at D, an asynchronous one at its reset pin). Submodule instances
    are neither followed nor counted: each module counts its own cells."""
    pins = cell_pins(liberty_text)
    outputs = {c: {p for p, (d, _) in ps.items() if d == "output"} for c, (_, ps) in pins.items()}
    flops = flip_flop_cells(liberty_text)
    found = {}
    for name, text in modules(netlist_text).items():
        loads: dict[str, list[tuple[str, list[str]]]] = {}  # net -> [(cell, output nets)]
        n_flops = 0
        for inst in INSTANCE.finditer(text):
            cell = inst.group(1)
            if cell not in outputs:
                continue  # a submodule
            conns = [(p, n.strip()) for p, n in PIN.findall(inst.group(3))]
            n_flops += cell in flops
            outs = [n for p, n in conns if p in outputs[cell]]
            for pin, net in conns:
                if pin not in outputs[cell] and net:
                    loads.setdefault(net, []).append((cell, outs))
        for lhs, rhs in _ASSIGN.findall(text):  # an assign is a wire: rhs drives lhs
            loads.setdefault(rhs.strip(), []).append(("", [lhs.strip()]))
        reached, seen, frontier = 0, {reset}, [reset]
        while frontier:
            net = frontier.pop()
            for cell, outs in loads.get(net, ()):
                if cell in flops:
                    reached += 1
                    continue
                for out in outs:
                    if out not in seen:
                        seen.add(out)
                        frontier.append(out)
        found[name] = (n_flops, reached)
    return found


def rtl_reset_reach(design: dict, reset: str = "rst") -> dict[str, tuple[int, int]]:
    """:func:`reset_reach` for Yosys' JSON of the design after generic synthesis
    (fine-grained cells, one flip-flop bit each): ``{module: (flip-flop bits, bits the
    reset reaches)}``. A flip-flop with a synchronous reset from another signal (Yosys
    makes e.g. an accumulator's clear one) counts only if ``reset`` reaches it."""
    found = {}
    for name, module in design["modules"].items():
        loads: dict[int, list[tuple[bool, list[int]]]] = {}  # bit -> [(flop?, output bits)]
        n_flops = 0
        for cell in module.get("cells", {}).values():
            flop = bool(_RTL_FLOP.match(cell["type"]))
            if not cell["type"].startswith("$"):
                continue  # a submodule
            n_flops += flop
            dirs, conns = cell.get("port_directions", {}), cell["connections"]
            outs = [b for p, bits in conns.items() if dirs.get(p) == "output" for b in bits]
            for port, bits in conns.items():
                if dirs.get(port) == "input":
                    for b in bits:
                        if isinstance(b, int):
                            loads.setdefault(b, []).append((flop, outs))
        start = module.get("netnames", {}).get(reset, {}).get("bits", [])
        reached, seen, frontier = 0, set(start), list(start)
        while frontier:
            for flop, outs in loads.get(frontier.pop(), ()):
                if flop:
                    reached += 1
                    continue
                for out in outs:
                    if isinstance(out, int) and out not in seen:
                        seen.add(out)
                        frontier.append(out)
        found[name] = (n_flops, reached)
    return found


def check_resets(
    rtl_design: dict, netlist: Path, liberty_text: str, reset: str = "rst"
) -> dict[str, FlopCount]:
    """Count flip-flops per module, and those ``reset`` reaches, in the RTL (Yosys' JSON
    after generic synthesis) and the netlist; raises :class:`NetlistError` naming each
    module whose netlist lost resets the RTL had."""
    rtl = rtl_reset_reach(rtl_design, reset)
    gates = reset_reach(netlist.read_text(), liberty_text, reset)
    counts = {
        name: FlopCount(*rtl.get(name, (0, 0)), *gates[name])
        for name in gates
        if name in rtl or gates[name][0]
    }
    lost = {name: c for name, c in counts.items() if c.lost}
    if lost:
        raise NetlistError(
            f"{netlist}: flip-flops lost their reset in mapping: "
            + "; ".join(
                f"{name}: RTL {c.rtl_reset} of {c.rtl} flip-flops reset, netlist "
                f"{c.netlist_reset} of {c.netlist}"
                for name, c in lost.items()
            )
        )
    return counts
