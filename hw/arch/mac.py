"""``arch = "mac"``: the multiply-based baseline with the LUT tile's interfaces."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..config import ActConversion, ConfigError, Dequant, TileConfig
from ..mac_tile import MacTile
from .record import Arch

__all__ = ["ARCH", "MacConfig"]


@dataclass(frozen=True)
class MacConfig(TileConfig, ActConversion, Dequant):
    """The baseline that decodes weight planes to signed integers and multiplies (no tables:
    ``g`` and ``symmetric`` do not apply); the same converters as the LUT tile."""

    arch: ClassVar[str] = "mac"
    takes_ternary: ClassVar[bool] = True

    def _check_arch(self) -> None:
        if self.weight_format == "ternary" and self.planes_per_cycle != 2:
            raise ConfigError(
                f'planes_per_cycle={self.planes_per_cycle} with weight_format="ternary" and '
                'arch="mac": the ternary baseline adds, subtracts or skips a whole weight per '
                "beat; allowed 2"
            )

    @property
    def parts(self) -> tuple[str, ...]:
        return ("tile",) if self.act_format == "int" else ("tile", "act_converter", "dequant")


ARCH = Arch("mac", MacConfig, MacTile, "MAC baseline tile")
