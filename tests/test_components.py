"""Each block on its own in Amaranth's simulator, against the definitions it implements:
the FP primitives (``fp_add``, ``normalize`` + ``round_pack``, ``fused_sum``) against exact
arithmetic rounded once, the slice buffer against a two-entry FIFO, the tile controller's
issued beats against the schedule they must follow, the PIM lookup unit's results and step
cycles against the table lookups and the cycle model, and the PIM control's SRAM writes and
steps against the table layout."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.hdl import Module, Mux, Shape, signed, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out, connect
from amaranth.sim import Simulator

from lutcore.hw.config import FP16
from lutcore.hw.control import TileControl
from lutcore.hw.fp import fp_add, fused_sum, normalize, round_pack
from lutcore.hw.layouts import beat_layout, step_layout, table_layout, weight_layout
from lutcore.hw.pim_control import PimControl
from lutcore.hw.pim_lookup import PimLookup, lookup_beat_layout
from lutcore.hw.pim_sram import TableSram
from lutcore.hw.presets import PRESETS
from lutcore.hw.slice_buffer import SliceBuffer
from lutcore.sim import fpgolden as fg
from lutcore.sim import pim_driver, pim_model
from lutcore.sim.harness import run, source
from lutcore.sim.streams import encode_cmd, encode_weights, first_mismatch, pack

# ---- floating-point primitives ------------------------------------------------------------


class _Comb(wiring.Component):
    """A combinational block around one primitive: ``build(m, *inputs) -> output``."""

    def __init__(self, inputs: dict, out_width: int, build):
        self._build = build
        super().__init__({**{k: In(v) for k, v in inputs.items()}, "out": Out(out_width)})
        self._names = list(inputs)

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.out.eq(self._build(m, *(getattr(self, n) for n in self._names)))
        return m


def _evaluate(dut: _Comb, vectors: list[dict]) -> list[int]:
    out = []

    async def bench(ctx):
        for vector in vectors:
            for name, value in vector.items():
                ctx.set(getattr(dut, name), value)
            await ctx.delay(1e-9)
            out.append(ctx.get(dut.out))

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    return out


def _finite_fp16(rng, n: int) -> np.ndarray:
    """Finite FP16 words over the whole range: subnormals, zeros, equal magnitudes."""
    words = rng.integers(0, 0x7C00, n) | (rng.integers(0, 2, n) << 15)
    words[: n // 8] = rng.integers(0, 0x400, n // 8)  # subnormals and zeros
    return words


def _value(word: int, fmt) -> tuple[int, int]:
    """``(num, exp)`` with ``num * 2**exp`` the exact value of a finite word."""
    sign, sig, exp, _ = fg.decode(np.array([word]), fmt)
    return (-int(sig[0]) if sign[0] else int(sig[0])), int(exp[0])


def _exact_sum(terms: list[tuple[int, int]]) -> tuple[int, int]:
    low = min(e for _, e in terms)
    return sum(n << (e - low) for n, e in terms), low


@pytest.mark.parametrize("saturate", [False, True])
def test_fp_add_is_the_exact_sum_rounded_once(saturate):
    """Against the exact sum rounded once; overflowing sums (both near 65504, one sign) give
    infinity, or with ``saturate`` (the FP16 accumulators) the largest finite number."""
    rng = np.random.default_rng(1)
    a, b = _finite_fp16(rng, 600), _finite_fp16(rng, 600)
    b[:40] = a[:40] ^ 0x8000  # exact cancellation: +0
    b[40:80] = a[40:80] + rng.integers(-2, 3, 40)  # near-cancellation
    b[40:80] &= 0xFBFF
    big = rng.integers(0x7800, 0x7BFF, 40, endpoint=True) | (rng.integers(0, 2, 40) << 15)
    a[80:120], b[80:120] = big, big ^ rng.integers(0, 0x100, 40)  # overflows
    dut = _Comb(
        {"a": 16, "b": 16}, 16, lambda m, x, y: fp_add(m, FP16, x, y, "add", saturate=saturate)
    )
    got = _evaluate(dut, [{"a": int(x), "b": int(y)} for x, y in zip(a, b, strict=True)])
    want = np.array(
        [
            fg.round_to_format(*_exact_sum([_value(x, FP16), _value(y, FP16)]), FP16)
            for x, y in zip(a, b, strict=True)
        ]
    )
    infinite = (want & 0x7FFF) == 0x7C00
    assert infinite.sum() >= 20  # the overflow cases are there
    if saturate:
        want = np.where(infinite, want - 1, want)  # 0x7BFF / 0xFBFF: +-65504
    problem = first_mismatch(np.array(got), want)
    assert problem is None, problem


def test_carry_select_add_is_the_wrapped_signed_sum():
    """The carry-select adder (the fixed-point row sums) against Python's sum wrapped to its
    width, for narrower signed operands (sign-extended), carries across every segment
    boundary (all-ones segments plus one) and wrap-around."""
    from lutcore.hw.util import carry_select_add

    width, segment = 23, 5
    rng = np.random.default_rng(6)
    a = [*rng.integers(-(1 << 22), 1 << 22, 300), (1 << 22) - 1, -1, -(1 << 22), 0b11111]
    b = [*rng.integers(-(1 << 17), 1 << 17, 300), 1, 1, -1, 1]
    dut = _Comb(
        {"a": signed(23), "b": signed(18)},
        signed(width),
        lambda m, x, y: carry_select_add(m, x, y, width, segment, "sum"),
    )
    got = _evaluate(dut, [{"a": int(x), "b": int(y)} for x, y in zip(a, b, strict=True)])
    wrap = 1 << width
    want = [((int(x) + int(y) + wrap // 2) % wrap) - wrap // 2 for x, y in zip(a, b, strict=True)]
    problem = first_mismatch(np.array(got), np.array(want))
    assert problem is None, problem


def test_carry_save_sum_is_the_wrapped_signed_sum():
    """The carry-save sum (the FP16 MAC's exact dot products) of five signed terms of
    different widths against Python's sum wrapped to its width, sums that wrap included."""
    from lutcore.hw.util import carry_save_sum

    width = 21
    rng = np.random.default_rng(7)
    widths = [21, 21, 14, 9, 3]
    vectors = [
        {f"v{i}": int(rng.integers(-(1 << (w - 1)), 1 << (w - 1))) for i, w in enumerate(widths)}
        for _ in range(300)
    ]
    vectors.append({f"v{i}": (1 << (w - 1)) - 1 for i, w in enumerate(widths)})  # wraps
    vectors.append({f"v{i}": -(1 << (w - 1)) for i, w in enumerate(widths)})
    dut = _Comb(
        {f"v{i}": signed(w) for i, w in enumerate(widths)},
        signed(width),
        lambda m, *vs: carry_save_sum(m, list(vs), width, 4, "sum"),
    )
    got = _evaluate(dut, vectors)
    wrap = 1 << width
    want = [(sum(v.values()) + wrap // 2) % wrap - wrap // 2 for v in vectors]
    problem = first_mismatch(np.array(got), np.array(want))
    assert problem is None, problem


def test_normalize_and_round_pack_round_once_to_nearest_even():
    """Every magnitude width through ``normalize``, then ``round_pack`` to FP16: the exact
    value ``(-1)**s * mag * 2**exp`` rounded once (subnormals, overflow to infinity, +0)."""
    rng = np.random.default_rng(2)
    width = 23

    def build(m, mag, exp, sign, nan):
        return round_pack(m, FP16, sign, normalize(m, mag, exp, "n"), nan, "w")

    dut = _Comb({"mag": width, "exp": signed(7), "sign": 1, "nan": 1}, 16, build)
    mags = rng.integers(0, 1 << width, 500) >> rng.integers(0, width, 500)
    exps = rng.integers(-50, 20, 500)
    signs = rng.integers(0, 2, 500)
    vectors = [
        {"mag": int(m_), "exp": int(e), "sign": int(s), "nan": 0}
        for m_, e, s in zip(mags, exps, signs, strict=True)
    ]
    vectors.append({"mag": 5, "exp": 0, "sign": 0, "nan": 1})
    got = _evaluate(dut, vectors)
    want = [
        fg.round_to_format(-v["mag"] if v["sign"] else v["mag"], v["exp"], FP16)
        for v in vectors[:-1]
    ]
    # round_to_format gives +0 for an exact zero of either sign; an underflow keeps its sign
    want.append(FP16.canonical_nan)
    problem = first_mismatch(np.array(got), np.array(want))
    assert problem is None, problem


def test_fused_sum_aligns_truncates_and_rounds_once():
    """Four terms: aligned to the largest live exponent keeping ALIGN_EXTRA_BITS bits,
    truncated, summed exactly, rounded once to FP32 (the definition in the golden model)."""
    rng = np.random.default_rng(3)
    n, terms, sig_bits = 400, 4, 22

    def build(m, *ports):
        pairs = [(ports[3 * t], ports[3 * t + 1], ports[3 * t + 2]) for t in range(terms)]
        return fused_sum(m, pairs, -64, "fs")

    inputs = {}
    for t in range(terms):
        inputs |= {f"s{t}": 1, f"m{t}": unsigned(sig_bits), f"e{t}": signed(8)}
    dut = _Comb(inputs, 32, build)
    sign = rng.integers(0, 2, (n, terms))
    sig = rng.integers(0, 1 << sig_bits, (n, terms)) >> rng.integers(0, sig_bits, (n, terms))
    exp = rng.integers(-40, 40, (n, terms))
    sig[:20, 1:] = 0  # one live term
    sig[20:30] = 0  # all zero: +0
    vectors = [
        {
            f"{k}{t}": int(v[i, t])
            for t in range(terms)
            for k, v in (("s", sign), ("m", sig), ("e", exp))
        }
        for i in range(n)
    ]
    got = _evaluate(dut, vectors)
    want = fg.fused_sum(sign, sig, exp)
    problem = first_mismatch(np.array(got), want)
    assert problem is None, problem


# ---- the slice buffer ---------------------------------------------------------------------


def test_slice_buffer_is_a_two_entry_fifo():
    """Slices come out of ``current`` in order, each exactly once, at most two held; a slice
    is taken whenever fewer than two are held or one is released in that cycle."""
    layout = unsigned(8)
    dut = SliceBuffer(layout)
    rng = np.random.default_rng(4)
    slices = [int(v) for v in rng.integers(0, 256, 200)]
    used: list[int] = []

    async def consumer(ctx):
        held = 0
        while len(used) < len(slices):
            release = int(rng.random() < 0.45)
            cur_valid, nxt_valid = ctx.get(dut.slots.cur_valid), ctx.get(dut.slots.nxt_valid)
            ctx.set(dut.slots.consumed, release & cur_valid)
            held = cur_valid + nxt_valid
            assert ctx.get(dut.i.ready) == int(held < 2 or (release and cur_valid))
            if release and cur_valid:
                used.append(ctx.get(dut.current))
            await ctx.tick()
            ctx.set(dut.slots.consumed, 0)

    run(dut, consumer, background=[source(dut.i, slices, rng, 0.3, flat=False)])
    assert used == slices


# ---- the tile controller ------------------------------------------------------------------


def _fields(layout, bits: int) -> dict[str, int]:
    """The top-level fields of a struct layout's flat value, as integers."""
    return {
        name: (int(bits) >> f.offset) & ((1 << Shape.cast(f.shape).width) - 1) for name, f in layout
    }


@pytest.mark.parametrize("name", ["utable_w1", "g2_signed4", "mac_bitparallel_signed4"])
def test_tile_control_issues_the_schedule(name):
    """With the table buffer and the accumulators always ready, every weight beat issues in
    order with its control: ``t`` counts beats in a slice, ``first``/``slice_last``/
    ``tile_last`` mark the tile's boundaries for the command's ``n_slices`` (0 acts as 1),
    ``zbits`` are the zero point's bits of that beat, ``neg`` marks the signed top plane;
    the command is accepted with the tile's last beat."""
    cfg = PRESETS[name].replace(N=3)
    dut = TileControl(cfg)
    rng = np.random.default_rng(5)
    tiles = [(int(n), rng.integers(0, 1 << cfg.w_bits, cfg.N)) for n in (2, 0, 3, 1)]
    beats = cfg.beats_per_slice
    want = []
    for n_slices, zero in tiles:
        n = max(n_slices, 1)
        for s in range(n):
            for t in range(beats):
                zbits = [
                    (int(z) >> (t * cfg.planes_per_cycle)) & ((1 << cfg.planes_per_cycle) - 1)
                    for z in zero
                ]
                want.append(
                    dict(
                        t=t,
                        first=int(s == 0 and t == 0),
                        slice_last=int(t == beats - 1),
                        tile_last=int(s == n - 1 and t == beats - 1),
                        neg=int(t == beats - 1 and cfg.weight_format == "signed"),
                        zbits=zbits if cfg.has_zero_point else None,
                    )
                )
    width = Shape.cast(weight_layout(cfg)).width
    weights = [int(v) for v in rng.integers(0, 1 << min(width, 62), len(want))]
    cmds = [encode_cmd(cfg, n, zero if cfg.has_zero_point else None) for n, zero in tiles]
    got = []

    async def array(ctx):
        ctx.set(dut.slots.cur_valid, 1)
        ctx.set(dut.slots.nxt_valid, 1)
        ctx.set(dut.acc_free, 1)
        accepted = 0
        while len(got) < len(want):
            *_, valid, bits, cmd_taken = await ctx.tick().sample(
                dut.beat.valid, dut.beat.payload.as_value(), dut.cmd.ready & dut.cmd.valid
            )
            accepted += cmd_taken
            if valid:
                field = _fields(beat_layout(cfg), bits)
                ppc = cfg.planes_per_cycle
                got.append(
                    dict(
                        t=field["t"],
                        first=field["first"],
                        slice_last=field["slice_last"],
                        tile_last=field["tile_last"],
                        neg=field["neg"],
                        zbits=[
                            (field["zbits"] >> (n * ppc)) & ((1 << ppc) - 1) for n in range(cfg.N)
                        ]
                        if cfg.has_zero_point
                        else None,
                        planes=field["planes"],
                    )
                )
                if field["tile_last"]:
                    assert accepted == sum(g["tile_last"] for g in got), "cmd not taken at tile end"

    run(
        dut,
        array,
        background=[source(dut.w, weights, rng, 0.2), source(dut.cmd, cmds, rng, 0.2)],
    )
    assert [g["planes"] for g in got] == weights[: len(got)]
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        g = {k: v for k, v in g.items() if k != "planes"}
        assert g == w, f"beat {i}: {g} != {w}"


def test_tile_control_waits_for_tables_and_accumulators():
    """No beat issues without a table; a tile's first beat waits until the accumulators are
    free."""
    cfg = PRESETS["utable_w1"].replace(pipeline=0)
    dut = TileControl(cfg)
    issued = []

    async def bench(ctx):
        ctx.set(dut.w.valid, 1)
        ctx.set(dut.cmd.valid, 1)
        ctx.set(dut.cmd.payload.as_value(), encode_cmd(cfg, 1, np.zeros(cfg.N, np.int64)))
        for cur, free in [(0, 1), (0, 0), (1, 0), (1, 1)]:
            ctx.set(dut.slots.cur_valid, cur)
            ctx.set(dut.acc_free, free)
            await ctx.delay(1e-9)
            issued.append(ctx.get(dut.beat.valid))

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    assert issued == [0, 0, 0, 1]


# ---- the PIM lookup unit ------------------------------------------------------------------


class _LookupWithSram(wiring.Component):
    """The lookup unit on the table SRAM, the SRAM's write port left to the bench."""

    def __init__(self, cfg):
        self.cfg = cfg
        banks, word = cfg.banks, cfg.sram_word_bits
        addr = step_layout(cfg)["base"].shape
        super().__init__(
            {
                "step": In(stream.Signature(step_layout(cfg))),
                "o": Out(stream.Signature(lookup_beat_layout(cfg), always_ready=True)),
                "wr_addr": In(addr),
                "wr_bank": In(range(banks)),
                "wr_en": In(1),
                "wr_data": In(word),
            }
        )

    def elaborate(self, platform):
        cfg = self.cfg
        m = Module()
        m.submodules.lookup = lookup = PimLookup(cfg)
        m.submodules.sram = sram = TableSram(cfg)
        connect(m, wiring.flipped(self.step), lookup.step)
        connect(m, lookup.o, wiring.flipped(self.o))
        m.d.comb += [
            sram.bus.rd_addr.eq(lookup.rd_addr),
            sram.bus.rd_en.eq(lookup.rd_en),
            lookup.rd_data.eq(sram.bus.rd_data),
        ]
        for b in range(cfg.banks):
            m.d.comb += [
                sram.bus.wr_addr[b].eq(self.wr_addr),
                sram.bus.wr_data[b].eq(self.wr_data),
                sram.bus.wr_en[b].eq(Mux(self.wr_en & (self.wr_bank == b), -1, 0)),  # every bit
            ]
        return m


def _entry(word: int, row: int, bits: int) -> int:
    v = (word >> (row * bits)) & ((1 << bits) - 1)
    return v - (1 << bits) if v >> (bits - 1) else v


@pytest.mark.parametrize(
    "name, changes",
    [
        ("pim_b4", {}),  # pattern-aware, one read port, two banks
        ("gate_pim", {"read_ports": 2}),
        ("gate_pim", {"pattern_aware": False}),
    ],
)
def test_pim_lookup_gathers_entries_in_the_modelled_cycles(name, changes):
    """Each step's values are ``sum_c T_c[idx_c, n]`` per batch row (index 0 gives 0), read
    from the SRAM at ``base + idx - 1``; back-to-back steps are accepted exactly
    ``step_cycles`` apart (the cycle model of :mod:`lutcore.sim.pim_model`)."""
    cfg = PRESETS[name].replace(**changes)
    dut = _LookupWithSram(cfg)
    rng = np.random.default_rng(6)
    words = rng.integers(0, 1 << cfg.sram_word_bits, (cfg.banks, cfg.sram_rows))
    n_steps = 24
    codes = rng.integers(0, 1 << cfg.g, (n_steps, cfg.banks, cfg.N))
    codes[: n_steps // 2] %= 3  # repeated patterns and zeros: shared reads
    bases = rng.integers(0, cfg.max_slices, n_steps) * cfg.entries
    steps = []
    for i in range(n_steps):
        planes = [
            sum(int(codes[i, c, n]) << (c * cfg.g) for c in range(cfg.banks)) for n in range(cfg.N)
        ]
        steps.append(
            step_layout(cfg).const(
                {
                    "planes": planes,
                    "base": int(bases[i]),
                    "t": 0,
                    "first": int(i == 0),
                    "tile_last": 0,
                    "neg": 0,
                }
            )
        )
    got, accepted = [], []

    async def bench(ctx):
        for b in range(cfg.banks):
            for r in range(cfg.sram_rows):
                ctx.set(dut.wr_bank, b)
                ctx.set(dut.wr_addr, r)
                ctx.set(dut.wr_data, int(words[b, r]))
                ctx.set(dut.wr_en, 1)
                await ctx.tick()
        ctx.set(dut.wr_en, 0)
        cycle = 0
        sent = 0
        while len(got) < n_steps:
            if sent < n_steps:
                ctx.set(dut.step.valid, 1)
                ctx.set(dut.step.payload, steps[sent])
            else:
                ctx.set(dut.step.valid, 0)
            _, _, ready, o_valid, o = await ctx.tick().sample(
                dut.step.ready, dut.o.valid, dut.o.payload
            )
            if sent < n_steps and ready:
                accepted.append(cycle)
                sent += 1
            if o_valid:
                got.append([[int(o.values[mm][n]) for n in range(cfg.N)] for mm in range(cfg.M)])
            cycle += 1
            assert cycle < 10_000

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    for i in range(n_steps):
        want = [
            [
                sum(
                    _entry(int(words[c, bases[i] + codes[i, c, n] - 1]), mm, cfg.entry_bits)
                    for c in range(cfg.banks)
                    if codes[i, c, n]
                )
                for n in range(cfg.N)
            ]
            for mm in range(cfg.M)
        ]
        problem = first_mismatch(np.array(got[i]), np.array(want))
        assert problem is None, f"step {i}: {problem}"
    model = pim_model.step_cycles(cfg, codes)
    gaps = np.diff(accepted)
    assert list(gaps) == list(model[:-1]), f"accepted {list(gaps)}, modelled {list(model[:-1])}"


# ---- the PIM control ----------------------------------------------------------------------


def test_pim_control_writes_tables_and_issues_steps():
    """A load writes slice ``s``'s entry ``e`` of every batch row at row ``s*entries + e`` of
    bank ``c`` (row ``m`` at bit ``m*entry_bits``) and sums each row's ``S``; a compute turns
    each weight beat into a step of that slice's base row, plane ``t`` and the tile's
    boundaries; no command (a memory read) is taken during a run."""
    cfg = PRESETS["pim_b4"].replace(max_k=24)
    dut = PimControl(cfg)
    rng = np.random.default_rng(7)
    n_slices = 3
    layout = table_layout(cfg)
    lo, hi = -(1 << (cfg.entry_bits - 1)), (1 << (cfg.entry_bits - 1)) - 1
    tables = rng.integers(lo, hi, (n_slices, cfg.M, cfg.chunks, cfg.entries), endpoint=True)
    totals = rng.integers(-100, 100, (n_slices, cfg.M))
    beats = [
        layout.const({"entries": tables[s].tolist(), "total": totals[s].tolist()})
        for s in range(n_slices)
    ]
    writes: dict[tuple[int, int], int] = {}
    steps = []
    codes = rng.integers(0, 1 << cfg.w_bits, (n_slices * cfg.K, cfg.N))
    weight_beats = [
        w for s in range(n_slices) for w in encode_weights(cfg, codes[s * cfg.K : (s + 1) * cfg.K])
    ]

    async def bench(ctx):
        ctx.set(dut.cmd.payload.as_value(), encode_cmd_load(cfg, True, n_slices))
        ctx.set(dut.cmd.valid, 1)
        await ctx.tick().until(dut.cmd.ready)
        ctx.set(dut.cmd.valid, 0)
        for beat in beats:
            ctx.set(dut.tables.payload, beat)
            ctx.set(dut.tables.valid, 1)
            while True:
                _, _, ready, wr_en, wr_addr, wr_data = await ctx.tick().sample(
                    dut.tables.ready, dut.wr_en, dut.wr_addr, dut.wr_data
                )
                _record(cfg, writes, wr_en, wr_addr, wr_data)
                if ready:
                    break
        ctx.set(dut.tables.valid, 0)
        for _ in range(cfg.entries + 2):
            _, _, wr_en, wr_addr, wr_data = await ctx.tick().sample(
                dut.wr_en, dut.wr_addr, dut.wr_data
            )
            _record(cfg, writes, wr_en, wr_addr, wr_data)
        assert [int(v) for v in ctx.get(dut.totals)] == totals.sum(axis=0).tolist()
        # compute: one step per weight beat, the memory port stalled meanwhile
        ctx.set(
            dut.cmd.payload.as_value(),
            encode_cmd_load(cfg, False, n_slices, np.zeros(cfg.N, np.int64)),
        )
        ctx.set(dut.cmd.valid, 1)
        await ctx.tick().until(dut.cmd.ready)
        # a memory read offered as the next command: not taken during the run
        ctx.set(dut.cmd.payload.as_value(), pim_driver.encode_command(cfg, pim_driver.Read(0, 0)))
        ctx.set(dut.step.ready, 1)
        for w in weight_beats:
            ctx.set(dut.w.payload.as_value(), w)
            ctx.set(dut.w.valid, 1)
            _, _, taken, step, cmd_ready = await ctx.tick().sample(
                dut.w.ready, dut.step.payload, dut.cmd.ready
            )
            assert not cmd_ready, "a command was taken during a run"
            if taken:
                steps.append((int(step.base), int(step.t), int(step.first), int(step.tile_last)))
            else:
                raise AssertionError("a weight beat was not taken with the step stream ready")
        ctx.set(dut.w.valid, 0)
        ctx.set(dut.cmd.valid, 0)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    for s in range(n_slices):
        for c in range(cfg.chunks):
            for e in range(cfg.entries):
                want = pack([tables[s, mm, c, e] for mm in range(cfg.M)], cfg.entry_bits)
                assert writes.get((c, s * cfg.entries + e)) == want, (s, c, e)
    assert len(writes) == n_slices * cfg.chunks * cfg.entries
    want_steps = [
        (s * cfg.entries, t, int(s == 0 and t == 0), int(s == n_slices - 1 and t == cfg.w_bits - 1))
        for s in range(n_slices)
        for t in range(cfg.w_bits)
    ]
    assert steps == want_steps


def _record(cfg, writes, wr_en, wr_addr, wr_data) -> None:
    every = (1 << cfg.sram_word_bits) - 1
    for b in range(cfg.banks):
        enable = int(wr_en[b])
        assert enable in (0, every), f"bank {b}: a table write enables {enable:#x}, not every bit"
        if enable:
            writes[(b, int(wr_addr[b]))] = int(wr_data[b])


def encode_cmd_load(cfg, load: bool, n_slices: int, zero=None) -> int:
    if load:
        return pim_driver.encode_command(cfg, pim_driver.Load(np.zeros((cfg.M, n_slices * cfg.K))))
    codes = np.zeros((n_slices * cfg.K, cfg.N), np.int64)
    return pim_driver.encode_command(cfg, pim_driver.Compute(codes, zero))
