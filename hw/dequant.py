"""Dequant converter: the tile's exact integer results to FP16/FP32 with their scales."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.data import ArrayLayout
from amaranth.lib.wiring import In, Out

from .config import FP16, TileConfig
from .fp import normalize, round_pack, unpack
from .layouts import dequant_item_layout
from .util import stage, stream_stages, tree_sum

__all__ = ["DequantConverter"]


class DequantConverter(wiring.Component):
    """``dequant_lanes`` outputs per cycle, each ``round(2**x * sum_t I_t * c_t)`` in
    ``out_format`` with a single round to nearest, ties to even; the sum is exact.

    Terms ``(I_t, c_t)``: uniform weights ``(acc - zero * total, scale)``; BCQ weights
    ``(planes[i], alpha[i])`` for every plane and ``(total, offset)``. Coefficients are FP16
    (any finite value, subnormals included; an infinite or NaN coefficient gives the
    canonical NaN), ``x`` the activations' block exponent (0 for integer activations).
    Overflow gives infinity of the sum's sign, an exact zero ``+0``.

    Three pipeline stages: (1) unpack the coefficients, multiply, align every product to the
    smallest coefficient exponent and sum; (2) magnitude, leading-zero count and normalize;
    (3) round and pack. Streams: ``i`` (``[lane]`` of :func:`~.layouts.dequant_item_layout`),
    ``o`` (``[lane]`` ``out_format`` words), valid/ready; the pipeline stalls as a whole.
    """

    def __init__(self, cfg: TileConfig):
        self.cfg = cfg
        lanes = cfg.dequant_lanes
        super().__init__(
            {
                "i": In(stream.Signature(ArrayLayout(dequant_item_layout(cfg), lanes))),
                "o": Out(stream.Signature(ArrayLayout(cfg.out_fmt.width, lanes))),
            }
        )

    def terms(self, item) -> list[tuple]:
        """``(integer, coefficient word)`` pairs of one item (see the class docstring)."""
        cfg = self.cfg
        if cfg.weight_format == "bcq":
            pairs = [(item.planes[i], item.alpha[i]) for i in range(cfg.w_bits)]
            return [*pairs, (item.total, item.offset)]
        if cfg.has_zero_point:
            return [(item.acc - item.zero * item.total, item.scale)]
        return [(item.acc, item.scale)]

    def elaborate(self, platform) -> Module:
        cfg = self.cfg
        m = Module()
        advance = stream_stages(m, self.i, self.o, 3)
        for lane in range(cfg.dequant_lanes):
            item = self.i.payload[lane]
            name = f"l{lane}"
            terms = self.terms(item)
            coeffs = [unpack(m, FP16, c, f"{name}_c{t}") for t, (_, c) in enumerate(terms)]
            base = coeffs[0].exp
            for c in coeffs[1:]:
                base = Mux(c.exp < base, c.exp, base)
            base_s = Signal(coeffs[0].exp.shape(), name=f"{name}_base")
            m.d.comb += base_s.eq(base)
            products = []
            for t, ((value, _), c) in enumerate(zip(terms, coeffs, strict=True)):
                product = Signal(signed(len(value) + len(c.sig) + 1), name=f"{name}_p{t}")
                m.d.comb += product.eq(value * c.sig)
                if len(terms) > 1:  # one term needs no alignment
                    product = (
                        product
                        << (c.exp - base_s).as_unsigned()[
                            : (FP16.max_exp - FP16.min_exp).bit_length()
                        ]
                    )
                products.append(Mux(c.sign, -product, product))
            nan = Cat(*(Cat(c.inf, c.nan) for c in coeffs)).any()
            x = item.x if cfg.act_format != "int" else 0
            # stage 1: the exact sum and its exponent
            total = stage(m, advance, tree_sum(products), f"{name}_sum")
            exp = stage(m, advance, base_s + x, f"{name}_exp")
            nan1 = stage(m, advance, nan, f"{name}_nan1")
            # stage 2: magnitude, normalize
            mag = Signal(len(total), name=f"{name}_mag")
            m.d.comb += mag.eq(Mux(total < 0, -total, total))
            norm = normalize(m, mag, exp, f"{name}_n")
            norm.norm = stage(m, advance, norm.norm, f"{name}_norm2")
            norm.msb = stage(m, advance, norm.msb, f"{name}_msb2")
            norm.zero = stage(m, advance, norm.zero, f"{name}_zero2")
            sign = stage(m, advance, total < 0, f"{name}_sign2")
            nan2 = stage(m, advance, nan1, f"{name}_nan2")
            # stage 3: round and pack
            word = round_pack(m, cfg.out_fmt, sign, norm, nan2, f"{name}_word")
            m.d.comb += self.o.payload[lane].eq(stage(m, advance, word, f"{name}_out"))
        return m
