"""Activation converter: FP16/BF16 activations to block floating point for the integer tile."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .config import TileConfig
from .fp import finite, shift_round
from .layouts import bfp_layout, fp_act_layout
from .util import tree_max, tree_sum

__all__ = ["ActConverter"]


class ActConverter(wiring.Component):
    """FP16/BF16 activations to signed ``a_bits`` mantissas sharing one exponent per block of
    ``bfp_block`` activations (``A ~= q * 2**x``), ``act_lanes`` activations a cycle.

    ``x = L - bfp_offset`` with ``L`` the largest element exponent (of ``sig``'s LSB) in the
    block, so the largest magnitude's leading one lands on mantissa bit ``a_bits - 2``; each
    magnitude is shifted right by ``x - exp``, rounded by ``act_rounding`` (to nearest even,
    or toward zero), saturated to ``2**(a_bits-1) - 1`` and signed. Zeros give 0, subnormals
    align like normals, an infinity becomes the largest finite value of its sign, a NaN 0;
    either raises the block's ``nonfinite``.

    The exponent needs the whole block, so a block is taken in two phases: *fill* writes its
    beats into a block buffer (``amaranth.lib.memory``, ``bfp_block / act_lanes`` rows of
    ``act_lanes`` words) while a running maximum tracks the exponent; *drain* reads them
    back one row a cycle, aligns them (pipeline stage 1) and adds the block's mantissa sum
    (stage 2). The next block's fill starts after the last read: a block takes
    ``2 * bfp_block / act_lanes`` cycles.
    Streams: ``i`` (:func:`~lutcore.hw.layouts.fp_act_layout`), ``o``
    (:func:`~lutcore.hw.layouts.bfp_layout`),
    valid/ready; rows are consecutive blocks.
    """

    def __init__(self, cfg: TileConfig):
        if cfg.act_format == "int":
            raise ValueError("act_format='int': there is nothing to convert")
        self.cfg = cfg
        super().__init__(
            {
                "i": In(stream.Signature(fp_act_layout(cfg))),
                "o": Out(stream.Signature(bfp_layout(cfg))),
            }
        )

    def _fields(self, m: Module, words, name: str):
        """Lanes with the special-value rule (:func:`~lutcore.hw.fp.finite`): ``(sign, sig, exp,
        special)``."""
        out = []
        for i, word in enumerate(words):
            u = finite(m, self.cfg.act_fmt, word, f"{name}{i}")
            out.append((u.sign, u.sig, u.exp, u.inf | u.nan))
        return out

    def elaborate(self, platform) -> Module:
        cfg = self.cfg
        fmt = cfg.act_fmt
        f, lanes, width = fmt.frac_bits, cfg.act_lanes, fmt.width
        depth = cfg.bfp_block // lanes
        m = Module()
        # (at least two rows: a one-row memory would have a zero-width address)
        m.submodules.buffer = buffer = Memory(shape=lanes * width, depth=max(depth, 2), init=[])
        wr = buffer.write_port()
        # asynchronous read: the buffer is small (flip-flops or LUT RAM), and a registered
        # read port would add a cycle per block and an enable-gated flip-flop group
        rd = buffer.read_port(domain="comb")

        # ---- fill: store the block, track its largest exponent and special values ----------
        filling = Signal(init=1)
        addr = Signal(range(max(depth, 2)))
        exp_range = range(fmt.min_exp, fmt.max_exp + 1)
        top = Signal(exp_range, name="fill_top")
        flag = Signal()
        x = Signal(exp_range, name="block_top")  # the drained block's largest exponent
        x_flag = Signal()
        incoming = self._fields(m, list(self.i.payload), "in")
        beat_top = tree_max([e for _, _, e, _ in incoming])
        beat_flag = Cat(*(s for *_, s in incoming)).any()
        first = ~addr.any()
        run_top = Mux(first | (beat_top > top), beat_top, top)
        run_flag = Mux(first, 0, flag) | beat_flag
        m.d.comb += [
            self.i.ready.eq(filling),
            wr.addr.eq(addr),
            wr.data.eq(self.i.payload),
            wr.en.eq(filling & self.i.valid),
        ]
        with m.If(filling & self.i.valid):
            m.d.sync += [top.eq(run_top), flag.eq(run_flag), addr.eq(addr + 1)]
            with m.If(addr == depth - 1):
                m.d.sync += [filling.eq(0), addr.eq(0), x.eq(run_top), x_flag.eq(run_flag)]

        # ---- drain: read a row back, align, round, saturate (stage 1), then add up the
        # block's mantissa sum into the output register (stage 2); the two stall together
        raddr = Signal(range(max(depth, 2)))
        advance = ~self.o.valid | self.o.ready
        issue = ~filling & advance
        last_row = raddr == depth - 1
        m.d.comb += rd.addr.eq(raddr)
        with m.If(issue):
            m.d.sync += raddr.eq(Mux(last_row, 0, raddr + 1))
            with m.If(last_row):  # every row has been read: the buffer may fill again
                m.d.sync += filling.eq(1)

        lift = max(0, cfg.bfp_offset)  # a mantissa wider than the significand: shift left first
        max_shift = f + 2 + lift  # beyond it every significand rounds to 0
        limit = (1 << (cfg.a_bits - 1)) - 1
        stored = self._fields(m, [rd.data[i * width : (i + 1) * width] for i in range(lanes)], "rd")
        mantissas = []
        for i, (sign, sig, exp, _) in enumerate(stored):
            dist = x - exp + (lift - cfg.bfp_offset)  # >= 0: x is the block maximum
            shift = Signal(range(max_shift + 2), name=f"shift{i}")
            m.d.comb += shift.eq(Mux(dist > max_shift, max_shift + 1, dist))
            mag = Signal(cfg.a_bits + 1, name=f"mag{i}")
            m.d.comb += mag.eq(shift_round(sig << lift, shift, max_shift + 1, cfg.act_rounding))
            sat = Mux(mag > limit, limit, mag)
            q = Signal.like(self.o.payload.q[i], name=f"q{i}")
            m.d.comb += q.eq(Mux(sign, -sat, sat))
            mantissas.append(q)
        aligned = Signal.like(self.o.payload, name="aligned")
        aligned_valid = Signal()
        with m.If(advance):
            m.d.sync += [
                aligned_valid.eq(issue),
                aligned.q.eq(Cat(*mantissas)),
                aligned.x.eq(x - cfg.bfp_offset),
                aligned.nonfinite.eq(x_flag),
                aligned.last.eq(last_row),
            ]

        new_block = Signal(init=1)  # the next output beat starts a block: its total restarts
        total = Signal(self.o.payload.total.shape(), name="block_total")
        beat_sum = tree_sum([aligned.q[i] for i in range(lanes)])
        m.d.comb += total.eq(beat_sum + Mux(new_block, 0, self.o.payload.total))
        with m.If(advance):
            m.d.sync += self.o.valid.eq(aligned_valid)
            with m.If(aligned_valid):
                m.d.sync += [
                    self.o.payload.q.eq(aligned.q),
                    self.o.payload.x.eq(aligned.x),
                    self.o.payload.nonfinite.eq(aligned.nonfinite),
                    self.o.payload.last.eq(aligned.last),
                    self.o.payload.total.eq(total),
                    new_block.eq(aligned.last),
                ]
        return m
