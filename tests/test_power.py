"""Power from simulated activity: the arithmetic held to OpenSTA's and to the liberty by
hand on a design whose toggle rates are known, the simulator's toggle counts held to the
testbench's own, an idle design, the clock period, and a tile's power run (whose
gate-level outputs are checked word for word)."""

from __future__ import annotations

import json
import re

import pytest

from lutcore.hw.presets import DEFAULT, PRESETS
from lutcore.sim.runner import SimulationFailed, build_gatelevel, run_scenario, run_toggle_count
from lutcore.sim.scenario import workload_scenario
from lutcore.synth.gatelevel import cell_models
from lutcore.synth.liberty import DEFAULT_LIBERTY, LibertyError, read_liberty_text
from lutcore.synth.power import (
    Power,
    PowerModel,
    netlist_power,
    pin_activity,
    read_saif,
    sta_loads,
    sta_power,
)

from .support import require_tool

pytestmark = pytest.mark.cocotb

P = "sky130_fd_sc_hd__"
#: A toggle flip-flop (ff0 with an inverter on its D) feeding a register chain (ff1, ff2),
#: one level of hierarchy, a buffer on the last output: every data net toggles once per
#: cycle at 50% duty, the clock twice: exactly what OpenSTA's uniform activity assumes.
CHAIN = f"""
module chain_core(clk, q0, q1, q2);
  input clk; output q0, q1, q2;
  wire d0;
  {P}dfxtp_1 ff0 (.CLK(clk), .D(d0), .Q(q0));
  {P}inv_1 inv0 (.A(q0), .Y(d0));
  {P}dfxtp_1 ff1 (.CLK(clk), .D(q0), .Q(q1));
  {P}dfxtp_1 ff2 (.CLK(clk), .D(q1), .Q(q2));
endmodule

module chain_top(clk, q0, q1, q2);
  input clk; output q0, q1, q2;
  wire q2i;
  chain_core core (.clk(clk), .q0(q0), .q1(q1), .q2(q2i));
  {P}buf_2 ob (.A(q2i), .X(q2));
endmodule
"""
CYCLES = 400
PERIOD_NS = 10  # the benches' clock


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """``run(clock)``: the chain netlist simulated for :data:`CYCLES` cycles (clock
    running or held low); returns the bench's toggle counts, the SAIF's nets, the
    simulated seconds and the OpenSTA loads."""
    for tool in ("verilator", "sta"):
        require_tool(tool)
    root = tmp_path_factory.mktemp("chain")
    netlist = root / "chain.v"
    netlist.write_text(CHAIN)
    cells = cell_models(DEFAULT_LIBERTY, root / "cells.v")
    built = build_gatelevel(DEFAULT, [netlist, cells], "chain_top", saif=True)
    instances, loads = sta_loads(DEFAULT_LIBERTY, netlist, "chain_top", root / "sta")

    def run(clock: bool):
        name = f"chain_{'clocked' if clock else 'idle'}"
        counts = run_toggle_count(built, ["q0", "q1", "q2"], CYCLES, clock=clock, name=name)
        duration, nets = read_saif(built.directory / "runs" / name / "dump.saif", "chain_top")
        return counts, nets, duration * 1e-12, instances, loads  # SAIF time unit: 1 ps

    return run, netlist, root


def _total(power: dict[str, Power]) -> Power:
    return Power.sum(power.values())


def test_simulated_toggles_equal_the_testbench_counts(chain):
    """The SAIF's toggle counts of the chain's nets equal what the cocotb bench counted by
    sampling the ports itself; every data net toggled once per cycle."""
    run, _, _ = chain
    counts, nets, _, _, _ = run(clock=True)
    for port in ("q0", "q1", "q2"):
        assert nets[""][port].toggles == counts[port], (port, nets[""][port], counts[port])
        assert abs(counts[port] - CYCLES) <= 2, (port, counts[port])
    assert nets["core"]["q2"].toggles == counts["q2"]  # below the buffer, same count
    assert nets[""]["clk"].toggles in (2 * CYCLES, 2 * CYCLES + 1)


def _pin_caps(cell: str) -> dict[str, tuple[float, float]]:
    """``{pin: (rise_capacitance, fall_capacitance)}`` (pF) of a cell, read directly from the
    liberty text."""
    text = read_liberty_text(DEFAULT_LIBERTY)
    body = text[text.index(f'cell ("{cell}")') :]
    body = body[: body.index("cell (", 10)]
    caps = {}
    for pin, group in re.findall(r'pin \("(\w+)"\) \{(.*?)\n        \}', body, flags=re.S):
        rise = re.search(r"rise_capacitance : ([\d.]+)", group)
        fall = re.search(r"fall_capacitance : ([\d.]+)", group)
        if rise and fall:
            caps[pin] = (float(rise.group(1)), float(fall.group(1)))
    return caps


def _wire_load() -> tuple[float, dict[int, float]]:
    """The liberty's default wire load: capacitance per unit length (pF) and the length per
    fanout."""
    text = read_liberty_text(DEFAULT_LIBERTY)
    name = re.search(r'default_wire_load : "(\w+)"', text).group(1)
    group = text[text.index(f'wire_load("{name}")') :]
    group = group[: group.index("}")]
    per_length = float(re.search(r"capacitance : ([\d.eE+-]+)", group).group(1))
    lengths = {int(n): float(v) for n, v in re.findall(r"fanout_length\( (\d+), ([\d.]+)\)", group)}
    return per_length, lengths


def test_power_equals_opensta_and_the_liberty_by_hand(chain):
    """On the chain, whose activity is exactly OpenSTA's uniform one (1 toggle per cycle,
    duty 0.5, the clock 2), lutcore's power from the simulated activity equals OpenSTA's
    ``report_power`` within 2% in every component (with OpenSTA 2.0.17's convention of
    summing rise and fall energy per toggle); switching power equals 1/2 C V^2 f with C the
    load pins' and the wire load's capacitance from the liberty, by hand; and the liberty
    convention's internal power is about half of OpenSTA 2.0.17's (one rise or fall per
    toggle, not both)."""
    run, netlist, root = chain
    _, nets, seconds, instances, loads = run(clock=True)
    acts = pin_activity(loads, nets)
    ours = _total(
        netlist_power(DEFAULT_LIBERTY, instances, loads, acts, seconds, convention="opensta-2.0.17")
    )
    sta = _total(
        sta_power(DEFAULT_LIBERTY, netlist, "chain_top", root / "p", PERIOD_NS, global_activity=1)
    )
    for part in ("internal", "switching", "leakage", "total"):
        assert getattr(ours, part) == pytest.approx(getattr(sta, part), rel=0.02), part
    liberty_way = _total(netlist_power(DEFAULT_LIBERTY, instances, loads, acts, seconds))
    # twice on the outputs and clock pins, once on the data inputs
    assert 0.45 < liberty_way.internal / ours.internal < 0.55
    assert liberty_way.switching == ours.switching

    # switching by hand: each data net's load pins plus the liberty's default wire load
    # (capacitance per length times the fanout's length; the top's output ports count as
    # loads of no capacitance), V = 1.8 V
    ff, inv, buf = _pin_caps(P + "dfxtp_1"), _pin_caps(P + "inv_1"), _pin_caps(P + "buf_2")
    per_length, lengths = _wire_load()
    loads_pf = {  # (scope, net): (load pins' capacitances, fanout)
        ("core", "q0"): ([inv["A"], ff["D"]], 3),
        ("core", "d0"): ([ff["D"]], 1),
        ("core", "q1"): ([ff["D"]], 2),
        ("", "q2i"): ([buf["A"]], 1),
        ("", "q2"): ([], 1),
    }
    by_hand = sum(
        0.5
        * (max(sum(c[0] for c in pins), sum(c[1] for c in pins)) + per_length * lengths[fanout])
        * 1e-12
        * 1.8**2
        * nets[scope][net].toggles
        / seconds
        for (scope, net), (pins, fanout) in loads_pf.items()
    )
    assert by_hand > 0 and liberty_way.switching == pytest.approx(by_hand, rel=1e-3)


def test_idle_design_reports_leakage_only(chain):
    """Clock held low: nothing toggles, so internal and switching power are 0 and the
    leakage is what the cells' states give (close to the clocked run's)."""
    run, _, _ = chain
    counts, nets, seconds, instances, loads = run(clock=False)
    assert counts == {"q0": 0, "q1": 0, "q2": 0}
    assert all(a.toggles == 0 for scope in nets.values() for a in scope.values())
    idle = _total(
        netlist_power(DEFAULT_LIBERTY, instances, loads, pin_activity(loads, nets), seconds)
    )
    assert idle.internal == 0.0 and idle.switching == 0.0 and idle.leakage > 0.0
    _, nets_on, seconds_on, _, _ = run(clock=True)
    busy = _total(
        netlist_power(DEFAULT_LIBERTY, instances, loads, pin_activity(loads, nets_on), seconds_on)
    )
    assert idle.leakage == pytest.approx(busy.leakage, rel=0.2)
    assert busy.dynamic > 1000 * idle.leakage


def test_halving_the_clock_period_doubles_dynamic_power(chain):
    """The same toggles in half the time: dynamic power doubles and leakage stays, in
    lutcore's arithmetic and in OpenSTA's vectorless report."""
    run, netlist, root = chain
    _, nets, seconds, instances, loads = run(clock=True)
    acts = pin_activity(loads, nets)
    slow = _total(netlist_power(DEFAULT_LIBERTY, instances, loads, acts, seconds))
    fast = _total(netlist_power(DEFAULT_LIBERTY, instances, loads, acts, seconds / 2))
    assert fast.dynamic == pytest.approx(2 * slow.dynamic, rel=1e-9)
    assert fast.leakage == slow.leakage
    sta = {
        ns: _total(
            sta_power(
                DEFAULT_LIBERTY, netlist, "chain_top", root / f"v{ns}", ns, input_activity=0.2
            )
        )
        for ns in (10.0, 5.0)
    }
    assert sta[5.0].dynamic == pytest.approx(2 * sta[10.0].dynamic, rel=0.02)
    assert sta[5.0].leakage == pytest.approx(sta[10.0].leakage, rel=1e-6)


def test_liberty_without_power_data_is_refused_for_power(tmp_path):
    lib = tmp_path / "nopower.lib"
    lib.write_text(
        'library ("x") {\n  cell ("inv") { area : 1; pin ("A") { direction : input; }\n'
        '    pin ("Y") { direction : output; function : "!A"; } }\n}\n'
    )
    with pytest.raises(LibertyError) as info:
        PowerModel.read(lib)
    assert str(lib) in str(info.value) and "no power data" in str(info.value)


@pytest.fixture(scope="module")
def small_power(tmp_path_factory):
    """``lutcore power`` of the small LUT tile on the real-layer workload."""
    from lutcore.experiments.power import run_power

    for tool in ("verilator", "sta"):
        require_tool(tool)
    out = tmp_path_factory.mktemp("power")
    result = run_power(PRESETS["small"], out, clock_ns=10.0, progress=lambda _: None)
    return out, result


def test_tile_power_run(small_power):
    """The power run of a tile: the gate-level outputs were checked word for word, the
    blocks add up to the total, the energy figures follow from power, time and MACs, and
    the report files are written."""
    out, r = small_power
    cfg = PRESETS["small"]
    wl, at = r["workload"], r["at_fmax"]
    assert wl["bit_exact"] and wl["output_words_checked"] == cfg.M * 2 * cfg.N
    blocks = at["power_w"]["by_block"]
    assert set(blocks) >= {"precompute", "table_buffer", "control", "lut_array"}
    total = at["power_w"]["total"]
    assert sum(b["total"] for b in blocks.values()) == pytest.approx(total["total"])
    assert all(
        b["internal"] > 0 and b["switching"] > 0 for n, b in blocks.items() if n != "top_glue"
    )
    seconds = wl["cycles"] / (r["fmax_mhz"] * 1e6)
    assert at["pj_per_mac"] == pytest.approx(total["total"] * seconds * 1e12 / wl["macs"])
    assert at["tops_per_w"] == pytest.approx(2 / (at["pj_per_mac"] * 1e-12) / 1e12)
    slower = r["at_clock_ns"]
    assert slower["clock_ns"] == 10.0
    dyn = lambda d: d["power_w"]["total"]["internal"] + d["power_w"]["total"]["switching"]  # noqa: E731
    assert dyn(slower) == pytest.approx(dyn(at) * (100.0 / r["fmax_mhz"]), rel=1e-9)
    for block, split in r["power_by_kind_w"].items():  # the kinds add up to the block
        assert sum(split.values()) == pytest.approx(blocks[block]["total"]), block
    assert r["power_by_kind_w"]["lut_array"]["flip_flops"] > 0
    assert r["power_by_kind_w"]["lut_array"]["fanout_buffers"] > 0
    saved = json.loads((out / cfg.slug / "power.json").read_text())
    assert saved["at_fmax"]["pj_per_mac"] == at["pj_per_mac"]
    assert "TOPS/W" in (out / cfg.slug / "power.md").read_text()


def test_power_run_checks_the_netlist_outputs(small_power):
    """The bench of a power run fails on a wrong output word: a scenario told to expect a
    corrupted first word fails on the same gate-level model."""
    cfg = PRESETS["small"]
    out, _ = small_power
    from lutcore.synth.gatelevel import gate_sources

    sources, top = gate_sources(
        cfg, out / cfg.slug / "netlist.v", DEFAULT_LIBERTY, out / "gl", cfg.slug
    )
    built = build_gatelevel(cfg, sources, top, saif=True)
    scenario = workload_scenario(cfg, "layer", cfg.M, 64, cfg.N)
    scenario.corrupt = True
    with pytest.raises(SimulationFailed):
        run_scenario(built, scenario, name="corrupt")


def test_uniform_activity_tile_equals_opensta(small_power, tmp_path):
    """On a whole tile's netlist with OpenSTA's uniform activity given to every pin,
    switching and leakage equal OpenSTA's within 0.1% and the internal power of inverters,
    buffers and flip-flops within 2% (OpenSTA 2.0.17 sums every arc of a multi-input cell
    at duty 0.5; lutcore weights the arcs by sensitization, so those cells differ)."""
    from lutcore.synth.power import Activity

    out, _ = small_power
    cfg = PRESETS["small"]
    netlist = out / cfg.slug / "netlist.v"
    instances, loads = sta_loads(DEFAULT_LIBERTY, netlist, cfg.slug, tmp_path / "l")
    cycles, a = 1000, 0.3
    acts = {
        inst: {p: Activity(2 * cycles if p == "CLK" else int(a * cycles), 0.5) for p in pins}
        for inst, pins in loads.items()
    }
    ours = netlist_power(
        DEFAULT_LIBERTY, instances, loads, acts, cycles * 5e-9, convention="opensta-2.0.17"
    )
    sta = sta_power(DEFAULT_LIBERTY, netlist, cfg.slug, tmp_path / "s", 5.0, global_activity=a)
    assert _total(ours).switching == pytest.approx(_total(sta).switching, rel=1e-3)
    assert _total(ours).leakage == pytest.approx(_total(sta).leakage, rel=1e-3)
    simple = [i for i in ours if re.search(r"__(inv|buf|dfxtp|dfrtp)_", instances[i])]
    assert len(simple) > 50
    mine = sum(ours[i].internal for i in simple)
    theirs = sum(sta[i].internal for i in simple)
    assert mine == pytest.approx(theirs, rel=0.02)


def test_sweep_with_power_adds_columns_summary_and_plot(tmp_path):
    """``lutcore sweep --power``: every point gains power columns consistent with each
    other, the summary's energy table holds the LUT/MAC ratio of those columns, the plot
    is drawn, and a second run comes from the cache."""
    import functools

    from lutcore.experiments.power import power_columns
    from lutcore.synth.plots import write_plots
    from lutcore.synth.summary import summarize
    from lutcore.synth.sweep import PowerHook, run_sweep, spec_from_dict

    for tool in ("verilator", "sta"):
        require_tool(tool)
    spec = spec_from_dict(
        {"grid": [{"arch": ["lut", "mac"], "M": 1, "N": 4, "K": 4, "w_bits": 1, "max_k": 64}]},
        "tiny.toml",
    )
    hook = PowerHook("random", functools.partial(power_columns, workload="random"))
    rows = run_sweep(spec, tmp_path, jobs=2, progress=False, power=hook)
    assert [r["status"] for r in rows] == ["ok", "ok"], [r["error"] for r in rows]
    for r in rows:
        assert r["power_workload"] == "random" and r["tops_per_w"] > 0
        assert r["tops_per_w"] == pytest.approx(2 / (r["pj_per_mac"] * 1e-12) / 1e12)
        assert r["power_mw"] == pytest.approx(sum(r["power_by_block_mw"].values()))
    lut, mac = rows
    text = summarize(rows, "tiny")
    assert "## Energy" in text
    assert f"**{lut['tops_per_w'] / mac['tops_per_w']:.2f}x**" in text
    written = write_plots(rows, tmp_path / spec.name)
    assert tmp_path / spec.name / "energy_vs_density.png" in written
    again = run_sweep(spec, tmp_path, jobs=1, progress=False, power=hook)
    assert [r["seconds"] for r in again] == [r["seconds"] for r in rows]  # from the cache


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--preset", "pim_b4"], 'arch="pim"'),
        (["--workload", "sparse"], "sparse"),
        (["--clock-ns", "0"], "clock_ns=0"),
    ],
)
def test_power_refuses_bad_input_before_work(argv, message, tmp_path, capsys):
    """Impossible requests are refused with exit 2 before anything is synthesized."""
    from lutcore.cli import main

    with pytest.raises(SystemExit) as info:
        main(["power", *argv, "-o", str(tmp_path / "out")])
    assert info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_power_refuses_a_liberty_without_power_data(tmp_path, capsys):
    from lutcore.cli import main

    lib = tmp_path / "nopower.lib"
    lib.write_text(read_liberty_text(DEFAULT_LIBERTY).replace("internal_power", "x_power"))
    with pytest.raises(SystemExit) as info:
        main(["power", "--preset", "small", "--liberty", str(lib), "-o", str(tmp_path / "o")])
    assert info.value.code == 2 and "no power data" in capsys.readouterr().err
