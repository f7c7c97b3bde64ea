"""``arch = "fpmac"``: the floating-point multiply baseline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..config import ConfigError, FpAccumulation, TileConfig
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
        if self.fixed_acc:
            raise ConfigError(
                'acc_format="fixed" with arch="fpmac": the exact fixed-point accumulation is '
                'built for the FP-table tile only; allowed "fp32", "fp16"'
            )

    @property
    def parts(self) -> tuple[str, ...]:
        return ("tile",)

    @property
    def latency_cycles(self) -> int:
        # pipeline 2 adds the cell's two FP stages (after the weight dequantization and the
        # product's rounding) ahead of the accumulator
        return 1 + self.pipeline + (2 if self.pipeline >= 2 else 0)

    def derived_summary(self) -> str:
        acc, beats = self.acc_format.upper(), self.beats_per_slice
        return f"FP16 activations, {acc} accumulation and results, beats/slice = {beats}"


ARCH = Arch("fpmac", FpMacConfig, FpMacTile, "FP16 MAC tile")
