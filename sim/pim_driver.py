"""A host program on the PIM tile in Amaranth's simulator: loads, computes and memory-mode
requests encoded as the tile's beats, run with random gaps and stalls and traced cycle by
cycle; the in-memory converter run the same way, and the FP16 GEMV chained from both.
Results are checked against the golden model and the cycle model
(:mod:`lutcore.sim.pim_model`) by the tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from amaranth.sim import Simulator

from lutcore.hw.config import TileConfig
from lutcore.hw.layouts import act_layout, cmd_layout, mem_request_layout
from lutcore.hw.pim_tile import PimTile

from . import golden
from .harness import receive_beat, send_beat
from .streams import decode_result, encode_weights, pack

__all__ = [
    "Compute",
    "Load",
    "Read",
    "Trace",
    "Write",
    "convert_in_memory",
    "encode_acts",
    "encode_command",
    "encode_request",
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
    with ``probe_mem`` a memory-mode read of bank 0, row 0 is offered throughout the run (it
    must stall until the result has been read)."""

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
class Trace:
    """What the program saw: ``results`` (one ``[M, N]`` per compute), ``reads`` (one word per
    read), ``step_gaps`` (per compute, cycles between consecutive weight beats accepted),
    ``stalled`` (per probing compute: the memory request was never accepted during it)."""

    results: list = field(default_factory=list)
    reads: list = field(default_factory=list)
    step_gaps: list = field(default_factory=list)
    stalled: list = field(default_factory=list)
    cycles: int = 0


def encode_command(cfg: TileConfig, load: bool, n_slices: int, zero=None) -> int:
    """A ``cmd`` payload: a table load of ``n_slices`` slices, or a compute with zero points."""
    fields = {"n_slices": n_slices, "load": int(load)}
    if cfg.has_zero_point:
        fields["zero"] = [0] * cfg.N if zero is None else [int(z) for z in zero]
    return cmd_layout(cfg).const(fields).as_value().value


def encode_request(cfg: TileConfig, op: Write | Read) -> int:
    """A ``mem`` payload for a memory-mode write or read."""
    write = isinstance(op, Write)
    fields = {"bank": op.bank, "row": op.row, "write": int(write), "wdata": op.data if write else 0}
    return mem_request_layout(cfg).const(fields).as_value().value


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
    streams itself (activation beats only during a load, weights only during a compute,
    memory requests only while idle), so the program's memory operations must not touch
    rows a load writes, and may only read words the program wrote."""
    inputs: dict[str, list[int]] = {"cmd": [], "a": [], "w": [], "mem": []}
    expected: dict[str, list[int]] = {"y": [], "mem_rsp": []}
    written: dict[tuple[int, int], int] = {}
    acts = None
    for op in program:
        if isinstance(op, Load):
            acts = op.a
            inputs["cmd"].append(encode_command(cfg, True, op.a.shape[1] // cfg.K))
            inputs["a"] += encode_acts(cfg, op.a)
        elif isinstance(op, Compute):
            inputs["cmd"].append(encode_command(cfg, False, op.codes.shape[0] // cfg.K, op.zero))
            for s in range(0, op.codes.shape[0], cfg.K):
                inputs["w"] += encode_weights(cfg, op.codes[s : s + cfg.K])
            expected["y"].append(pack(expected_result(cfg, acts, op), cfg.acc_bits))
        else:
            inputs["mem"].append(encode_request(cfg, op))
            if isinstance(op, Write):
                written[op.bank, op.row] = op.data
            else:
                expected["mem_rsp"].append(written[op.bank, op.row])
    return inputs, expected


def run_program(cfg: TileConfig, program: list, *, seed: int = 0, p_gap=0.0, p_stall=0.0):
    """Run the operations one after another on :class:`~lutcore.hw.pim_tile.PimTile` in
    Amaranth's simulator (each producer idles before a beat with probability ``p_gap``,
    each consumer drops ``ready`` with probability ``p_stall``) and return a :class:`Trace`."""
    dut = PimTile(cfg)
    rng = np.random.default_rng(seed)
    trace = Trace()
    clock = {"cycle": 0}

    async def counter(ctx):
        async for _ in ctx.tick():
            clock["cycle"] += 1

    async def send(ctx, stream, value):
        await send_beat(ctx, stream, value, rng, p_gap, stream.payload.as_value())
        return clock["cycle"]

    async def receive(ctx, stream):
        return await receive_beat(ctx, stream, rng, p_stall)

    async def bench(ctx):
        for op in program:
            if isinstance(op, Load):
                n = op.a.shape[1] // cfg.K
                await send(ctx, dut.cmd, encode_command(cfg, True, n))
                for beat in encode_acts(cfg, op.a):
                    await send(ctx, dut.a, beat)
                await ctx.tick().until(dut.cmd.ready)  # back to idle: the tables are written
            elif isinstance(op, Compute):
                n = op.codes.shape[0] // cfg.K
                await send(ctx, dut.cmd, encode_command(cfg, False, n, op.zero))
                if op.probe_mem:
                    ctx.set(dut.mem.payload.as_value(), encode_request(cfg, Read(0, 0)))
                    ctx.set(dut.mem.valid, 1)
                accepted, taken = [], False
                for s in range(n):
                    for beat in encode_weights(cfg, op.codes[s * cfg.K : (s + 1) * cfg.K]):
                        accepted.append(await send(ctx, dut.w, beat))
                        taken |= bool(ctx.get(dut.mem.ready)) and op.probe_mem
                payload = await receive(ctx, dut.y)
                trace.results.append(decode_result(cfg, payload))
                trace.step_gaps.append(np.diff(accepted))
                if op.probe_mem:  # the request waits for the run, then is served
                    await ctx.tick().until(dut.mem.ready)
                    ctx.set(dut.mem.valid, 0)
                    trace.stalled.append(not taken)
                    trace.reads.append(int(await receive(ctx, dut.mem_rsp)))
            else:
                await send(ctx, dut.mem, encode_request(cfg, op))
                if isinstance(op, Read):
                    trace.reads.append(int(await receive(ctx, dut.mem_rsp)))
        trace.cycles = clock["cycle"]

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(counter, background=True)
    sim.add_testbench(bench)
    sim.run()
    return trace


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
    inputs = [f"f{i}" for i in range(10)] + [f"e{i}" for i in range(5)] + ["s"]
    rows, k = x_words.shape
    blocks = x_words.reshape(rows, k // block, block)
    runs = convert_in_memory(
        program,
        [blocks[r, j] for r in range(rows) for j in range(k // block)],
        inputs,
        [f"q{j}" for j in range(16)],
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
