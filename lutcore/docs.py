"""Interface documentation generated from the component itself, so it cannot drift.

``lutcore ports -o docs/interface.md`` writes it; a test regenerates it and compares.
"""

from __future__ import annotations

import json

from amaranth.hdl import Shape
from amaranth.lib import wiring
from amaranth.lib.data import ArrayLayout, Layout, StructLayout

from lutcore.hw.arch import arch_of
from lutcore.hw.config import SramBanks, TileConfig
from lutcore.hw.emit import top_name
from lutcore.hw.layouts import TileSignature

__all__ = [
    "INTERFACE_DOCS",
    "diagram_configs",
    "interface_markdown",
    "port_docs",
    "payload_fields",
    "port_rows",
    "wavedrom_gemv",
    "wavedrom_pim",
]

#: the committed interface documents (``make ports``): file in ``docs/`` -> preset
INTERFACE_DOCS = {
    "interface.md": "paper",
    "interface-mac.md": "mac_paper",
    "interface-fpmac.md": "fpmac_w2",
    "interface-fplut.md": "fplut_w2",
    "interface-fplut-offout.md": "fplut_w2_offout",
    "interface-fplut-fixed.md": "fplut_w2_fixed",
    "interface-fpmac-fixed.md": "fpmac_w2_fixed",
    "interface-pim.md": "pim_b4",
    "interface-ternary.md": "ternary_base3",
}


def diagram_configs() -> list[TileConfig]:
    """The configurations the block diagram draws: the first interface document's preset
    of each arch (a ternary tile has the LUT tile's blocks)."""
    from lutcore.hw.presets import PRESETS

    first: dict[str, TileConfig] = {}
    for preset in INTERFACE_DOCS.values():
        first.setdefault(PRESETS[preset].arch, PRESETS[preset])
    return list(first.values())


INDEX_NAMES = {"a": "mk", "w": "nj", "y": "mn", "cmd": "n", "rsp": ""}
FLAG_DOCS = {
    "valid": "the source offers a beat",
    "ready": "the sink accepts the beat (transfer when valid and ready at a rising edge)",
}


def port_docs(cfg: TileConfig) -> dict[str, str]:
    """The meaning of each top-level stream of ``cfg``'s tile."""
    act = "FP16 words" if cfg.fp_words else "signed a_bits"
    if cfg.fp_results:
        result = f"{cfg.acc_fmt.name.upper()} words of"
    elif cfg.fp_words:  # exact fixed-point accumulation
        result = f"signed acc_bits integers (units of 2^{cfg.fixed_lsb}) of"
    else:
        result = "signed acc_bits ="
    cmd = "one command per output tile: n_slices (runtime K / K)"
    if cfg.opcode_command:
        cmd = (
            "one command stream, run in order: op (0 COMPUTE, 1 LOAD, 2 CONVERT, 3 WRITE, "
            "4 READ; 5..7 do nothing), n_slices (LOAD: runtime K / K), bank, row, wdata "
            "(WRITE, READ: rows/banks beyond the banks: a write is dropped, a read gives 0), "
            "program (CONVERT: 0 FP16 -> block FP, 1 integer -> FP16, 2..3 nothing)"
        )
    if cfg.has_zero_point:
        cmd += ", zero[n] (unsigned weights' zero points)"
    if cfg.scale_in_command:
        cmd += ", scale[n] (FP16 per-column scales)"
    weights = (
        "weight planes, one beat per planes_per_cycle planes of a K-slice: payload[n][j] "
        "is K bits, bit k = bit (t*ppc + j) of Wq[k, n]"
    )
    if cfg.weight_format == "ternary" and not cfg.base3:
        weights += (
            " (ternary weights as 2-bit two's complement codes: +1 = 01, 0 = 00, -1 = 11; "
            + (
                "10 is skipped as 0)"
                if not cfg.uses_tables
                else "10 is taken as -2, the signed 2-bit code's value)"
            )
        )
    if cfg.base3:
        b = cfg.group_code_bits
        weights = (
            f"ternary weights in base-3 groups, one beat per K-slice: payload[n][0] holds "
            f"column n's K/g = {cfg.chunks} group codes of {b} bits ({cfg.bits_per_weight:.2f} "
            f"bits a weight), group c at bit c*{b}: the weights t_j of rows c*g+j form "
            f"v = sum_j t_j*3**j, sent as |v| (bits 0..{b - 2}) and the sign of v (bit "
            f"{b - 1}, 1: negative); a magnitude above {cfg.entries} is no ternary group "
            "and counts 0"
        )
    docs = {
        "a": f"activations, one K-slice per beat: payload[m][k] {act}",
        "w": weights,
        "cmd": cmd,
        "y": f"one result per output tile: payload[m][n] {result} sum_k A[m,k]*W[k,n]",
    }
    if isinstance(cfg, SramBanks):
        docs["rsp"] = (
            "one response per READ (word: the SRAM word) and per CONVERT (exp: the block "
            "exponent field of an FP16 -> block FP conversion), in command order"
        )
    return docs


def port_rows(cfg: TileConfig) -> list[tuple[str, str, int, str]]:
    """``(verilog name, direction, width, meaning)`` of every top-level port, from the
    tile's signature (no component is built)."""
    docs = port_docs(cfg)
    rows = [
        ("clk", "input", 1, "clock; everything is synchronous to its rising edge"),
        (
            "rst",
            "input",
            1,
            "synchronous reset, active high; at any cycle (mid-tile too) it drops the tile in "
            "flight and clears valids and counters: no `y` beat until new commands",
        ),
    ]
    for path, member in TileSignature(cfg).members.flatten():
        if not member.is_port:
            continue
        stream_name, flag = path[0], path[-1]
        width = Shape.cast(member.shape).width
        direction = "input" if member.flow == wiring.In else "output"
        meaning = docs[stream_name] if flag == "payload" else FLAG_DOCS[flag]
        rows.append(("__".join(map(str, path)), direction, width, meaning))
    return rows


def _shape_text(shape) -> str:
    shape = Shape.cast(shape)
    return f"{'signed' if shape.signed else 'unsigned'}({shape.width})"


def payload_fields(layout: Layout, index_names: str) -> list[tuple[str, str, str]]:
    """``(field, bit offset, shape)`` rows; array elements are given as offset formulas."""
    rows: list[tuple[str, str, str]] = []

    def walk(lay, name: str, offset: str, names: str) -> None:
        if isinstance(lay, StructLayout):
            for field_name, field in lay:
                sub = f"{offset} + {field.offset}" if offset != "0" else str(field.offset)
                walk(field.shape, f"{name}.{field_name}", sub, names)
        elif isinstance(lay, ArrayLayout):
            var, rest = names[0], names[1:]
            stride = Shape.cast(lay.elem_shape).width
            term = f"{var}*{stride}" if stride != 1 else var
            sub = term if offset == "0" else f"{offset} + {term}"
            walk(lay.elem_shape, f"{name}[{var}]", sub, rest)
            rows[-1] = (rows[-1][0], rows[-1][1], rows[-1][2] + f", {var} < {lay.length}")
        else:
            rows.append((name, offset, _shape_text(lay)))

    walk(layout, "payload", "0", index_names)
    return rows


def _fp_contract(cfg) -> list[str]:
    """The FP tiles' response to special FP16 words (the converters' rule)."""
    if not cfg.fp_words:
        return []
    lines = [
        "- An FP16 activation that is infinite counts as the largest finite number of its "
        "sign (+-65504), a NaN as 0."
    ]
    if cfg.scale_in_command and getattr(cfg, "fixed_acc", False):
        lines.append(
            "- A scale that makes a dequantized weight infinite (beyond 65504) makes that "
            "weight +-65504 in the exact sums."
        )
    return lines


def _words_text(cfg) -> str:
    """What the result words are: FP words, fixed-point or plain integers."""
    if cfg.fp_results:
        return f"{cfg.acc_format.upper()} words"
    if cfg.fp_words:
        return (
            "signed integers in units of 2^-24 (the FP16 table entries as exact fixed point, "
            "summed with no rounding)"
        )
    return "signed integers"


def _result_text(cfg) -> str:
    """What one ``y`` beat holds, for the protocol section."""
    if getattr(cfg, "offset_out", False):
        return (
            "`acc[m][n] = sum_b c_b 2^b sum_k A[m, k] * (2 w_b[k, n] - 1)` (twice the result "
            f"without its offset term; `c_b = -1` for a signed top plane, else 1) and "
            "`total[m] = sum_k A[m, k]`, as "
            f"{_words_text(cfg)}; `Y[m, n] = (acc[m][n] + (C - 2 zero[n]) * "
            f"total[m]) / 2` with `C = {cfg.offset_coefficient}`, which the dequant converter "
            "forms (zero points in its items) before the scale."
        )
    if cfg.fp_words:
        return (
            "the "
            f"{cfg.acc_format.upper()} words of `Y[m, n] = sum_k A[m, k] * (Wq[k, n] - "
            "zero[n])` (signed weights: `Wq` as two's complement) as the tile's floating-point "
            "arithmetic rounds them (`docs/design.md`)."
        )
    return (
        "`Y[m, n] = sum_k A[m, k] * (Wq[k, n] - zero[n])` (signed weights: `Wq` as two's "
        "complement), exact."
    )


def wavedrom_gemv(cfg: TileConfig) -> dict:
    """WaveDrom of one short GEMV (two K-slices, one output tile) in Amaranth's simulator,
    all streams unthrottled."""
    from lutcore.sim.amaranth_driver import simulate_jobs
    from lutcore.sim.scenario import random_scenario
    from lutcore.sim.streams import gemm_jobs

    sc = random_scenario(cfg, 1, 2 * cfg.K, cfg.N, seed=7)
    jobs = gemm_jobs(cfg, sc.a, sc.codes, sc.zero, scale=sc.scale)
    trace: list[dict[str, int]] = []
    simulate_jobs(cfg, jobs, trace=trace)
    return _wave(trace, f"GEMV: 1 x {2 * cfg.K} activations, {cfg.N} columns, one tile")


def _wave(trace: list[dict[str, int]], head: str) -> dict:
    signals = []
    for name in trace[0]:
        bits = [row[name] for row in trace] + [0, 0]
        wave = "".join(str(b) if i == 0 or b != bits[i - 1] else "." for i, b in enumerate(bits))
        signals.append({"name": name.replace(".", "__"), "wave": wave})
    return {
        "signal": [{"name": "clk", "wave": "p" + "." * (len(trace) + 1)}, *signals],
        "head": {"text": head},
    }


def wavedrom_pim(cfg: TileConfig) -> dict:
    """WaveDrom of a short PIM program (a one-slice load, a compute, a memory write and
    read) in Amaranth's simulator, all streams unthrottled."""
    import numpy as np

    from lutcore.sim import pim_driver

    rng = np.random.default_rng(7)
    a = rng.integers(*cfg.a_range, (cfg.M, cfg.K), endpoint=True)
    codes = rng.integers(0, 1 << cfg.w_bits, (cfg.K, cfg.N))
    row = cfg.table_rows  # the region's first row
    program = [
        pim_driver.Load(a),
        pim_driver.Compute(codes),
        pim_driver.Write(0, row, 1),
        pim_driver.Read(0, row),
    ]
    trace: list[dict[str, int]] = []
    pim_driver.run_program(cfg, program, waves=trace)
    return _wave(trace, "LOAD (1 slice), COMPUTE (1 tile), WRITE, READ")


def interface_markdown(cfg: TileConfig) -> str:
    top = top_name(cfg)
    signature = TileSignature(cfg)
    lines = [
        f"# Interface of `{top}` ({arch_of(cfg).description})",
        "",
        "Generated by `lutcore ports` from the component signature; do not edit.",
        "",
        "Configuration: " + ", ".join(f"{k}={v}" for k, v in cfg.to_dict().items()) + ".",
        f"Derived: {cfg.derived_summary()}; exact for a runtime K up to {cfg.max_k}.",
        "",
        "## Ports",
        "",
        "| port | direction | width | meaning |",
        "|---|---|---|---|",
        *(f"| `{n}` | {d} | {w} | {m} |" for n, d, w, m in port_rows(cfg)),
        "",
        "## Payload fields",
        "",
        "Bit offsets within each `*__payload` port (bit 0 = least significant).",
        "",
    ]
    for name in signature.members:
        layout = signature.members[name].signature.members["payload"].shape
        lines += [f"### `{name}__payload`", "", "| field | bit offset | shape |", "|---|---|---|"]
        lines += [f"| `{f}` | {o} | {s} |" for f, o, s in payload_fields(layout, INDEX_NAMES[name])]
        lines.append("")
    lines += _pim_protocol(cfg) if cfg.opcode_command else _stream_protocol(cfg)
    return "\n".join(lines)


def _stream_protocol(cfg: TileConfig) -> list[str]:
    """The protocol of the stream tiles (LUT, MAC, FP16 MAC, FP-table), with a waveform."""
    wave = json.dumps(wavedrom_gemv(cfg), indent=None)
    return [
        "## Stream protocol",
        "",
        "All four interfaces are `amaranth.lib.stream` valid/ready streams: a beat transfers "
        "on a rising edge where `valid` and `ready` are both high; a source keeps `valid` and "
        "its payload stable until the transfer; `valid` never waits for `ready`.",
        "",
        "Per output tile (M rows x N columns of Y over a runtime K of `n_slices * K`):",
        "",
        f"1. `cmd`: one beat with `n_slices` (1..{cfg.max_slices})"
        + (
            " and, for unsigned weights, the zero point of each column."
            if not getattr(cfg, "offset_out", False)
            else " (no zero points: the dequant converter applies them)."
        )
        + " The tile holds it for the whole output tile and accepts it with the tile's last "
        "weight beat.",
        "2. `a`: `n_slices` beats, slice `s` holds `A[m, s*K + k]`.",
        f"3. `w`: `n_slices * {cfg.beats_per_slice}` beats, slice-major; within a slice, beat "
        f"`t` holds weight bit planes `t*{cfg.planes_per_cycle}` .. "
        f"`t*{cfg.planes_per_cycle} + {cfg.planes_per_cycle - 1}` (least significant first) "
        "of `Wq[s*K + k, n]`.",
        f"4. `y`: one beat, {_result_text(cfg)}",
        "",
        "The streams are independent: activations for the next slices may run ahead (the "
        "table buffer holds the slice in use and the next one), and the next tile's `cmd` "
        "may be offered at any time. With all inputs valid and `y` ready the array accepts "
        "one weight beat per cycle; the only bubbles are at a tile boundary while the "
        "previous result waits to be read (the accumulators are the result register).",
        "",
        "## Timing",
        "",
        f"- Output latency: `y` is valid {cfg.latency_cycles} cycle(s) after the transfer of "
        "the tile's last weight beat.",
        f"- With `y` always ready and every input valid, each tile boundary costs "
        f"{cfg.latency_cycles - 1} idle cycle(s) on `w` (the next tile's first beat waits "
        "for the result to leave the accumulators); a slower `y` adds its stall cycles.",
        "",
        "## Inputs outside the contract",
        "",
        "The tile has a defined response to everything its ports can carry:",
        "",
        "- `n_slices = 0` behaves as 1.",
        f"- `n_slices` above max_slices = {cfg.max_slices} (the field is "
        f"{cfg.slice_count_bits} bits wide) behaves as {cfg.max_slices}: the output tile ends "
        f"after {cfg.max_slices} slices, which the accumulators are sized for, and the "
        "activation and weight beats sent beyond them count toward the next output tile.",
        "- A `w` beat with no `cmd` is not taken (`w.ready` stays low) until a command "
        f"arrives; {cfg.slices_ahead} `a` beats (slices) are taken ahead, then `a.ready` "
        "drops.",
        "- `y.ready` low holds the result (and, at the next tile boundary, the array) "
        "without losing anything.",
        *_fp_contract(cfg),
        "",
        "## Waveform of one short GEMV",
        "",
        "From Amaranth's simulator of this configuration (paste into wavedrom.com, or run a "
        "cocotb scenario with `WAVES=1` for a full dump).",
        "",
        "```wavedrom",
        wave,
        "```",
        "",
        "## Driving it",
        "",
        "Drive `cmd`, `a`, `w` and `y` concurrently (four processes, threads or cocotb "
        "coroutines), each walking the same list of output tiles:",
        "",
        "```",
        "tiles = for each output tile (m0, n0) and each K range of up to max_k",
        "cmd sender: for each tile: send {n_slices"
        + (", zero[0..N-1]}" if cfg.zero_in_tile else "}"),
        "a sender:   for each tile: for s in slices: send A[m0:m0+M, s*K:(s+1)*K]",
        f"w sender:   for each tile: for s in slices: for t in 0..{cfg.beats_per_slice - 1}: "
        "send bit planes of Wq[s*K:(s+1)*K, n0:n0+N]",
        "y receiver: for each tile: receive y; add into Y[m0:m0+M, n0:n0+N]",
        "```",
        "",
        "Sequential code deadlocks: a `cmd` send does not complete until the tile's last "
        f"weight beat is taken, and the tile takes {cfg.slices_ahead} activation beats ahead "
        "of the weights, so sending every activation of a tile before its weights stalls "
        f"when `n_slices > {cfg.slices_ahead}`. "
        "`lutcore.sim.streams.gemm_jobs` produces exactly these beats from NumPy matrices; "
        "`lutcore.sim.harness` drives them concurrently.",
        "",
    ]


def _rows(program, names: list[str]) -> str:
    """Region rows of ``names`` in ``program``: ``a..b`` when consecutive."""
    rows = [program.rows[n] for n in names]
    if rows == list(range(rows[0], rows[0] + len(rows))):
        return f"{rows[0]}..{rows[-1]}"
    return ", ".join(map(str, rows))


def _pim_protocol(cfg: TileConfig) -> list[str]:
    """The protocol of the PIM tile: one command stream (table loads, computes over resident
    tables, conversions in the banks, memory mode)."""
    from lutcore.hw.pim_bank_convert import bank_cycles
    from lutcore.hw.pim_programs import Conversion, convert_programs
    from lutcore.sim.pim_model import conversion_io

    programs = convert_programs(cfg)
    bfp, ints = programs[Conversion.FP16_TO_BFP], programs[Conversion.INT_TO_FP16]
    (bfp_in, bfp_out), (int_in, int_out) = (conversion_io(cfg, c) for c in programs)
    cols = cfg.banks * cfg.sram_word_bits
    base = cfg.table_rows
    return [
        "## Stream protocol",
        "",
        "All interfaces are `amaranth.lib.stream` valid/ready streams: a beat transfers on a "
        "rising edge where `valid` and `ready` are both high. `cmd` is the tile's one "
        "instruction (SAIL's): a command is taken only while the tile is idle and no "
        "response waits on `rsp`, so commands run one after another, in order.",
        "",
        "1. `LOAD` (op 1) with `n_slices`, then `n_slices` beats on `a` "
        f"(one K-slice of the {cfg.M} batch rows each). Their tables are written into the "
        f"{cfg.banks} SRAM bank(s), {cfg.entries} rows a slice (slice `s` at rows "
        f"`s*{cfg.entries}` ..); a slice takes {cfg.entries} cycles.",
        "2. `COMPUTE` (op 0; for unsigned weights with `zero[n]`) "
        f"computes one output tile of {cfg.N} columns over all the loaded slices: "
        f"`n_slices * {cfg.w_bits}` weight beats on `w` (one bit plane of a K-slice each, "
        "least significant first; the signed top plane last) and one `y` beat, "
        "`Y[m, n] = sum_k A[m, k] * (Wq[k, n] - zero[n])`, exact. The tables stay until the "
        "next load, so every column group of a layer reuses them.",
        f"3. A step (one plane of one slice for the {cfg.N} columns) takes "
        f"ceil(distinct lookups / {cfg.read_ports}) cycles"
        + (
            "; lookups with the same index share a read and index 0 is not read"
            if cfg.pattern_aware
            else "; every lookup is read"
        )
        + ".",
        f"4. `CONVERT` (op 2) with `program` runs an in-memory conversion on the banks' "
        f"region, rows {base}..{cfg.sram_rows - 1} of every bank: the region holds "
        f"{cols} words in bit-sliced layout, column `c` = bit `c % {cfg.sram_word_bits}` of "
        f"bank `c // {cfg.sram_word_bits}`'s row, region row `r` (bank row {base} + r) one "
        "bit of every word. Program 0 (FP16 -> block FP) reads FP16 words from region rows "
        f"{_rows(bfp, bfp_in)} "
        f"(bit 0 first) and writes their {cfg.a_bits}-bit mantissas, sharing one exponent, "
        f"to rows {_rows(bfp, bfp_out)}; the response's `exp` "
        "is the largest effective exponent field (subnormals 1, infinity 30; 0 when every "
        f"word is zero or NaN); {bank_cycles(bfp, cfg.read_ports)} cycles. Program 1 "
        f"(integer -> FP16) reads signed {len(int_in)}"
        f"-bit integers from rows {_rows(ints, int_in)} "
        f"and writes FP16 words to rows {_rows(ints, int_out)} (`exp` "
        f"0); {bank_cycles(ints, cfg.read_ports)} cycles. Other region rows are the "
        "programs' scratch. The words go in and out with `WRITE` and `READ`.",
        "5. `WRITE` (op 3) writes `wdata` at (`bank`, `row`) in one cycle; `READ` (op 4) "
        "answers one `rsp` beat with the word (`word`).",
        "",
        "## Inputs outside the contract",
        "",
        f"- A load with `n_slices = 0` loads one slice; one above max_slices = "
        f"{cfg.max_slices} (the field is {cfg.slice_count_bits} bits wide) loads "
        f"{cfg.max_slices}, all the SRAM holds, and returns to idle.",
        "- `a` beats outside a load and `w` beats outside a compute are not taken (`ready` "
        "stays low) until the command that needs them.",
        "- A compute's `n_slices` is not used: it runs over the slices of the last load.",
        "- Opcodes 5..7 are taken and do nothing; `CONVERT` with program 2 or 3 runs "
        "nothing and answers `exp` 0. A `WRITE` or `READ` of a bank or row beyond the SRAM "
        "does nothing or answers 0 (it does not wrap onto a real word).",
        "- A conversion reads whatever its input rows hold; rows it did not write keep their "
        "words except its scratch rows. A `LOAD` overwrites only the table rows, so words in "
        "the region survive loads and computes.",
        "",
        "`lutcore.sim.pim_model` is the cycle model the RTL is held to (and, "
        "`convert_region`, the conversions' golden model); "
        "`lutcore.sim.pim_driver` drives these streams from NumPy matrices.",
        "",
        "## Waveform of a short program",
        "",
        "From Amaranth's simulator of this configuration (paste into wavedrom.com). A "
        "`CONVERT` holds `cmd__ready` low for its cycles, then answers on `rsp`.",
        "",
        "```wavedrom",
        json.dumps(wavedrom_pim(cfg), indent=None),
        "```",
        "",
    ]
