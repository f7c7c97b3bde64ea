"""Files: atomic writes, and the TOML/JSON tables of configurations and specs."""

from __future__ import annotations

import json
import os
import tempfile
import tomllib
from pathlib import Path
from typing import Any

__all__ = ["read_table_file", "write_atomic"]


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory, so a reader
    never sees a half-written file and an interrupted run leaves the old one intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def read_table_file(path: Path, what: str, error: type[Exception]) -> Any:
    """Parsed contents of a JSON (``.json``) or TOML file; ``error`` names ``what`` and the
    path when it cannot be read or parsed."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise error(f"{what} {path}: cannot read ({exc.strerror})") from None
    try:
        return json.loads(text) if Path(path).suffix == ".json" else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise error(f"{what} {path}: malformed ({exc})") from None
