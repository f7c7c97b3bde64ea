"""What a simulator needs to run a mapped netlist: models of the liberty's cells and a
wrapper that gives the netlist the RTL's ports.

The cell models come from the liberty's own ``function``, ``ff`` and ``latch`` groups
(Yosys' ``read_liberty`` without ``-lib``), so no cell is modelled by hand. The flow's
netlist has bit-level ports (``\\y__payload[3]``, for OpenSTA); the wrapper
``<top>__gatelevel`` has the RTL's vector ports (``y__payload[63:0]``) and instantiates the
netlist's top unchanged, so a testbench of the RTL drives the netlist as it is. The PIM
tile's netlist has its SRAM banks as ports; the wrapper instantiates the banks' behavioural
model (the RTL's own ``TableSram``) on them.
"""

from __future__ import annotations

import re
from pathlib import Path

from lutcore.base.files import atomic_path, write_atomic
from lutcore.base.yosys import quote, run_script
from lutcore.hw.arch import arch_of
from lutcore.hw.config import TileConfig

from .netlist import modules

__all__ = ["GATELEVEL_SUFFIX", "cell_models", "gate_sources", "netlist_ports", "wrapper"]

GATELEVEL_SUFFIX = "__gatelevel"
_PORT = re.compile(r"^  (input|output|inout) (\\\S+ |\w+);$", flags=re.M)


def cell_models(liberty: Path, out: Path) -> Path:
    """Write Verilog models of every cell of ``liberty`` to ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        run_script(
            [f"read_liberty {quote(liberty)}", f"write_verilog -noattr {quote(tmp)}"],
            out.with_suffix(".log"),
        )
    return out


def netlist_ports(netlist_text: str, top: str) -> dict[str, tuple[str, int | None]]:
    """``{port: (direction, width or None for a scalar)}`` of the netlist's top module,
    its bit-level ports gathered back into vectors (bits 0..width-1)."""
    text = modules(netlist_text)[top]
    ports: dict[str, tuple[str, int | None]] = {}
    for direction, name in _PORT.findall(text):
        bit = re.fullmatch(r"\\(\S+)\[(\d+)\] ", name)
        if bit:
            base, index = bit.group(1), int(bit.group(2))
            width = ports.get(base, (direction, 0))[1] or 0
            ports[base] = (direction, max(width, index + 1))
        else:
            ports[name] = (direction, None)
    return ports


def wrapper(netlist_text: str, top: str, *, sram: str | None = None) -> str:
    """Verilog of ``<top>__gatelevel``: the RTL's vector ports around the netlist's top.
    ``sram``: the module name of a bank model whose ``bus__*`` ports connect to the
    netlist's ``sram__*`` ports (which then are not ports of the wrapper)."""
    ports = netlist_ports(netlist_text, top)
    inner = {p: v for p, v in ports.items() if sram and p.startswith("sram__")}
    outer = {p: v for p, v in ports.items() if p not in inner}
    lines = [f"module {top}{GATELEVEL_SUFFIX}({', '.join(outer)});"]
    for name, (direction, width) in ports.items():
        vector = f"[{width - 1}:0] " if width else ""
        kind = f"{direction} wire" if name in outer else "wire"
        lines.append(f"  {kind} {vector}{name};")

    def bits(name: str, width: int | None) -> list[tuple[str, str]]:
        if width is None:
            return [(name, name)]
        return [(f"\\{name}[{i}] ", f"{name}[{i}]") for i in range(width)]

    conns = [f"    .{pin}({net})" for name, v in ports.items() for pin, net in bits(name, v[1])]
    lines += [f"  {top} netlist (", ",\n".join(conns), "  );"]
    if sram:
        bank = [f"    .bus__{p[len('sram__') :]}({p})" for p in inner]
        clocks = [f"    .{p}({p})" for p in ("clk", "rst") if p in outer]
        lines += [f"  {sram} banks (", ",\n".join(clocks + bank), "  );"]
    lines.append("endmodule")
    return "\n".join(lines) + "\n"


def gate_sources(
    cfg: TileConfig, netlist: Path, liberty: Path, out_dir: Path, top: str
) -> tuple[list[Path], str]:
    """Write the cell models and the wrapper of ``netlist`` (top module ``top``) into
    ``out_dir``; returns the Verilog files to simulate and the simulation's top module.
    A PIM tile's netlist gets its banks' behavioural model."""
    text = netlist.read_text()
    sources = [netlist, cell_models(liberty, out_dir / "cells.v")]
    sram = None
    if arch_of(cfg).macro_tile is not None:
        from amaranth.back import verilog

        from lutcore.hw.pim_sram import TableSram

        sram = f"{top}__sram_model"
        model = out_dir / f"{sram}.v"
        write_atomic(model, verilog.convert(TableSram(cfg), name=sram, emit_src=False))
        sources.append(model)
    path = out_dir / f"{top}{GATELEVEL_SUFFIX}.v"
    write_atomic(path, wrapper(text, top, sram=sram))
    return [path, *sources], top + GATELEVEL_SUFFIX
