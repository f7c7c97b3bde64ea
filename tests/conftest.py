"""Fixtures the tests share (helpers live in :mod:`tests.support`)."""

from __future__ import annotations

import pytest

from .support import require_tool


@pytest.fixture(scope="session")
def compact_reports(tmp_path_factory):
    """The three QoR designs on the compact library (about two minutes): shared by the
    report, QoR-baseline, calibration and gate-level tests. Returns the reports' folder and
    ``{name: report}``; each design's netlist is ``<folder>/<slug>/netlist.v``."""
    from lutcore.synth.qor import QOR_CONFIGS
    from lutcore.synth.report import run_synth

    require_tool("sta")
    out = tmp_path_factory.mktemp("reports")
    reports = {n: run_synth(c, out, progress=lambda _: None) for n, c in QOR_CONFIGS.items()}
    return out, reports
