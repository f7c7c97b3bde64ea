"""``arch = "lut"``: the LUT Tensor Core tile (integer tables, bit-serial LUT array)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..config import ActConversion, ConfigError, Dequant, Tables, TileConfig
from ..tile import LutTile
from .record import Arch

__all__ = ["ARCH", "LutConfig"]


@dataclass(frozen=True)
class LutConfig(TileConfig, Tables, ActConversion, Dequant):
    """The LUT Tensor Core tile: precomputed tables of ``g`` activations, looked up by each
    weight bit plane; integer activations, or block floating point from the activation
    converter; the dequant converter after it applies scales and zero points."""

    arch: ClassVar[str] = "lut"
    takes_ternary: ClassVar[bool] = True
    uses_tables: ClassVar[bool] = True

    def _check_arch(self) -> None:
        if self.offset_out and self.act_format == "int":
            raise ConfigError(
                'offset="output" with act_format="int": the offset term is applied by the '
                'dequant converter, which integer activations do not have; allowed "cell", '
                'or floating-point activations ("fp16", "bf16")'
            )

    @property
    def parts(self) -> tuple[str, ...]:
        """The separately emitted designs: the tile, and with floating-point activations the
        activation and dequant converters around it."""
        return ("tile",) if self.act_format == "int" else ("tile", "act_converter", "dequant")

    def derived_summary(self) -> str:
        code = (
            f"base-3 group code = {self.group_code_bits} bits "
            f"({self.bits_per_weight:.2f} bits a weight), "
            if self.base3
            else ""
        )
        return (
            f"entries/table = {self.entries}, entry_bits = {self.entry_bits}, {code}"
            f"{super().derived_summary()}"
        )


ARCH = Arch("lut", LutConfig, LutTile, "LUT Tensor Core tile")
