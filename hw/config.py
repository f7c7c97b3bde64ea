"""What every architecture's configuration shares: the base class, the parameter groups, the
number formats and the one way to build a configuration from its keys.

An architecture's config (:mod:`lutcore.hw.arch`) is a frozen dataclass made of the parameter
groups that apply to it (:class:`TileShape`, :class:`Weights`, :class:`Tables`,
:class:`ActConversion`, :class:`Dequant`, :class:`SramBanks`), each group validating its own
fields; the arch adds the checks of its combination. All checks happen in ``__post_init__``,
so an impossible combination is refused before any hardware is built; each message names the
parameter, the value given and what is allowed. A key that does not apply to the arch is
refused by name (:func:`config_from_dict`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

from lutcore.base.files import read_table_file

__all__ = [
    "BF16",
    "FORMATS",
    "FP16",
    "FIXED_LSB",
    "LARGEST_FIXED",
    "FP32",
    "PARAMETERS",
    "ActConversion",
    "ConfigError",
    "FpAccumulation",
    "Dequant",
    "FpFormat",
    "SramBanks",
    "Tables",
    "TileConfig",
    "TileShape",
    "Weights",
    "bits_for_range",
    "config_from_dict",
    "config_from_file",
    "read_config_file",
    "tile_config",
]

ACT_BITS_ALLOWED = (4, 8, 16)
WEIGHT_FORMATS = ("unsigned", "signed", "bcq", "ternary")
TERNARY_CODES = ("planes", "base3")
OFFSETS = ("cell", "output")
#: the table index widths a base-3 table takes ((3**g - 1) / 2 entries: 4, 13, 40, 121)
BASE3_G = (2, 3, 4, 5)
ACT_FORMATS = ("int", "fp16", "bf16")
ACT_BLOCKS = ("group", "chunk")
ROUNDINGS = ("rne", "trunc")
OUT_FORMATS = ("fp32", "fp16")
ACC_FORMATS = ("fp32", "fp16", "fixed")
PIPELINE_ALLOWED = (0, 1, 2)
#: the widest stream payload (bits): Amaranth's limit on one wire, Verilog-2005's minimum
MAX_WIRE_BITS = 1 << 16
MAX_DIM = 4096
#: ``max_k`` by default: the largest multiple of ``K`` not above this
DEFAULT_MAX_K = 4096

#: the parameters that take one of a few values, and those values
CHOICES: dict[str, tuple] = {
    "weight_format": WEIGHT_FORMATS,
    "ternary_code": TERNARY_CODES,
    "offset": OFFSETS,
    "a_bits": ACT_BITS_ALLOWED,
    "act_format": ACT_FORMATS,
    "act_block": ACT_BLOCKS,
    "act_rounding": ROUNDINGS,
    "out_format": OUT_FORMATS,
    "acc_format": ACC_FORMATS,
    "pipeline": PIPELINE_ALLOWED,
}

#: every configuration key, in the order headers, JSON and tables list them
PARAMETERS = (
    "arch",
    "M",
    "N",
    "K",
    "g",
    "symmetric",
    "ternary_code",
    "offset",
    "w_bits",
    "weight_format",
    "a_bits",
    "planes_per_cycle",
    "max_k",
    "pipeline",
    "act_format",
    "act_block",
    "act_rounding",
    "group",
    "out_format",
    "acc_format",
    "read_ports",
    "pattern_aware",
)


@dataclass(frozen=True)
class FpFormat:
    """An IEEE-754-style binary format: sign, ``exp_bits`` exponent, ``frac_bits`` fraction."""

    name: str
    exp_bits: int
    frac_bits: int

    @property
    def width(self) -> int:
        return 1 + self.exp_bits + self.frac_bits

    @property
    def bias(self) -> int:
        return (1 << (self.exp_bits - 1)) - 1

    @property
    def exp_field_max(self) -> int:
        """The all-ones exponent field (infinities and NaNs)."""
        return (1 << self.exp_bits) - 1

    @property
    def min_exp(self) -> int:
        """Exponent of the LSB of subnormals (and of the smallest normals)."""
        return 1 - self.bias - self.frac_bits

    @property
    def max_exp(self) -> int:
        """Exponent of the LSB of the largest finite numbers."""
        return self.exp_field_max - 1 - self.bias - self.frac_bits

    @property
    def canonical_nan(self) -> int:
        """The quiet NaN the converters produce: sign 0, exponent all ones, fraction MSB set."""
        return (self.exp_field_max << self.frac_bits) | (1 << (self.frac_bits - 1))


FP16 = FpFormat("fp16", 5, 10)
BF16 = FpFormat("bf16", 8, 7)
FP32 = FpFormat("fp32", 8, 23)
FORMATS = {f.name: f for f in (FP16, BF16, FP32)}


class ConfigError(ValueError):
    """An invalid configuration value or combination (names the parameter and what is allowed)."""


def bits_for_range(lo: int, hi: int) -> int:
    """Width of the narrowest two's complement signed type holding every integer in [lo, hi]."""
    width = 1
    while not (-(1 << (width - 1)) <= lo and hi <= (1 << (width - 1)) - 1):
        width += 1
    return width


def show(value: Any) -> str:
    """``value`` as a TOML file spells it (``true``, ``"int"``, ``8``), cut to 80 characters
    so that an error never echoes a huge value."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = json.dumps(value)
    elif isinstance(value, int | float):
        text = str(value)
    else:
        text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}... ({len(text)} characters)"


def _allowed(name: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise ConfigError(f"{name}={show(value)}: allowed {', '.join(map(show, allowed))}")


# ---- the parameter groups ---------------------------------------------------------------
# Each group is a frozen dataclass of fields with their derived quantities and a ``_check``
# that validates them (run by TileConfig.__post_init__ for every group of the class).


@dataclass(frozen=True)
class TileShape:
    """The output tile and its runtime reduction.

    M : activation rows sharing each weight (rows of the output tile), 1..4096.
    N : weight columns (columns of the output tile), 1..4096.
    K : reduction depth consumed per K-slice.
    max_k : largest runtime reduction length (activations per output) the tile accepts; fixes
        the accumulator width so that no overflow is possible. A multiple of ``K``; by
        default the largest multiple of ``K`` not above :data:`DEFAULT_MAX_K`.
    pipeline : register stages in the array datapath: 0 none, 1 registered weight/control
        broadcast into the array, 2 also a register after the per-cell adder tree.
    """

    M: int = 2
    N: int = 64
    K: int = 4
    max_k: int | None = None  # None: follows K (see the docstring)
    pipeline: int = 1

    def _check(self) -> None:
        for name in ("M", "N"):
            if not 1 <= getattr(self, name) <= MAX_DIM:
                raise ConfigError(f"{name}={getattr(self, name)}: allowed 1..{MAX_DIM}")
        if not 1 <= self.K <= MAX_DIM:
            raise ConfigError(f"K={self.K}: allowed 1..{MAX_DIM}")
        if not (self.K <= self.max_k <= 1 << 24 and self.max_k % self.K == 0):
            raise ConfigError(
                f"max_k={self.max_k}: must be a multiple of K={self.K} in {self.K}..{1 << 24}"
            )
        _allowed("pipeline", self.pipeline, PIPELINE_ALLOWED)

    @property
    def max_slices(self) -> int:
        return self.max_k // self.K

    @property
    def slice_count_bits(self) -> int:
        """Width of the runtime ``n_slices`` field (holds 1..max_slices)."""
        return self.max_slices.bit_length()


@dataclass(frozen=True)
class Weights:
    """The weight codes and how many of their bit planes a cycle takes.

    w_bits : weight code width in bits, 1..8.
    weight_format : ``"unsigned"`` codes ``0..2**w_bits-1`` with a per-column runtime zero point
        (``W = Wq - z``); ``"signed"`` two's complement codes (``W = Wq``); ``"bcq"`` binary-coded
        weights ``W = sum_i alpha_i * b_i + offset`` with ``w_bits`` planes ``b_i`` in {-1, +1}:
        the tile takes binary planes (code 1 is +1, 0 is -1), each plane of a weight in its own
        column (a q-bit BCQ weight occupies q columns, one beat per slice), and the dequant
        converter combines the planes with their ``alpha_i``; ``"ternary"`` weights
        ``W`` in {-1, 0, +1} (BitNet b1.58), ``w_bits = 2``, coded as
        :attr:`Tables.ternary_code` says (the MAC baseline: 2-bit two's complement codes,
        a whole weight per beat, added, subtracted or skipped).
    a_bits : signed activation width, one of 4, 8, 16. With floating-point activations this
        is the width of the aligned block-floating-point mantissa (sign included).
    planes_per_cycle : weight bit planes consumed per cycle; 1 is fully bit-serial,
        ``w_bits`` bit-parallel. Must divide ``w_bits``.
    """

    w_bits: int = 2
    weight_format: str = "unsigned"
    a_bits: int = 8
    planes_per_cycle: int = 1

    def _check(self) -> None:
        if not 1 <= self.w_bits <= 8:
            raise ConfigError(f"w_bits={self.w_bits}: allowed 1..8")
        _allowed("weight_format", self.weight_format, WEIGHT_FORMATS)
        _allowed("a_bits", self.a_bits, ACT_BITS_ALLOWED)
        divisors = [d for d in range(1, self.w_bits + 1) if self.w_bits % d == 0]
        if self.planes_per_cycle not in divisors:
            raise ConfigError(
                f"planes_per_cycle={self.planes_per_cycle}: must divide w_bits={self.w_bits}; "
                f"allowed {', '.join(map(str, divisors))}"
            )
        if self.weight_format == "ternary" and self.w_bits != 2:
            raise ConfigError(
                f'w_bits={self.w_bits} with weight_format="ternary": a ternary weight is a '
                "2-bit code (base-3 groups pack theirs); allowed 2"
            )
        if self.weight_format == "bcq" and self.planes_per_cycle != 1:
            raise ConfigError(
                f'planes_per_cycle={self.planes_per_cycle} with weight_format="bcq": the tile '
                "takes one binary plane per column (each BCQ plane has its own column); allowed 1"
            )

    @property
    def beats_per_slice(self) -> int:
        """Weight beats (cycles) per K-slice: ``w_bits / planes_per_cycle`` (1 for BCQ, whose
        planes sit in separate columns)."""
        if self.weight_format == "bcq" or self.base3:
            return 1
        return self.w_bits // self.planes_per_cycle

    @property
    def base3(self) -> bool:
        """Ternary weights in base-3 groups: one table lookup per group of ``g`` weights and
        beat, no bit planes (:attr:`Tables.ternary_code`)."""
        return self.weight_format == "ternary" and getattr(self, "ternary_code", "") == "base3"

    @property
    def bits_per_weight(self) -> float:
        """Weight stream bits per weight: ``w_bits``, or a base-3 group's code over ``g``."""
        return self.group_code_bits / self.g if self.base3 else float(self.w_bits)

    @property
    def signed_codes(self) -> bool:
        """Weight codes are ``w_bits`` two's complement integers, the top plane weighing
        ``-2**(w_bits-1)``: signed weights, and ternary weights as 2-bit planes."""
        return self.weight_format == "signed" or (
            self.weight_format == "ternary" and not self.base3
        )

    @property
    def a_range(self) -> tuple[int, int]:
        return -(1 << (self.a_bits - 1)), (1 << (self.a_bits - 1)) - 1

    @property
    def w_range(self) -> tuple[int, int]:
        """Range of the integer weight value ``W`` (after the zero point)."""
        if self.weight_format == "ternary" and (self.base3 or not self.uses_tables):
            # base-3 groups and the add/sub MAC hold nothing but -1, 0, +1; 2-bit planes
            # on a LUT tile also take the code 0b10 (-2)
            return -1, 1
        if self.signed_codes:
            return -(1 << (self.w_bits - 1)), (1 << (self.w_bits - 1)) - 1
        if self.weight_format == "bcq":  # one binary plane per column
            return -1, 1
        return -((1 << self.w_bits) - 1), (1 << self.w_bits) - 1

    @property
    def has_zero_point(self) -> bool:
        return self.weight_format == "unsigned"

    @property
    def zero_in_tile(self) -> bool:
        """The tile applies the zero points (they come in the command); with
        ``offset = "output"`` the dequant converter does instead."""
        return self.has_zero_point and not getattr(self, "offset_out", False)


@dataclass(frozen=True)
class Tables:
    """The lookup tables of a LUT design.

    g : table index width, 1..6; one table covers ``g`` activations; ``K`` is a multiple.
    symmetric : ``True`` stores ``2**(g-1)`` entries and negates by the index MSB (LUT Tensor
        Core table symmetrization); ``False`` stores the ``2**g - 1`` non-zero entries of the
        unsigned (0/1) table (LUT-GEMM style).
    ternary_code : how a tile takes ternary weights (``weight_format = "ternary"`` only):
        ``"planes"`` as 2-bit two's complement codes in bit planes on the integer tile (LUT
        Tensor Core's W_INT2), ``"base3"`` as base-3 groups: ``g`` weights ``t_j`` form the
        value ``v = sum_j t_j * 3**j``, sent as its magnitude ``|v|`` and a sign bit (``g = 3``:
        5 bits, 1.67 bits a weight, as bitnet.cpp's TL2), looked up in a table of the
        ``(3**g - 1)/2`` sums with ``v > 0`` (``T[-v] = -T[v]``, ``T[0] = 0``).
    offset : where the symmetric table's offset term goes (LUT Tensor Core's weight
        reinterpretation, ``sum_k a_k (w_k - z) = sum_b c_b 2**(b-1) T_b + (C - 2z)/2 * S``
        with ``C = sum_b c_b 2**b``, ``c_b = -1`` for the signed top plane, else 1):
        ``"cell"`` adds the slice sum ``S`` as one more leaf in every cell each beat;
        ``"output"`` leaves it out of the cells (which then accumulate twice the rest,
        ``sum_b c_b 2**b T_b``), accumulates ``S`` once per row and sends it on ``y`` beside
        the results, and the dequant converter forms ``(acc + (C - 2z) * S) / 2`` once per
        output (the zero points then go to the converter, not the command). The integer
        tile takes it with floating-point activations (its dequant converter applies it).
    """

    g: int = 4
    symmetric: bool = True
    ternary_code: str = "base3"
    offset: str = "cell"

    def _check(self) -> None:
        if not 1 <= self.g <= 6:
            raise ConfigError(f"g={self.g}: allowed 1..6 (table index width)")
        _allowed("ternary_code", self.ternary_code, TERNARY_CODES)
        if self.ternary_code != "base3" and self.weight_format != "ternary":
            raise ConfigError(
                f"ternary_code={show(self.ternary_code)} with "
                f"weight_format={show(self.weight_format)}: a ternary code applies to "
                'weight_format="ternary" only; leave it out'
            )
        if self.base3:
            if self.g not in BASE3_G:
                raise ConfigError(
                    f'g={self.g} with ternary_code="base3": a base-3 table of g weights has '
                    f"(3**g - 1)/2 entries; allowed {', '.join(map(str, BASE3_G))}"
                )
            if not self.symmetric or self.planes_per_cycle != 1:
                raise ConfigError(
                    f"symmetric={show(self.symmetric)}, planes_per_cycle={self.planes_per_cycle}"
                    ' with ternary_code="base3": a base-3 table is sign-symmetric and a beat '
                    "holds one group code per table; allowed symmetric=true, planes_per_cycle=1"
                )
        _allowed("offset", self.offset, OFFSETS)
        if self.offset_out and not (
            self.symmetric and self.weight_format in ("unsigned", "signed")
        ):
            raise ConfigError(
                f'offset="output" with symmetric={show(self.symmetric)}, '
                f"weight_format={show(self.weight_format)}: only symmetric tables of uniform "
                "weights have an offset term; allowed symmetric=true with weight_format "
                '"unsigned" or "signed" (or offset="cell")'
            )
        if self.symmetric and self.g < 2:
            raise ConfigError(
                f"g={self.g} with symmetric=true: a symmetric table needs g >= 2 "
                "(one index bit selects negation)"
            )
        if not (self.g <= self.K <= MAX_DIM and self.K % self.g == 0):
            raise ConfigError(
                f"K={self.K}: must be a multiple of g={self.g} in {self.g}..{MAX_DIM}"
            )

    @property
    def offset_out(self) -> bool:
        """The offset term is applied once per output, after the array (``offset``); ``y``
        then carries each row's activation sum ``S`` beside the results."""
        return self.offset == "output"

    @property
    def offset_coefficient(self) -> int:
        """``C = sum_b c_b 2**b`` of the weight reinterpretation (``2**w_bits - 1`` unsigned,
        ``-1`` signed): the output's offset term is ``(C - 2z)/2 * S``."""
        return -1 if self.signed_codes else (1 << self.w_bits) - 1

    @property
    def chunks(self) -> int:
        """Tables per row per K-slice (``K / g``)."""
        return self.K // self.g

    @property
    def entries(self) -> int:
        """Stored entries per table: ``2**(g-1)`` (symmetric) or ``2**g - 1`` (unsigned; the
        all-zeros entry is the constant 0 and is not stored)."""
        if self.base3:
            return (3**self.g - 1) // 2
        return 1 << (self.g - 1) if self.symmetric else (1 << self.g) - 1

    @property
    def group_code_bits(self) -> int:
        """Bits of one base-3 group's code: the magnitude ``|v|`` (0..entries) and a sign."""
        return self.entries.bit_length() + 1

    @property
    def entry_bits(self) -> int:
        """Signed width of one stored table entry."""
        lo, hi = self.a_range
        if self.symmetric:
            return bits_for_range(self.g * lo, -self.g * lo)
        return bits_for_range(self.g * lo, self.g * hi)


@dataclass(frozen=True)
class Dequant:
    """The dequant converter after an integer or FP-table tile.

    group : weight quantization group along K (one scale and zero point per group and
        column), a multiple of ``K`` dividing ``max_k``; the runtime K of one output tile and,
        with ``act_block == "group"``, the activation converter's block (checked only for
        floating-point activations; with integer ones the group is a runtime choice).
    out_format : the converter's output, ``"fp32"`` or ``"fp16"``.
    """

    group: int = 128
    out_format: str = "fp32"

    def _check(self) -> None:
        _allowed("out_format", self.out_format, OUT_FORMATS)
        if self.act_format != "int" and not (
            self.group >= self.K and self.group % self.K == 0 and not self.max_k % self.group
        ):
            raise ConfigError(
                f"group={self.group}: must be a multiple of K={self.K} that divides "
                f"max_k={self.max_k}"
            )

    @property
    def out_fmt(self) -> FpFormat:
        return FORMATS[self.out_format]

    @property
    def dequant_terms(self) -> int:
        """Scaled integers the dequant converter sums per output: 1 (``acc - z*S`` times the
        scale), or ``w_bits + 1`` for BCQ (each plane times ``alpha_i``, ``S`` times the
        offset)."""
        return self.w_bits + 1 if self.weight_format == "bcq" else 1

    @property
    def dequant_lanes(self) -> int:
        """Outputs the dequant converter takes per cycle so it keeps up with the tile: the
        ``M*N`` results of an output tile (one group, ``group/K`` slices) per the weight beats
        that produce it (BCQ: ``w_bits`` columns per output)."""
        outputs = -(-self.M * self.N // (self.w_bits if self.weight_format == "bcq" else 1))
        cycles = max(1, min(self.group, self.max_k) // self.K) * self.beats_per_slice
        return max(1, -(-outputs // cycles))

    @property
    def fp_slug(self) -> str:
        """Name of the floating-point path around the tile (converters' modules and reports):
        activation format, block, rounding, mantissa width, group and output format."""
        weights = f"w{self.w_bits}{self.weight_format[0]}_{self.out_format}"
        if self.act_format == "int":
            return f"int{self.a_bits}_{weights}"
        return f"{self.act_format}b{self.bfp_block}{self.act_rounding}_a{self.a_bits}_{weights}"


@dataclass(frozen=True)
class ActConversion:
    """Floating-point activations converted to block floating point before an integer tile.

    act_format : ``"int"`` (activations are ``a_bits`` integers), ``"fp16"`` or ``"bf16"``
        (converted to block floating point by the activation converter).
    act_block : activations sharing one exponent: ``"group"`` (``group`` activations: the
        integer tile accumulates a whole group exactly) or ``"chunk"`` (``g`` activations, one
        table; LUT tiles only).
    act_rounding : mantissa alignment rounding, ``"rne"`` (to nearest, ties to even) or
        ``"trunc"`` (toward zero).
    """

    act_format: str = "int"
    act_block: str = "group"
    act_rounding: str = "rne"

    def _check(self) -> None:
        _allowed("act_format", self.act_format, ACT_FORMATS)
        _allowed("act_block", self.act_block, ACT_BLOCKS)
        _allowed("act_rounding", self.act_rounding, ROUNDINGS)
        if self.act_block == "chunk" and not self.uses_tables:
            raise ConfigError(
                f'act_block="chunk" with arch={show(self.arch)}: a chunk is the g activations '
                'of one table; allowed "group"'
            )
        if self.weight_format == "ternary" and self.act_format != "int":
            raise ConfigError(
                f'act_format={show(self.act_format)} with weight_format="ternary": ternary '
                'tiles take integer activations (BitNet b1.58: absmax INT8); allowed "int"'
            )
        if self.act_format != "int" and self.a_bits < 8:
            raise ConfigError(
                f"a_bits={self.a_bits} with act_format={show(self.act_format)}: block floating "
                "point needs a mantissa of 8 or 16 bits"
            )

    @property
    def act_fmt(self) -> FpFormat:
        """Format of floating-point activations (``act_format`` must not be ``"int"``)."""
        return FORMATS[self.act_format]

    @property
    def bfp_block(self) -> int:
        """Activations sharing one exponent: ``group`` or ``g``."""
        return self.group if self.act_block == "group" else self.g

    @property
    def act_lanes(self) -> int:
        """Activations the activation converter takes (and gives) per cycle: the smallest
        divisor ``d`` of the block whose rate ``d / 2`` (it fills its block buffer, then drains
        it) meets the tile's consumption of
        ``M * K / beats_per_slice`` activations a cycle."""
        need = self.M * self.K / self.beats_per_slice
        block = self.bfp_block
        return next(
            d for d in range(1, block + 1) if block % d == 0 and (d == block or d / 2 >= need)
        )

    @property
    def bfp_offset(self) -> int:
        """``a_bits - 2 - frac_bits``: a block's largest element has its leading one on mantissa
        bit ``a_bits - 2``, so the block exponent is ``X = L - bfp_offset``."""
        return self.a_bits - 2 - self.act_fmt.frac_bits

    @property
    def bfp_exp_bits(self) -> int:
        """Signed width of the block exponent ``X`` (1 for integer activations: ``X = 0``)."""
        if self.act_format == "int":
            return 1
        fmt = self.act_fmt
        return bits_for_range(fmt.min_exp - self.bfp_offset, fmt.max_exp - self.bfp_offset)

    @property
    def block_total_bits(self) -> int:
        """Signed width of one block's mantissa sum."""
        lo, hi = self.a_range
        return bits_for_range(self.bfp_block * lo, self.bfp_block * hi)


#: exponent of the fixed-point accumulators' LSB (``acc_format = "fixed"``): the smallest
#: FP16 subnormal, so that every FP16 table entry is an integer
FIXED_LSB = FP16.min_exp
#: the largest FP16 magnitude (the tables saturate there) in those units
LARGEST_FIXED = ((1 << (FP16.frac_bits + 1)) - 1) << (FP16.max_exp - FIXED_LSB)


@dataclass(frozen=True)
class FpAccumulation:
    """The floating-point accumulators of the FP tiles (FP-table LUT and FP16 MAC).

    acc_format : ``"fp32"`` (FP32 accumulators; each beat's value rounded once to FP32),
        ``"fp16"`` (as LUT Tensor Core's public array RTL: each beat's value rounded to FP16,
        FP16 additions, FP16 results on ``y``) or ``"fixed"`` (Kulisch-style: the FP-table
        tile's FP16 entries as signed integers of ``2**-24``, the smallest FP16 subnormal,
        the FP16 MAC's products as integers of ``2**-48``, summed and accumulated exactly in
        ``acc_bits`` integers; a dequant converter normalizes and rounds once per output;
        the FP-table tile with ``offset = "output"`` only). An FP16 value or sum beyond the
        largest finite FP16 number saturates to +-65504 (as the FP16 tables do), so every
        FP result is finite.
    """

    acc_format: str = "fp32"

    def _check(self) -> None:
        _allowed("acc_format", self.acc_format, ACC_FORMATS)

    @property
    def fixed_acc(self) -> bool:
        """Exact fixed-point accumulation (``acc_format = "fixed"``): integer results."""
        return self.acc_format == "fixed"

    @property
    def saturate(self) -> bool:
        """The accumulators saturate instead of overflowing (FP16: values of FP16 tables or
        dot products times a beat's ``2**t`` reach past 65504; FP32 ones never do)."""
        return self.acc_format == "fp16"


@dataclass(frozen=True)
class SramBanks:
    """The SRAM banks holding a PIM tile's tables.

    read_ports : read ports per SRAM bank, 1 or 2 (one 1rw1r macro per bank).
    pattern_aware : lookups of a step with the same index share one read, and index 0 (the
        all-zero pattern, whose entry is 0) is not read at all.
    """

    read_ports: int = 1
    pattern_aware: bool = True

    def _check(self) -> None:
        if self.read_ports not in (1, 2):
            raise ConfigError(
                f"read_ports={self.read_ports}: allowed 1, 2 (one 1rw1r SRAM macro per bank)"
            )

    @property
    def banks(self) -> int:
        """SRAM banks: one chunk (table) of a step per bank, ``K / g``."""
        return self.chunks

    @property
    def table_rows(self) -> int:
        """Rows of a bank holding tables: the ``entries`` of one chunk for each of the
        ``max_slices`` K-slices (slice ``s``, entry ``e`` at row ``s * entries + e``)."""
        return self.max_slices * self.entries

    @property
    def region_rows(self) -> int:
        """Rows of a bank above the tables holding the in-memory conversions' bit planes
        (:mod:`lutcore.hw.pim_bank_convert`)."""
        from .pim_programs import region_rows  # the programs need this module's formats

        return region_rows(self)

    @property
    def sram_rows(self) -> int:
        """Words per SRAM bank: the tables, then the conversion region."""
        return self.table_rows + self.region_rows

    @property
    def sram_word_bits(self) -> int:
        """Width of one SRAM word: the ``M`` batch rows' entries (signed ``entry_bits`` each,
        row ``m`` at bit ``m * entry_bits``)."""
        return self.M * self.entry_bits


# ---- the base class ---------------------------------------------------------------------


@dataclass(frozen=True)
class TileConfig(TileShape, Weights):
    """The configuration of one architecture's tile (the base of every arch's config).

    Subclasses set the class attributes below and add parameter groups; they are registered
    in :mod:`lutcore.hw.arch`. The derived widths here hold for every arch.
    """

    #: the registry key (``arch`` in files, flags and sweep specs)
    arch: ClassVar[str] = ""
    #: a LUT design: ``g`` and ``symmetric`` apply
    uses_tables: ClassVar[bool] = False
    #: the tile itself takes FP16 activation words and gives FP32 results
    fp_words: ClassVar[bool] = False
    #: table entries are FP16 words, results FP32 (the FP-table tile)
    fp_tables: ClassVar[bool] = False
    #: the command carries per-column FP16 scales (the FP16 baseline)
    scale_in_command: ClassVar[bool] = False
    #: the command has an opcode (the PIM tile: load, compute, convert, memory read and write)
    opcode_command: ClassVar[bool] = False
    #: the tile takes ``weight_format = "ternary"`` (the integer LUT and MAC tiles)
    takes_ternary: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if not self.arch:
            raise ConfigError("TileConfig is abstract: build an arch's config (tile_config)")
        if self.max_k is None and isinstance(self.K, int) and 1 <= self.K <= MAX_DIM:
            object.__setattr__(self, "max_k", DEFAULT_MAX_K // self.K * self.K)
        for f in fields(self):
            value = getattr(self, f.name)
            kind = str(f.type).split(" |")[0]
            want = bool if kind == "bool" else int if kind == "int" else str
            # bool is a subclass of int: refuse True where a number is meant, and vice versa
            if want is int and (not isinstance(value, int) or isinstance(value, bool)):
                raise ConfigError(f"{f.name}={show(value)}: must be an integer")
            if want is bool and not isinstance(value, bool):
                raise ConfigError(f"{f.name}={show(value)}: must be true or false")
            if want is str and not isinstance(value, str):
                raise ConfigError(f"{f.name}={show(value)}: must be a string")
        if self.weight_format == "ternary" and not self.takes_ternary:
            raise ConfigError(
                f'weight_format="ternary" with arch={show(self.arch)}: ternary weights run on '
                'arch "lut" and "mac"; allowed "unsigned", "signed"'
            )
        # each parameter group's own checks, then the arch's combination
        for group in _CHECK_ORDER:
            if isinstance(self, group):
                group._check(self)
        self._check_arch()
        self._check_beats()

    def _check_beats(self) -> None:
        """Refuse a tile with a stream beat or broadcast bus wider than one wire can be
        (Amaranth refuses wires above :data:`MAX_WIRE_BITS`; so does Verilog-2005's minimum
        vector limit): one ``a`` beat carries a K-slice of ``M`` rows, one ``w`` beat
        ``N * K * planes_per_cycle`` bits, one ``y`` beat all ``M * N`` results, and the
        tables of a slice are one bus."""
        from amaranth.hdl import Shape  # here: the configuration itself needs no HDL

        from .layouts import act_layout, result_layout, table_layout, weight_layout

        buses = [
            ("activation beat (a)", act_layout),
            ("weight beat (w)", weight_layout),
            ("result beat (y)", result_layout),
        ]
        if self.uses_tables:
            buses.append(("table bus", table_layout))
        for what, layout in buses:
            width = Shape.cast(layout(self)).width
            if width > MAX_WIRE_BITS:
                raise ConfigError(
                    f"M={self.M}, N={self.N}, K={self.K}: one {what} is {width:,} bits, above "
                    f"{MAX_WIRE_BITS:,} (one wire); allowed: a smaller M, N or K"
                )

    def _check_arch(self) -> None:
        """The checks of the arch's combination of groups (subclasses)."""

    def _require(self, need: dict[str, Any], why: str) -> None:
        """Refuse a field that differs from the one value the arch takes, saying why."""
        for name, value in need.items():
            if getattr(self, name) != value:
                raise ConfigError(
                    f"{name}={show(getattr(self, name))} with arch={show(self.arch)}: {why}; "
                    f"allowed {show(value)}"
                )

    # ---- derived quantities of every arch ---------------------------------------------

    @property
    def sum_bits(self) -> int:
        """Signed width of a row's slice sum ``S = sum_k a_k`` over one K-slice."""
        lo, hi = self.a_range
        return bits_for_range(self.K * lo, self.K * hi)

    @property
    def acc_bits(self) -> int:
        """Signed accumulator/result width: exact for any runtime K up to ``max_k``."""
        alo, ahi = self.a_range
        wlo, whi = self.w_range
        if getattr(self, "offset_out", False):
            # sum_b c_b 2**b sum_k a_k (2 w_bk - 1): every plane's +-1 at full weight
            bound = self.max_k * max(-alo, ahi) * ((1 << self.w_bits) - 1)
            return bits_for_range(-bound, bound)
        products = [alo * wlo, alo * whi, ahi * wlo, ahi * whi]
        return bits_for_range(self.max_k * min(products), self.max_k * max(products))

    @property
    def total_bits(self) -> int:
        """Signed width of a row's activation sum ``S`` over a whole output tile (up to
        ``max_k`` activations): the zero-point and BCQ-offset operand."""
        lo, hi = self.a_range
        return bits_for_range(self.max_k * lo, self.max_k * hi)

    @property
    def act_word_bits(self) -> int:
        """Width of one activation on the tile's ``a`` stream: ``a_bits`` integers, or FP16
        words (:attr:`fp_words`)."""
        return 16 if self.fp_words else self.a_bits

    @property
    def result_bits(self) -> int:
        """Width of one result word: ``acc_bits`` (signed), or the FP accumulators' format
        (:attr:`fp_words`: FP32, or FP16 with ``acc_format = "fp16"``)."""
        return self.acc_fmt.width if self.fp_results else self.acc_bits

    @property
    def fp_results(self) -> bool:
        """The result words on ``y`` are FP words (:attr:`acc_fmt`): the FP tiles, except
        with exact fixed-point accumulation (``acc_format = "fixed"``, signed integers)."""
        return self.fp_words and not getattr(self, "fixed_acc", False)

    @property
    def acc_fmt(self) -> FpFormat:
        """Format of the FP tiles' accumulators and result words (``acc_format``; FP32 for an
        arch that has none). Fixed-point accumulators have none (:attr:`fp_results`)."""
        name = getattr(self, "acc_format", "fp32")
        if name not in FORMATS:
            raise ValueError(f"acc_format={show(name)} has no floating-point format")
        return FORMATS[name]

    @property
    def weight_bit_macs_per_cycle(self) -> float:
        """Weight-bit multiply-accumulates per cycle at full rate (``M*N*K*planes_per_cycle``,
        ``M*N*K*w_bits`` for base-3 ternary groups: a whole ternary weight a beat;
        the PIM tile overrides it with its data-independent lookup rate)."""
        return self.M * self.N * self.K * (self.w_bits if self.base3 else self.planes_per_cycle)

    #: mapped cells per output and per weight-bit MAC/cycle, fitted to measured tiles of the
    #: arch (compact sky130 library): the size estimate before elaboration
    cell_model: ClassVar[tuple[float, float]] = (150.0, 60.0)

    @property
    def estimated_cells(self) -> int:
        """Rough mapped cell count (within about 2x): what elaboration and synthesis of the
        tile will cost, known before either runs."""
        per_output, per_mac = self.cell_model
        return int(per_output * self.M * self.N + per_mac * self.weight_bit_macs_per_cycle)

    @property
    def macs_per_cycle(self) -> float:
        """Multiply-accumulates of ``w_bits`` weights per cycle at full rate."""
        return self.weight_bit_macs_per_cycle / self.w_bits

    @property
    def slices_ahead(self) -> int:
        """Activation beats (K-slices) the tile takes before any weight: the slice buffer's
        two slots (the slice in use and the next)."""
        return 2

    @property
    def latency_cycles(self) -> int:
        """Cycles from the transfer of an output tile's last weight beat to the transfer of
        its ``y`` beat, with ``y`` ready: ``1 + pipeline`` (stream tiles; the PIM tile's
        compute is paced by its lookups instead)."""
        return 1 + self.pipeline

    @property
    def turnaround_cycles(self) -> int:
        """Cycles a tile boundary adds, unthrottled, when the next output tile's first beat
        waits for the previous result to be read (the accumulators are the result
        register): ``3 + pipeline``."""
        return 3 + self.pipeline

    def gemv_cycles(self, k: int, n_total: int) -> int:
        """Cycles of ``A[M, k] @ W[k, n_total]`` unthrottled: one weight beat a cycle per
        output tile of ``N`` columns plus each tile's turnaround."""
        tiles = -(-n_total // self.N)
        return tiles * ((k // self.K) * self.beats_per_slice + self.turnaround_cycles)

    # ---- naming and (de)serialization -----------------------------------------------

    def _slug_tables(self) -> str:
        return f"_g{self.g}{'s' if self.symmetric else 'u'}" if self.uses_tables else ""

    @property
    def slug(self) -> str:
        """Stable, human-readable name of the configuration (used for files and modules):
        every parameter that changes the tile's hardware."""
        wfmt = {"unsigned": "u", "signed": "s", "bcq": "b", "ternary": "t"}[self.weight_format]
        wfmt += "3" if self.base3 else ""
        act_format = getattr(self, "act_format", "int")
        act = "" if act_format == "int" else act_format
        return (
            f"{self.arch}_m{self.M}n{self.N}k{self.K}{self._slug_tables()}_w{self.w_bits}{wfmt}"
            f"_{act}a{self.a_bits}_p{self.planes_per_cycle}_kmax{self.max_k}_pipe{self.pipeline}"
            + {"fp16": "_acc16", "fixed": "_accfix"}.get(getattr(self, "acc_format", ""), "")
            + ("_offout" if getattr(self, "offset_out", False) else "")
        )

    @property
    def parts(self) -> tuple[str, ...]:
        """The separately emitted designs of the configuration, ``"tile"`` first (then its
        converters: ``"act_converter"``, ``"dequant"``)."""
        raise NotImplementedError

    def derived_summary(self) -> str:
        """The derived sizes a reader of the Verilog header wants (one line)."""
        return f"acc_bits = {self.acc_bits}, beats/slice = {self.beats_per_slice}"

    @classmethod
    def parameters(cls) -> tuple[str, ...]:
        """The keys of this arch's configuration, ``arch`` first."""
        own = {f.name for f in fields(cls)}
        return tuple(p for p in PARAMETERS if p == "arch" or p in own)

    def to_dict(self) -> dict[str, Any]:
        """Only the parameters that apply to the arch, ``arch`` first (``ternary_code`` only
        with ternary weights, ``offset`` only where a table has an offset term)."""
        applies = {
            "ternary_code": self.weight_format == "ternary",
            "offset": self.symmetric and self.weight_format in ("unsigned", "signed")
            if self.uses_tables
            else False,
        }
        own = [p for p in self.parameters() if applies.get(p, True)]
        return {p: self.arch if p == "arch" else getattr(self, p) for p in own}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def replace(self, **changes: Any) -> TileConfig:
        """A copy with ``changes``, validated. With a new ``arch``, this config's parameters
        that the new arch does not take are left behind; a change that does not apply to
        it is refused by name."""
        from lutcore.hw.arch import REGISTRY

        kept = self.to_dict()
        arch = changes.get("arch", self.arch)
        if arch != self.arch and arch in REGISTRY:
            own = REGISTRY[arch].config.parameters()
            kept = {k: v for k, v in kept.items() if k in own}
        return config_from_dict(kept | changes)

    # the file loaders, reachable from any config class (the keys pick the arch)
    @staticmethod
    def from_dict(data: dict[str, Any], *, source: str = "configuration") -> TileConfig:
        return config_from_dict(data, source=source)

    @staticmethod
    def from_file(path: str | Path) -> TileConfig:
        return config_from_file(path)


#: the order the groups' checks run in (the first message a user sees is the most basic)
_CHECK_ORDER = (Tables, TileShape, Weights, SramBanks, ActConversion, Dequant, FpAccumulation)


def config_from_dict(data: dict[str, Any], *, source: str = "configuration") -> TileConfig:
    """The config of ``data["arch"]`` (default ``"lut"``) from its keys. Unknown keys, and
    keys that do not apply to the arch, are refused by name."""
    from lutcore.hw.arch import REGISTRY, applies_to

    where = "" if source == "configuration" else f"{source}: "
    unknown = sorted(set(data) - set(PARAMETERS))
    if unknown:
        raise ConfigError(
            f"{where}unknown parameter(s) {', '.join(show(u) for u in unknown)}; "
            f"allowed: {', '.join(sorted(PARAMETERS))}"
        )
    arch = data.get("arch", "lut")
    if arch not in REGISTRY:
        raise ConfigError(f"{where}arch={show(arch)}: allowed {', '.join(REGISTRY)}")
    cls = REGISTRY[arch].config
    own = set(cls.parameters())
    for key in data:
        if key not in own:
            archs = applies_to(key)
            raise ConfigError(
                f"{where}{key} applies to arch {', '.join(archs)} only (not {show(arch)}); "
                f"the parameters of arch {show(arch)}: {', '.join(sorted(own))}"
            )
    try:
        return cls(**{k: v for k, v in data.items() if k != "arch"})
    except ConfigError as exc:
        if not where:
            raise
        raise ConfigError(f"{where}{exc}") from None


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The keys of a TOML (``[tile]`` table or top-level keys) or JSON configuration file,
    not yet validated (flags may complete them)."""
    path = Path(path)
    data = read_table_file(path, "config file", ConfigError)
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: expected a table of parameters")
    if "tile" in data:
        if not isinstance(data["tile"], dict) or len(data) != 1:
            raise ConfigError(f"config file {path}: [tile] must be the only table")
        data = data["tile"]
    return data


def config_from_file(path: str | Path) -> TileConfig:
    """Load and validate a configuration file (see :func:`read_config_file`)."""
    return config_from_dict(read_config_file(path), source=f"config file {path}")


def tile_config(arch: str = "lut", **params: Any) -> TileConfig:
    """The config of ``arch`` with ``params`` (the keys of files and flags)."""
    return config_from_dict({"arch": arch, **params})
