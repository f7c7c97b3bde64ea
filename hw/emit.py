"""Verilog emission: stable module names, configuration header, no machine paths."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from amaranth import __version__ as amaranth_version

from lutcore import __version__
from lutcore.base.files import write_atomic
from lutcore.base.yosys import run_script, yosys_version

from .arch import arch_of, make_tile
from .config import TileConfig
from .units import rtlil_module, shared_units

__all__ = [
    "amaranth_to_verilog",
    "core_file",
    "part_name",
    "part_rtlil",
    "part_verilog",
    "tile_verilog",
    "top_name",
    "write_tile",
]


_INTERNAL_ATTRS = "-remove generator -remove top -remove src -remove amaranth.hierarchy"


def top_name(cfg: TileConfig) -> str:
    """Verilog name of the tile's top module: the configuration slug (also the file name)."""
    return cfg.slug


#: the PIM tile's in-memory converters (synthesized on request, not parts of a tile) and the
#: words they convert at once (one quantization group)
PIM_CONVERTERS = ("pim_fp16_to_bfp", "pim_int_to_fp16")
PIM_CONVERT_COLUMNS = 128


def part_name(cfg: TileConfig, part: str) -> str:
    """Verilog module (and file) name of one part: the slug, or the converter with the
    configuration of the floating-point path (rows or lanes included)."""
    if part == "tile":
        return cfg.slug
    if part == "act_converter":
        # the converter depends on its lanes, not on M (two M with one lane count are one design)
        return f"actconv_l{cfg.act_lanes}_{cfg.fp_slug}"
    if part in PIM_CONVERTERS:
        width = cfg.a_bits if part == "pim_fp16_to_bfp" else cfg.acc_bits
        return f"{part}_{width}b_c{PIM_CONVERT_COLUMNS}"
    if part == "dequant":  # the FP-table tile's converter takes FP32 (or FP16) words
        fixed = getattr(cfg, "fixed_acc", False)
        source = f"{cfg.acc_format}in_" if cfg.fp_tables or fixed else ""
        source += "offout_" if getattr(cfg, "offset_out", False) else ""  # adds the offset
        return f"dequant_{source}l{cfg.dequant_lanes}_kmax{cfg.max_k}_{cfg.fp_slug}"
    raise ValueError(
        f"part {part!r}: allowed tile, act_converter, dequant, {', '.join(PIM_CONVERTERS)}"
    )


def _part_component(cfg: TileConfig, part: str, macros: bool = False):
    from .act_converter import ActConverter
    from .dequant import DequantConverter

    if part in PIM_CONVERTERS:
        from .pim_convert import PimConvert
        from .pim_programs import fp16_to_bfp_program, int_to_fp16_program

        if part == "pim_fp16_to_bfp":
            program, what = fp16_to_bfp_program(cfg.a_bits), "FP16 -> block FP"
        else:
            program, what = int_to_fp16_program(cfg.acc_bits), "integer -> FP16"
        engine = PimConvert(program, PIM_CONVERT_COLUMNS, external_rows=macros)
        return engine, f"in-memory bit-serial converter ({what}, {len(program.ops)} micro-ops)"
    if part == "act_converter":
        return ActConverter(cfg), "FP activation -> block floating point converter"
    if part == "dequant":
        return DequantConverter(cfg), "dequant converter (integer results -> FP)"
    arch = arch_of(cfg)
    if macros and arch.macro_tile is not None:
        return make_tile(cfg, macros=True), f"{arch.description}, SRAM banks as external ports"
    return make_tile(cfg), arch.description


def _rtlil(component, name: str, shared: bool = True) -> str:
    # every repeated unit (an array's columns) becomes one module, instantiated per copy
    if not shared:
        return rtlil_module(component, name)
    with shared_units(name) as units:
        text = rtlil_module(component, name)
    return text + units.rtlil()


def part_rtlil(cfg: TileConfig, part: str) -> str:
    """The RTLIL that :func:`part_verilog` translates (Amaranth's own output, no Yosys run):
    a quick fingerprint of the part's design."""
    return _rtlil(_part_component(cfg, part)[0], part_name(cfg, part))


def amaranth_to_verilog(component, name: str, *, shared: bool = True) -> str:
    """Verilog of an Amaranth component as Amaranth's own backend writes it (same Yosys
    script), with two changes for people reading it: no ``src`` attributes (they hold
    absolute paths) and submodules named ``<top>__<block>`` instead of the escaped
    identifier ``\\<top>.<block>``. ``shared``: a repeated unit is one module, instantiated
    per copy (:mod:`lutcore.hw.units`); without it every copy is its own module."""
    text = _rtlil(component, name, shared)
    with tempfile.TemporaryDirectory(prefix="lutcore-emit-") as tmp:
        il, out = Path(tmp) / "design.il", Path(tmp) / "design.v"
        il.write_text(text)
        run_script(
            [
                f"read_rtlil {il}",
                "proc -nomux -norom",
                "memory_collect",
                f"attrmap {_INTERNAL_ATTRS}",
                f"attrmap -modattr {_INTERNAL_ATTRS}",
                f"write_verilog -norename {out}",
            ],
            log=Path(tmp) / "yosys.log",
        )
        # Drop Yosys' banner: it names the compiler path of the machine that built Yosys.
        lines = out.read_text().splitlines(keepends=True)
        return "".join(line for line in lines if not line.startswith("/* Generated by Yosys"))


def part_verilog(cfg: TileConfig, part: str, *, macros: bool = False, shared: bool = True) -> str:
    """Verilog text of one part (:attr:`~lutcore.hw.config.TileConfig.parts`), with the
    configuration as a header comment. The text depends only on the configuration and the
    tool versions. ``macros``: memories that an ASIC implements as SRAM macros (the PIM
    tile's banks) are left out and their ports made ports of the top (the synthesis flow's
    view). ``shared``: as :func:`amaranth_to_verilog`."""
    component, what = _part_component(cfg, part, macros)
    name = part_name(cfg, part)
    text = amaranth_to_verilog(component, name, shared=shared)
    derived = cfg.derived_summary()
    if part == "act_converter":
        derived = f"block = {cfg.bfp_block}, exponent bits = {cfg.bfp_exp_bits}"
    elif part == "dequant":
        derived = f"lanes = {cfg.dequant_lanes}, terms = {cfg.dequant_terms}, {derived}"
    header = [
        f"// Generated by lutcore {__version__} (Amaranth {amaranth_version}, "
        f"{yosys_version().split(' (')[0]}): {what}. Do not edit.",
        f"// top module: {name}",
        "// configuration:",
        *(f"//   {key} = {value}" for key, value in cfg.to_dict().items()),
        f"//   (derived) {derived}",
    ]
    return "\n".join(header) + "\n" + text


def tile_verilog(cfg: TileConfig) -> str:
    """Verilog text of the tile (:func:`part_verilog` of ``"tile"``)."""
    return part_verilog(cfg, "tile")


def core_file(cfg: TileConfig) -> str:
    """A FuseSoC CAPI2 core of the emitted Verilog (the files :func:`write_tile` writes), so
    the RTL drops into FuseSoC/Edalize flows: target ``default`` (synthesis, Yosys),
    ``lint`` (Verilator lint-only), the tile as the top module, the configuration as
    comments. Every converter part is its own top module; each has a ``<part>`` target."""
    arch = arch_of(cfg)
    names = [part_name(cfg, part) for part in cfg.parts]
    lines = [
        "CAPI=2:",
        f"# Generated by lutcore {__version__}: {arch.description}. Do not edit.",
        "# configuration:",
        *(f"#   {key} = {json_value(value)}" for key, value in cfg.to_dict().items()),
        f"name: lutcore:tile:{cfg.slug}:{__version__}",
        f'description: "{arch.description}, {cfg.slug}"',
        "filesets:",
        "  rtl:",
        "    file_type: verilogSource",
        "    files:",
        *(f"      - {name}.v" for name in names),
        "targets:",
        *_core_target("default", cfg.slug, "yosys"),
        *_core_target("lint", cfg.slug, "verilator"),
        "    tools:",
        "      verilator:",
        "        mode: lint-only",
        "        verilator_options: [-Wall]",
    ]
    for part, name in zip(cfg.parts[1:], names[1:], strict=True):
        lines += _core_target(part, name, "yosys")
    return "\n".join(lines) + "\n"


def _core_target(target: str, toplevel: str, tool: str) -> list[str]:
    return [
        f"  {target}:",
        "    filesets: [rtl]",
        f"    toplevel: {toplevel}",
        f"    default_tool: {tool}",
    ]


def json_value(value) -> str:
    """A parameter value as the configuration files spell it (``true``, ``"fp16"``)."""
    return json.dumps(value)


def write_tile(cfg: TileConfig, out_dir: Path) -> Path:
    """Write ``<slug>.v``, ``<slug>.json`` and the FuseSoC core ``<slug>.core`` into
    ``out_dir`` (and each converter's ``<name>.v`` for floating-point activations); returns
    the tile's Verilog path."""
    for part in cfg.parts[1:]:
        write_atomic(out_dir / f"{part_name(cfg, part)}.v", part_verilog(cfg, part))
    v_path = out_dir / f"{cfg.slug}.v"
    write_atomic(v_path, tile_verilog(cfg))
    write_atomic(out_dir / f"{cfg.slug}.json", cfg.to_json())
    write_atomic(out_dir / f"{cfg.slug}.core", core_file(cfg))
    return v_path
