"""Repeated units: one module in the emitted Verilog, instantiated many times.

An array is ``N`` identical columns (:mod:`lutcore.hw.columns`), a dequant converter
``dequant_lanes`` identical lanes. Simulated in Amaranth, every copy is an ordinary
submodule. Emitted (inside :func:`shared_units`), the first copy is converted once to its
own module ``<top>__<unit>`` and every copy becomes an instance of it (``col_0`` ...), so
elaboration, Yosys' generic synthesis and ABC's mapping each see one copy, not ``N``.
Both views are the same logic: the Verilog's instances connect exactly the ports the
simulated submodules have.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from dataclasses import dataclass, field

from amaranth.back import rtlil
from amaranth.hdl import ClockSignal, Instance, Module, ResetSignal, Signal, Value

# no public name in Amaranth 0.5; `rtlil.convert` takes it with explicit ports, which a
# signature holding a constant (an always-ready stream's `ready`) needs
from amaranth.hdl._ir import PortDirection
from amaranth.lib import wiring

__all__ = ["UNITS", "UnitModules", "place", "port_name", "rtlil_module", "shared_units"]

#: how a flow treats repeated units: ``"shared"`` one module instantiated per copy (mapped
#: once), ``"flat"`` every copy emitted and its block flattened (the per-block flow)
UNITS = ("shared", "flat")

_ACTIVE: contextvars.ContextVar[UnitModules | None] = contextvars.ContextVar(
    "lutcore_units", default=None
)
_DIRECTION = {wiring.In: PortDirection.Input, wiring.Out: PortDirection.Output}
_PORT = re.compile(r"^\s*wire (?:width \d+ )?(?:input|output) \d+\s+\\(\S+)$", flags=re.M)


def port_name(path: tuple) -> str:
    """The port name Amaranth's RTLIL backend gives a signature member at ``path``."""
    return "__".join(str(p) for p in path)


def rtlil_module(component: wiring.Component, name: str) -> str:
    """Amaranth's RTLIL of ``component`` as module ``name``, its submodules named
    ``<name>__<sub>__<subsub>`` (not the escaped ``\\<name>.<sub>.<subsub>``) and no source
    locations."""
    # the signature's signals with their directions (a stream's ``ready`` that is always 1
    # is a constant, no port)
    ports = {}
    for path, member, value in component.signature.flatten(component):
        value = Value.cast(value)
        if isinstance(value, Signal):
            ports[port_name(path)] = (value, _DIRECTION[member.flow])
    text = rtlil.convert(component, name=name, ports=ports, emit_src=False)
    # hierarchical module names: \name.a.b -> name__a__b
    return re.sub(
        rf"\\{re.escape(name)}((?:\.[\w$]+)+)",
        lambda found: f"\\{name}" + found.group(1).replace(".", "__"),
        text,
    )


@dataclass
class UnitModules:
    """The unit modules of one emitted design (top module ``top``): ``texts`` their RTLIL by
    module name, ``ports`` each module's port names, ``members`` its signature's members."""

    top: str
    texts: dict[str, str] = field(default_factory=dict)
    ports: dict[str, set[str]] = field(default_factory=dict)
    members: dict[str, dict] = field(default_factory=dict)

    def module(self, key: str, make) -> tuple[str, dict]:
        """The module of unit ``key`` and its members (:func:`_members`); the unit
        ``make()`` builds is converted on first use (nested units are placed into this
        registry too), later uses build nothing."""
        name = f"{self.top}__{key}"
        if name not in self.texts:
            unit = make()
            unit._MustUse__silence = True  # converted here, not elaborated as a submodule
            self.members[name] = _members(unit)
            self.texts[name] = text = rtlil_module(unit, name)
            self.ports[name] = set(_PORT.findall(text.split(f"module \\{name}\n")[1]))
        return name, self.members[name]

    def rtlil(self) -> str:
        return "".join(self.texts.values())


@contextlib.contextmanager
def shared_units(top: str):
    """While active, :func:`place` emits units as instances of one module each (collected
    in the yielded :class:`UnitModules`) instead of as submodules."""
    units = UnitModules(top)
    token = _ACTIVE.set(units)
    try:
        yield units
    finally:
        _ACTIVE.reset(token)


def place(m: Module, name: str, make, key: str, ports: dict) -> None:
    """Add the unit ``make()`` builds to ``m`` as ``name``, its ports (by :func:`port_name`)
    connected to the parent's values ``ports`` (an output may be left out: unused, it
    drives a wire ``<name>__<port>``). An ordinary submodule, or inside
    :func:`shared_units` an instance of the shared module ``<top>__<key>`` (then only the
    first instance's unit is built: every instance has its ports)."""
    units = _ACTIVE.get()
    if units is None:
        unit = make()
        members = _members(unit)
        _check_ports(key, members, ports)
        m.submodules[name] = unit
        for port, value in ports.items():
            flow, own = members[port]
            m.d.comb += own.eq(value) if flow == wiring.In else value.eq(own)
        return
    module, members = units.module(key, make)
    _check_ports(key, members, ports)
    connections = {}
    for port, (flow, own) in members.items():
        if port not in units.ports[module]:  # constants and zero-width members are no ports
            continue
        if port in ports:
            connections[("i_" if flow == wiring.In else "o_") + port] = ports[port]
        elif flow == wiring.Out:  # unused, but connected (a pin left open is a lint finding)
            connections[f"o_{port}"] = Signal(own.shape(), name=f"{name}__{port}")
    for port in units.ports[module].difference(members):
        if port not in ("clk", "rst"):
            raise ValueError(f"unit {key!r}: port {port!r} is not a member of its signature")
        connections[f"i_{port}"] = ClockSignal() if port == "clk" else ResetSignal()
    m.submodules[name] = Instance(module, **connections)


def _members(unit: wiring.Component) -> dict[str, tuple]:
    """``{port name: (flow, value)}`` of a unit's signature members."""
    return {
        port_name(path): (member.flow, Value.cast(value))
        for path, member, value in unit.signature.flatten(unit)
    }


def _check_ports(key: str, members: dict, ports: dict) -> None:
    """Every port given is a member, and every input member is given (a unit's input left
    open would read 0 in the simulator and be an open pin in the Verilog)."""
    for port in ports:
        if port not in members:
            raise ValueError(f"unit {key!r} has no port {port!r}")
    for port, (flow, own) in members.items():
        if flow == wiring.In and isinstance(own, Signal) and len(own) and port not in ports:
            raise ValueError(f"unit {key!r}: input {port!r} not connected")
