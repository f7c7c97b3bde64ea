"""Activation converter: FP16/BF16 activations to block floating point for the integer tile."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .config import TileConfig
from .fp import shift_round, unpack
from .layouts import bfp_layout, fp_act_layout
from .util import stage, stream_stages, tree_sum

__all__ = ["ActConverter"]


class ActConverter(wiring.Component):
    """One block of ``bfp_block`` activations per row and beat, to signed ``a_bits``
    mantissas ``q`` sharing one exponent ``x`` per row (``A ~= q * 2**x``), plus the block's
    mantissa sum (the dequant converter's ``S``) and a ``nonfinite`` flag.

    ``x = L - bfp_offset`` with ``L`` the largest element exponent (of ``sig``'s LSB) in the
    block, so the largest magnitude's leading one lands on mantissa bit ``a_bits - 2``; each
    magnitude is shifted right by ``x - exp``, rounded by ``act_rounding`` (to nearest even,
    or toward zero), saturated to ``2**(a_bits-1) - 1`` and signed. Zeros give 0, subnormals
    align like normals, an infinity becomes the largest finite value of its sign, a NaN 0;
    either raises ``nonfinite``.

    Two pipeline stages: (1) unpack and the block's largest exponent; (2) align, round,
    saturate, sum. Streams ``i`` (:func:`~.layouts.fp_act_layout`) and ``o``
    (:func:`~.layouts.bfp_layout`), valid/ready.
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

    def elaborate(self, platform) -> Module:
        cfg = self.cfg
        fmt = cfg.act_fmt
        f = fmt.frac_bits
        m = Module()
        advance = stream_stages(m, self.i, self.o, 2)
        lift = max(0, cfg.bfp_offset)  # a mantissa wider than the significand: shift left first
        limit = (1 << (cfg.a_bits - 1)) - 1
        # beyond this right shift every significand (with its lift) rounds to 0
        max_shift = f + 2 + lift
        for row in range(cfg.M):
            elems = []
            for i in range(cfg.bfp_block):
                u = unpack(m, fmt, self.i.payload[row][i], f"u{row}_{i}")
                sig = Signal(f + 1, name=f"s{row}_{i}")
                exp = Signal(u.exp.shape(), name=f"e{row}_{i}")
                m.d.comb += [
                    sig.eq(Mux(u.inf, (1 << (f + 1)) - 1, Mux(u.nan, 0, u.sig))),
                    exp.eq(Mux(u.inf, fmt.max_exp, Mux(~sig.any(), fmt.min_exp, u.exp))),
                ]
                elems.append((u, sig, exp))
            # the block's largest exponent: a balanced tree of maxima
            level = [e for _, _, e in elems]
            while len(level) > 1:
                pairs = zip(level[::2], level[1::2], strict=False)
                level = [Mux(a > b, a, b) for a, b in pairs] + level[len(level) & ~1 :]
            nonfinite = Cat(*(Cat(u.inf, u.nan) for u, _, _ in elems)).any()
            # stage 1
            top = stage(m, advance, level[0], f"top{row}")
            flag = stage(m, advance, nonfinite, f"nonfinite{row}")
            mantissas = []
            for i, (u, sig, exp) in enumerate(elems):
                sign1 = stage(m, advance, u.sign, f"sign{row}_{i}")
                sig1 = stage(m, advance, sig, f"sig{row}_{i}")
                exp1 = stage(m, advance, exp, f"exp{row}_{i}")
                # stage 2: shift right by x - exp (plus the lift), round, saturate, sign
                shift = Signal(range(max_shift + 2), name=f"sh{row}_{i}")
                dist = top - exp1 + (lift - cfg.bfp_offset)  # >= 0: top is the block maximum
                m.d.comb += shift.eq(Mux(dist > max_shift, max_shift + 1, dist))
                mag = Signal(cfg.a_bits + 1, name=f"mag{row}_{i}")
                m.d.comb += mag.eq(
                    shift_round(sig1 << lift, shift, max_shift + 1, cfg.act_rounding)
                )
                sat = Mux(mag > limit, limit, mag)
                q = Signal.like(self.o.payload.q[row][i], name=f"q{row}_{i}")
                m.d.comb += q.eq(Mux(sign1, -sat, sat))
                mantissas.append(q)
            m.d.comb += [
                self.o.payload.q[row].eq(stage(m, advance, Cat(*mantissas), f"q{row}")),
                self.o.payload.x[row].eq(stage(m, advance, top - cfg.bfp_offset, f"x{row}")),
                self.o.payload.total[row].eq(stage(m, advance, tree_sum(mantissas), f"t{row}")),
                self.o.payload.nonfinite[row].eq(stage(m, advance, flag, f"nf{row}")),
            ]
        return m
