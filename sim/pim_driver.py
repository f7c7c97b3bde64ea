"""A host program on the PIM tile in Amaranth's simulator: loads, computes and memory-mode
requests encoded as the tile's beats, run with random gaps and stalls and traced cycle by
cycle; the in-memory converter run the same way, and the FP16 GEMV chained from both.
Results are checked against the golden model and the cycle model
(:mod:`lutcore.sim.pim_model`) by the tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from amaranth.hdl import Shape
from amaranth.sim import Simulator

from lutcore.hw.config import TileConfig
from lutcore.hw.layouts import PimOp, act_layout, cmd_layout
from lutcore.hw.pim_programs import Conversion
from lutcore.hw.pim_tile import PimTile

from . import golden, pim_model
from .harness import receive_beat, send_beat
from .streams import decode_result, encode_weights, pack

__all__ = [
    "Compute",
    "Convert",
    "Load",
    "Read",
    "Trace",
    "Undefined",
    "Write",
    "bit_planes",
    "conversion_ops",
    "convert_in_banks",
    "convert_in_memory",
    "encode_acts",
    "encode_command",
    "expected_result",
    "fp16_gemv",
    "program_streams",
    "run_program",
]


# ---- a host program on the RTL ----------------------------------------------------------


@dataclass
class Load:
    """Write the tables of ``a[M, k]`` (``k`` a multiple of ``K``)."""

    a: np.ndarray


@dataclass
class Compute:
    """One output tile: ``codes[k, N]`` over the resident tables (``k`` the last load's);
    with ``probe_mem`` a ``READ`` of bank 0, row 0 is offered as the next command from the
    start of the run (it must wait until the result has been read)."""

    codes: np.ndarray
    zero: np.ndarray | None = None
    probe_mem: bool = False


@dataclass
class Write:
    bank: int
    row: int
    data: int


@dataclass
class Read:
    bank: int
    row: int


@dataclass
class Convert:
    """Run an in-memory conversion on the banks' region; its response's ``exp`` is traced.
    ``program`` a :class:`Conversion` or a raw 2-bit code (2, 3: no program)."""

    program: Conversion | int


@dataclass
class Undefined:
    """A command whose opcode ``code`` (5..7) is none of :class:`PimOp` (it must do
    nothing)."""

    code: int


@dataclass
class Trace:
    """What the program saw: ``results`` (one ``[M, N]`` per compute), ``reads`` (one word per
    read), ``exps`` and ``convert_cycles`` (per conversion: the response's ``exp``, cycles
    from the command taken to the response offered), ``step_gaps`` (per compute, cycles between
    consecutive weight beats accepted), ``stalled`` (per probing compute: the memory request
    was never accepted during it)."""

    results: list = field(default_factory=list)
    reads: list = field(default_factory=list)
    exps: list = field(default_factory=list)
    convert_cycles: list = field(default_factory=list)
    step_gaps: list = field(default_factory=list)
    stalled: list = field(default_factory=list)
    cycles: int = 0


def encode_command(cfg: TileConfig, op) -> int:
    """The ``cmd`` payload of one operation of a host program."""
    fields = {"op": PimOp.COMPUTE, "n_slices": 0}
    if isinstance(op, Load):
        fields |= {"op": PimOp.LOAD, "n_slices": op.a.shape[1] // cfg.K}
    elif isinstance(op, Compute):
        fields["n_slices"] = op.codes.shape[0] // cfg.K
        if cfg.has_zero_point:
            fields["zero"] = [0] * cfg.N if op.zero is None else [int(z) for z in op.zero]
    elif isinstance(op, Convert | Undefined):
        layout = cmd_layout(cfg)
        code, field = (op.program, "program") if isinstance(op, Convert) else (op.code, "op")
        value = layout.const(fields | {"op": PimOp.CONVERT}).as_value().value
        offset, bits = layout[field].offset, Shape.cast(layout[field].shape).width
        code = code.value if isinstance(code, Conversion) else code
        return value & ~(((1 << bits) - 1) << offset) | (code << offset)
    else:
        write = isinstance(op, Write)
        fields |= {"op": PimOp.WRITE if write else PimOp.READ, "bank": op.bank, "row": op.row}
        fields["wdata"] = op.data if write else 0
    return cmd_layout(cfg).const(fields).as_value().value


def encode_acts(cfg: TileConfig, a: np.ndarray) -> list[int]:
    """The ``a`` beats of a load: one K-slice of the ``M`` rows each."""
    layout = act_layout(cfg)
    return [
        layout.const(a[:, s : s + cfg.K].tolist()).as_value().value
        for s in range(0, a.shape[1], cfg.K)
    ]


def program_streams(cfg: TileConfig, program: list) -> tuple[dict, dict]:
    """The payloads of each input stream and the expected payloads of each output stream for
    a program run with every stream driven at once (the cocotb bench). The tile orders the
    streams itself (commands one after another, activation beats only during a load,
    weights only during a compute); a ``Read`` may only read a word the program wrote and
    no later load overwrote, or a conversion output (from the golden model,
    :func:`lutcore.sim.pim_model.convert_region`)."""
    inputs: dict[str, list[int]] = {"cmd": [], "a": [], "w": []}
    expected: dict[str, list[int]] = {"y": [], "rsp": []}
    memory: dict[tuple[int, int], int] = {}
    exp_shift = cfg.sram_word_bits  # response: word, then exp
    acts = None
    for op in program:
        inputs["cmd"].append(encode_command(cfg, op))
        if isinstance(op, Load):
            acts = op.a
            inputs["a"] += encode_acts(cfg, op.a)
            tables = (op.a.shape[1] // cfg.K) * cfg.entries
            memory = {key: w for key, w in memory.items() if key[1] >= tables}
        elif isinstance(op, Compute):
            for s in range(0, op.codes.shape[0], cfg.K):
                inputs["w"] += encode_weights(cfg, op.codes[s : s + cfg.K])
            expected["y"].append(pack(expected_result(cfg, acts, op), cfg.acc_bits))
        elif isinstance(op, Convert):
            code = op.program.value if isinstance(op.program, Conversion) else op.program
            if code in {c.value for c in Conversion}:
                memory, exp = pim_model.convert_region(cfg, Conversion(code), memory)
            else:
                exp = 0  # no program: nothing runs
            expected["rsp"].append(exp << exp_shift)
        elif isinstance(op, Undefined):
            pass
        elif isinstance(op, Write):
            if op.bank < cfg.banks and op.row < cfg.sram_rows:
                memory[op.bank, op.row] = op.data
        else:
            exists = op.bank < cfg.banks and op.row < cfg.sram_rows
            expected["rsp"].append(memory[op.bank, op.row] if exists else 0)
    return inputs, expected


def run_program(
    cfg: TileConfig, program: list, *, seed: int = 0, p_gap=0.0, p_stall=0.0, waves=None
):
    """Run the operations one after another on :class:`~lutcore.hw.pim_tile.PimTile` in
    Amaranth's simulator (each producer idles before a beat with probability ``p_gap``,
    each consumer drops ``ready`` with probability ``p_stall``) and return a :class:`Trace`.
    ``waves``: a list that gets, per cycle, ``{"<stream>.valid"/".ready": bit}`` of every
    stream (the ports document's waveform)."""
    dut = PimTile(cfg)
    rng = np.random.default_rng(seed)
    trace = Trace()
    clock = {"cycle": 0}
    streams = ("cmd", "a", "w", "y", "rsp")

    async def counter(ctx):
        async for _ in ctx.tick():
            clock["cycle"] += 1
            if waves is not None:
                waves.append(
                    {
                        f"{name}.{flag}": ctx.get(getattr(getattr(dut, name), flag))
                        for name in streams
                        for flag in ("valid", "ready")
                    }
                )

    async def send(ctx, stream, value):
        await send_beat(ctx, stream, value, rng, p_gap, stream.payload.as_value())
        return clock["cycle"]

    async def receive(ctx, stream):
        return await receive_beat(ctx, stream, rng, p_stall)

    async def respond(ctx):
        payload = int(await receive(ctx, dut.rsp))
        return payload & ((1 << cfg.sram_word_bits) - 1), payload >> cfg.sram_word_bits

    async def bench(ctx):
        for op in program:
            taken = await send(ctx, dut.cmd, encode_command(cfg, op))
            if isinstance(op, Load):
                for beat in encode_acts(cfg, op.a):
                    await send(ctx, dut.a, beat)
                await ctx.tick().until(dut.cmd.ready)  # back to idle: the tables are written
            elif isinstance(op, Compute):
                n = op.codes.shape[0] // cfg.K
                if op.probe_mem:  # offered as the next command from the start of the run
                    ctx.set(dut.cmd.payload.as_value(), encode_command(cfg, Read(0, 0)))
                    ctx.set(dut.cmd.valid, 1)
                accepted, probe_taken = [], False
                for s in range(n):
                    for beat in encode_weights(cfg, op.codes[s * cfg.K : (s + 1) * cfg.K]):
                        accepted.append(await send(ctx, dut.w, beat))
                        probe_taken |= bool(ctx.get(dut.cmd.ready)) and op.probe_mem
                payload = await receive(ctx, dut.y)
                trace.results.append(decode_result(cfg, payload))
                trace.step_gaps.append(np.diff(accepted))
                if op.probe_mem:  # the request waits for the run, then is served
                    await ctx.tick().until(dut.cmd.ready)
                    ctx.set(dut.cmd.valid, 0)
                    trace.stalled.append(not probe_taken)
                    trace.reads.append((await respond(ctx))[0])
            elif isinstance(op, Convert):
                await ctx.tick().until(dut.rsp.valid)
                trace.convert_cycles.append(clock["cycle"] - taken)
                trace.exps.append((await respond(ctx))[1])
            elif isinstance(op, Read):
                trace.reads.append((await respond(ctx))[0])
        trace.cycles = clock["cycle"]

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(counter, background=True)
    sim.add_testbench(bench)
    sim.run()
    return trace


def conversion_ops(cfg: TileConfig, program: Conversion, words) -> list:
    """The host program of one conversion on the banks of a block of ``banks *
    sram_word_bits`` words (one word per column, column ``c`` in bank ``c //
    sram_word_bits``): ``WRITE`` commands put the words' bits as bit planes into the
    region's input rows, ``CONVERT`` runs it, ``READ`` commands fetch its output rows
    (:func:`lutcore.sim.pim_model.conversion_io`, bit 0 first, bank by bank)."""
    from lutcore.hw.pim_programs import convert_programs

    rows = convert_programs(cfg)[program].rows
    inputs, outputs = pim_model.conversion_io(cfg, program)
    width, banks, base = cfg.sram_word_bits, cfg.banks, cfg.table_rows
    words = np.asarray(words, np.int64)
    if words.shape != (banks * width,):
        raise ValueError(f"a block is {banks * width} words (banks x sram_word_bits)")
    planes = bit_planes(words, len(inputs), width)
    ops = [
        Write(b, base + rows[name], planes[i][b])
        for i, name in enumerate(inputs)
        for b in range(banks)
    ]
    ops.append(Convert(program))
    return ops + [Read(b, base + rows[name]) for name in outputs for b in range(banks)]


def convert_in_banks(cfg: TileConfig, program: Conversion, blocks, **run):
    """Run conversion ``program`` on the PIM tile's own banks for each block of words, all
    in one host program (:func:`conversion_ops`). Returns ``(words_out, exp, cycles)`` per
    block, ``cycles`` from the command taken to its response offered."""
    ops = [op for words in blocks for op in conversion_ops(cfg, program, words)]
    trace = run_program(cfg, ops, **run)
    width, banks = cfg.sram_word_bits, cfg.banks
    outputs = pim_model.conversion_io(cfg, program)[1]
    per_block = len(outputs) * banks
    results = []
    for n in range(len(blocks)):
        reads = trace.reads[n * per_block : (n + 1) * per_block]
        out = np.zeros(banks * width, np.int64)
        for i in range(len(outputs)):
            for b in range(banks):
                bits = (reads[i * banks + b] >> np.arange(width)) & 1
                out[b * width : (b + 1) * width] |= bits << i
        results.append((out, trace.exps[n], trace.convert_cycles[n]))
    return results


def bit_planes(words: np.ndarray, bits: int, width: int) -> list[list[int]]:
    """``[i][b]``: bit ``i`` of every word as bank ``b``'s word (``width`` columns a bank)."""
    shifts = np.arange(width)
    banks = len(words) // width
    return [
        [
            int((((words[b * width : (b + 1) * width] >> i) & 1) << shifts).sum())
            for b in range(banks)
        ]
        for i in range(bits)
    ]


def expected_result(cfg: TileConfig, a: np.ndarray, op: Compute) -> np.ndarray:
    """The exact ``A[:, :k] @ (codes - zero)`` of a compute over the first ``k`` activations."""
    k = op.codes.shape[0]
    return golden.reference_matmul(cfg, a[:, :k], op.codes, op.zero)


# ---- in-memory type conversion ------------------------------------------------------------


def convert_in_memory(program, blocks: list[np.ndarray], inputs: list[str], outputs: list[str]):
    """Run ``program`` (:mod:`lutcore.hw.pim_convert`) on the engine for each block of words
    (one word per column): the words' bits are written as bit planes into the rows named by
    ``inputs`` (bit ``i`` into ``inputs[i]``), the engine is started, and the rows named by
    ``outputs`` are read back. Returns ``(words_out, recorded, cycles)`` per block
    (unsigned words of ``len(outputs)`` bits; ``recorded`` the engine's register)."""
    from lutcore.hw.pim_convert import PimConvert

    columns = len(blocks[0])
    dut = PimConvert(program, columns)
    results = []
    shifts = np.arange(columns)

    async def bench(ctx):
        for words in blocks:
            words = np.asarray(words, np.int64)
            ctx.set(dut.host_we, 1)
            for bit, name in enumerate(inputs):
                plane = int((((words >> bit) & 1) << shifts).sum())
                ctx.set(dut.host_addr, program.rows[name])
                ctx.set(dut.host_wdata, plane)
                await ctx.tick()
            ctx.set(dut.host_we, 0)
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            cycles = 1
            while ctx.get(dut.busy):
                await ctx.tick()
                cycles += 1
            out = np.zeros(columns, np.int64)
            for bit, name in enumerate(outputs):
                ctx.set(dut.host_addr, program.rows[name])
                await ctx.tick()
                out |= ((ctx.get(dut.host_rdata) >> shifts) & 1) << bit
            results.append((out, ctx.get(dut.exp), cycles))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return results


def fp16_gemv(cfg: TileConfig, x_words: np.ndarray, codes: np.ndarray, zero, *, block: int):
    """``Y = X @ (Wq - z)`` for FP16 activation words ``x_words[M, k]`` on the RTL, the way a
    PIM system runs it: each block of ``block`` activations of each batch row is converted
    to block FP in memory (:class:`~lutcore.hw.pim_convert.PimConvert`, 16-bit mantissas),
    then, block by block, the PIM tile loads the mantissas' tables and computes the block's
    exact integer products; each block's result is scaled by its rows' ``2**X``.

    Returns ``(acc[blocks, M, N], x[M, blocks], q[M, k])``: the tile's integer results per
    block, the block exponents and the mantissas (for checking each stage)."""
    from lutcore.hw.config import FP16
    from lutcore.hw.pim_programs import fp16_to_bfp_program

    if cfg.a_bits != 16 or block % cfg.K:
        raise ValueError(f"fp16_gemv: needs a_bits=16 and a block that is a multiple of K={cfg.K}")
    program = fp16_to_bfp_program(16)
    inputs, outputs = pim_model.conversion_io(cfg, Conversion.FP16_TO_BFP)  # a_bits = 16
    rows, k = x_words.shape
    blocks = x_words.reshape(rows, k // block, block)
    runs = convert_in_memory(
        program, [blocks[r, j] for r in range(rows) for j in range(k // block)], inputs, outputs
    )
    q = np.array([out for out, _, _ in runs]).reshape(rows, k)
    q = np.where(q >> 15, q - (1 << 16), q)
    offset = FP16.bias + FP16.frac_bits + (16 - 2 - FP16.frac_bits)
    x = np.array([max(field, 1) - offset for _, field, _ in runs]).reshape(rows, -1)
    program_ops = []
    for j in range(k // block):
        cols = slice(j * block, (j + 1) * block)
        program_ops += [Load(q[:, cols]), Compute(codes[cols], zero)]
    trace = run_program(cfg, program_ops)
    return np.stack(trace.results), x, q
