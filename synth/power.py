"""Power of a mapped netlist from its simulated switching activity, by the liberty's tables.

Debian's OpenSTA 2.0.17 has ``report_power`` but cannot take per-pin activity: it has no
``read_vcd``/``read_saif``, ``set_power_activity -pins`` fails (``get_pins_error``), and the
pin activity it stores is only used at primary inputs (every other pin's activity is
re-derived by propagating probabilities). So lutcore computes the power itself, the way
OpenSTA's ``report_power`` does, from three sources:

* the **activity** of every cell pin: toggle count and time at 1 from the SAIF file Verilator
  writes while the netlist runs the workload (zero-delay simulation: functional toggles,
  no glitches);
* the **slews and loads** OpenSTA computes for the netlist (each pin's rise and fall
  transition, each output net's capacitance);
* the **liberty's power groups**: ``internal_power`` tables (energy per transition,
  indexed by input transition and output load, interpolated and extrapolated linearly),
  state-dependent ``leakage_power``, pin capacitances and the supply voltage.

Per leaf cell: *switching* = ½·C_load·V²·toggle rate of each output; *internal* = each
output's toggle rate times its arcs' energy (rise/fall average at the related input's slew
and the output load; arcs weighted by how many output toggles each input can cause: its
toggle rate times the probability that it is sensitized, from the other inputs' static
probabilities) plus each input pin's own energy (the flip-flops' clock pins) times its
toggle rate; *leakage* = the ``when`` states' values weighted by their probability (inputs
independent, static probabilities from the simulation). Nets driven by primary inputs
(the clock included: no clock tree here) add no switching power, as in OpenSTA.
``tests/test_power.py`` holds this arithmetic to OpenSTA's own ``report_power`` on uniform
activity (``convention="opensta-2.0.17"``).
"""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

from lutcore.base import procs

from .fanout import BUFFER_PREFIX
from .liberty import LibertyError, _group_end, cell_groups, read_liberty_text

__all__ = [
    "ACTIVITIES",
    "Activity",
    "CellPower",
    "PowerModel",
    "Power",
    "SaifError",
    "KINDS",
    "by_block",
    "by_kind",
    "netlist_power",
    "pin_activity",
    "read_saif",
    "run_sta",
    "sta_loads",
    "sta_power",
]


#: where the switching activity comes from: the netlist's simulation, or OpenSTA's
#: probabilistic propagation from a stated activity on every input
ACTIVITIES = ("simulated", "vectorless")


class SaifError(ValueError):
    """A SAIF file lutcore cannot read; the message names the file and line."""


@dataclass(frozen=True)
class Activity:
    """One pin over the simulated window: ``toggles`` (0->1 and 1->0 transitions) and
    ``high`` (fraction of the known time at 1, 0..1)."""

    toggles: int
    high: float


_SAIF_NET = re.compile(
    r"^\s*\((\S+)\s+\(T0 (\d+)\)\s+\(T1 (\d+)\)(?:\s+\(T[ZXB] \d+\))*\s+\(TC (\d+)\)"
)


def read_saif(path: Path, scope: str) -> tuple[int, dict[str, dict[str, Activity]]]:
    """``(duration in the file's time unit, {instance path: {pin: Activity}})`` of every
    instance below the instance path ``scope`` (``/``-separated, e.g.
    ``"top__gatelevel/netlist"``), paths relative to it (``"lut_array"``, ``""`` for the
    scope itself). Reads the layout Verilator's SAIF writer uses (one net per line).

    Verilator's writer starts every bit at 0, so a net whose first value is 1 gets one
    toggle too many; for a net at 1 all along that toggle is dropped here, a net that
    starts at 1 and then toggles keeps it (at most one per net and run: the run's
    flip-flops start at 0, so only nets set by logic at time 0 are affected)."""
    duration = None
    stack: list[str | None] = []  # instance names; None for a NET group
    inst: str | None = None  # the current NET group's instance below ``scope``
    found: dict[str, dict[str, Activity]] = {}
    target = scope.split("/")
    with open(path, encoding="ascii", errors="replace") as f:
        for number, line in enumerate(f, 1):
            s = line.strip()
            if s.startswith("(DURATION"):
                duration = int(s.split()[1].rstrip(")"))
            elif s.startswith("(INSTANCE"):
                stack.append(s.split(maxsplit=1)[1].replace("\\", ""))
            elif s == "(NET":
                stack.append(None)
                inside = [n for n in stack[:-1] if n is not None]
                inst = "/".join(inside[len(target) :]) if inside[: len(target)] == target else None
            elif s == ")":
                if not stack:
                    continue  # the file's own closing parenthesis
                stack.pop()
            elif s.startswith("(") and stack and stack[-1] is None:
                m = _SAIF_NET.match(line)
                if m is None:
                    raise SaifError(f"{path}:{number}: unreadable net {s[:80]!r}")
                if inst is None:  # outside ``scope``
                    continue
                t0, t1, tc = int(m.group(2)), int(m.group(3)), int(m.group(4))
                if t0 == 0 and tc == 1:
                    tc = 0  # Verilator counts a net's first value 1 as a toggle from 0
                known = t0 + t1
                found.setdefault(inst, {})[m.group(1).replace("\\", "")] = Activity(
                    tc, t1 / known if known else 0.0
                )
    if duration is None or duration <= 0:
        raise SaifError(f"{path}: no DURATION")
    if not found:
        raise SaifError(f"{path}: no instance below {scope!r}")
    return duration, found


# ---------------------------------------------------------------------------------------
# liberty power groups


@dataclass(frozen=True)
class Table:
    """A liberty table: ``values[i][j]`` at ``index_1[i]`` (input transition) and
    ``index_2[j]`` (output load), or one index (input transition) for input pins."""

    index_1: tuple[float, ...]
    index_2: tuple[float, ...]
    values: tuple[tuple[float, ...], ...]

    def at(self, slew: float, load: float = 0.0) -> float:
        row = [_interp(self.index_2, v, load) if self.index_2 else v[0] for v in self.values]
        return _interp(self.index_1, row, slew) if len(self.index_1) > 1 else row[0]


def _interp(xs: tuple[float, ...], ys, x: float) -> float:
    """Piecewise-linear through (xs, ys), extrapolated linearly beyond the ends (as
    OpenSTA does for tables)."""
    if len(xs) == 1:
        return ys[0]
    i = 1
    while i < len(xs) - 1 and x > xs[i]:
        i += 1
    x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


@dataclass(frozen=True)
class Arc:
    """One ``internal_power`` group of a pin: ``related`` input (None on an input pin's
    own power), optional ``when`` state, rise and fall energy tables."""

    related: str | None
    when: str | None
    rise: Table | None
    fall: Table | None

    def energy(self, slew_rise: float, slew_fall: float, load: float) -> float:
        """Mean of the rise and fall energy (the library's energy unit); ``slew_rise`` is
        the input transition that makes the rise, ``slew_fall`` the fall."""
        values = [t.at(s, load) for t, s in ((self.rise, slew_rise), (self.fall, slew_fall)) if t]
        return sum(values) / len(values) if values else 0.0


@dataclass
class CellPower:
    """What power needs of one cell: ``inputs``/``outputs`` with their functions and
    arcs, leakage states."""

    name: str
    directions: dict[str, str] = field(default_factory=dict)
    functions: dict[str, str] = field(default_factory=dict)
    arcs: dict[str, list[Arc]] = field(default_factory=dict)
    leakage_states: list[tuple[str | None, float]] = field(default_factory=list)
    leakage: float = 0.0  # cell_leakage_power
    clocks: set[str] = field(default_factory=set)  # pins with `clock : true`
    sequential: bool = False  # a flip-flop or latch (`ff`/`latch` group)


def _attr(body: str, name: str) -> str | None:
    m = re.search(rf"(?<![\w]){name}\s*:\s*\"?([^\";\n]+)\"?\s*;", body)
    return m.group(1).strip() if m else None


def _groups(body: str, name: str) -> list[tuple[str, str]]:
    """``[(argument, text inside the braces)]`` of the direct ``name (...) {...}`` groups."""
    out = []
    for m in re.finditer(rf"(?<![\w]){name}\s*\(\s*\"?([^\")]*)\"?\s*\)\s*\{{", body):
        out.append((m.group(1), body[m.end() : _group_end(body, m.start()) - 1]))
    return out


def _numbers(text: str) -> tuple[float, ...]:
    return tuple(float(x) for x in re.findall(r"[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?", text))


def _table(body: str, dims: int) -> Table:
    """A table group's body; ``dims``: its template's number of variables."""
    m1 = re.search(r"index_1\s*\(\s*\"([^\"]*)\"", body)
    m2 = re.search(r"index_2\s*\(\s*\"([^\"]*)\"", body)
    index_1 = _numbers(m1.group(1)) if m1 else ()
    index_2 = _numbers(m2.group(1)) if m2 else ()
    vals = re.search(r"values\s*\((.*?)\)\s*;", body, flags=re.S)
    rows = [_numbers(r) for r in re.findall(r"\"([^\"]*)\"", vals.group(1))] if vals else []
    if dims == 1 or not index_2:
        flat = [v for r in rows for v in r]
        return Table(index_1, (), tuple((v,) for v in flat))
    return Table(index_1, index_2, tuple(rows))


@dataclass
class PowerModel:
    """The power data of a liberty: cells, supply voltage (V) and the units that turn its
    numbers into SI (energy J, leakage W, capacitance F, time s)."""

    cells: dict[str, CellPower]
    voltage: float
    energy_unit: float
    leakage_unit: float
    cap_unit: float

    @classmethod
    def read(cls, liberty: Path, cells: set[str] | None = None) -> PowerModel:
        """Parse ``liberty`` (its power groups must exist: a clear :class:`LibertyError`
        names the file otherwise); ``cells`` limits the parse to the cells named."""
        text = read_liberty_text(liberty)
        if "internal_power" not in text or "leakage_power" not in text:
            raise LibertyError(
                f"liberty {liberty}: no power data (internal_power and leakage_power groups); "
                "power needs a liberty with them (area and timing do not)"
            )
        groups = cell_groups(text)
        header = text[: min(s for s, _ in groups.values())]
        units = {
            "time": _unit(header, "time_unit", {"ps": 1e-12, "ns": 1e-9, "us": 1e-6}),
            "voltage": _unit(header, "voltage_unit", {"mV": 1e-3, "V": 1.0}),
            "current": _unit(header, "current_unit", {"uA": 1e-6, "mA": 1e-3, "A": 1.0}),
            "leakage": _unit(
                header, "leakage_power_unit", {"pW": 1e-12, "nW": 1e-9, "uW": 1e-6, "mW": 1e-3}
            ),
        }
        cap = re.search(r"capacitive_load_unit\s*\(\s*([\d.]+)\s*,\s*\"?(\w+)\"?", header)
        cap_unit = float(cap.group(1)) * {"ff": 1e-15, "pf": 1e-12}[cap.group(2).lower()]
        volt = re.search(r"voltage_map\s*\(\s*\"?VPWR\"?\s*,\s*([\d.]+)", header)
        volt = volt or re.search(r"nom_voltage\s*:\s*([\d.]+)", header)
        templates = {  # template name -> number of variables
            name: 2 if "variable_2" in body else 1
            for name, body in _groups(header, "power_lut_template")
        }
        model = cls(
            {},
            float(volt.group(1)) * units["voltage"] if volt else 1.8,
            units["current"] * units["voltage"] * units["time"],
            units["leakage"],
            cap_unit,
        )
        for name in cells if cells is not None else groups:
            if name not in groups:
                raise LibertyError(f"liberty {liberty}: no cell {name}")
            model.cells[name] = _cell_power(name, text[slice(*groups[name])], templates)
        return model


def _unit(header: str, name: str, scale: dict[str, float]) -> float:
    m = re.search(rf"{name}\s*:\s*\"?([\d.]*)\s*([a-zA-Z]+)\"?", header)
    if m is None or m.group(2) not in scale:
        raise LibertyError(f"liberty header: {name} missing or unknown")
    return float(m.group(1) or 1) * scale[m.group(2)]


def _cell_power(name: str, body: str, templates) -> CellPower:
    cell = CellPower(name)
    inner = body[body.index("{") + 1 :]
    cell.leakage = float(_attr(inner, "cell_leakage_power") or 0.0)
    cell.sequential = bool(re.search(r"(?<![\w])(ff|latch)\s*\(", inner))
    for _, group in _groups(inner, "leakage_power"):
        cell.leakage_states.append((_attr(group, "when"), float(_attr(group, "value") or 0.0)))
    for pin, group in _groups(inner, "pin"):
        cell.directions[pin] = _attr(group, "direction") or ""
        if _attr(group, "clock") == "true":
            cell.clocks.add(pin)
        function = _attr(group, "function")
        if function:
            cell.functions[pin] = function
        arcs = []
        for _, pw in _groups(group, "internal_power"):
            tables = {}
            for kind in ("rise_power", "fall_power"):
                found = _groups(pw, kind)
                tables[kind] = _table(found[0][1], templates.get(found[0][0], 2)) if found else None
            arcs.append(
                Arc(
                    _attr(pw, "related_pin"),
                    _attr(pw, "when"),
                    tables["rise_power"],
                    tables["fall_power"],
                )
            )
        cell.arcs[pin] = arcs
    return cell


# ---------------------------------------------------------------------------------------
# boolean functions of the liberty (for `when` states and sensitization)


@functools.cache  # a few dozen distinct expressions, evaluated for every cell instance
def _parse_bool(expr: str):
    """A liberty boolean expression as a function of ``{pin: bool}``: ``!``/``'`` not,
    ``&``/``*``/juxtaposition and, ``|``/``+`` or, ``^`` xor, constants 0 and 1."""
    tokens = re.findall(r"[A-Za-z_]\w*|[01]|[!'&*|+^()]", expr)
    pos = 0

    def peek():
        return tokens[pos] if pos < len(tokens) else None

    def take():
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def primary():
        t = take()
        if t == "!":
            inner = primary()
            node = lambda v, f=inner: not f(v)  # noqa: E731
        elif t == "(":
            node = disjunction()
            take()
        elif t in ("0", "1"):
            node = lambda v, c=t == "1": c  # noqa: E731
        else:
            node = lambda v, n=t: v[n]  # noqa: E731
        while peek() == "'":
            take()
            node = lambda v, f=node: not f(v)  # noqa: E731
        return node

    def conjunction():
        node = primary()
        while peek() is not None and peek() not in ("|", "+", "^", ")"):
            if peek() in ("&", "*"):
                take()
            right = primary()
            node = lambda v, a=node, b=right: a(v) and b(v)  # noqa: E731
        return node

    def exclusive():
        node = conjunction()
        while peek() == "^":
            take()
            right = conjunction()
            node = lambda v, a=node, b=right: a(v) != b(v)  # noqa: E731
        return node

    def disjunction():
        node = exclusive()
        while peek() in ("|", "+"):
            take()
            right = exclusive()
            node = lambda v, a=node, b=right: a(v) or b(v)  # noqa: E731
        return node

    return disjunction(), sorted({t for t in tokens if re.fullmatch(r"[A-Za-z_]\w*", t)})


def _probability(expr: str, high: dict[str, float], flip: str | None = None) -> float:
    """P(expr) with independent pins at their static probabilities ``high``; with
    ``flip``, P(expr changes when ``flip`` changes) (the boolean difference)."""
    f, names = _parse_bool(expr)
    others = [n for n in names if n != flip]
    total = 0.0
    for bits in itertools.product((False, True), repeat=len(others)):
        v = dict(zip(others, bits, strict=True))
        p = 1.0
        for n, b in v.items():
            h = high.get(n, 0.5)
            p *= h if b else 1.0 - h
        if flip is None:
            total += p * f(v)
        elif flip in names:
            total += p * (f({**v, flip: True}) != f({**v, flip: False}))
    return total


# ---------------------------------------------------------------------------------------
# the computation


@dataclass
class Power:
    """Power of a set of cells in W, split as OpenSTA reports it."""

    internal: float = 0.0
    switching: float = 0.0
    leakage: float = 0.0

    @property
    def total(self) -> float:
        return self.internal + self.switching + self.leakage

    @property
    def dynamic(self) -> float:
        return self.internal + self.switching

    @classmethod
    def sum(cls, powers) -> Power:
        """The sum of an iterable of :class:`Power`."""
        total = cls()
        for p in powers:
            total.add(p)
        return total

    def add(self, other: Power) -> None:
        self.internal += other.internal
        self.switching += other.switching
        self.leakage += other.leakage

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("internal", "switching", "leakage", "total")}


#: one OpenSTA line per leaf cell pin: ``pin path direction net slew_rise slew_fall
#: [cap_rise cap_fall]`` (net ``-`` when the pin is unconnected or tied)
_STA_DUMP = """
set f [open {out} w]
foreach inst [get_cells -hierarchical *] {{
  set lc [get_property $inst liberty_cell]
  if {{$lc == "NULL"}} continue
  puts $f "cell [get_full_name $inst] [get_name $lc]"
  foreach p [get_pins -of_objects $inst] {{
    set d [get_property $p direction]
    set n [get_nets -quiet -of_objects $p]
    if {{$n == "NULL"}} {{ set n "" }}
    set net [expr {{$n == "" ? "-" : [get_full_name $n]}}]
    set line "pin [get_full_name $p] $d $net [get_property $p actual_rise_transition_max] \\
      [get_property $p actual_fall_transition_max]"
    if {{$d == "output" && $n != ""}} {{
      append line " [$n capacitance rise [sta::cmd_corner] max]"
      append line " [$n capacitance fall [sta::cmd_corner] max]"
    }}
    puts $f $line
  }}
}}
close $f
"""


@dataclass(frozen=True)
class PinLoad:
    """What OpenSTA computed for one pin: its ``net`` (hierarchical name, ``None`` if
    none), transitions (liberty time unit) and, for an output, its net's capacitance (F;
    the larger of rise and fall, as OpenSTA's power)."""

    direction: str
    net: str | None
    slew_rise: float
    slew_fall: float
    cap: float = 0.0


def run_sta(liberty: Path, netlist: Path, top: str, work: Path, name: str, body: list[str]):
    """Run OpenSTA in ``work`` on copies of ``liberty`` and ``netlist`` (names relative to
    the folder: OpenSTA globs the path of read_liberty): read, link ``top``, then the
    ``body`` commands; the script and log are ``<name>.tcl`` and ``<name>.log``."""
    work.mkdir(parents=True, exist_ok=True)
    for src in (liberty, netlist):
        (work / src.name).write_bytes(src.read_bytes())
    script = [f"read_liberty {liberty.name}", f"read_verilog {netlist.name}", f"link_design {top}"]
    (work / f"{name}.tcl").write_text("\n".join([*script, *body, "exit"]) + "\n")
    proc = procs.run(["sta", "-no_init", "-no_splash", "-exit", f"{name}.tcl"], cwd=work)
    log = work / f"{name}.log"
    log.write_text(proc.stdout + proc.stderr)
    if proc.returncode or "Error" in proc.stdout + proc.stderr:
        raise RuntimeError(f"OpenSTA failed (log {log}): {proc.stderr[-300:]}")


def sta_loads(
    liberty: Path, netlist: Path, top: str, work: Path
) -> tuple[dict[str, str], dict[str, dict[str, PinLoad]]]:
    """``({instance: cell}, {instance: {pin: PinLoad}})`` of every leaf cell of
    ``netlist``, from OpenSTA (run in ``work``)."""
    clock = "create_clock -name clk -period 10 [get_ports clk]"  # slews need no real period
    run_sta(liberty, netlist, top, work, "loads", [clock, _STA_DUMP.format(out="loads.txt")])
    cells: dict[str, str] = {}
    pins: dict[str, dict[str, PinLoad]] = {}
    for line in (work / "loads.txt").read_text().splitlines():
        parts = line.split()
        if parts[0] == "cell":
            cells[parts[1]] = parts[2]
        else:
            inst, _, pin = parts[1].rpartition("/")
            caps = [float(x) for x in parts[6:8]]
            net = None if parts[3] == "-" else parts[3].replace("\\", "")
            pins.setdefault(inst, {})[pin] = PinLoad(
                parts[2], net, float(parts[4]), float(parts[5]), max(caps, default=0.0)
            )
    return cells, pins


@functools.cache
def _unate(function: str, pin: str) -> int:
    """+1 if ``function`` is positive unate in ``pin`` (or non-unate), -1 if negative."""
    f, names = _parse_bool(function)
    others = [n for n in names if n != pin]
    for bits in itertools.product((False, True), repeat=len(others)):
        v = dict(zip(others, bits, strict=True))
        if f({**v, pin: True}) > f({**v, pin: False}):
            return 1
    return -1 if pin in names else 1


#: how energies per transition become power. ``"liberty"``: a rise costs the rise table's
#: energy and a fall the fall table's, so a toggle costs their mean. ``"opensta-2.0.17"``:
#: what Debian's OpenSTA computes, the rise and fall energies summed per toggle on output
#: arcs and clock pins (twice the mean; later OpenSTA versions take the mean), for the test
#: that holds this arithmetic to OpenSTA's.
CONVENTIONS = ("liberty", "opensta-2.0.17")


def cell_power(
    model: PowerModel,
    cell: CellPower,
    loads: dict[str, PinLoad],
    activity: dict[str, Activity],
    seconds: float,
    *,
    convention: str = "liberty",
) -> Power:
    """Power (W) of one cell instance over a window of ``seconds`` in which its pins had
    ``activity``; see the module docstring."""
    rate = {p: a.toggles / seconds for p, a in activity.items()}
    high = {p: a.high for p, a in activity.items()}
    summed = convention == "opensta-2.0.17"
    out = Power()

    def slews(pin: str | None, sense: int = 1) -> tuple[float, float]:
        """(slew seen by an output rise, by an output fall) at ``pin``."""
        load = loads.get(pin) if pin else None
        if load is None:
            return 0.0, 0.0
        return (load.slew_rise, load.slew_fall) if sense > 0 else (load.slew_fall, load.slew_rise)

    for pin, direction in cell.directions.items():
        arcs = cell.arcs.get(pin, [])
        if direction == "input":
            clock = pin in cell.clocks
            for arc in arcs:
                if arc.related is not None and arc.related != pin:
                    continue
                weight = _probability(arc.when, high) if arc.when else 1.0
                energy = arc.energy(*slews(pin), 0.0) * (2.0 if summed and clock else 1.0)
                out.internal += energy * model.energy_unit * weight * rate.get(pin, 0.0)
        elif direction == "output":
            load = loads.get(pin)
            cap = load.cap if load else 0.0
            toggles = rate.get(pin, 0.0)
            out.switching += 0.5 * cap * model.voltage**2 * toggles
            if not arcs or not toggles:
                continue
            function = cell.functions.get(pin)
            depends = _parse_bool(function)[1] if function else []
            weights = []
            for arc in arcs:
                if arc.related is None:
                    weights.append(0.0)
                    continue
                if arc.related in depends:
                    duty = _probability(function, high, arc.related)
                elif arc.when:
                    duty = _probability(arc.when, high)
                else:
                    duty = 1.0 if arc.related in cell.clocks else 0.5
                weights.append(rate.get(arc.related, 0.0) * duty)
            norm = sum(weights)
            if norm <= 0.0:
                continue
            for arc, w in zip(arcs, weights, strict=True):
                sense = _unate(function, arc.related) if arc.related in depends else 1
                energy = arc.energy(*slews(arc.related, sense), cap / model.cap_unit)
                energy *= 2.0 if summed else 1.0
                out.internal += energy * model.energy_unit * toggles * w / norm
    states = [(w, v) for w, v in cell.leakage_states if w]
    if states:
        out.leakage = sum(_probability(w, high) * v for w, v in states) * model.leakage_unit
    else:
        out.leakage = (cell.leakage or sum(v for _, v in cell.leakage_states)) * model.leakage_unit
    return out


_STA_POWER = """
set f [open {out} w]
foreach inst [get_cells -hierarchical *] {{
  if {{[get_property $inst liberty_cell] == "NULL"}} continue
  puts $f "[get_full_name $inst] [sta::instance_power $inst [sta::cmd_corner]]"
}}
close $f
"""


def sta_power(
    liberty: Path,
    netlist: Path,
    top: str,
    work: Path,
    clock_ns: float,
    *,
    input_activity: float | None = None,
    global_activity: float | None = None,
) -> dict[str, Power]:
    """OpenSTA's own ``report_power`` figures (W) of every leaf cell at ``clock_ns``:
    vectorless from ``input_activity`` toggles per clock period on every input (duty 0.5),
    or with ``global_activity`` on every pin."""
    if global_activity is not None:
        act = f"set_power_activity -global -activity {global_activity} -duty 0.5"
    else:
        act = f"set_power_activity -input -activity {input_activity} -duty 0.5"
    body = [
        f"create_clock -name clk -period {clock_ns} [get_ports clk]",
        # without input delays, logic fed by inputs has no clock and ~0 activity
        "set_input_delay 0 -clock clk [delete_from_list [all_inputs] [get_ports clk]]",
        act,
        _STA_POWER.format(out="power.txt"),
    ]
    run_sta(liberty, netlist, top, work, "power", body)
    out = {}
    for line in (work / "power.txt").read_text().splitlines():
        name, internal, switching, leakage, _ = line.split()
        out[name] = Power(float(internal), float(switching), float(leakage))
    return out


def _block_of(instance: str, blocks, glue: str) -> str:
    head, sep, _ = instance.partition("/")
    return head if sep and head in blocks else glue


def by_block(power: dict[str, Power], blocks: tuple[str, ...], glue: str) -> dict[str, Power]:
    """Sum per-cell power into the tile's blocks (the first level of the hierarchy: a
    cell ``lut_array/_12_`` is in ``lut_array``); cells of the top module are ``glue``."""
    sums: dict[str, Power] = {b: Power() for b in blocks}
    sums[glue] = Power()
    for inst, p in power.items():
        sums[_block_of(inst, blocks, glue)].add(p)
    return {b: p for b, p in sums.items() if p.total > 0.0 or b != glue}


def pin_activity(
    loads: dict[str, dict[str, PinLoad]], nets: dict[str, dict[str, Activity]]
) -> dict[str, dict[str, Activity]]:
    """Each cell pin's activity: its net's (``nets`` by scope and name, as
    :func:`read_saif` gives them). A pin without a net or tied to a constant does not
    toggle. A
    :class:`SaifError` names the first connected net the simulation did not record."""
    tied = Activity(0, 0.0)
    # OpenSTA's names for a pin tied to 1'b1 / 1'b0 in the netlist (not nets of it)
    constants = {"one_": Activity(0, 1.0), "zero_": Activity(0, 0.0)}
    out: dict[str, dict[str, Activity]] = {}
    for inst, pins in loads.items():
        own = out[inst] = {}
        for pin, load in pins.items():
            if load.direction not in ("input", "output"):
                continue
            if load.net is None:
                own[pin] = tied
                continue
            scope, _, name = load.net.rpartition("/")
            found = nets.get(scope, {}).get(name) or constants.get(name)
            if found is None:
                raise SaifError(f"no activity recorded for net {load.net} (pin {inst}/{pin})")
            own[pin] = found
    return out


#: what :func:`by_kind` splits a block's power into
KINDS = ("flip_flops", "fanout_buffers", "logic")


def by_kind(
    power: dict[str, Power], cells: dict[str, str], model: PowerModel, blocks, glue: str
) -> dict[str, dict[str, Power]]:
    """``{block: {kind: Power}}``: each block's cells split into flip-flops (registers: the
    accumulators, the table buffer), the buffer trees of fanout repair (the broadcast of
    tables, weights and control into the array) and the rest of the logic."""
    out: dict[str, dict[str, Power]] = {}
    for inst, p in power.items():
        block = _block_of(inst, blocks, glue)
        leaf = inst.rsplit("/", 1)[-1]
        if model.cells[cells[inst]].sequential:
            kind = "flip_flops"
        elif leaf.startswith(BUFFER_PREFIX):
            kind = "fanout_buffers"
        else:
            kind = "logic"
        out.setdefault(block, {k: Power() for k in KINDS})[kind].add(p)
    return out


def netlist_power(
    liberty: Path,
    cells: dict[str, str],
    loads: dict[str, dict[str, PinLoad]],
    activity: dict[str, dict[str, Activity]],
    seconds: float,
    *,
    convention: str = "liberty",
    model: PowerModel | None = None,
) -> dict[str, Power]:
    """Power (W) of every leaf cell (``cells``: instance -> cell, ``loads`` from
    :func:`sta_loads`) whose pins had ``activity`` (:func:`pin_activity`) over
    ``seconds``; ``model``: the liberty's, already read for those cells."""
    model = model or PowerModel.read(liberty, set(cells.values()))
    return {
        inst: cell_power(
            model, model.cells[cell], loads[inst], activity[inst], seconds, convention=convention
        )
        for inst, cell in cells.items()
    }
