"""An analytic area model of the PIM tile's SRAM banks (an estimate, not a synthesized figure).

Yosys has no SRAM macros for sky130, and mapping the banks to flip-flops would describe a
different design, so the ASIC flow synthesizes the PIM tile's logic with the banks as
external macros and adds this estimate beside it, labelled as such.

Model, per bank (one 1rw1r macro: port A reads and writes, port B reads; a tile with one read
port per bank still gets the 1rw1r figure, so the estimate is conservative):

    area = words * width * BIT_AREA + width * COLUMN_AREA

``BIT_AREA`` (bit cell plus its share of row decoders and word-line drivers) and
``COLUMN_AREA`` (per data bit: sense amplifiers, write drivers, precharge, column
periphery and the macro's control, spread over the word width) are fitted to the two
OpenRAM sky130 1rw1r macros with 32-bit words in the SkyWater PDK: 256 words, outline
479.78 x 397.5 um (190,712 um^2); 512 words, 683.1 x 416.54 um (284,539 um^2). Both are
reproduced within 0.1%. Wider or much deeper banks than these are extrapolation.
"""

from __future__ import annotations

from lutcore.hw.config import TileConfig

__all__ = ["BIT_AREA", "COLUMN_AREA", "CALIBRATION", "macro_area", "sram_estimate"]

#: the calibration macros: (words, width, area um^2 from the LEF outline)
CALIBRATION = (
    ("sky130_sram_1kbyte_1rw1r_32x256_8", 256, 32, 479.78 * 397.5),
    ("sky130_sram_2kbyte_1rw1r_32x512_8", 512, 32, 683.1 * 416.54),
)
_, _w0, _b0, _a0 = CALIBRATION[0]
_, _w1, _b1, _a1 = CALIBRATION[1]
#: um^2 per bit: the marginal area of 256 more words of 32 bits
BIT_AREA = (_a1 - _a0) / ((_w1 - _w0) * _b0)
#: um^2 per data bit of the word (column periphery and control)
COLUMN_AREA = (_a0 - _w0 * _b0 * BIT_AREA) / _b0


def macro_area(words: int, width: int) -> float:
    """Estimated area (um^2) of one 1rw1r macro of ``words`` x ``width`` bits."""
    return words * width * BIT_AREA + width * COLUMN_AREA


def sram_estimate(cfg: TileConfig) -> dict:
    """The PIM tile's SRAM: ``banks`` macros of ``sram_rows`` x ``sram_word_bits``."""
    per_bank = macro_area(cfg.sram_rows, cfg.sram_word_bits)
    return {
        "kind": "estimate (analytic model, not synthesized)",
        "banks": cfg.banks,
        "words_per_bank": cfg.sram_rows,
        "word_bits": cfg.sram_word_bits,
        "read_ports_per_bank": cfg.read_ports,
        "bits": cfg.banks * cfg.sram_rows * cfg.sram_word_bits,
        "area_per_bank_um2": round(per_bank, 1),
        "area_um2": round(cfg.banks * per_bank, 1),
        "model": f"per 1rw1r bank: words*width*{BIT_AREA:.3f} + width*{COLUMN_AREA:.1f} um^2, "
        "fitted to OpenRAM sky130 1rw1r macros "
        + ", ".join(f"{name} ({area:,.0f} um^2)" for name, _, _, area in CALIBRATION),
    }
