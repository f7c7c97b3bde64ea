"""Formal proof: LUT dot product == multiply-based reference, for all int8 inputs."""

from __future__ import annotations

import pytest

from lutcore.sim.formal import FORMAL_CONFIGS, FormalFailure, prove_lut_dot


@pytest.mark.parametrize("cfg", FORMAL_CONFIGS, ids=[c.slug for c in FORMAL_CONFIGS])
def test_lut_dot_product_proved_equal_to_multiply(cfg):
    prove_lut_dot(cfg)


@pytest.mark.parametrize("cfg", FORMAL_CONFIGS[:2], ids=[c.slug for c in FORMAL_CONFIGS[:2]])
def test_proof_is_not_vacuous(cfg):
    """A reference that ignores the zero point / sign must be refuted."""
    with pytest.raises(FormalFailure, match="differs from the multiply reference"):
        prove_lut_dot(cfg, broken=True)
