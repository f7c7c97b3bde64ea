"""Dequant converter: the tile's exact integer results to FP16/FP32 with their scales."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.data import ArrayLayout
from amaranth.lib.wiring import In, Out

from .config import FP16, TileConfig
from .fp import Normalized, normalize, round_pack, unpack
from .layouts import dequant_item_layout
from .units import place
from .util import stage, stream_stages, tree_sum

__all__ = ["DequantConverter", "DequantLane"]


def lane_depth(cfg: TileConfig) -> int:
    """Pipeline stages of a lane: 5 for one term, 8 for several (see the converter)."""
    return 5 if cfg.dequant_terms == 1 else 8


class DequantConverter(wiring.Component):
    """``dequant_lanes`` outputs per cycle, each ``round(2**x * sum_t I_t * c_t)`` in
    ``out_format`` with a single round to nearest, ties to even; the sum is exact.

    Terms ``(I_t, c_t)``: uniform weights ``(acc - zero * total, scale)``; BCQ weights
    ``(planes[i], alpha[i])`` for every plane and ``(total, offset)``. Coefficients are FP16
    (any finite value, subnormals included; an infinite or NaN coefficient gives the
    canonical NaN), ``x`` the activations' block exponent (0 for integer activations).
    Overflow gives infinity of the sum's sign, an exact zero ``+0``. The FP-table tile's
    results are finite FP32 or FP16 words (its ``acc_format``): the term is
    ``(+-sig, scale)`` and ``x`` the word's exponent, so the output is
    ``round(acc * scale)``.

    Pipeline: (1) the integers (``acc - zero * total``) and the coefficients' fields; (2)
    sign and magnitude of each; (3) exact unsigned products; with several terms (4) each
    aligned to the smallest coefficient exponent and signed, (5) their sum, (6) its sign
    and magnitude; then leading-zero count and normalize; round and pack (:attr:`depth`).
    Streams: ``i`` (``[lane]`` of :func:`~lutcore.hw.layouts.dequant_item_layout`),
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

    @property
    def depth(self) -> int:
        """Pipeline stages: 5 for one term (sign and magnitude throughout), 8 for several
        (aligned, signed products, their sum, its sign and magnitude)."""
        return lane_depth(self.cfg)

    def elaborate(self, platform) -> Module:
        cfg = self.cfg
        m = Module()
        advance = stream_stages(m, self.i, self.o, self.depth)
        for lane in range(cfg.dequant_lanes):
            ports = {"item": self.i.payload[lane], "advance": advance, "word": self.o.payload[lane]}
            place(m, f"lane_{lane}", lambda: DequantLane(cfg), "dequant_lane", ports)
        return m


class DequantLane(wiring.Component):
    """One lane of :class:`DequantConverter` (its pipeline registers load when
    ``advance``): ``item`` (:func:`~lutcore.hw.layouts.dequant_item_layout`) in, ``word``
    (``out_format``) out :attr:`DequantConverter.depth` loads later. The converter's
    lanes are one module in the Verilog (``<top>__dequant_lane``), instances ``lane_<i>``.
    """

    def __init__(self, cfg: TileConfig):
        self.cfg = cfg
        super().__init__(
            {
                "item": In(dequant_item_layout(cfg)),
                "advance": In(1),
                "word": Out(cfg.out_fmt.width),
            }
        )

    def terms(self, item, acc=None) -> list[tuple]:
        """``(integer, coefficient word)`` pairs of one item (see the class docstring);
        ``acc`` the unpacked result word of the FP-table tile."""
        cfg = self.cfg
        if cfg.fp_tables:
            return [(Mux(acc.sign, -acc.sig, acc.sig), item.scale)]
        if cfg.weight_format == "bcq":
            pairs = [(item.planes[i], item.alpha[i]) for i in range(cfg.w_bits)]
            return [*pairs, (item.total, item.offset)]
        if cfg.has_zero_point:
            return [(item.acc - item.zero * item.total, item.scale)]
        return [(item.acc, item.scale)]

    def elaborate(self, platform) -> Module:
        cfg = self.cfg
        m = Module()
        align_bits = (FP16.max_exp - FP16.min_exp).bit_length()
        item, advance = self.item, self.advance
        name = "lane"

        def reg(value, what, _name=name):
            return stage(m, advance, value, f"{_name}_{what}")

        # 1: the integers (acc - zero * S, or an FP result's significand) and the
        # coefficients' fields
        acc = unpack(m, cfg.acc_fmt, item.acc, f"{name}_acc") if cfg.fp_tables else None
        terms = self.terms(item, acc)
        coeffs = [unpack(m, FP16, c, f"{name}_c{t}") for t, (_, c) in enumerate(terms)]
        ints = [reg(value, f"int{t}") for t, (value, _) in enumerate(terms)]
        sigs = [reg(c.sig, f"sig{t}") for t, c in enumerate(coeffs)]
        negs = [reg(c.sign, f"neg{t}") for t, c in enumerate(coeffs)]
        exps = [reg(c.exp, f"exp{t}") for t, c in enumerate(coeffs)]
        nan = reg(Cat(*(Cat(c.inf, c.nan) for c in coeffs)).any(), "nan1")
        x_in = acc.exp if cfg.fp_tables else item.x if cfg.act_format != "int" else 0
        base = coeffs[0].exp
        for c in coeffs[1:]:
            base = Mux(c.exp < base, c.exp, base)
        exp = reg(base + x_in, "exp1")
        base = reg(base, "base1")
        # 2: sign and magnitude of each integer
        mags = [reg(Mux(v < 0, -v, v)[: len(v)], f"mag{t}") for t, v in enumerate(ints)]
        signs = [
            reg((v < 0) ^ n, f"sign{t}") for t, (v, n) in enumerate(zip(ints, negs, strict=True))
        ]
        shifts = [
            reg((e - base).as_unsigned()[:align_bits], f"shift{t}") for t, e in enumerate(exps)
        ]
        sigs = [reg(sg, f"sig2_{t}") for t, sg in enumerate(sigs)]
        exp, nan = reg(exp, "exp2"), reg(nan, "nan2")
        # 3: exact products (unsigned); the shifts wait a stage to stay with them
        prods = [
            reg(mg * sg, f"prod{t}") for t, (mg, sg) in enumerate(zip(mags, sigs, strict=True))
        ]
        signs = [reg(sn, f"sign3_{t}") for t, sn in enumerate(signs)]
        exp, nan = reg(exp, "exp3"), reg(nan, "nan3")
        if len(terms) == 1:
            mag, sign = prods[0], signs[0]
        else:
            # 4: aligned to the smallest coefficient exponent, signed
            shifts = [reg(sh, f"shift3_{t}") for t, sh in enumerate(shifts)]
            aligned = []
            for t, (pr, sn) in enumerate(zip(prods, signs, strict=True)):
                wide = Signal(len(pr) + (1 << align_bits), name=f"{name}_wide{t}")
                m.d.comb += wide.eq(pr << shifts[t])
                aligned.append(reg(Mux(sn, -wide, wide), f"aligned{t}"))
            exp, nan = reg(exp, "exp4"), reg(nan, "nan4")
            # 5: the exact sum, as sign and magnitude
            total = Signal(signed(max(len(a) for a in aligned) + len(aligned)), name=f"{name}_sum")
            m.d.comb += total.eq(tree_sum(aligned))
            total = reg(total, "sum5")
            exp, nan = reg(exp, "exp5"), reg(nan, "nan5")
            # 6: its sign and magnitude
            sign = reg(total < 0, "sign6")
            mag = reg(Mux(total < 0, -total, total)[: len(total)], "mag6")
            exp, nan = reg(exp, "exp6"), reg(nan, "nan6")
        # normalize
        norm = normalize(m, mag, exp, f"{name}_n")
        norm = Normalized(reg(norm.norm, "norm"), reg(norm.msb, "msb"), reg(norm.zero, "zero"))
        sign, nan = reg(sign, "sign_n"), reg(nan, "nan_n")
        # round and pack
        word = round_pack(m, cfg.out_fmt, sign, norm, nan, f"{name}_word")
        m.d.comb += self.word.eq(reg(word, "out"))
        return m
