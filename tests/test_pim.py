"""The SRAM-PIM tile: batched LUT-GEMV bit-exact for B in {1, 4, 8}, its lookup schedule
cycle for cycle against the model, and the dual-mode (memory / compute) contract."""

from __future__ import annotations

import numpy as np
import pytest

from lutcore.hw.config import TileConfig, tile_config
from lutcore.sim import pim_driver, pim_model
from lutcore.sim.streams import first_mismatch, pack

CFGS = {
    # B = 1: three-bit unsigned weights with zero points, two banks, one read port
    "b1": tile_config(arch="pim", M=1, N=4, K=8, symmetric=False, w_bits=3, max_k=64),
    # B = 4: signed four-bit weights, one bank with two read ports, pipelined accumulate
    "b4_signed_r2": tile_config(
        arch="pim",
        M=4,
        N=4,
        K=4,
        symmetric=False,
        w_bits=4,
        weight_format="signed",
        read_ports=2,
        max_k=64,
        pipeline=2,
    ),
    # B = 8: 2-bit tables in four banks, every lookup read (no pattern awareness)
    "b8_all_reads": tile_config(
        arch="pim",
        M=8,
        N=3,
        K=8,
        g=2,
        symmetric=False,
        w_bits=2,
        pattern_aware=False,
        a_bits=4,
        max_k=48,
    ),
}


def _codes(cfg: TileConfig, k: int, rng, *, repeats: bool = False) -> np.ndarray:
    lo, hi = (-(1 << (cfg.w_bits - 1)), (1 << (cfg.w_bits - 1)) - 1)
    if cfg.weight_format == "unsigned":
        lo, hi = 0, (1 << cfg.w_bits) - 1
    codes = rng.integers(lo, hi, (k, cfg.N), endpoint=True)
    if repeats:  # real weights repeat patterns: copy columns and zero some chunks
        codes[:, 1:] = np.where(rng.random((k, cfg.N - 1)) < 0.5, codes[:, :1], codes[:, 1:])
        codes[rng.random(k) < 0.3] = 0 if cfg.weight_format == "signed" else lo
    return codes


def _zero(cfg: TileConfig, rng):
    return rng.integers(0, 1 << cfg.w_bits, cfg.N) if cfg.has_zero_point else None


@pytest.mark.parametrize("name", CFGS)
def test_batched_gemv_is_bit_exact(name):
    """One table load serves several output tiles (column groups), then a shorter load
    replaces the tables; every result word equals the integer matmul, under random gaps and
    backpressure; extremes included (all-minimum activations, extreme codes)."""
    cfg = CFGS[name]
    rng = np.random.default_rng(4)
    k = cfg.max_k
    a = rng.integers(*cfg.a_range, (cfg.M, k), endpoint=True)
    a[0, : k // 2] = cfg.a_range[0]
    ops = [pim_driver.Load(a)]
    ops += [pim_driver.Compute(_codes(cfg, k, rng), _zero(cfg, rng)) for _ in range(3)]
    extreme = np.full((k, cfg.N), (1 << cfg.w_bits) - 1 if cfg.has_zero_point else -1)
    ops.append(
        pim_driver.Compute(extreme, np.zeros(cfg.N, np.int64) if cfg.has_zero_point else None)
    )
    short = rng.integers(*cfg.a_range, (cfg.M, k - cfg.K), endpoint=True)
    ops += [
        pim_driver.Load(short),
        pim_driver.Compute(_codes(cfg, k - cfg.K, rng, repeats=True), _zero(cfg, rng)),
    ]
    trace = pim_driver.run_program(cfg, ops, seed=7, p_gap=0.25, p_stall=0.35)
    computes = [
        (op, a if i < 5 else short)
        for i, op in enumerate(ops)
        if isinstance(op, pim_driver.Compute)
    ]
    assert len(trace.results) == len(computes)
    for i, ((op, acts), got) in enumerate(zip(computes, trace.results, strict=True)):
        problem = first_mismatch(got, pim_driver.expected_result(cfg, acts, op))
        assert problem is None, f"compute {i}: {problem}"


@pytest.mark.parametrize("name", CFGS)
def test_step_cycles_match_the_schedule_model(name):
    """Unthrottled, consecutive weight beats are accepted exactly the model's step cycles
    apart, on random weights and on weights with repeated patterns and zero chunks."""
    cfg = CFGS[name]
    rng = np.random.default_rng(8)
    a = rng.integers(*cfg.a_range, (cfg.M, cfg.max_k), endpoint=True)
    ops = [pim_driver.Load(a)] + [
        pim_driver.Compute(_codes(cfg, cfg.max_k, rng, repeats=r), _zero(cfg, rng)) for r in (0, 1)
    ]
    trace = pim_driver.run_program(cfg, ops)
    for op, gaps in zip(ops[1:], trace.step_gaps, strict=True):
        model = pim_model.step_cycles(cfg, pim_model.step_indices(cfg, op.codes)).ravel()
        assert list(gaps) == list(model[:-1])


def test_schedule_model_counts_distinct_nonzero_patterns():
    """The definition on a hand example: one bank, columns with indices 0, 3, 3, 5."""
    base = tile_config(arch="pim", M=1, N=4, K=4, symmetric=False, max_k=4)
    idx = np.array([[0, 3, 3, 5]])
    assert pim_model.step_cycles(base, idx) == 2  # reads 3 and 5; 0 is the constant 0
    assert pim_model.step_cycles(base.replace(pattern_aware=False), idx) == 4
    assert pim_model.step_cycles(base.replace(read_ports=2), idx) == 1
    assert pim_model.step_cycles(base.replace(read_ports=2, pattern_aware=False), idx) == 2
    assert pim_model.step_cycles(base, np.array([[0, 0, 0, 0]])) == 1  # a step takes a cycle


def _table_rows(cfg: TileConfig, n_slices: int) -> int:
    return n_slices * cfg.entries


def test_memory_mode_data_survives_compute_runs_and_traffic_between_runs():
    """Words written in memory mode to rows the run does not use read back unchanged after a
    load and compute runs; the compute results are the same before and after memory traffic
    between the runs (and exact)."""
    cfg = CFGS["b1"]
    rng = np.random.default_rng(9)
    k = cfg.max_k // 2  # the run uses the lower half of every bank
    a = rng.integers(*cfg.a_range, (cfg.M, k), endpoint=True)
    rows = range(_table_rows(cfg, k // cfg.K), cfg.sram_rows)
    words = {
        (b, r): int(rng.integers(0, 1 << cfg.sram_word_bits))
        for b in range(cfg.banks)
        for r in rng.choice(rows, 6, replace=False)
    }
    job = pim_driver.Compute(_codes(cfg, k, rng), _zero(cfg, rng))
    ops = [pim_driver.Write(b, r, w) for (b, r), w in words.items()]
    ops += [pim_driver.Load(a), job]
    ops += [pim_driver.Write(b, r, w ^ 1) for (b, r), w in words.items()]  # traffic between runs
    ops += [pim_driver.Read(b, r) for (b, r) in words]
    ops += [job]
    trace = pim_driver.run_program(cfg, ops, seed=3, p_gap=0.2, p_stall=0.2)
    assert trace.reads == [w ^ 1 for w in words.values()]
    want = pim_driver.expected_result(cfg, a, job)
    assert first_mismatch(trace.results[0], want) is None
    assert first_mismatch(trace.results[1], want) is None

    # and the first writes survived the load and the first compute run
    ops = [pim_driver.Write(b, r, w) for (b, r), w in words.items()] + [pim_driver.Load(a), job]
    ops += [pim_driver.Read(b, r) for (b, r) in words]
    trace = pim_driver.run_program(cfg, ops, seed=4)
    assert trace.reads == list(words.values())


def test_memory_request_during_a_run_stalls_then_is_served():
    """A memory-mode read offered for the whole compute run is not accepted until the run's
    result has been read; then it returns the word the load wrote (bank 0, row 0: entry
    T[1] = a[m, 0] of every batch row)."""
    cfg = CFGS["b4_signed_r2"]
    rng = np.random.default_rng(10)
    a = rng.integers(*cfg.a_range, (cfg.M, cfg.max_k), endpoint=True)
    job = pim_driver.Compute(_codes(cfg, cfg.max_k, rng), probe_mem=True)
    trace = pim_driver.run_program(cfg, [pim_driver.Load(a), job], p_stall=0.3)
    assert trace.stalled == [True]
    assert trace.reads == [pack(a[:, 0], cfg.entry_bits)]
    assert first_mismatch(trace.results[0], pim_driver.expected_result(cfg, a, job)) is None


def test_memory_requests_beyond_the_sram_change_nothing():
    """Three banks (the bank field holds 0..3) and 3 * 15 table rows plus the conversion
    region (the row field 0..127): a write to bank 3 or to the row after the SRAM is
    dropped (it does not wrap onto a real word), a read there returns 0."""
    cfg = tile_config(arch="pim", M=1, N=2, K=12, symmetric=False, max_k=36)
    assert cfg.banks == 3 and cfg.table_rows == 45 and cfg.sram_rows < 128  # row field: 7 bits
    last = cfg.sram_rows - 1
    ops = [pim_driver.Write(b, r, 0x155 + b + r) for b in range(3) for r in (1, 44, last)]
    ops += [
        pim_driver.Write(0, cfg.sram_rows, 0x2AA),  # no such row
        pim_driver.Write(3, 1, 0x2AA),  # no such bank
        *[pim_driver.Read(b, r) for b in range(3) for r in (1, 44, last)],
        pim_driver.Read(0, cfg.sram_rows),
        pim_driver.Read(3, 1),
    ]
    trace = pim_driver.run_program(cfg, ops)
    assert trace.reads == [0x155 + b + r for b in range(3) for r in (1, 44, last)] + [0, 0]


def test_pattern_awareness_saves_more_on_real_weights_than_on_random_ones():
    """Real 2-bit RTN weights (MiniLM query layer) repeat index patterns and have more
    all-zero chunks than uniform random codes: the schedule model saves more on them, and
    never costs a cycle."""
    from lutcore.sim import model, quant

    from .support import in_ci

    try:
        w = model.layer_weight("query")
    except model.ModelMissing as exc:
        if in_ci():
            pytest.fail(f"CI=true and {exc}")
        pytest.skip(str(exc))
    cfg = tile_config(arch="pim", M=4, N=8, K=8, symmetric=False, w_bits=2, max_k=384)
    real = quant.quantize_rtn(w, 2, 128).codes
    rand = np.random.default_rng(0).integers(0, 4, real.shape)
    saving = {}
    for name, codes in (("real", real), ("random", rand)):
        _, aware = pim_model.gemv_cycles(cfg, codes, pattern_aware=True)
        _, every = pim_model.gemv_cycles(cfg, codes, pattern_aware=False)
        assert aware <= every
        saving[name] = 1 - aware / every
    assert saving["real"] > saving["random"] > 0.05, saving


# ---- in-memory type conversion (bit-serial, word-parallel) ---------------------------------


@pytest.mark.parametrize("a_bits", [16, 8])
def test_in_memory_fp16_to_block_fp_matches_golden(a_bits):
    """The engine's FP16 -> block-FP program on blocks with every special value (infinities,
    NaNs, subnormals, zeros, -0, round-ups into saturation): every mantissa and the block
    exponent equal :func:`fpgolden.to_bfp`; the run takes the program's length in cycles."""
    from lutcore.hw.config import FP16
    from lutcore.hw.pim_programs import fp16_to_bfp_program
    from lutcore.sim import fpgolden as fg

    from .support import special_blocks

    program = fp16_to_bfp_program(a_bits)
    blocks = special_blocks(FP16, 16, np.random.default_rng(a_bits))
    inputs = [f"f{i}" for i in range(10)] + [f"e{i}" for i in range(5)] + ["s"]
    outputs = [f"q{j}" for j in range(a_bits)]
    runs = pim_driver.convert_in_memory(program, list(blocks), inputs, outputs)
    for b, (words, (q, field, cycles)) in enumerate(zip(blocks, runs, strict=True)):
        want, x, _, _ = fg.to_bfp(words, FP16, 16, a_bits, "rne")
        q = np.where(q >> (a_bits - 1), q - (1 << a_bits), q)
        assert first_mismatch(q, want) is None, f"block {b}: {first_mismatch(q, want)}"
        # the block exponent from the recorded field (an all-zero block: field 1, min_exp)
        assert max(field, 1) - FP16.bias - FP16.frac_bits - (a_bits - 2 - FP16.frac_bits) == x[0]
        assert cycles == len(program.ops) + 3  # start, one op a cycle, the last write


@pytest.mark.parametrize("width", [20, 12])
def test_in_memory_integer_to_fp16_matches_golden(width):
    """The engine's integer -> FP16 program: random magnitudes at every scale, exact ties
    (2049, 2051 -> even), overflow to infinity of either sign, the most negative integer,
    zero -> +0: every word equals :func:`fpgolden.round_to_format`."""
    from lutcore.hw.config import FP16
    from lutcore.hw.pim_programs import int_to_fp16_program
    from lutcore.sim import fpgolden as fg

    program = int_to_fp16_program(width)
    rng = np.random.default_rng(width)
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    blocks = [rng.integers(lo, hi, 16, endpoint=True) >> rng.integers(0, width, 16)]
    blocks += [rng.integers(lo, hi, 16, endpoint=True) for _ in range(3)]
    corner = [0, lo, hi, 1, -1, 2047, -2048, 1023, -1023, 3, 5, 7, 9, 11, 13, 15]
    if width > 17:  # ties (2049, 2051: to even), overflow to infinity of either sign
        corner[7:] = [2049, 2051, -2051, 4097, 65504, 65519, 65520, -65520, 1 << 17]
    blocks.append(np.array(corner))
    inputs = [f"i{j}" for j in range(width)]
    runs = pim_driver.convert_in_memory(program, blocks, inputs, [f"h{j}" for j in range(16)])
    for b, (words, (h, _, cycles)) in enumerate(zip(blocks, runs, strict=True)):
        want = np.array([fg.round_to_format(int(v), 0, FP16) for v in words])
        assert first_mismatch(h, want) is None, f"block {b}: {first_mismatch(h, want)}"
        assert cycles == len(program.ops) + 3  # start, one op a cycle, the last write
    if width > 17:  # the corners reached their cases
        h = runs[-1][0]
        assert 0x7C00 in h and 0xFC00 in h and h[7] == 0x6800 and h[8] == 0x6802


# ---- the same conversions on the tile's own banks, through its command stream ---------------


@pytest.mark.parametrize("name", ["b1", "b4_signed_r2"])
def test_fp16_to_block_fp_in_the_table_banks(name):
    """``CONVERT`` on the tile's own banks (one read port: two banks side by side; two read
    ports: one bank): FP16 words written as bit planes with ``WRITE`` into the region,
    every special case of :func:`special_blocks`, the mantissas read back with ``READ``
    equal :func:`fpgolden.to_bfp` and the response's exponent field is the block's
    largest, under random gaps and backpressure; the run takes the schedule's cycles."""
    from lutcore.hw.config import FP16
    from lutcore.hw.pim_bank_convert import bank_cycles
    from lutcore.hw.pim_programs import Conversion, convert_programs
    from lutcore.sim import fpgolden as fg

    from .support import special_blocks

    cfg = CFGS[name]
    cols = cfg.banks * cfg.sram_word_bits
    blocks = special_blocks(FP16, cols, np.random.default_rng(5))[:9]
    runs = pim_driver.convert_in_banks(
        cfg, Conversion.FP16_TO_BFP, list(blocks), seed=2, p_gap=0.2, p_stall=0.2
    )
    program = convert_programs(cfg)[Conversion.FP16_TO_BFP]
    for b, (words, (q, field, cycles)) in enumerate(zip(blocks, runs, strict=True)):
        want, x, _, _ = fg.to_bfp(words, FP16, cols, cfg.a_bits, "rne")
        q = np.where(q >> (cfg.a_bits - 1), q - (1 << cfg.a_bits), q)
        assert first_mismatch(q, want) is None, f"block {b}: {first_mismatch(q, want)}"
        offset = FP16.bias + FP16.frac_bits + (cfg.a_bits - 2 - FP16.frac_bits)
        assert max(field, 1) - offset == x[0], f"block {b}"
        assert cycles == bank_cycles(program, cfg.read_ports)
    # the field from the definition: the all-zero block answers 0, the -inf block 30
    assert runs[3][1] == 0 and runs[0][1] == 30


def test_integer_to_fp16_in_the_table_banks():
    """The integer -> FP16 program on the banks: random integers of the tile's width at every
    scale and the corners (the most negative, zero, +-1) equal
    :func:`fpgolden.round_to_format`; ``exp`` answers 0."""
    from lutcore.hw.config import FP16
    from lutcore.hw.pim_programs import Conversion
    from lutcore.sim import fpgolden as fg

    cfg = CFGS["b1"]
    cols = cfg.banks * cfg.sram_word_bits
    width = len(pim_model.conversion_io(cfg, Conversion.INT_TO_FP16)[0])
    rng = np.random.default_rng(6)
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    blocks = [rng.integers(lo, hi, cols, endpoint=True) >> rng.integers(0, width, cols)]
    corner = rng.integers(lo, hi, cols, endpoint=True)
    corner[:5] = [lo, hi, 0, 1, -1]
    blocks.append(corner)
    runs = pim_driver.convert_in_banks(cfg, Conversion.INT_TO_FP16, blocks)
    for b, (words, (h, exp, _)) in enumerate(zip(blocks, runs, strict=True)):
        want = np.array([fg.round_to_format(int(v), 0, FP16) for v in words])
        assert first_mismatch(h, want) is None, f"block {b}: {first_mismatch(h, want)}"
        assert exp == 0


def test_bank_schedule_costs_against_the_separate_subarray():
    """The schedule on the banks: with two read ports each op takes one cycle plus a bubble
    where it reads its predecessor's result; with one, a second cycle for each op whose B
    operand is a row. Never faster than the subarray engine (transparent, two reads a
    cycle), and every bubble is a real hazard."""
    from lutcore.hw.pim_bank_convert import bank_cycles, bank_schedule
    from lutcore.hw.pim_isa import BSource
    from lutcore.hw.pim_programs import conversion_cycles, fp16_to_bfp_program

    program = fp16_to_bfp_program(8)
    ops = program.ops
    rows_b = sum(op.bsrc == BSource.ROW for op in ops)
    for ports in (1, 2):
        slots = bank_schedule(program, ports)
        executed = [s.op for s in slots if s.op is not None]
        assert executed == ops  # every op once, in order
        bubbles = sum(s.op is None and not s.hold_a for s in slots)
        holds = sum(s.hold_a for s in slots)
        assert holds == (rows_b if ports == 1 else 0)
        assert len(slots) == len(ops) + holds + bubbles
        assert bank_cycles(program, ports) >= conversion_cycles(program)
        # a bubble precedes exactly the slots that read the row the previous op writes
        last = None
        for i, s in enumerate(slots):
            if s.op is None and not s.hold_a:
                nxt = slots[i + 1]
                assert last is not None and last.write and last.dst in (nxt.rd0, nxt.rd1)
            if s.op is not None:
                last = s.op
            elif s.hold_a:
                last = None


def test_region_words_survive_loads_and_computes_and_bad_codes_do_nothing():
    """Words in the conversion region survive a load and a compute (the tables are below
    it); opcodes 5..7 and conversion programs 2..3 change nothing (a program 2 answers
    exp 0 at once) and the compute after them is exact."""
    cfg = CFGS["b1"]
    rng = np.random.default_rng(8)
    a = rng.integers(*cfg.a_range, (cfg.M, cfg.max_k), endpoint=True)
    job = pim_driver.Compute(_codes(cfg, cfg.max_k, rng), _zero(cfg, rng))
    rows = [cfg.table_rows, cfg.sram_rows - 1]
    words = [int(w) for w in rng.integers(0, 1 << cfg.sram_word_bits, len(rows))]
    ops = [pim_driver.Write(0, r, w) for r, w in zip(rows, words, strict=True)]
    ops += [pim_driver.Load(a), job, pim_driver.Convert(2), pim_driver.Convert(3)]
    ops += [pim_driver.Undefined(code) for code in (5, 6, 7)]
    ops += [pim_driver.Read(0, r) for r in rows] + [job]
    trace = pim_driver.run_program(cfg, ops, seed=1, p_gap=0.3, p_stall=0.3)
    assert trace.reads == words and trace.exps == [0, 0]
    assert max(trace.convert_cycles) < 8  # nothing ran
    want = pim_driver.expected_result(cfg, a, job)
    for result in trace.results:
        assert first_mismatch(result, want) is None


def test_fp16_gemv_through_in_memory_conversion_and_the_pim_tile():
    """An FP16 batched GEMV the PIM way: activations converted to block FP in memory, block
    by block loaded and computed by the PIM tile. Every stage is exact against the golden
    model (mantissas and exponents against `to_bfp`, the tile's block results against the
    integer matmul of those mantissas), and the scaled sum is as close to float64 as 16-bit
    block FP allows."""
    from lutcore.hw.config import FP16, tile_config
    from lutcore.sim import fpgolden as fg

    cfg = tile_config(arch="pim", M=2, N=4, K=8, symmetric=False, w_bits=3, a_bits=16, max_k=16)
    rng = np.random.default_rng(13)
    x = fg.to_bits(rng.standard_normal((2, 32)) * 2.0 ** rng.integers(-6, 6, (2, 1)), FP16)
    codes = rng.integers(0, 8, (32, cfg.N))
    zero = rng.integers(0, 8, cfg.N)
    acc, xe, q = pim_driver.fp16_gemv(cfg, x, codes, zero, block=16)
    want_q, want_x, _, _ = fg.to_bfp(x, FP16, 16, 16, "rne")
    assert first_mismatch(q, want_q) is None and first_mismatch(xe, want_x) is None
    w = codes - zero[None, :]
    for j in range(2):
        exact = want_q[:, j * 16 : (j + 1) * 16] @ w[j * 16 : (j + 1) * 16]
        assert first_mismatch(acc[j], exact) is None, f"block {j}"
    y = sum(acc[j] * np.ldexp(1.0, xe[:, j])[:, None] for j in range(2))
    err = fg.relative_error(y, fg.from_bits(x, FP16) @ w)
    assert err["max"] < 2.0**-12, err
