"""The papers' figures (``papers.toml``) as data: what the summaries compare with."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["PAPERS", "Figure"]


@dataclass(frozen=True)
class Figure:
    """One published figure: its ``value`` (a number, or a list with ``extra`` keys giving
    what each element is for), ``unit``, ``source`` and the ``claim`` in words."""

    value: Any
    unit: str
    source: str
    claim: str
    extra: dict

    def sentence(self) -> str:
        return f"{self.source}: {self.claim}"


def _load() -> dict[str, Figure]:
    data = tomllib.loads(Path(__file__).with_name("papers.toml").read_text())
    keys = ("value", "unit", "source", "claim")
    return {
        name: Figure(*(d[k] for k in keys), {k: v for k, v in d.items() if k not in keys})
        for name, d in data.items()
    }


#: every figure by name
PAPERS: dict[str, Figure] = _load()
