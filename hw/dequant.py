"""Dequant converter: the tile's exact integer results to FP16/FP32 with their scales."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.data import ArrayLayout
from amaranth.lib.wiring import In, Out

from .config import FP16, TileConfig
from .fp import Normalized, normalize, round_pack, unpack
from .layouts import dequant_item_layout
from .units import place
from .util import stage, stream_stages, tree_sum

__all__ = ["DequantConverter", "DequantLane"]

#: 1.0 as an FP16 word: the coefficient of a term that is only normalized and rounded
FP16_ONE = FP16.bias << FP16.frac_bits


def lane_depth(cfg: TileConfig) -> int:
    """Pipeline stages of a lane: 5 for one term, 8 for several, 2 more for the FP-table
    tile's offset term (see the converter)."""
    return (5 if cfg.dequant_terms == 1 else 8) + (2 if offset_sum_applies(cfg) else 0)


def offset_sum_applies(cfg: TileConfig) -> bool:
    """The lane adds the FP-table tile's offset term to FP words itself (``offset =
    "output"``; exact fixed-point results take the integer tile's term instead)."""
    return cfg.fp_tables and cfg.offset_out and not cfg.fixed_acc


def offset_clamp(cfg: TileConfig) -> tuple[int, int]:
    """``(W, D)`` of the offset sum: ``W`` the wider term magnitude (bits), ``D`` the largest
    alignment shift kept exactly. A term ``D`` or more bits below the other's LSB counts
    only as a sticky 1 below it: its magnitude is then under ``2**-(p + 2)`` of the larger
    term's leading bit (``p`` the output's significand bits), so the rounded product with the
    scale is the same (:meth:`DequantLane.offset_sum`)."""
    k_bits = max(1, abs(cfg.offset_coefficient).bit_length())
    width = cfg.acc_fmt.frac_bits + 1 + k_bits
    return width, width + cfg.out_fmt.frac_bits + 1 + 3


class DequantConverter(wiring.Component):
    """``dequant_lanes`` outputs per cycle, each ``round(2**x * sum_t I_t * c_t)`` in
    ``out_format`` with a single round to nearest, ties to even; the sum is exact.

    Terms ``(I_t, c_t)``: uniform weights ``(acc - zero * total, scale)`` (the integer tile
    with ``offset = "output"``: ``(acc + (C - 2 zero) * total, scale)`` at ``x - 1``); BCQ weights
    ``(planes[i], alpha[i])`` for every plane and ``(total, offset)``. Coefficients are FP16
    (any finite value, subnormals included; an infinite or NaN coefficient gives the
    canonical NaN), ``x`` the activations' block exponent (0 for integer activations).
    Overflow gives infinity of the sum's sign, an exact zero ``+0``. The FP-table tile's
    results are finite FP32 or FP16 words (its ``acc_format``): the term is
    ``(+-sig, scale)`` and ``x`` the word's exponent, so the output is
    ``round(acc * scale)``; with ``acc_format = "fixed"`` its results are integers in units
    of ``2**-24`` and take the integer tile's offset term at ``x = -24 - 1``. The FP16 MAC's
    exact fixed-point results (``acc_format = "fixed"``, integers of ``2**-48``, the scales
    already in the weights) are the term ``(acc, 1.0)`` at ``x = -48``: one normalization and
    rounding to FP32 per output.

    With ``offset = "output"`` the FP-table tile's item also holds the row sum ``total``
    (``S``) and the zero point: the lane first forms ``(acc + (C - 2z) * S) / 2`` exactly as an
    integer and an exponent (two more stages ahead: the terms' fields and the small product
    ``S * (C - 2z)``; then the aligned sum), which is then the one term.

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
        if cfg.fp_results:
            return [(Mux(acc.sign, -acc.sig, acc.sig), item.scale)]
        if cfg.scale_in_command:  # the FP16 MAC's exact sums: the weights carry the scales
            return [(item.acc, Const(FP16_ONE, 16))]
        if cfg.weight_format == "bcq":
            pairs = [(item.planes[i], item.alpha[i]) for i in range(cfg.w_bits)]
            return [*pairs, (item.total, item.offset)]
        if getattr(cfg, "offset_out", False):  # twice the result; x is lowered by one
            k = cfg.offset_coefficient - (item.zero << 1 if cfg.has_zero_point else 0)
            return [(item.acc + k * item.total, item.scale)]
        if cfg.has_zero_point:
            return [(item.acc - item.zero * item.total, item.scale)]
        return [(item.acc, item.scale)]

    def offset_sum(self, m: Module, item, reg) -> tuple:
        """``(acc + (C - 2z) * S) / 2`` of an FP-table item (``offset = "output"``) as
        ``(integer, exponent, scale word)`` two register stages later, with ``C``
        :attr:`~lutcore.hw.config.Tables.offset_coefficient`.

        (a) both words' fields, the offset term's significand ``sig_S * |C - 2z|`` and its
        sign; (b) the term with the larger exponent shifted left
        by the exponent difference onto the other's LSB and the two added, exact. A
        difference beyond ``D`` (:func:`offset_clamp`) shifts by ``D`` and keeps of the
        smaller term only a sticky 1 of its sign (a zero stays 0); the exponent one lower
        (the halving)."""
        cfg = self.cfg
        fmt = cfg.acc_fmt
        width, clamp = offset_clamp(cfg)
        a = unpack(m, fmt, item.acc, "lane_acc")
        s = unpack(m, fmt, item.total, "lane_tot")
        c = cfg.offset_coefficient
        if cfg.has_zero_point:
            k = Signal(signed(cfg.w_bits + 2), name="lane_k")
            m.d.comb += k.eq(c - (item.zero << 1))
            k_neg, k_mag = k < 0, Mux(k < 0, -k, k)[: cfg.w_bits + 1]
        else:
            k_neg, k_mag = int(c < 0), abs(c)
        # (a)
        a_sign, a_mag, a_exp = reg(a.sign, "acc_sign"), reg(a.sig, "acc_sig"), reg(a.exp, "acc_exp")
        s_sign = reg(s.sign ^ k_neg, "tot_sign")
        s_mag = reg(s.sig * k_mag, "tot_mag")
        s_exp = reg(s.exp, "tot_exp")
        scale = reg(item.scale, "scale_a")
        # (b)
        diff = Signal(signed(len(a_exp) + 2), name="lane_diff")
        m.d.comb += diff.eq(a_exp - s_exp)
        acc_big = diff >= 0
        dist = Mux(acc_big, diff, -diff)
        far = dist > clamp
        shift = Signal(range(clamp + 1), name="lane_shift")
        m.d.comb += shift.eq(Mux(far, clamp, dist))
        big_mag = Mux(acc_big, a_mag, s_mag)
        small_mag = Mux(acc_big, s_mag, a_mag)
        small_kept = Mux(far, small_mag.any(), small_mag)
        big = Signal(width + clamp, name="lane_big")
        m.d.comb += big.eq(big_mag << shift)
        big_neg, small_neg = Mux(acc_big, a_sign, s_sign), Mux(acc_big, s_sign, a_sign)
        total = Signal(signed(width + clamp + 2), name="lane_offset_sum")
        m.d.comb += total.eq(Mux(big_neg, -big, big) + Mux(small_neg, -small_kept, small_kept))
        exp = Mux(far, Mux(acc_big, a_exp, s_exp) - clamp, Mux(acc_big, s_exp, a_exp))
        exp_q = Signal(signed(len(a_exp) + 2), name="lane_offset_exp")
        m.d.comb += exp_q.eq(exp - 1)  # the halving
        return reg(total, "offset_sum"), reg(exp_q, "offset_exp"), reg(scale, "scale_b")

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
        if offset_sum_applies(cfg):
            total, x_in, scale = self.offset_sum(m, item, reg)
            terms = [(total, scale)]
        else:
            acc = unpack(m, cfg.acc_fmt, item.acc, f"{name}_acc") if cfg.fp_results else None
            terms = self.terms(item, acc)
            if cfg.fp_results:  # an FP word's exponent
                x_in = acc.exp
            elif getattr(cfg, "fixed_acc", False):  # the fixed-point results' LSB
                x_in = cfg.fixed_lsb
            else:
                x_in = item.x if cfg.act_format != "int" else 0
            if getattr(cfg, "offset_out", False):
                x_in = x_in - 1  # an integer acc + (C - 2z) * S is twice the sum
        coeffs = [unpack(m, FP16, c, f"{name}_c{t}") for t, (_, c) in enumerate(terms)]
        ints = [reg(value, f"int{t}") for t, (value, _) in enumerate(terms)]
        sigs = [reg(c.sig, f"sig{t}") for t, c in enumerate(coeffs)]
        negs = [reg(c.sign, f"neg{t}") for t, c in enumerate(coeffs)]
        exps = [reg(c.exp, f"exp{t}") for t, c in enumerate(coeffs)]
        nan = reg(Cat(*(Cat(c.inf, c.nan) for c in coeffs)).any(), "nan1")
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
