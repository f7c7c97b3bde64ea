"""The PIM tile's table SRAM: one ``amaranth.lib.memory`` bank per chunk of a step."""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In

from .config import TileConfig
from .layouts import sram_signature

__all__ = ["TableSram"]


class TableSram(wiring.Component):
    """``banks`` memories of ``sram_rows`` words of ``sram_word_bits`` (one word holds the
    entries of all ``M`` batch rows for one (chunk, entry)), each with ``read_ports``
    synchronous read ports and one write port; no initial contents are assumed (the tile
    writes every row it reads). FPGA synthesis maps each bank to block RAM; the ASIC flow
    replaces the banks by an SRAM macro estimate (:mod:`lutcore.synth.sram`).

    Member: ``bus`` (:func:`~lutcore.hw.layouts.sram_signature`, flipped).
    """

    def __init__(self, cfg: TileConfig):
        self.cfg = cfg
        super().__init__({"bus": In(sram_signature(cfg))})

    def elaborate(self, platform) -> Module:
        cfg = self.cfg
        m = Module()
        bus = self.bus
        for b in range(cfg.banks):
            mem = Memory(shape=cfg.sram_word_bits, depth=cfg.sram_rows, init=[])
            m.submodules[f"bank{b}"] = mem
            wr = mem.write_port(granularity=1)  # bit-write: the conversions mask writes
            m.d.comb += [
                wr.addr.eq(bus.wr_addr[b]),
                wr.data.eq(bus.wr_data[b]),
                wr.en.eq(bus.wr_en[b]),
            ]
            for r in range(cfg.read_ports):
                rd = mem.read_port()  # synchronous, not transparent: data the cycle after
                m.d.comb += [
                    rd.addr.eq(bus.rd_addr[b][r]),
                    rd.en.eq(bus.rd_en[b][r]),
                    bus.rd_data[b][r].eq(rd.data),
                ]
        return m
