"""``arch = "fplut"``: LUT Tensor Core's floating-point design point (FP16 tables)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..config import (
    FIXED_LSB,
    FP16,
    LARGEST_FIXED,
    ConfigError,
    Dequant,
    FpAccumulation,
    FpFormat,
    Tables,
    TileConfig,
    bits_for_range,
    show,
)
from ..fp_precompute import FpTablePrecompute
from ..tile import FpLutTile
from .record import Arch

__all__ = ["ARCH", "FpLutConfig"]


@dataclass(frozen=True)
class FpLutConfig(TileConfig, Tables, Dequant, FpAccumulation):
    """FP16 activations build symmetric FP16 tables, the array adds looked-up entries in
    floating point and accumulates in FP32 or FP16 (``acc_format``); the dequant converter
    after it (input in that format)
    applies the scales. Uniform weights (the tile applies zero points itself).

    act_format : ``"fp16"`` (the only value: the tables are built from FP16 words).
    a_bits : 16 (the activation word width).
    """

    arch: ClassVar[str] = "fplut"
    uses_tables: ClassVar[bool] = True
    fp_words: ClassVar[bool] = True
    #: table entries are FP16 words and results FP words (the dequant converter's input)
    fp_tables: ClassVar[bool] = True
    cell_model: ClassVar[tuple[float, float]] = (2500.0, 50.0)

    a_bits: int = 16
    act_format: str = "fp16"

    def _check_arch(self) -> None:
        self._require(
            {"act_format": "fp16", "a_bits": 16, "symmetric": True},
            "the FP-table tile builds symmetric FP16 tables from FP16 activation words",
        )
        if self.weight_format == "bcq":
            raise ConfigError(
                'weight_format="bcq" with arch="fplut": allowed "unsigned", "signed" '
                "(the FP-table tile applies uniform zero points itself)"
            )
        if self.fixed_acc and not self.offset_out:
            raise ConfigError(
                f'acc_format="fixed" with offset={show(self.offset)}: the exact fixed-point '
                "accumulators take the looked-up entries only, the dequant converter adds the "
                'offset term; allowed offset="output" (or acc_format "fp32", "fp16")'
            )

    @property
    def fixed_lsb(self) -> int:
        """Exponent of the fixed-point accumulators' LSB (``acc_format = "fixed"``)."""
        return FIXED_LSB

    @property
    def acc_bits(self) -> int:
        """With ``acc_format = "fixed"``: the signed width of ``sum_b c_b 2**b sum_c T_bc``
        over ``max_k`` activations in units of :data:`FIXED_LSB` (every entry at most
        65504); otherwise unused (FP words)."""
        if not self.fixed_acc:
            return super().acc_bits
        bound = self.max_slices * self.chunks * ((1 << self.w_bits) - 1) * LARGEST_FIXED
        return bits_for_range(-bound, bound)

    @property
    def total_bits(self) -> int:
        """With ``acc_format = "fixed"``: the signed width of a row sum ``S`` (the chunks' last
        entries over ``max_k`` activations) in units of :data:`FIXED_LSB`."""
        if not self.fixed_acc:
            return super().total_bits
        bound = self.max_slices * self.chunks * LARGEST_FIXED
        return bits_for_range(-bound, bound)

    @property
    def parts(self) -> tuple[str, ...]:
        return ("tile", "dequant")  # FP16 words go straight into its tables

    @property
    def slices_ahead(self) -> int:
        # and one in each stage of the pipelined FP precompute
        return 2 + (FpTablePrecompute.DEPTH if self.pipeline else 0)

    @property
    def act_fmt(self) -> FpFormat:
        return FP16

    @property
    def bfp_exp_bits(self) -> int:
        return 1  # no block exponent: the FP results carry their own

    @property
    def fp_slug(self) -> str:
        # the FP16 words of a group, rounded to nearest: named like a block-FP path of the
        # group so that converter names read alike
        return f"fp16b{self.group}rne_a16_w{self.w_bits}{self.weight_format[0]}_{self.out_format}"

    def derived_summary(self) -> str:
        return (
            f"entries/table = {self.entries} (FP16), FP16 activations, "
            + (
                f"exact fixed-point accumulation ({self.acc_bits}-bit integers of 2**{FIXED_LSB}), "
                if self.fixed_acc
                else f"{self.acc_format.upper()} accumulation and results, "
            )
            + f"beats/slice = {self.beats_per_slice}"
        )


ARCH = Arch("fplut", FpLutConfig, FpLutTile, "LUT Tensor Core FP-table tile")
