"""``verilator --lint-only -Wall`` on emitted RTL, with the waivers in verilator_lint.vlt."""

from __future__ import annotations

import re
from pathlib import Path

from lutcore.base import procs
from lutcore.base.tools import require, sim_env

__all__ = ["WAIVERS", "lint"]

WAIVERS = Path(__file__).with_name("verilator_lint.vlt")


def lint(verilog: Path, top: str) -> list[str]:
    """Lint ``verilog``; returns the warning/error lines (empty when clean)."""
    exe = require("verilator")
    verilog = verilog.resolve()
    proc = procs.run(
        [exe, "--lint-only", "-Wall", WAIVERS, verilog, "--top-module", top],
        env=sim_env(),
        cwd=verilog.parent,
    )
    findings = [ln for ln in proc.stderr.splitlines() if re.match(r"%(Warning|Error)", ln)]
    if proc.returncode and not findings:
        findings = [f"verilator exited {proc.returncode}: {proc.stderr.strip()[-2000:]}"]
    return findings
