"""The one validated configuration object of a tile (LUT or the MAC baseline).

Every generator, golden model, testbench and report takes a :class:`TileConfig`. All checks
happen in ``__post_init__``, so an impossible combination is refused before any hardware is
built; each message names the parameter, the value given and what is allowed.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

__all__ = [
    "ConfigError",
    "TileConfig",
    "DEFAULT",
    "read_table_file",
    "FpFormat",
    "FP16",
    "BF16",
    "FP32",
    "FORMATS",
]

ARCHS = ("lut", "mac", "fpmac", "fplut", "pim")
ACT_BITS_ALLOWED = (4, 8, 16)
WEIGHT_FORMATS = ("unsigned", "signed", "bcq")
ACT_FORMATS = ("int", "fp16", "bf16")
ACT_BLOCKS = ("group", "chunk")
ROUNDINGS = ("rne", "trunc")
OUT_FORMATS = ("fp32", "fp16")
PIPELINE_ALLOWED = (0, 1, 2)
MAX_DIM = 4096


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


def _bits_for_range(lo: int, hi: int) -> int:
    """Width of the narrowest two's complement signed type holding every integer in [lo, hi]."""
    width = 1
    while not (-(1 << (width - 1)) <= lo and hi <= (1 << (width - 1)) - 1):
        width += 1
    return width


@dataclass(frozen=True)
class TileConfig:
    """A LUT Tensor Core tile, or the multiply-based baseline with the same interfaces.

    Attributes
    ----------
    arch : ``"lut"`` the LUT Tensor Core tile; ``"mac"`` the baseline that decodes weights
        to signed integers and multiplies (``g`` and ``symmetric`` do not apply to it);
        ``"fpmac"`` the floating-point baseline: FP16 activations times weights dequantized
        to FP16 (per-column scale), fused K-term dot products, FP32 accumulation (needs
        ``act_format="fp16"``, ``a_bits=16``, bit-parallel uniform weights);
        ``"fplut"`` LUT Tensor Core's floating-point design point: FP16 activations build FP16
        table entries, the array adds looked-up entries in floating point and accumulates in
        FP32 (needs ``act_format="fp16"``, ``a_bits=16``, symmetric tables, uniform weights;
        the dequant converter after it applies the scales);
        ``"pim"`` the SRAM processing-in-memory tile (SAIL style): the tables of ``M``
        batch rows live in SRAM banks, one word per (chunk, entry) holding all ``M`` rows'
        entries; weights stream through, ``N`` columns' lookups per step, one chunk per bank
        (``K = g * banks``), each bank with ``read_ports`` read ports (unsigned tables,
        integer activations, bit-serial weights).
    M : activation rows sharing each weight (rows of the output tile).
    N : weight columns sharing each table (columns of the output tile).
    K : reduction depth consumed per K-slice, a multiple of ``g``.
    g : table index width; one table covers ``g`` activations.
    symmetric : ``True`` stores ``2**(g-1)`` entries and negates by the index MSB (LUT Tensor
        Core table symmetrization); ``False`` stores the ``2**g - 1`` non-zero entries of the
        unsigned (0/1) table (LUT-GEMM style).
    w_bits : weight code width in bits, 1..8.
    weight_format : ``"unsigned"`` codes ``0..2**w_bits-1`` with a per-column runtime zero point
        (``W = Wq - z``); ``"signed"`` two's complement codes (``W = Wq``); ``"bcq"`` binary-coded
        weights ``W = sum_i alpha_i * b_i + offset`` with ``w_bits`` planes ``b_i`` in {-1, +1}:
        the tile takes binary planes (code 1 is +1, 0 is -1), each plane of a weight in its own
        column (a q-bit BCQ weight occupies q columns, one beat per slice), and the dequant
        converter combines the planes with their ``alpha_i``.
    a_bits : signed activation width, one of 4, 8, 16. With floating-point activations this
        is the width of the aligned block-floating-point mantissa (sign included).
    planes_per_cycle : weight bit planes consumed per cycle; 1 is fully bit-serial,
        ``w_bits`` bit-parallel. Must divide ``w_bits``.
    max_k : largest runtime reduction length (activations per output) the tile accepts; fixes
        the accumulator width so that no overflow is possible. A multiple of ``K``.
    pipeline : register stages in the array datapath: 0 none, 1 registered weight/control
        broadcast into the array, 2 also a register after the per-cell adder tree.

    The remaining fields describe the floating-point path around the integer tile (the
    activation converter before it, the dequant converter after it; ignored while
    ``act_format == "int"`` except ``out_format``, which the dequant converter of integer
    activations uses too):

    act_format : ``"int"`` (activations are ``a_bits`` integers), ``"fp16"`` or ``"bf16"``
        (converted to block floating point by the activation converter).
    act_block : activations sharing one exponent: ``"group"`` (``group`` activations: the
        integer tile accumulates a whole group exactly) or ``"chunk"`` (``g`` activations, one
        table; for FP-table designs, which accumulate in floating point).
    act_rounding : mantissa alignment rounding, ``"rne"`` (to nearest, ties to even) or
        ``"trunc"`` (toward zero).
    group : weight quantization group along K (one scale and zero point per group and
        column), a multiple of ``K`` dividing ``max_k``; the runtime K of one output tile and,
        with ``act_block == "group"``, the activation converter's block (checked only for
        floating-point activations; with integer ones the group is a runtime choice).
    out_format : the dequant converter's output, ``"fp32"`` or ``"fp16"``.

    The PIM tile's own fields (``arch == "pim"``; they keep their defaults otherwise):

    read_ports : read ports per SRAM bank, 1 or 2 (one 1rw1r macro per bank).
    pattern_aware : lookups of a step with the same index share one read, and index 0 (the
        all-zero pattern, whose entry is 0) is not read at all.
    """

    arch: str = "lut"
    M: int = 2
    N: int = 64
    K: int = 4
    g: int = 4
    symmetric: bool = True
    w_bits: int = 2
    weight_format: str = "unsigned"
    a_bits: int = 8
    planes_per_cycle: int = 1
    max_k: int = 4096
    pipeline: int = 1
    act_format: str = "int"
    act_block: str = "group"
    act_rounding: str = "rne"
    group: int = 128
    out_format: str = "fp32"
    read_ports: int = 1
    pattern_aware: bool = True

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            want = bool if f.type in ("bool", bool) else int if f.type in ("int", int) else str
            # bool is a subclass of int: refuse True where a number is meant, and vice versa
            if want is int and (not isinstance(value, int) or isinstance(value, bool)):
                raise ConfigError(f"{f.name}={value!r}: must be an integer")
            if want is bool and not isinstance(value, bool):
                raise ConfigError(f"{f.name}={value!r}: must be true or false")
            if want is str and not isinstance(value, str):
                raise ConfigError(f"{f.name}={value!r}: must be a string")
        if self.arch not in ARCHS:
            raise ConfigError(f"arch={self.arch!r}: allowed {', '.join(ARCHS)}")
        for name in ("M", "N"):
            if not 1 <= getattr(self, name) <= MAX_DIM:
                raise ConfigError(f"{name}={getattr(self, name)}: allowed 1..{MAX_DIM}")
        if not 1 <= self.g <= 6:
            raise ConfigError(f"g={self.g}: allowed 1..6 (table index width)")
        if self.symmetric and self.g < 2:
            raise ConfigError(
                f"g={self.g} with symmetric=true: a symmetric table needs g >= 2 "
                "(one index bit selects negation)"
            )
        if self.arch in ("mac", "fpmac") and not 1 <= self.K <= MAX_DIM:
            raise ConfigError(f"K={self.K}: allowed 1..{MAX_DIM}")
        if self.uses_tables and not (self.g <= self.K <= MAX_DIM and self.K % self.g == 0):
            raise ConfigError(
                f"K={self.K}: must be a multiple of g={self.g} in {self.g}..{MAX_DIM}"
            )
        if not 1 <= self.w_bits <= 8:
            raise ConfigError(f"w_bits={self.w_bits}: allowed 1..8")
        if self.weight_format not in WEIGHT_FORMATS:
            raise ConfigError(
                f"weight_format={self.weight_format!r}: allowed {', '.join(WEIGHT_FORMATS)}"
            )
        if self.a_bits not in ACT_BITS_ALLOWED:
            raise ConfigError(
                f"a_bits={self.a_bits}: allowed {', '.join(map(str, ACT_BITS_ALLOWED))}"
            )
        divisors = [d for d in range(1, self.w_bits + 1) if self.w_bits % d == 0]
        if self.planes_per_cycle not in divisors:
            raise ConfigError(
                f"planes_per_cycle={self.planes_per_cycle}: must divide w_bits={self.w_bits}; "
                f"allowed {', '.join(map(str, divisors))}"
            )
        if not (self.K <= self.max_k <= 1 << 24 and self.max_k % self.K == 0):
            raise ConfigError(
                f"max_k={self.max_k}: must be a multiple of K={self.K} in {self.K}..{1 << 24}"
            )
        if self.pipeline not in PIPELINE_ALLOWED:
            raise ConfigError(
                f"pipeline={self.pipeline}: allowed {', '.join(map(str, PIPELINE_ALLOWED))}"
            )
        if self.weight_format == "bcq" and self.planes_per_cycle != 1:
            raise ConfigError(
                f"planes_per_cycle={self.planes_per_cycle} with weight_format='bcq': the tile "
                "takes one binary plane per column (each BCQ plane has its own column); allowed 1"
            )
        for name, allowed in (
            ("act_format", ACT_FORMATS),
            ("act_block", ACT_BLOCKS),
            ("act_rounding", ROUNDINGS),
            ("out_format", OUT_FORMATS),
        ):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name}={getattr(self, name)!r}: allowed {', '.join(allowed)}")
        if self.arch == "fpmac":
            need = {"act_format": "fp16", "a_bits": 16, "planes_per_cycle": self.w_bits}
            for name, value in need.items():
                if getattr(self, name) != value:
                    raise ConfigError(
                        f"{name}={getattr(self, name)!r} with arch='fpmac': the FP16 baseline "
                        f"takes FP16 activation words and whole weights per beat; allowed {value!r}"
                    )
            if self.weight_format == "bcq":
                raise ConfigError(
                    "weight_format='bcq' with arch='fpmac': allowed unsigned, signed "
                    "(the FP16 baseline dequantizes uniform weights)"
                )
        if self.arch == "fplut":
            need = {"act_format": "fp16", "a_bits": 16, "symmetric": True}
            for name, value in need.items():
                if getattr(self, name) != value:
                    raise ConfigError(
                        f"{name}={getattr(self, name)!r} with arch='fplut': the FP-table tile "
                        f"builds symmetric FP16 tables from FP16 activation words; allowed "
                        f"{value!r}"
                    )
            if self.weight_format == "bcq":
                raise ConfigError(
                    "weight_format='bcq' with arch='fplut': allowed unsigned, signed "
                    "(the FP-table tile applies uniform zero points itself)"
                )
        self._check_pim()
        fp = self.act_format != "int" and self.arch != "fpmac"  # fpmac: no converters
        if fp and not (
            self.group >= self.K and self.group % self.K == 0 and not self.max_k % self.group
        ):
            raise ConfigError(
                f"group={self.group}: must be a multiple of K={self.K} that divides "
                f"max_k={self.max_k}"
            )
        if self.act_format != "int" and self.a_bits < 8:
            raise ConfigError(
                f"a_bits={self.a_bits} with act_format={self.act_format!r}: block floating "
                "point needs a mantissa of 8 or 16 bits"
            )

    def _check_pim(self) -> None:
        if self.arch != "pim":
            for name in ("read_ports", "pattern_aware"):
                default = {f.name: f.default for f in fields(self)}[name]
                if getattr(self, name) != default:
                    raise ConfigError(
                        f"{name}={getattr(self, name)!r} with arch={self.arch!r}: a parameter "
                        f"of the PIM tile (arch='pim'); allowed {default!r} here"
                    )
            return
        need = {"symmetric": False, "act_format": "int", "planes_per_cycle": 1}
        for name, value in need.items():
            if getattr(self, name) != value:
                raise ConfigError(
                    f"{name}={getattr(self, name)!r} with arch='pim': the PIM tile reads "
                    "unsigned (0/1) tables of integer activations, one weight plane per "
                    f"step; allowed {value!r}"
                )
        if self.weight_format == "bcq":
            raise ConfigError("weight_format='bcq' with arch='pim': allowed unsigned, signed")
        if self.M > 16:
            raise ConfigError(
                f"M={self.M} with arch='pim': the batch B = M shares one SRAM word; allowed 1..16"
            )
        if self.K // self.g > 16:
            raise ConfigError(
                f"K={self.K} with arch='pim': K/g is the number of SRAM banks; allowed up to "
                f"16 banks (K <= {16 * self.g})"
            )
        if self.read_ports not in (1, 2):
            raise ConfigError(
                f"read_ports={self.read_ports}: allowed 1, 2 (one 1rw1r SRAM macro per bank)"
            )
        if self.N > 16:
            raise ConfigError(
                f"N={self.N} with arch='pim': N columns look up per step; allowed 1..16"
            )

    # ---- derived quantities -------------------------------------------------------------

    @property
    def chunks(self) -> int:
        """Tables per row per K-slice (``K / g``)."""
        return self.K // self.g

    @property
    def entries(self) -> int:
        """Stored entries per table: ``2**(g-1)`` (symmetric) or ``2**g - 1`` (unsigned; the
        all-zeros entry is the constant 0 and is not stored)."""
        return 1 << (self.g - 1) if self.symmetric else (1 << self.g) - 1

    @property
    def beats_per_slice(self) -> int:
        """Weight beats (cycles) per K-slice: ``w_bits / planes_per_cycle`` (1 for BCQ, whose
        planes sit in separate columns)."""
        if self.weight_format == "bcq":
            return 1
        return self.w_bits // self.planes_per_cycle

    @property
    def max_slices(self) -> int:
        return self.max_k // self.K

    @property
    def a_range(self) -> tuple[int, int]:
        return -(1 << (self.a_bits - 1)), (1 << (self.a_bits - 1)) - 1

    @property
    def w_range(self) -> tuple[int, int]:
        """Range of the integer weight value ``W`` (after the zero point)."""
        if self.weight_format == "signed":
            return -(1 << (self.w_bits - 1)), (1 << (self.w_bits - 1)) - 1
        if self.weight_format == "bcq":  # one binary plane per column
            return -1, 1
        return -((1 << self.w_bits) - 1), (1 << self.w_bits) - 1

    @property
    def entry_bits(self) -> int:
        """Signed width of one stored table entry."""
        lo, hi = self.a_range
        if self.symmetric:
            return _bits_for_range(self.g * lo, -self.g * lo)
        return _bits_for_range(self.g * lo, self.g * hi)

    @property
    def sum_bits(self) -> int:
        """Signed width of a row's slice sum ``S = sum_k a_k`` over one K-slice."""
        lo, hi = self.a_range
        return _bits_for_range(self.K * lo, self.K * hi)

    @property
    def acc_bits(self) -> int:
        """Signed accumulator/result width: exact for any runtime K up to ``max_k``."""
        alo, ahi = self.a_range
        wlo, whi = self.w_range
        products = [alo * wlo, alo * whi, ahi * wlo, ahi * whi]
        return _bits_for_range(self.max_k * min(products), self.max_k * max(products))

    @property
    def act_word_bits(self) -> int:
        """Width of one activation on the tile's ``a`` stream: ``a_bits`` integers, or FP16
        words (:attr:`fp_words`)."""
        return 16 if self.fp_words else self.a_bits

    @property
    def result_bits(self) -> int:
        """Width of one result word: ``acc_bits`` (signed), or FP32 (:attr:`fp_words`)."""
        return 32 if self.fp_words else self.acc_bits

    @property
    def fp_words(self) -> bool:
        """The tile itself takes FP16 activation words and gives FP32 results (``fpmac``,
        ``fplut``) instead of integers."""
        return self.arch in ("fpmac", "fplut")

    @property
    def slice_count_bits(self) -> int:
        """Width of the runtime ``n_slices`` field (holds 1..max_slices)."""
        return self.max_slices.bit_length()

    @property
    def total_bits(self) -> int:
        """Signed width of a row's activation sum ``S`` over a whole output tile (up to
        ``max_k`` activations): the dequant converter's zero-point and BCQ-offset operand."""
        lo, hi = self.a_range
        return _bits_for_range(self.max_k * lo, self.max_k * hi)

    # ---- the floating-point path ------------------------------------------------------

    @property
    def act_fmt(self) -> FpFormat:
        """Format of floating-point activations (``act_format`` must not be ``"int"``)."""
        return FORMATS[self.act_format]

    @property
    def out_fmt(self) -> FpFormat:
        return FORMATS[self.out_format]

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
        return _bits_for_range(fmt.min_exp - self.bfp_offset, fmt.max_exp - self.bfp_offset)

    @property
    def block_total_bits(self) -> int:
        """Signed width of one block's mantissa sum."""
        lo, hi = self.a_range
        return _bits_for_range(self.bfp_block * lo, self.bfp_block * hi)

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
    def banks(self) -> int:
        """SRAM banks of the PIM tile: one chunk (table) of a step per bank, ``K / g``."""
        return self.chunks

    @property
    def sram_rows(self) -> int:
        """Words per PIM SRAM bank: the ``entries`` of one chunk for each of the
        ``max_slices`` K-slices (slice ``s``, entry ``e`` at row ``s * entries + e``)."""
        return self.max_slices * self.entries

    @property
    def sram_word_bits(self) -> int:
        """Width of one PIM SRAM word: the ``M`` batch rows' entries (signed ``entry_bits``
        each, row ``m`` at bit ``m * entry_bits``)."""
        return self.M * self.entry_bits

    @property
    def uses_tables(self) -> bool:
        """A LUT design (integer or FP tables): ``g`` and ``symmetric`` apply."""
        return self.arch in ("lut", "fplut", "pim")

    @property
    def has_zero_point(self) -> bool:
        return self.weight_format == "unsigned"

    # ---- naming and (de)serialization ---------------------------------------------------

    @property
    def slug(self) -> str:
        """Stable, human-readable name of the configuration (used for files and modules)."""
        table = f"_g{self.g}{'s' if self.symmetric else 'u'}" if self.uses_tables else ""
        if self.arch == "pim":
            table += f"_r{self.read_ports}{'pa' if self.pattern_aware else 'all'}"
        wfmt = {"unsigned": "u", "signed": "s", "bcq": "b"}[self.weight_format]
        act = "" if self.act_format == "int" else f"{self.act_format}"
        return (
            f"{self.arch}_m{self.M}n{self.N}k{self.K}{table}_w{self.w_bits}{wfmt}"
            f"_{act}a{self.a_bits}_p{self.planes_per_cycle}_kmax{self.max_k}_pipe{self.pipeline}"
        )

    @property
    def fp_slug(self) -> str:
        """Name of the floating-point path around the tile (converters' modules and reports):
        activation format, block, rounding, mantissa width, group and output format."""
        weights = f"w{self.w_bits}{self.weight_format[0]}_{self.out_format}"
        if self.act_format == "int":
            return f"int{self.a_bits}_{weights}"
        block = self.group if self.act_block == "group" else self.g
        return f"{self.act_format}b{block}{self.act_rounding}_a{self.a_bits}_{weights}"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def replace(self, **changes: Any) -> TileConfig:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "configuration") -> TileConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"{source}: unknown parameter(s) {', '.join(unknown)}; "
                f"allowed: {', '.join(sorted(known))}"
            )
        try:
            return cls(**data)
        except ConfigError as exc:
            if source == "configuration":
                raise
            raise ConfigError(f"{source}: {exc}") from None

    @classmethod
    def from_file(cls, path: str | Path) -> TileConfig:
        """Load a TOML (``[tile]`` table or top-level keys) or JSON configuration file."""
        path = Path(path)
        data = read_table_file(path, "config file", ConfigError)
        if not isinstance(data, dict):
            raise ConfigError(f"config file {path}: expected a table of parameters")
        if "tile" in data:
            if not isinstance(data["tile"], dict) or len(data) != 1:
                raise ConfigError(f"config file {path}: [tile] must be the only table")
            data = data["tile"]
        return cls.from_dict(data, source=f"config file {path}")


def read_table_file(path: Path, what: str, error: type[Exception]) -> Any:
    """Parsed contents of a JSON (``.json``) or TOML file; ``error`` names ``what`` and the
    path when it cannot be read or parsed."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise error(f"{what} {path}: cannot read ({exc.strerror})") from None
    try:
        return json.loads(text) if Path(path).suffix == ".json" else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise error(f"{what} {path}: malformed ({exc})") from None


DEFAULT = TileConfig()
