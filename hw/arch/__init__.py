"""The architectures: each owns its config (only the parameters that apply to it, each
validated there), its tile, its emitted parts and its throughput; :data:`REGISTRY` maps the
``arch`` key of files, flags and sweep specs to them.

Adding an architecture is one module here (its :class:`~lutcore.hw.config.TileConfig`
subclass and its :class:`Arch`) and one line in :data:`REGISTRY`.
"""

from __future__ import annotations

from amaranth.lib import wiring

from ..config import TileConfig
from .fplut import ARCH as FPLUT
from .fpmac import ARCH as FPMAC
from .lut import ARCH as LUT
from .mac import ARCH as MAC
from .pim import ARCH as PIM
from .record import Arch

__all__ = ["REGISTRY", "Arch", "applies_to", "arch_of", "make_tile"]

#: every architecture by its ``arch`` key
REGISTRY: dict[str, Arch] = {a.name: a for a in (LUT, MAC, FPMAC, FPLUT, PIM)}


def arch_of(cfg: TileConfig) -> Arch:
    """The architecture a config belongs to."""
    return REGISTRY[cfg.arch]


def applies_to(parameter: str) -> tuple[str, ...]:
    """The archs whose configs take ``parameter``."""
    return tuple(a.name for a in REGISTRY.values() if parameter in a.config.parameters())


def make_tile(cfg: TileConfig, *, macros: bool = False) -> wiring.Component:
    """The tile of ``cfg``'s arch, built for ``cfg`` (``macros``: memories that an ASIC
    implements as SRAM macros become ports of the top; see :attr:`Arch.macro_tile`)."""
    arch = arch_of(cfg)
    if macros and arch.macro_tile is not None:
        return arch.macro_tile(cfg)
    return arch.tile(cfg)
