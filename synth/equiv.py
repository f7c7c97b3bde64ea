"""Formal equivalence of the RTL and its mapped netlist: a miter proved by ABC.

The gold design is the Verilog the flow synthesized, elaborated by Yosys (``proc``,
flattened, memories as flip-flops); the gate design is the mapped netlist with the
liberty's cells as models (``read_liberty`` without ``-lib``: each cell's
``function``/``ff`` groups), flattened. ``miter -equiv`` joins them on their ports (the
gold's split to bits like the netlist's); its ``trigger`` output is 1 in a cycle where an
output of the two differs. Both designs start with every flip-flop at 0 (the RTL's initial
values are dropped: ASIC flip-flops have none) and the reset is a free input, so the proof
covers reset at any time. ABC's ``dprove`` (register correspondence, induction, SAT
sweeping; it handles the adder trees SAT alone cannot) proves ``trigger`` is never 1 from
there, or gives a counterexample. A deliberately broken netlist must be refuted
(:func:`break_netlist`), so the proof is not vacuous.
"""

from __future__ import annotations

import re
from pathlib import Path

from lutcore.base import procs
from lutcore.base.yosys import quote, run_script, yosys_abc
from lutcore.hw.config import TileConfig
from lutcore.hw.presets import PRESETS

from .netlist import INSTANCE, PIN, flip_flop_cells

__all__ = ["EQUIV_CONFIGS", "EquivalenceFailed", "break_netlist", "prove_equivalent", "prove_tile"]

#: Small tiles whose mapped netlists are proved equal to their RTL (`make formal`): the
#: LUT tile (symmetric tables, zero points, pipeline register) and the MAC tile with its
#: multipliers (a larger MAC tile's miter is beyond ABC's prover in minutes).
EQUIV_CONFIGS = (PRESETS["small"], PRESETS["small_mac"])


class EquivalenceFailed(AssertionError):
    """The netlist is not proved equivalent to the RTL (a counterexample, or no verdict);
    the message has ABC's verdict and the work folder."""


def prove_equivalent(rtl: Path, netlist: Path, liberty: Path, top: str, work: Path) -> dict:
    """Prove ``netlist`` equivalent to the Verilog ``rtl`` (top module ``top``) from the
    all-zero state under every input sequence; returns the miter's size and ABC's verdict.
    Raises :class:`EquivalenceFailed` otherwise."""
    work.mkdir(parents=True, exist_ok=True)
    aig = work / "miter.aig"
    flatten = ["flatten", "setattr -unset init w:*", "memory_map", "opt_clean", "dffunmap"]
    run_script(
        [
            f"read_verilog {quote(rtl)}",
            f"hierarchy -top {top}",
            "proc",
            *flatten,
            # multipliers as the flow builds them (Booth-encoded, `synth -booth`): two
            # unrelated multiplier structures are beyond SAT sweeping
            "opt_expr",
            "wreduce",
            "booth",
            # Amaranth's array views name wires like `a__payload[0]`, which would clash
            # with the split bits of the port `a__payload`
            "rename -hide w:*]",
            "splitnets -ports",
            f"rename {top} gold",
            "design -stash gold",
            f"read_liberty {quote(liberty)}",
            f"read_verilog {quote(netlist)}",
            f"hierarchy -top {top}",
            *flatten,
            f"rename {top} gate",
            "design -stash gate",
            "design -copy-from gold -as gold gold",
            "design -copy-from gate -as gate gate",
            "miter -equiv -flatten gold gate miter",
            "hierarchy -top miter",
            "async2sync",  # an asynchronous reset as the cycle-based model sees it
            "techmap",
            "opt -fast -nodffe -nosdff",
            "setundef -zero -init",  # every flip-flop starts at 0; RTL don't-cares: 0
            "aigmap",
            "opt_clean",
            f"tee -q -o {quote(work / 'stat.json')} stat -json",
            f"write_aiger -zinit {quote(aig)}",
        ],
        work / "miter.log",
        label="equiv",
    )
    proc = procs.run(
        [yosys_abc(), "-c", f"read_aiger {aig}; print_stats; dprove"],
        cwd=work,  # an undecided `dprove` writes its reduced miter to the current folder
    )
    (work / "abc.log").write_text(proc.stdout + proc.stderr)
    stats = re.search(r"i/o\s*=\s*(\d+)/\s*(\d+)\s+lat\s*=\s*(\d+)\s+and\s*=\s*(\d+)", proc.stdout)
    verdict = re.search(r"Networks are (equivalent|not equivalent|undecided)", proc.stdout, re.I)
    if proc.returncode or verdict is None or verdict.group(1) != "equivalent":
        said = verdict.group(0) if verdict else "no verdict"
        raise EquivalenceFailed(
            f"{top}: netlist not proved equivalent to the RTL ({said}); ABC log {work / 'abc.log'}"
        )
    return {
        "inputs": int(stats.group(1)) if stats else None,
        "latches": int(stats.group(3)) if stats else None,
        "and_gates": int(stats.group(4)) if stats else None,
        "verdict": verdict.group(0),
    }


def break_netlist(netlist_text: str, liberty_text: str, how: str = "flop") -> str:
    """A wrong copy of a netlist, which the proof must refute. ``how``: ``"flop"`` ties one
    flip-flop's D input to its own output (a register that never changes); ``"reset"``
    disconnects the reset inside every block (what mapping with ``abc -dff`` did)."""
    if how == "reset":
        broken = re.sub(r"\.(\w+)\(rst\)", lambda m: f".{m.group(1)}(1'b0)", netlist_text)
        # keep the ports: only the connections to library cells change
        return re.sub(r"\.rst\(1'b0\)", ".rst(rst)", broken)
    if how != "flop":
        raise ValueError(f"how={how!r}: allowed flop, reset")
    flops = flip_flop_cells(liberty_text)
    found = [i for i in INSTANCE.finditer(netlist_text) if i.group(1) in flops]
    for inst in found[len(found) // 2 :]:  # one in the middle, not a port register
        pins = dict(PIN.findall(inst.group(3)))
        if "D" in pins and "Q" in pins:
            body = inst.group(3).replace(f".D({pins['D']})", f".D({pins['Q']})", 1)
            return netlist_text[: inst.start(3)] + body + netlist_text[inst.end(3) :]
    raise ValueError("netlist has no D flip-flop to break")


def prove_tile(cfg: TileConfig, work: Path, *, broken: str | None = None) -> dict:
    """Synthesize ``cfg``'s tile with the flow in ``work`` and prove its netlist equal to
    the RTL (``broken``: first break the netlist as :func:`break_netlist` says, so the
    proof must fail)."""
    from .flow import synthesize

    result = synthesize(cfg, work / "synth", progress=lambda _: None)
    netlist, lib = result.netlist, work / "synth" / "cells.lib"
    if broken:
        netlist = work / f"netlist_broken_{broken}.v"
        netlist.write_text(break_netlist(result.netlist.read_text(), lib.read_text(), broken))
    return prove_equivalent(work / "synth" / "design.v", netlist, lib, cfg.slug, work / "equiv")
