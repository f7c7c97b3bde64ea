"""cocotb testbench of a one-in, one-out stream component's emitted Verilog (the activation
and dequant converters): payloads in on ``i`` with random idle gaps, ``o`` read with random
backpressure, every output payload compared with the expected one (from the golden model).

The data (hex payloads, seed, throttling) come from the JSON file named by
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
    inputs = [int(v, 16) for v in data["inputs"]]
    expected = [int(v, 16) for v in data["expected"]]
    rng = random.Random(data["seed"])

    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.i__valid.value = 0
    dut.o__ready.value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await RisingEdge(dut.clk)
    cocotb.start_soon(
        drive(dut.clk, dut.i__valid, dut.i__ready, dut.i__payload, inputs, rng, data["p_gap"])
    )

    got: list[int] = []
    cycles, limit = 0, 50 * len(inputs) + 1000
    stall_rng = random.Random(rng.random())
    while len(got) < len(expected):
        ready = int(stall_rng.random() >= data["p_stall"])
        dut.o__ready.value = ready
        await ReadOnly()
        if ready and dut.o__valid.value:
            word = dut.o__payload.value.to_unsigned()
            index = len(got)
            assert word == expected[index], (
                f"output {index} of {len(expected)}: got {word:#x}, expected {expected[index]:#x}"
            )
            got.append(word)
        await RisingEdge(dut.clk)
        cycles += 1
        assert cycles < limit, f"deadlock: {len(got)}/{len(expected)} outputs after {cycles} cycles"

    dut.o__ready.value = 1
    for _ in range(12):  # nothing more may come out
        await ReadOnly()
        assert not dut.o__valid.value, "spurious output beat after the last expected one"
        await RisingEdge(dut.clk)
    Path(os.environ["LUTCORE_REPORT"]).write_text(
        json.dumps({"outputs": len(got), "cycles": cycles})
    )
