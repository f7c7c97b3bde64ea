"""Models of the PIM tile's SRAM banks: an analytic area model (an estimate, not a
synthesized figure) and a timing model (a liberty cell per bank shape with stated figures,
and the wrapper OpenSTA times the netlist in, so the SRAM read is on the critical path).

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

Timing (:data:`BANK_TIMING`, :func:`bank_liberty`, :func:`timed_top`): the read access from
the rising edge, the inputs' setup and hold and the minimum period of the slowest of the
OpenRAM sky130 1rw1r macros' typical-corner characterizations (:data:`CHARACTERIZED`),
for every bank whatever its depth.
"""

from __future__ import annotations

from dataclasses import dataclass

from lutcore.hw.config import TileConfig

from .gatelevel import netlist_ports

__all__ = [
    "BANK_TIMING",
    "BIT_AREA",
    "CALIBRATION",
    "CHARACTERIZED",
    "COLUMN_AREA",
    "MacroTiming",
    "bank_cell",
    "bank_figures",
    "bank_liberty",
    "macro_area",
    "sram_estimate",
    "timed_top",
]

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


# ---- timing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MacroTiming:
    """Read and write timing of one characterized SRAM macro (ns, pF; typical corner), as
    its liberty states it at the middle of its slew and load tables.

    OpenRAM's macros latch the inputs at the rising clock edge and read in the low phase:
    the data leaves ``dout_after_fall_ns`` after the falling edge, so the read access from
    the rising edge at the macro's ``min_period_ns`` (a 50% duty cycle) is
    ``min_period_ns / 2 + dout_after_fall_ns``. Per port: index 0 the 1rw port, 1 the r port.
    """

    name: str
    min_period_ns: float
    dout_after_fall_ns: tuple[float, float]
    #: the characterized setup (worst of rise and fall); OpenRAM states negative setups
    #: (its input flops sit behind a clock buffer), taken as 0 by :meth:`setup`
    setup_ns: tuple[float, float]
    hold_ns: tuple[float, float]
    dout_transition_ns: tuple[float, float]
    pin_cap_pf: float

    def access_ns(self, port: int) -> float:
        """Rising clock edge to read data out on ``port``."""
        return self.min_period_ns / 2 + self.dout_after_fall_ns[port]

    def setup(self, port: int) -> float:
        """Setup of the inputs of ``port`` before the rising edge (never below 0: the logic
        must not rely on the macro's internal clock delay)."""
        return max(0.0, self.setup_ns[port])


#: the three OpenRAM sky130 1rw1r macros' TT 1.8 V 25 C liberties (VLSIDA/sky130_sram_macros)
CHARACTERIZED = (
    MacroTiming(
        "sky130_sram_1kbyte_1rw1r_32x256_8",
        6.875,
        (3.287, 3.072),
        (-1.365, -0.255),
        (1.76, 0.441),
        (0.112, 0.13),
        0.00689,
    ),
    MacroTiming(
        "sky130_sram_2kbyte_1rw1r_32x512_8",
        5.156,
        (2.43, 2.42),
        (-0.523, -0.151),
        (0.777, 0.264),
        (0.089, 0.11),
        0.00689,
    ),
    MacroTiming(
        "sky130_sram_4kbyte_1rw1r_32x1024_8",
        6.191,
        (2.874, 2.98),
        (-0.535, -0.157),
        (0.789, 0.276),
        (0.098, 0.131),
        0.00689,
    ),
)
#: the figures every bank is timed with: the slowest characterized macro (the three show
#: no trend with depth, and a bank deeper or wider than 32 x 1024 is beyond all of them)
BANK_TIMING = max(CHARACTERIZED, key=lambda t: t.min_period_ns)


def bank_cell(cfg: TileConfig) -> str:
    """Name of the liberty cell of one of ``cfg``'s banks."""
    return f"lutcore_sram_{cfg.sram_rows}x{cfg.sram_word_bits}_r{cfg.read_ports}"


def _bank_pins(cfg: TileConfig, addr_bits: int) -> dict[str, tuple[str, int | None]]:
    """``{pin: (kind, port)}`` of one bank cell: kind ``in``/``out``, the read port whose
    figures apply (``None``: the write port, timed as port 0)."""
    word = cfg.sram_word_bits
    pins: dict[str, tuple[str, int | None]] = {}
    for r in range(cfg.read_ports):
        pins |= {f"rd_addr{r}_{j}": ("in", r) for j in range(addr_bits)}
        pins[f"rd_en{r}"] = ("in", r)
        pins |= {f"rd_data{r}_{j}": ("out", r) for j in range(word)}
    pins |= {f"wr_addr_{j}": ("in", None) for j in range(addr_bits)}
    pins |= {f"wr_en_{j}": ("in", None) for j in range(word)}  # bit-write
    pins |= {f"wr_data_{j}": ("in", None) for j in range(word)}
    return pins


def _scalar(kind: str, value: float) -> str:
    return f'{kind}(scalar) {{ values("{value:.4f}"); }}'


def bank_liberty(cfg: TileConfig, addr_bits: int) -> str:
    """A liberty of one bank of ``cfg`` (cell :func:`bank_cell`): area from
    :func:`macro_area`, timing from :data:`BANK_TIMING` (rising-edge clock to read data, setup
    and hold of every input, the minimum period); read by OpenSTA beside the cell library."""
    t = BANK_TIMING
    lines = [
        f"/* lutcore SRAM bank timing model: {cfg.sram_rows} words x {cfg.sram_word_bits} "
        f"bits, {cfg.read_ports} read port(s); figures of {t.name} (OpenRAM, TT 1.8 V 25 C), "
        "area from the lutcore area model. Generated by lutcore.synth.sram. */",
        f'library ("{bank_cell(cfg)}_lib") {{',
        '  delay_model : "table_lookup";',
        '  time_unit : "1ns";',
        '  voltage_unit : "1V";',
        '  current_unit : "1mA";',
        '  leakage_power_unit : "1nW";',
        '  pulling_resistance_unit : "1kohm";',
        '  capacitive_load_unit(1.0, "pf");',
        "  nom_voltage : 1.8; nom_temperature : 25.0; nom_process : 1.0;",
        "  input_threshold_pct_rise : 50; input_threshold_pct_fall : 50;",
        "  output_threshold_pct_rise : 50; output_threshold_pct_fall : 50;",
        "  slew_lower_threshold_pct_rise : 10; slew_upper_threshold_pct_rise : 90;",
        "  slew_lower_threshold_pct_fall : 10; slew_upper_threshold_pct_fall : 90;",
        f"  cell ({bank_cell(cfg)}) {{",
        f"    area : {macro_area(cfg.sram_rows, cfg.sram_word_bits):.1f};",
        "    dont_use : true;",
        "    dont_touch : true;",
        "    pin (clk) {",
        "      direction : input; clock : true;",
        f"      capacitance : {t.pin_cap_pf};",
        '      timing () { related_pin : "clk"; timing_type : minimum_period;',
        f"        {_scalar('rise_constraint', t.min_period_ns)}",
        f"        {_scalar('fall_constraint', t.min_period_ns)} }}",
        "    }",
    ]
    for pin, (kind, port) in _bank_pins(cfg, addr_bits).items():
        p = port or 0
        if kind == "out":
            arc = [
                '      timing () { related_pin : "clk"; timing_type : rising_edge;',
                f"        {_scalar('cell_rise', t.access_ns(p))}",
                f"        {_scalar('cell_fall', t.access_ns(p))}",
                f"        {_scalar('rise_transition', t.dout_transition_ns[p])}",
                f"        {_scalar('fall_transition', t.dout_transition_ns[p])} }}",
            ]
            lines += [f"    pin ({pin}) {{", "      direction : output;", *arc, "    }"]
            continue
        checks = []
        for check, value in (("setup_rising", t.setup(p)), ("hold_rising", t.hold_ns[p])):
            checks += [
                f'      timing () {{ related_pin : "clk"; timing_type : {check};',
                f"        {_scalar('rise_constraint', value)}",
                f"        {_scalar('fall_constraint', value)} }}",
            ]
        lines += [
            f"    pin ({pin}) {{",
            f"      direction : input; capacitance : {t.pin_cap_pf};",
            *checks,
            "    }",
        ]
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


def bank_figures(cfg: TileConfig) -> dict:
    """The stated figures the banks are timed with, for the report."""
    t = BANK_TIMING
    return {
        "source": f"{t.name} (OpenRAM sky130, TT 1.8 V 25 C liberty), the slowest of "
        + ", ".join(c.name for c in CHARACTERIZED),
        "cell": bank_cell(cfg),
        "access_ns": [round(t.access_ns(p), 4) for p in range(cfg.read_ports)],
        "setup_ns": [round(t.setup(p), 4) for p in range(cfg.read_ports)],
        "min_period_ns": t.min_period_ns,
        "fmax_limit_mhz": round(1000.0 / t.min_period_ns, 2),
    }


def timed_top(netlist_text: str, top: str, cfg: TileConfig) -> tuple[str, str, str]:
    """Verilog of ``<top>__with_sram``: the netlist's top with one :func:`bank_cell` instance
    per bank on its ``sram__*`` ports (bit ``j`` of bank ``b``'s read port ``r`` is bit
    ``(b * read_ports + r) * width + j`` of the flat vector, as
    :func:`~lutcore.hw.layouts.sram_signature` packs it). Returns (module name, Verilog,
    bank liberty)."""
    ports = netlist_ports(netlist_text, top)
    banks, reads = cfg.banks, cfg.read_ports
    addr_bits, rem = divmod(ports["sram__wr_addr"][1], banks)
    if rem or ports["sram__rd_data"][1] != banks * reads * cfg.sram_word_bits:
        raise ValueError(f"{top}: its sram__* ports do not match {banks} banks of {cfg.slug}")
    name = f"{top}__with_sram"
    outer = {p: v for p, v in ports.items() if not p.startswith("sram__")}

    def bits(port: str, width: int | None) -> list[str]:
        return [port] if width is None else [f"\\{port}[{i}] " for i in range(width)]

    lines = [f"module {name}({', '.join(b for p, v in outer.items() for b in bits(p, v[1]))});"]
    for port, (direction, width) in ports.items():
        kind = direction if port in outer else "wire"
        lines += [f"  {kind} {b};" for b in bits(port, width)]
    conns = [f"    .{b}({b})" for p, v in ports.items() for b in bits(p, v[1])]
    lines += [f"  {top} logic (", ",\n".join(conns), "  );"]
    word = cfg.sram_word_bits
    for b in range(banks):
        pins = ["    .clk(clk)"]
        for r in range(reads):
            k = b * reads + r
            pins += [
                f"    .rd_addr{r}_{j}(\\sram__rd_addr[{k * addr_bits + j}] )"
                for j in range(addr_bits)
            ]
            pins.append(f"    .rd_en{r}(\\sram__rd_en[{k}] )")
            pins += [f"    .rd_data{r}_{j}(\\sram__rd_data[{k * word + j}] )" for j in range(word)]
        pins += [
            f"    .wr_addr_{j}(\\sram__wr_addr[{b * addr_bits + j}] )" for j in range(addr_bits)
        ]
        pins += [f"    .wr_en_{j}(\\sram__wr_en[{b * word + j}] )" for j in range(word)]
        pins += [f"    .wr_data_{j}(\\sram__wr_data[{b * word + j}] )" for j in range(word)]
        lines += [f"  {bank_cell(cfg)} bank{b} (", ",\n".join(pins), "  );"]
    lines.append("endmodule")
    return name, "\n".join(lines) + "\n", bank_liberty(cfg, addr_bits)
