"""The interface documentation is generated from the component and must be current."""

from __future__ import annotations

from pathlib import Path

from lutcore.docs import interface_markdown, payload_fields, port_rows
from lutcore.hw.config import DEFAULT
from lutcore.hw.layouts import act_layout, weight_layout
from lutcore.sim.streams import pack

DOC = Path(__file__).parent.parent / "docs" / "interface.md"


def test_interface_doc_is_up_to_date():
    assert DOC.read_text() == interface_markdown(DEFAULT), "run `make ports` and commit"


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
