"""``arch = "fpmac"``: the floating-point multiply baseline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..config import (
    FIXED_LSB,
    FP32,
    LARGEST_FIXED,
    ConfigError,
    FpAccumulation,
    FpFormat,
    TileConfig,
    bits_for_range,
)
from ..fpmac_tile import FpMacTile
from .record import Arch

__all__ = ["ARCH", "FpMacConfig"]


@dataclass(frozen=True)
class FpMacConfig(TileConfig, FpAccumulation):
    """FP16 activations times weights dequantized to FP16 (a per-column FP16 scale in the
    command), fused K-term dot products, FP32 or FP16 accumulation (``acc_format``). Whole
    weights per beat (``planes_per_cycle == w_bits``), uniform weights; no converters
    around it.

    act_format : ``"fp16"`` (the only value: the tile takes FP16 words).
    a_bits : 16 (the activation word width).
    """

    arch: ClassVar[str] = "fpmac"
    fp_words: ClassVar[bool] = True
    #: the command carries per-column FP16 scales, broadcast with each weight beat
    scale_in_command: ClassVar[bool] = True
    cell_model: ClassVar[tuple[float, float]] = (5000.0, 250.0)

    a_bits: int = 16
    planes_per_cycle: int = 2  # the default w_bits: whole weights per beat
    act_format: str = "fp16"

    def _check_arch(self) -> None:
        self._require(
            {"act_format": "fp16", "a_bits": 16, "planes_per_cycle": self.w_bits},
            "the FP16 baseline takes FP16 activation words and whole weights per beat",
        )
        if self.weight_format == "bcq":
            raise ConfigError(
                'weight_format="bcq" with arch="fpmac": allowed "unsigned", "signed" '
                "(the FP16 baseline dequantizes uniform weights)"
            )

    @property
    def parts(self) -> tuple[str, ...]:
        # exact fixed-point results are normalized and rounded by a one-term dequant converter
        return ("tile", "dequant") if self.fixed_acc else ("tile",)

    @property
    def fixed_lsb(self) -> int:
        """Exponent of the fixed-point accumulators' LSB (``acc_format = "fixed"``): the
        product of two smallest FP16 subnormals, so that every product is an integer."""
        return 2 * FIXED_LSB

    @property
    def acc_bits(self) -> int:
        """With ``acc_format = "fixed"``: the signed width of ``max_k`` products of FP16 words
        (at most ``65504**2`` each) in units of ``2**fixed_lsb``; otherwise unused (FP words)."""
        if not self.fixed_acc:
            return super().acc_bits
        bound = self.max_k * LARGEST_FIXED**2
        return bits_for_range(-bound, bound)

    # the dequant converter of exact fixed-point results: it only normalizes and rounds
    # (the scales are applied to the weights before the products) into FP32

    @property
    def out_fmt(self) -> FpFormat:
        return FP32

    @property
    def dequant_terms(self) -> int:
        return 1

    @property
    def dequant_lanes(self) -> int:
        """Outputs per cycle so the converter keeps up with output tiles of 128 activations
        (or ``max_k``; shorter tiles stall ``y`` while it drains)."""
        cycles = max(1, min(128, self.max_k) // self.K) * self.beats_per_slice
        return max(1, -(-self.M * self.N // cycles))

    @property
    def fp_slug(self) -> str:
        return f"fp16mac_w{self.w_bits}{self.weight_format[0]}_fp32"

    @property
    def latency_cycles(self) -> int:
        # pipeline 2 adds the cell's two FP stages (after the weight dequantization and the
        # product's rounding) ahead of the accumulator
        return 1 + self.pipeline + (2 if self.pipeline >= 2 else 0)

    def derived_summary(self) -> str:
        acc, beats = self.acc_format.upper(), self.beats_per_slice
        if self.fixed_acc:
            acc = f"exact fixed-point ({self.acc_bits}-bit integers of 2**{self.fixed_lsb})"
            return f"FP16 activations, {acc} accumulation, beats/slice = {beats}"
        return f"FP16 activations, {acc} accumulation and results, beats/slice = {beats}"


ARCH = Arch("fpmac", FpMacConfig, FpMacTile, "FP16 MAC tile")
