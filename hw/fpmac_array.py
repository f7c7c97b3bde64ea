"""The FP16 baseline's array: FP16 activations times weights dequantized to FP16, fused K-term
dot products, FP32 accumulators."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed

from .accumulate import AccumulatePorts, accumulate
from .columns import column_array
from .config import FP16
from .fp import (
    ALIGN_EXTRA_BITS,
    accumulator_add,
    finite,
    fused_sum,
    normalize,
    round_pack,
    unpack,
)
from .layouts import act_layout
from .mac_array import MacArray, beat_digits
from .util import carry_save_sum, carry_select_add, named, tree_sum

__all__ = ["FpMacArray", "ALIGN_EXTRA_BITS"]


def dequant_weight(m: Module, digit: Value, scale: Value, name: str) -> Signal:
    """The FP16 word ``round(scale * digit)`` (one round to nearest even) of a signed integer
    weight and an FP16 scale: what a GPU's dequantization produces before its FP16 MMA."""
    u = unpack(m, FP16, scale, f"{name}_s")
    mag = Signal(len(digit) + len(u.sig), name=f"{name}_mag")
    m.d.comb += mag.eq(Mux(digit < 0, -digit, digit) * u.sig)
    norm = normalize(m, mag, u.exp, f"{name}_n")
    return round_pack(m, FP16, u.sign ^ (digit < 0), norm, 0, name)


def dot_product(m: Module, cfg, acts: list, weights: list, name: str, stage=None) -> Signal:
    """One fused dot product ``sum_k a_k * w_k`` of FP16 fields as a word of the
    accumulators' format (FP32, or FP16 saturating at +-65504): the exact
    11 x 11-bit products summed by :func:`~lutcore.hw.fp.fused_sum` (aligned to the largest product
    keeping :data:`~lutcore.hw.fp.ALIGN_EXTRA_BITS` bits, truncated, summed exactly, rounded once).
    ``stage(value, name)``, if given, registers the exact sum before the rounding."""
    terms = []
    for k, (a, w) in enumerate(zip(acts, weights, strict=True)):
        sig = Signal(2 * (FP16.frac_bits + 1), name=f"{name}_p{k}")
        exp = Signal(signed(len(a.exp) + 1), name=f"{name}_pe{k}")
        m.d.comb += [sig.eq(a.sig * w.sig), exp.eq(a.exp + w.exp)]
        terms.append((a.sign ^ w.sign, sig, exp))
    # below every product exponent: zero products never win
    return fused_sum(
        m, terms, 2 * FP16.min_exp, name, stage=stage, fmt=cfg.acc_fmt, saturate=cfg.saturate
    )


#: bits per carry-select segment of the exact fixed-point sums (``acc_format = "fixed"``)
FIXED_SEGMENT = 16


def fixed_dot_product(m: Module, cfg, acts: list, weights: list, name: str, stage=None) -> Value:
    """:func:`dot_product` exactly (``acc_format = "fixed"``): each 11 x 11-bit product
    placed by its exponent as an integer of ``2**fixed_lsb`` (below ``2**80``), negated as a
    one's complement whose ``+1`` carries are one more small term, the ``K`` terms summed by
    carry-save compressors and one carry-select adder (:func:`~lutcore.hw.util.
    carry_save_sum`, signed :attr:`~lutcore.hw.config.TileConfig.acc_bits` wide).
    ``stage(value, name)``, if given, registers each product (significand, shift, sign)
    ahead of the placement and the sum."""
    top = 2 * (FP16.max_exp - FP16.min_exp)  # the largest product's shift
    terms, carries = [], []
    for k, (a, w) in enumerate(zip(acts, weights, strict=True)):
        sig = Signal(2 * (FP16.frac_bits + 1), name=f"{name}_p{k}")
        shift = Signal(range(top + 1), name=f"{name}_ps{k}")
        neg = Signal(name=f"{name}_pn{k}")
        m.d.comb += [
            sig.eq(a.sig * w.sig),
            shift.eq((a.exp + w.exp - cfg.fixed_lsb).as_unsigned()[: len(shift)]),
            neg.eq(a.sign ^ w.sign),
        ]
        if stage:
            sig, shift, neg = (stage(v, f"{v.name}_q") for v in (sig, shift, neg))
        mag = Signal(len(sig) + top, name=f"{name}_pm{k}")
        term = Signal(signed(len(mag) + 1), name=f"{name}_pt{k}")
        wide = Cat(mag, Const(0, 1)).as_signed()  # non-negative: its complement is -mag - 1
        m.d.comb += [mag.eq(sig << shift), term.eq(Mux(neg, ~wide, wide))]
        terms.append(term)
        carries.append(neg)
    ones = Signal(range(len(carries) + 1), name=f"{name}_ones")  # the negations' +1s
    m.d.comb += ones.eq(tree_sum(carries))
    return carry_save_sum(m, [*terms, ones], cfg.acc_bits, FIXED_SEGMENT, name)


def fixed_add(cfg):
    """The exact accumulators' addition (``acc_format = "fixed"``): carry-select, ``acc_bits``
    wide (a ripple chain of 90-odd bits would set the clock)."""

    def add(m: Module, a: Value, b: Value, name: str) -> Value:
        return carry_select_add(m, a, b, cfg.acc_bits, FIXED_SEGMENT, name)

    return add


class FpMacArray(MacArray):
    """``M x N`` FP16 multiply-accumulate cells: the floating-point baseline.

    Per beat every weight arrives whole (``planes_per_cycle == w_bits``): its integer value
    (:func:`~lutcore.hw.mac_array.weight_digit`: code minus zero point, or the signed code) is
    dequantized once per (column, k) to FP16 with the column's scale and shared by the ``M``
    rows; each cell takes the fused FP16 dot product of its ``K`` activations and weights
    (:func:`dot_product`) and adds it to its accumulator (:func:`~lutcore.hw.fp.fp_add`,
    nearest even; FP32, or FP16 saturating at +-65504 with ``acc_format = "fp16"``).
    ``pipeline == 2`` pipelines the cell like an FP unit: registers after the weight
    dequantization (with the activations), after the exact aligned sum, and after the dot
    product's rounding (three stages before the accumulator; the control sees a tile's last
    beat in any of them through ``last_pending``).

    Members as :class:`~lutcore.hw.mac_array.MacArray`; ``beat`` also carries ``scale[n]``.
    With ``N > 1`` and ``pipeline == 2`` the array registers the activations once for its
    columns (a column's ``acts`` arrive registered).
    """

    UNIT = "fpmac_column"

    @property
    def control_depth(self) -> int:
        return 3 if self.cfg.pipeline >= 2 else 0

    def elaborate(self, platform) -> Module:
        cfg = self.cfg
        if cfg.N == 1 or cfg.pipeline < 2:
            return super().elaborate(platform)
        m = Module()
        acts = Signal(act_layout(cfg), name="acts_q", reset_less=True)
        m.d.sync += acts.eq(self.acts)
        column_array(m, self, self.column, self.UNIT, self.control_depth, acts)
        return m

    def elaborate_cells(self, m: Module) -> None:
        cfg = self.cfg
        beat = self.beat.payload
        deep = cfg.pipeline >= 2

        def reg(value, name):
            q = Signal(Value.cast(value).shape(), name=name, reset_less=True)
            m.d.sync += q.eq(value)
            return q

        words = []
        for n, column in enumerate(beat_digits(m, cfg, beat)):
            scale = named(m, beat.scale[n], f"scale_{n}")
            words.append([dequant_weight(m, d, scale, f"wf_{n}_{k}") for k, d in enumerate(column)])
        acts = self.acts
        if deep:  # stage 1: dequantized weights and their activations
            words = [
                [reg(w, f"wf_{n}_{k}_q") for k, w in enumerate(c)] for n, c in enumerate(words)
            ]
            if not self.signature.column:  # a column's arrive registered
                acts = [
                    [reg(self.acts[r][k], f"a_{r}_{k}_q") for k in range(cfg.K)]
                    for r in range(cfg.M)
                ]
        acts = [
            [finite(m, FP16, acts[r][k], f"a_{r}_{k}") for k in range(cfg.K)] for r in range(cfg.M)
        ]
        # exact sums take an infinite weight (a scale beyond the contract) as +-65504, as
        # the activations' rule does; the rounding path unpacks it as it is
        field = finite if cfg.fixed_acc else unpack
        weights = [
            [field(m, FP16, w, f"wu_{n}_{k}") for k, w in enumerate(c)] for n, c in enumerate(words)
        ]
        values = {}
        dot = fixed_dot_product if cfg.fixed_acc else dot_product
        for row in range(cfg.M):
            for col in range(cfg.N):
                values[row, col] = dot(
                    m, cfg, acts[row], weights[col], f"dp_{row}_{col}", stage=reg if deep else None
                )
        add = fixed_add(cfg) if cfg.fixed_acc else accumulator_add(cfg)
        if not deep or self.signature.column:  # a column's control arrives staged
            accumulate(m, cfg, values, AccumulatePorts.of(self), add=add)
            return
        # the beat's control follows its data through the two stages above; the accumulate
        # stage adds the third (after the rounding) and reports its own pending last beat
        valid = self.beat.valid
        fields = {f: getattr(beat, f) for f in ("t", "first", "tile_last")}
        pending = []
        for i in range(2):
            valid = reg(valid, f"beat_valid_{i}")
            fields = {f: reg(v, f"beat_{f}_{i}") for f, v in fields.items()}
            pending.append(valid & fields["tile_last"])
        inner = AccumulatePorts(
            valid, **fields, o=self.o, last_pending=Signal(name="acc_last_pending")
        )
        accumulate(m, cfg, values, inner, add=add)
        m.d.comb += self.last_pending.eq(inner.last_pending | Cat(*pending).any())
