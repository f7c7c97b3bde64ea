"""Activation converter: FP16/BF16 activations to block floating point for the integer tile."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .config import TileConfig
from .fp import shift_round, unpack
from .layouts import bfp_layout, fp_act_layout
from .util import tree_sum

__all__ = ["ActConverter"]


def _maximum(values):
    """Balanced tree of signed maxima."""
    level = list(values)
    while len(level) > 1:
        pairs = zip(level[::2], level[1::2], strict=False)
        level = [Mux(a > b, a, b) for a, b in pairs] + level[len(level) & ~1 :]
    return level[0]


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
    back, aligns and sends them. The next block's fill starts after the last read.
    Streams: ``i`` (:func:`~.layouts.fp_act_layout`), ``o`` (:func:`~.layouts.bfp_layout`),
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
        """Unpacked lanes with the special-value rule applied: ``(sign, sig, exp, special)``."""
        fmt = self.cfg.act_fmt
        f = fmt.frac_bits
        out = []
        for i, word in enumerate(words):
            u = unpack(m, fmt, word, f"{name}{i}")
            sig = Signal(f + 1, name=f"{name}{i}_fsig")
            exp = Signal(u.exp.shape(), name=f"{name}{i}_fexp")
            m.d.comb += [
                sig.eq(Mux(u.inf, (1 << (f + 1)) - 1, Mux(u.nan, 0, u.sig))),
                # zeros take the smallest exponent: they never decide the block's
                exp.eq(Mux(u.inf, fmt.max_exp, Mux(~sig.any(), fmt.min_exp, u.exp))),
            ]
            out.append((u.sign, sig, exp, u.inf | u.nan))
        return out

    def elaborate(self, platform) -> Module:
        cfg = self.cfg
        fmt = cfg.act_fmt
        f, lanes, width = fmt.frac_bits, cfg.act_lanes, fmt.width
        depth = cfg.bfp_block // lanes
        m = Module()
        m.submodules.buffer = buffer = Memory(shape=lanes * width, depth=depth, init=[])
        wr = buffer.write_port()
        rd = buffer.read_port()

        # ---- fill: store the block, track its largest exponent and special values ----------
        filling = Signal(init=1)
        addr = Signal(range(max(depth, 2)))
        exp_range = range(fmt.min_exp, fmt.max_exp + 1)
        top = Signal(exp_range, name="fill_top")
        flag = Signal()
        x = Signal(exp_range, name="block_top")  # the drained block's largest exponent
        x_flag = Signal()
        incoming = self._fields(m, list(self.i.payload), "in")
        beat_top = _maximum([e for _, _, e, _ in incoming])
        beat_flag = Cat(*(s for *_, s in incoming)).any()
        first = addr == 0
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

        # ---- drain: read back (one cycle), align, round, saturate into the output register --
        raddr = Signal(range(depth + 1))
        pending = Signal()  # rd.data holds the row read last cycle
        pending_last = Signal()
        free = ~self.o.valid | self.o.ready  # the output register can load this cycle
        issue = ~filling & (raddr < depth) & (~pending | free)
        m.d.comb += [rd.addr.eq(raddr), rd.en.eq(issue | ~pending)]
        with m.If(issue):
            m.d.sync += raddr.eq(raddr + 1)
        with m.If(issue | (pending & free)):
            m.d.sync += [pending.eq(issue), pending_last.eq(raddr == depth - 1)]

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
        new_block = Signal(init=1)  # the next output beat starts a block: its total restarts
        total = Signal(self.o.payload.total.shape(), name="block_total")
        m.d.comb += total.eq(tree_sum(mantissas) + Mux(new_block, 0, self.o.payload.total))
        with m.If(pending & free):
            m.d.sync += [
                self.o.valid.eq(1),
                self.o.payload.q.eq(Cat(*mantissas)),
                self.o.payload.x.eq(x - cfg.bfp_offset),
                self.o.payload.nonfinite.eq(x_flag),
                self.o.payload.last.eq(pending_last),
                self.o.payload.total.eq(total),
                new_block.eq(pending_last),
            ]
            with m.If(pending_last):
                m.d.sync += [filling.eq(1), raddr.eq(0)]
        with m.Elif(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        return m
