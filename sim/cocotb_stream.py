"""cocotb testbench of a stream component's emitted Verilog: payloads in on each input stream
with random idle gaps, every output stream read with random backpressure, each output
payload compared in order with the expected one (from the golden model). Used for the
converters (``i`` -> ``o``) and for the PIM tile (``cmd``, ``a``, ``w`` in; ``y``,
``rsp`` out).

The data (hex payloads per stream, seed, throttling) come from the JSON file named by
``LUTCORE_SCENARIO``; measurements go to the JSON file named by ``LUTCORE_REPORT``.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

from .cocotb_tile import drive


@cocotb.test()
async def stream_scenario(dut) -> None:
    data = json.loads(Path(os.environ["LUTCORE_SCENARIO"]).read_text())
    inputs = {name: [int(v, 16) for v in vs] for name, vs in data["inputs"].items()}
    expected = {name: [int(v, 16) for v in vs] for name, vs in data["expected"].items()}
    rng = random.Random(data["seed"])

    def port(stream: str, signal: str):
        return getattr(dut, f"{stream}__{signal}")

    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    for name in inputs:
        port(name, "valid").value = 0
    for name in expected:
        port(name, "ready").value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await RisingEdge(dut.clk)
    for name, beats in inputs.items():
        cocotb.start_soon(
            drive(
                dut.clk,
                port(name, "valid"),
                port(name, "ready"),
                port(name, "payload"),
                beats,
                random.Random(rng.random()),
                data["p_gap"],
            )
        )

    got: dict[str, list[int]] = {name: [] for name in expected}
    total = sum(len(v) for v in expected.values())
    cycles, limit = 0, data.get("cycle_limit") or 50 * sum(map(len, inputs.values())) + 1000
    stall_rng = random.Random(rng.random())
    while sum(map(len, got.values())) < total:
        ready = {name: int(stall_rng.random() >= data["p_stall"]) for name in expected}
        for name, r in ready.items():
            port(name, "ready").value = r
        await ReadOnly()
        for name, want in expected.items():
            if ready[name] and port(name, "valid").value:
                word = port(name, "payload").value.to_unsigned()
                index = len(got[name])
                assert index < len(want), f"{name}: spurious output beat {index}"
                assert word == want[index], (
                    f"{name}: output {index} of {len(want)}: got {word:#x}, "
                    f"expected {want[index]:#x}"
                )
                got[name].append(word)
        await RisingEdge(dut.clk)
        cycles += 1
        assert cycles < limit, f"deadlock: {sum(map(len, got.values()))}/{total} outputs"

    for name in expected:
        port(name, "ready").value = 1
    for _ in range(12):  # nothing more may come out
        await ReadOnly()
        for name in expected:
            assert not port(name, "valid").value, f"{name}: spurious beat after the last one"
        await RisingEdge(dut.clk)
    Path(os.environ["LUTCORE_REPORT"]).write_text(
        json.dumps({"outputs": sum(map(len, got.values())), "cycles": cycles})
    )
