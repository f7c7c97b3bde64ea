"""The configuration object refuses every invalid value or combination, by name."""

from __future__ import annotations

import json

import pytest

from lutcore.cli import main
from lutcore.hw.config import ConfigError, TileConfig, tile_config
from lutcore.hw.emit import part_name
from lutcore.hw.presets import DEFAULT

BAD = [
    ({"M": 0}, "M=0: allowed 1..4096"),
    ({"N": 5000}, "N=5000: allowed 1..4096"),
    ({"g": 7}, "g=7: allowed 1..6"),
    ({"g": 1, "K": 4}, "g=1 with symmetric=true"),
    ({"K": 6}, "K=6: must be a multiple of g=4"),
    ({"K": 2}, "K=2: must be a multiple of g=4"),
    ({"w_bits": 0}, "w_bits=0: allowed 1..8"),
    ({"w_bits": 9}, "w_bits=9: allowed 1..8"),
    (
        {"weight_format": "nf4"},
        'weight_format="nf4": allowed "unsigned", "signed", "bcq", "ternary"',
    ),
    (
        {"weight_format": "bcq", "planes_per_cycle": 2},
        'planes_per_cycle=2 with weight_format="bcq"',
    ),
    ({"act_format": "fp8"}, 'act_format="fp8": allowed "int", "fp16", "bf16"'),
    ({"act_block": "row"}, 'act_block="row": allowed "group", "chunk"'),
    ({"act_rounding": "up"}, 'act_rounding="up": allowed "rne", "trunc"'),
    ({"out_format": "bf16"}, 'out_format="bf16": allowed "fp32", "fp16"'),
    ({"act_format": "fp16", "group": 6}, "group=6: must be a multiple of K=4 that divides"),
    ({"act_format": "fp16", "group": 3072}, "group=3072: must be a multiple of K=4"),
    ({"act_format": "bf16", "a_bits": 4}, 'a_bits=4 with act_format="bf16"'),
    ({"arch": "fpmac", "act_format": "int"}, 'act_format="int" with arch="fpmac"'),
    ({"arch": "fpmac", "w_bits": 4}, 'planes_per_cycle=2 with arch="fpmac"'),
    (
        {"arch": "fpmac", "planes_per_cycle": 1},
        'planes_per_cycle=1 with arch="fpmac": the FP16 baseline takes FP16 activation words',
    ),
    (
        {
            "arch": "fpmac",
            "act_format": "fp16",
            "a_bits": 16,
            "weight_format": "bcq",
            "w_bits": 1,
            "planes_per_cycle": 1,
        },
        'weight_format="bcq" with arch="fpmac"',
    ),
    (
        {"arch": "fplut", "act_format": "int"},
        'act_format="int" with arch="fplut": the FP-table tile builds',
    ),
    (
        {"arch": "fplut", "act_format": "fp16", "a_bits": 16, "symmetric": False},
        'symmetric=false with arch="fplut"',
    ),
    (
        {"arch": "fplut", "act_format": "fp16", "a_bits": 16, "weight_format": "bcq"},
        'weight_format="bcq" with arch="fplut": allowed "unsigned", "signed"',
    ),
    (
        {"arch": "fplut", "act_format": "fp16", "a_bits": 16, "K": 6, "max_k": 6},
        "K=6: must be a multiple of g=4",
    ),
    (
        {"arch": "pim", "symmetric": True},
        'symmetric=true with arch="pim": the PIM tile reads unsigned (0/1)',
    ),
    (
        {"arch": "pim", "symmetric": False, "planes_per_cycle": 2},
        'planes_per_cycle=2 with arch="pim"',
    ),
    (
        {"arch": "pim", "symmetric": False, "read_ports": 3},
        "read_ports=3: allowed 1, 2 (one 1rw1r SRAM macro per bank)",
    ),
    ({"arch": "pim", "symmetric": False, "M": 32}, 'M=32 with arch="pim"'),
    ({"arch": "pim", "symmetric": False, "N": 32}, 'N=32 with arch="pim"'),
    ({"arch": "pim", "symmetric": False, "K": 68, "max_k": 68}, 'K=68 with arch="pim"'),
    # a parameter that does not apply to the arch is refused by name
    ({"read_ports": 2}, 'read_ports applies to arch pim only (not "lut")'),
    ({"pattern_aware": False}, "pattern_aware applies to arch pim only"),
    ({"arch": "mac", "g": 2}, 'g applies to arch lut, fplut, pim only (not "mac")'),
    ({"arch": "mac", "symmetric": True}, "symmetric applies to arch lut, fplut, pim only"),
    ({"arch": "fpmac", "group": 64}, "group applies to arch lut, mac, fplut only"),
    ({"arch": "fplut", "act_block": "group"}, "act_block applies to arch lut, mac only"),
    ({"arch": "pim", "act_format": "int"}, "act_format applies to arch lut, mac, fpmac, fplut"),
    (
        {"arch": "mac", "act_format": "fp16", "act_block": "chunk"},
        'act_block="chunk" with arch="mac"',
    ),
    ({"a_bits": 12}, "a_bits=12: allowed 4, 8, 16"),
    (
        {"w_bits": 3, "planes_per_cycle": 2},
        "planes_per_cycle=2: must divide w_bits=3; allowed 1, 3",
    ),
    ({"max_k": 6}, "max_k=6: must be a multiple of K=4"),
    ({"max_k": 0}, "max_k=0: must be a multiple of K=4"),
    ({"pipeline": 3}, "pipeline=3: allowed 0, 1, 2"),
    ({"M": True}, "M=true: must be an integer"),
    ({"M": 2.5}, "M=2.5: must be an integer"),
    ({"symmetric": 1}, "symmetric=1: must be true or false"),
    ({"arch": "dsp"}, 'arch="dsp": allowed lut, mac, fpmac, fplut, pim'),
    ({"arch": "mac", "K": 0, "max_k": 4}, "K=0: allowed 1..4096"),
    (
        {"weight_format": "ternary", "w_bits": 3},
        'w_bits=3 with weight_format="ternary": a ternary weight is a 2-bit code',
    ),
    ({"ternary_code": "planes"}, 'ternary_code="planes" with weight_format="unsigned"'),
    ({"weight_format": "ternary", "ternary_code": "base2"}, 'ternary_code="base2": allowed'),
    (
        {"weight_format": "ternary", "g": 6, "K": 6},
        'g=6 with ternary_code="base3": a base-3 table of g weights has (3**g - 1)/2 entries; '
        "allowed 2, 3, 4, 5",
    ),
    (
        {"weight_format": "ternary", "planes_per_cycle": 2},
        'planes_per_cycle=2 with ternary_code="base3"',
    ),
    (
        {"weight_format": "ternary", "act_format": "fp16", "a_bits": 16},
        'act_format="fp16" with weight_format="ternary": ternary tiles take integer',
    ),
    (
        {"arch": "mac", "weight_format": "ternary"},
        'planes_per_cycle=1 with weight_format="ternary" and arch="mac"',
    ),
    (
        {"arch": "fplut", "weight_format": "ternary"},
        'weight_format="ternary" with arch="fplut": ternary weights run on arch "lut" and "mac"',
    ),
    (
        {"arch": "fplut", "acc_format": "bf16"},
        'acc_format="bf16": allowed "fp32", "fp16", "fixed"',
    ),
    (
        {"arch": "fplut", "acc_format": "fixed"},
        'acc_format="fixed" with offset="cell": the exact fixed-point accumulators take the '
        "looked-up entries only",
    ),
    ({"acc_format": "fp16"}, "acc_format applies to arch fpmac, fplut only"),
    ({"offset": "out"}, 'offset="out": allowed "cell", "output"'),
    (
        {"offset": "output"},
        'offset="output" with act_format="int": the offset term is applied by the dequant',
    ),
    (
        {"offset": "output", "symmetric": False},
        'offset="output" with symmetric=false, weight_format="unsigned": only symmetric tables',
    ),
    (
        {"offset": "output", "weight_format": "bcq", "act_format": "fp16", "a_bits": 16},
        'offset="output" with symmetric=true, weight_format="bcq"',
    ),
    ({"arch": "mac", "offset": "output"}, "offset applies to arch"),
    (
        {"arch": "pim", "weight_format": "ternary"},
        'weight_format="ternary" with arch="pim": ternary weights run on arch "lut" and "mac"; '
        'allowed "unsigned", "signed"',
    ),
]


@pytest.mark.parametrize(("changes", "message"), BAD, ids=[str(c) for c, _ in BAD])
def test_invalid_values_are_refused_by_name(changes, message):
    with pytest.raises(ConfigError) as info:
        tile_config(**changes)
    assert message in str(info.value)


def test_mac_baseline_takes_any_k_and_is_named_without_tables():
    mac = tile_config("mac", K=6, max_k=600)  # K need not be a multiple of g
    assert mac.slug == "mac_m2n64k6_w2u_a8_p1_kmax600_pipe1"
    assert DEFAULT.slug.startswith("lut_m2n64k4_g4s_")
    # g and symmetric do not apply to the MAC tile: they are not parameters of its config
    assert "g" not in mac.to_dict() and "symmetric" not in mac.to_dict()
    with pytest.raises(ConfigError, match="g applies to arch lut, fplut, pim only"):
        mac.replace(g=2)


def test_replace_to_another_arch_leaves_inapplicable_parameters_behind():
    lut = tile_config(M=1, N=4, K=4, g=2, max_k=64)
    mac = lut.replace(arch="mac")
    assert mac.to_dict() == tile_config("mac", M=1, N=4, K=4, max_k=64).to_dict()
    with pytest.raises(ConfigError, match="g applies to arch lut, fplut, pim only"):
        lut.replace(arch="mac", g=2)  # asked for explicitly: refused by name
    pim = tile_config("pim", M=1, N=4, K=8, max_k=64, read_ports=2)
    assert "read_ports" not in pim.replace(arch="lut").to_dict()


def test_ternary_configurations_state_their_code():
    """Base-3 groups: (3**g - 1)/2 entries, a sign bit on the magnitude, one beat a slice,
    ternary MACs per cycle; 2-bit planes: the signed 2-bit tile; ternary_code appears in
    the parameters only with ternary weights."""
    tl2 = tile_config(M=2, N=16, K=6, g=3, weight_format="ternary")
    assert (tl2.entries, tl2.group_code_bits, tl2.beats_per_slice) == (13, 5, 1)
    assert tl2.bits_per_weight == pytest.approx(5 / 3) and tl2.macs_per_cycle == 2 * 16 * 6
    assert tl2.w_range == (-1, 1) and not tl2.has_zero_point and "_w2t3_" in tl2.slug
    assert [tile_config(K=4 * g, g=g, weight_format="ternary").entries for g in (2, 4, 5)] == [
        4,
        40,
        121,
    ]
    planes = tl2.replace(K=4, g=4, ternary_code="planes", max_k=4096)
    signed = tile_config(K=4, g=4, weight_format="signed")
    assert planes.acc_bits == signed.acc_bits and planes.beats_per_slice == 2
    assert planes.signed_codes and "_w2t_" in planes.slug
    assert tl2.to_dict()["ternary_code"] == "base3" and "ternary_code" not in DEFAULT.to_dict()
    mac = tile_config("mac", weight_format="ternary", planes_per_cycle=2)
    assert mac.w_range == (-1, 1) and mac.macs_per_cycle == mac.M * mac.N * mac.K


def test_fp_accumulation_sets_the_result_words():
    fp32 = tile_config("fplut")
    fp16 = fp32.replace(acc_format="fp16")
    assert (fp32.result_bits, fp16.result_bits) == (32, 16) and not fp32.saturate
    assert fp16.slug == fp32.slug + "_acc16" and fp16.saturate
    mac = tile_config("fpmac", planes_per_cycle=2, acc_format="fp16")
    assert mac.result_bits == 16 and mac.slug.endswith("_acc16")


def test_default_is_the_paper_tile():
    cfg = tile_config()
    assert (cfg.M, cfg.N, cfg.K, cfg.g, cfg.symmetric, cfg.w_bits, cfg.a_bits) == (
        2,
        64,
        4,
        4,
        True,
        2,
        8,
    )
    assert cfg.entries == 8 and cfg.beats_per_slice == 2


def test_accumulator_width_is_exact_for_max_k():
    # unsigned 2-bit codes with zero point: |W| <= 3; int8: |a| <= 128; K up to 4096
    cfg = tile_config(max_k=4096)
    bound = 4096 * 128 * 3
    assert -(1 << (cfg.acc_bits - 1)) <= -bound and bound <= (1 << (cfg.acc_bits - 1)) - 1
    assert not (bound <= (1 << (cfg.acc_bits - 2)) - 1)  # one bit fewer would overflow


def test_offset_out_widths_and_names():
    """Offset out of the array: the accumulators hold every plane's +-1 dot product at its
    full weight, the slug and dequant say so, and the
    knob is in the configuration only where a table has an offset term."""
    signed = tile_config(w_bits=2, weight_format="signed", act_format="fp16", a_bits=8)
    out = signed.replace(offset="output")
    assert (
        out.offset_coefficient == -1
        and signed.replace(weight_format="unsigned").replace(offset="output").offset_coefficient
        == 3
    )
    bound = out.max_k * 128 * 3  # |sum_b c_b 2**b (2w - 1) a| <= max_k * 128 * (2**2 - 1)
    assert (1 << (out.acc_bits - 2)) - 1 < bound <= (1 << (out.acc_bits - 1)) - 1
    assert out.slug.endswith("_offout") and not out.zero_in_tile
    assert "offset" in signed.to_dict() and "offset" not in tile_config(arch="mac").to_dict()
    assert "offset" not in tile_config(symmetric=False).to_dict()


def test_fixed_accumulation_widths_and_names():
    """Exact fixed-point accumulation: the accumulators hold every plane's entry at 65504
    (2047 * 2**5, in units of 2**-24) over max_k / g chunks at full weight, the row sums
    the chunks' 65504 entries; the slug and dequant name say so."""
    cfg = tile_config(
        "fplut", w_bits=2, weight_format="signed", offset="output", acc_format="fixed"
    )
    largest = 2047 << (5 + 24)
    bound = cfg.max_k // cfg.g * 3 * largest
    assert (1 << (cfg.acc_bits - 2)) - 1 < bound <= (1 << (cfg.acc_bits - 1)) - 1
    bound = cfg.max_k // cfg.g * largest
    assert (1 << (cfg.total_bits - 2)) - 1 < bound <= (1 << (cfg.total_bits - 1)) - 1
    assert cfg.slug.endswith("_accfix_offout") and not cfg.fp_results and cfg.fp_words
    assert part_name(cfg, "dequant").startswith("dequant_fixedin_")
    # the FP16 MAC's: max_k products of two 65504s in units of 2**-48, normalized by a
    # one-term dequant converter (its own part)
    mac = tile_config("fpmac", acc_format="fixed")
    bound = mac.max_k * largest**2
    assert (1 << (mac.acc_bits - 2)) - 1 < bound <= (1 << (mac.acc_bits - 1)) - 1
    assert mac.parts == ("tile", "dequant") and tile_config("fpmac").parts == ("tile",)
    assert part_name(mac, "dequant").startswith("dequant_fixedin_") and mac.slug.endswith("_accfix")


def test_toml_and_json_files(tmp_path):
    toml = tmp_path / "tile.toml"
    toml.write_text("[tile]\nM = 4\nN = 16\nw_bits = 3\nsymmetric = false\n")
    cfg = TileConfig.from_file(toml)
    assert (cfg.M, cfg.N, cfg.w_bits, cfg.symmetric) == (4, 16, 3, False)
    js = tmp_path / "tile.json"
    js.write_text(cfg.to_json())
    assert TileConfig.from_file(js) == cfg


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[tile]\nM = 2\nfoo = 3\n", 'unknown parameter(s) "foo"'),
        ("[tile\nM = 2\n", "malformed"),
        ("M = 'two'\n", 'M="two": must be an integer'),
        ("[tile]\nM = 2\n[other]\nx = 1\n", "[tile] must be the only table"),
    ],
)
def test_bad_config_files_name_the_file(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        TileConfig.from_file(path)
    assert message in str(info.value) and str(path) in str(info.value)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        TileConfig.from_file(tmp_path / "nope.toml")


def test_cli_refuses_bad_flag_before_writing(tmp_path, capsys):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as info:
        main(["verilog", "-o", str(out), "--w-bits", "9"])
    assert info.value.code == 2
    assert "w_bits (--w-bits)=9: allowed 1..8" in capsys.readouterr().err
    assert not out.exists()


def test_cli_flags_override_config_file(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text("M = 1\nN = 8\nK = 8\nw_bits = 1\n")
    out = tmp_path / "v"
    assert main(["verilog", "--config", str(path), "--N", "4", "-o", str(out)]) == 0
    cfg = tile_config(M=1, N=4, K=8, w_bits=1)
    written = json.loads((out / f"{cfg.slug}.json").read_text())
    assert TileConfig.from_dict(written) == cfg
    assert (out / f"{cfg.slug}.v").read_text().count(f"module {cfg.slug}(") == 1
