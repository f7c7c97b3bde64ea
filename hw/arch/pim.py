"""``arch = "pim"``: the SRAM processing-in-memory tile (SAIL style)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..config import ConfigError, SramBanks, Tables, TileConfig
from ..pim_tile import PimTile
from .record import Arch

__all__ = ["ARCH", "PimConfig"]


@dataclass(frozen=True)
class PimConfig(TileConfig, Tables, SramBanks):
    """The tables of ``M`` batch rows live in SRAM banks, one word per (chunk, entry)
    holding all ``M`` rows' entries; weights stream through, ``N`` columns' lookups per
    step, one chunk per bank (``K = g * banks``). Unsigned (0/1) tables of integer
    activations, bit-serial weights; ``M``, ``N`` and the banks up to 16.

    symmetric : ``False`` (the only value; the default here).

    Defaults (where the LUT tile's would not fit the banks): N=8 columns, K=8 (two banks of
    g=4 tables), max_k=1024.
    """

    arch: ClassVar[str] = "pim"
    uses_tables: ClassVar[bool] = True
    #: the command has an opcode (:class:`~lutcore.hw.layouts.PimOp`): load tables, compute
    #: over the resident ones, convert in the banks, memory read and write
    opcode_command: ClassVar[bool] = True

    N: int = 8
    K: int = 8
    max_k: int = 1024
    symmetric: bool = False

    def _check_arch(self) -> None:
        self._require(
            {"symmetric": False, "planes_per_cycle": 1},
            "the PIM tile reads unsigned (0/1) tables of integer activations, one weight "
            "plane per step",
        )
        if self.weight_format == "bcq":
            raise ConfigError('weight_format="bcq" with arch="pim": allowed "unsigned", "signed"')
        if self.M > 16:
            raise ConfigError(
                f'M={self.M} with arch="pim": the batch B = M shares one SRAM word; allowed 1..16'
            )
        if self.K // self.g > 16:
            raise ConfigError(
                f'K={self.K} with arch="pim": K/g is the number of SRAM banks; allowed up to '
                f"16 banks (K <= {16 * self.g})"
            )
        if self.N > 16:
            raise ConfigError(
                f'N={self.N} with arch="pim": N columns look up per step; allowed 1..16'
            )

    @property
    def parts(self) -> tuple[str, ...]:
        return ("tile",)

    @property
    def weight_bit_macs_per_cycle(self) -> float:
        # a step takes ceil(N / read_ports) cycles when no lookup is shared (the
        # data-independent figure; pattern awareness only shortens steps)
        return self.M * self.N * self.K / -(-self.N // self.read_ports)

    def _slug_tables(self) -> str:
        return f"{super()._slug_tables()}_r{self.read_ports}{'pa' if self.pattern_aware else 'all'}"

    def derived_summary(self) -> str:
        return (
            f"{self.banks} SRAM banks x {self.sram_rows} words x {self.sram_word_bits} bits, "
            f"{super().derived_summary()}"
        )


ARCH = Arch(
    "pim",
    PimConfig,
    PimTile,
    "SRAM-PIM tile (SAIL style)",
    macro_tile=lambda cfg: PimTile(cfg, external_sram=True),
)
