"""``arch = "mac"``: the multiply-based baseline with the LUT tile's interfaces."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..config import ActConversion, Dequant, TileConfig
from ..mac_tile import MacTile
from .record import Arch

__all__ = ["ARCH", "MacConfig"]


@dataclass(frozen=True)
class MacConfig(TileConfig, ActConversion, Dequant):
    """The baseline that decodes weight planes to signed integers and multiplies (no tables:
    ``g`` and ``symmetric`` do not apply); the same converters as the LUT tile."""

    arch: ClassVar[str] = "mac"

    @property
    def parts(self) -> tuple[str, ...]:
        return ("tile",) if self.act_format == "int" else ("tile", "act_converter", "dequant")


ARCH = Arch("mac", MacConfig, MacTile, "MAC baseline tile")
