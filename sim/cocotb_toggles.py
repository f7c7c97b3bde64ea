"""cocotb testbench that counts toggles of a design's output ports on its own, for checking
the simulator's activity file against it: the clock runs for ``cycles`` cycles (or stays
low for as long with ``clock: false``), every named port is sampled twice a cycle (after
the settling of each half period) and each change of its value is one toggle.

Data from the JSON file named by ``LUTCORE_SCENARIO`` (``cycles``, ``clock``, ``ports``);
the counts go to the JSON file named by ``LUTCORE_REPORT``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, Timer

#: the clock period of the bench (ns), as in the tile benches
PERIOD_NS = 10


@cocotb.test()
async def count_toggles(dut) -> None:
    data = json.loads(Path(os.environ["LUTCORE_SCENARIO"]).read_text())
    dut.clk.value = 0
    ports = {name: getattr(dut, name) for name in data["ports"]}
    await Timer(1, unit="ns")
    last = {name: str(sig.value) for name, sig in ports.items()}  # before the first edge
    if data["clock"]:
        cocotb.start_soon(Clock(dut.clk, PERIOD_NS, unit="ns").start())
    counts = dict.fromkeys(ports, 0)
    for _ in range(2 * data["cycles"]):
        await Timer(PERIOD_NS // 2, unit="ns")
        await ReadOnly()
        for name, sig in ports.items():
            now = str(sig.value)
            counts[name] += now != last[name]
            last[name] = now
    Path(os.environ["LUTCORE_REPORT"]).write_text(json.dumps({"toggles": counts}))
