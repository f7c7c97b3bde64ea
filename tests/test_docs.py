"""The interface documentation is generated from the component and must be current."""

from __future__ import annotations

from pathlib import Path

import pytest

from lutcore.docs import INTERFACE_DOCS, interface_markdown, payload_fields, port_rows
from lutcore.hw.layouts import act_layout, weight_layout
from lutcore.hw.presets import DEFAULT, PRESETS
from lutcore.sim.streams import pack

DOCS = Path(__file__).parent.parent / "docs"


@pytest.mark.parametrize("name", INTERFACE_DOCS)
def test_interface_docs_are_up_to_date(name):
    text = interface_markdown(PRESETS[INTERFACE_DOCS[name]])
    assert (DOCS / name).read_text() == text, "run `make ports` and commit"


def test_every_architecture_has_an_interface_doc():
    from lutcore.hw.arch import REGISTRY

    assert {PRESETS[p].arch for p in INTERFACE_DOCS.values()} == set(REGISTRY)


def test_each_architecture_documents_its_own_ports():
    mac = {row[0] for row in port_rows(PRESETS["mac_paper"])}
    pim = {row[0]: row for row in port_rows(PRESETS["pim_b4"])}
    fpmac = dict((row[0], row[3]) for row in port_rows(PRESETS["fpmac_w2"]))
    assert "rsp__payload" not in mac and "rsp__payload" in pim and "mem__payload" not in pim
    assert "scale[n]" in fpmac["cmd__payload"] and "FP16 words" in fpmac["a__payload"]
    assert all(op in pim["cmd__payload"][3] for op in ("LOAD", "COMPUTE", "CONVERT", "READ"))
    assert pim["rsp__payload"][1] == "output"
    assert "scale" not in dict((r[0], r[3]) for r in port_rows(DEFAULT))["cmd__payload"]


def test_port_widths_match_the_config():
    widths = {name: width for name, _, width, _ in port_rows(DEFAULT)}
    assert widths["a__payload"] == DEFAULT.M * DEFAULT.K * DEFAULT.a_bits
    assert widths["w__payload"] == DEFAULT.N * DEFAULT.planes_per_cycle * DEFAULT.K
    assert widths["y__payload"] == DEFAULT.M * DEFAULT.N * DEFAULT.acc_bits
    assert widths["cmd__payload"] == DEFAULT.slice_count_bits + DEFAULT.N * DEFAULT.w_bits


def test_documented_offsets_agree_with_the_packer():
    """The offset formula in the doc and the testbench's packing place a value identically."""
    ((field, offset, _),) = payload_fields(act_layout(DEFAULT), "mk")
    assert field == "payload[m][k]" and offset == f"m*{DEFAULT.K * DEFAULT.a_bits} + k*8"
    a = [[0] * DEFAULT.K for _ in range(DEFAULT.M)]
    a[1][2] = 0x5A
    assert pack(a, DEFAULT.a_bits) == 0x5A << (1 * DEFAULT.K * 8 + 2 * 8)
    ((field, offset, _),) = payload_fields(weight_layout(DEFAULT), "nj")
    assert offset == f"n*{DEFAULT.K * DEFAULT.planes_per_cycle} + j*{DEFAULT.K}"


def test_block_diagram_is_up_to_date_and_names_every_block():
    from lutcore.diagram import blocks_svg, submodules
    from lutcore.docs import diagram_configs
    from lutcore.hw.arch import arch_of

    configs = diagram_configs()
    assert {c.arch for c in configs} == {PRESETS[p].arch for p in INTERFACE_DOCS.values()}
    text = blocks_svg(configs)
    assert (DOCS / "blocks.svg").read_text() == text, "run `make ports` and commit"
    for cfg in configs:  # the drawn hierarchy is the synthesized block list
        assert set(arch_of(cfg).blocks) <= set(submodules(cfg)), cfg.arch
        assert all(f">{b}<" in text for b in submodules(cfg))
