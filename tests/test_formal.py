"""Formal proofs: LUT dot product == multiply-based reference for all int8 inputs; mapped
netlists == their RTL."""

from __future__ import annotations

import pytest

from lutcore.sim.formal import FORMAL_CONFIGS, FormalFailure, prove_lut_dot
from lutcore.synth.equiv import EQUIV_CONFIGS, EquivalenceFailed, prove_tile


@pytest.mark.parametrize("cfg", FORMAL_CONFIGS, ids=[c.slug for c in FORMAL_CONFIGS])
def test_lut_dot_product_proved_equal_to_multiply(cfg):
    prove_lut_dot(cfg)


REFUTED = [*FORMAL_CONFIGS[:2], next(c for c in FORMAL_CONFIGS if c.base3)]


@pytest.mark.parametrize("cfg", REFUTED, ids=[c.slug for c in REFUTED])
def test_proof_is_not_vacuous(cfg):
    """A reference that ignores the zero point / sign (a ternary group's sign) must be
    refuted."""
    with pytest.raises(FormalFailure, match="differs from the multiply reference"):
        prove_lut_dot(cfg, broken=True)


@pytest.mark.parametrize("cfg", EQUIV_CONFIGS, ids=[c.slug for c in EQUIV_CONFIGS])
def test_mapped_netlist_proved_equal_to_the_rtl(cfg, tmp_path):
    """The flow's netlist (flip-flops mapped first, ABC on the logic, fanout buffers)
    against the RTL it came from: a miter with every flip-flop from 0 and the reset free,
    proved by ABC."""
    found = prove_tile(cfg, tmp_path)
    assert found["verdict"] == "Networks are equivalent"
    assert found["latches"] > 0  # a sequential miter, not a constant


@pytest.mark.parametrize("broken", ["flop", "reset"])
def test_a_broken_netlist_is_refuted(broken, tmp_path):
    """Non-vacuity: one stuck register, or the reset cut inside the blocks (what mapping
    with `abc -dff` did), gives a counterexample."""
    with pytest.raises(EquivalenceFailed, match=r"(?i)not equivalent"):
        prove_tile(EQUIV_CONFIGS[0], tmp_path, broken=broken)
