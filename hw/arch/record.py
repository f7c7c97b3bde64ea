"""What the registry holds for one architecture."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from amaranth.lib import wiring

from ..config import TileConfig

__all__ = ["Arch"]


@dataclass(frozen=True)
class Arch:
    """One architecture: its ``name`` (the ``arch`` key), its ``config`` class, its ``tile``
    component class (whose ``BLOCKS`` name the submodules in the emitted Verilog), a
    one-line ``description`` (the Verilog header's), and optionally ``macro_tile``, the tile
    built with its SRAM macros as top-level ports (the synthesis flow's view)."""

    name: str
    config: type[TileConfig]
    tile: type[wiring.Component]
    description: str
    macro_tile: Callable[[TileConfig], wiring.Component] | None = None

    @property
    def blocks(self) -> tuple[str, ...]:
        """Submodule names as in the emitted Verilog (``<top>__<block>``); the last is the
        array."""
        return self.tile.BLOCKS

    def __repr__(self) -> str:
        return f"Arch({self.name!r}, {self.config.__name__}, {self.tile.__name__})"
