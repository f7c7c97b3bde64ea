"""Files: atomic writes, bounded reads, and the TOML/JSON tables of configurations and specs."""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import stat
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "MAX_TABLE_BYTES",
    "atomic_path",
    "check_output_dir",
    "check_output_file",
    "decode_text",
    "read_bounded",
    "read_table_file",
    "write_atomic",
]

#: configuration files and sweep specs are a few hundred bytes; anything past this is not one
MAX_TABLE_BYTES = 1 << 20


def _file_mode() -> int:
    """The mode a plain ``open()`` would give a new file under the current umask."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A unique temporary name beside ``path`` to write to; moved onto ``path`` when the
    block ends without an error, removed otherwise. Two writers never share a temporary
    name, and a reader never sees a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.fchmod(fd, _file_mode())  # mkstemp's 0600 would make outputs private
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through :func:`atomic_path`."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def read_bounded(path: Path, what: str, error: type[Exception], limit: int) -> bytes:
    """The bytes of the regular file ``path``; ``error`` names ``what`` and the path when it
    cannot be read, is not a regular file (``/dev/zero``, a folder, a FIFO) or is larger
    than ``limit`` bytes."""
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{what} {path}: not a regular file")
        with open(path, "rb") as f:
            raw = f.read(limit + 1)
    except OSError as exc:
        raise error(f"{what} {path}: cannot read ({exc.strerror})") from None
    if len(raw) > limit:
        raise error(f"{what} {path}: larger than {limit:,} bytes, so not a {what}")
    return raw


def decode_text(raw: bytes, path: Path, what: str, error: type[Exception]) -> str:
    """``raw`` as UTF-8 (a leading byte-order mark is accepted and dropped); ``error`` names
    the file, the first bad byte and its offset otherwise."""
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(
            f"{what} {path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        ) from None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def read_table_file(path: Path, what: str, error: type[Exception]) -> Any:
    """Parsed contents of a JSON (``.json``, any case) or TOML file of at most
    :data:`MAX_TABLE_BYTES`; ``error`` names ``what`` and the path when it cannot be read,
    decoded or parsed (JSON's duplicate keys are refused, as TOML refuses them)."""
    text = decode_text(read_bounded(path, what, error, MAX_TABLE_BYTES), path, what, error)
    try:
        if Path(path).suffix.lower() == ".json":
            return json.loads(text, object_pairs_hook=_no_duplicates)
        return tomllib.loads(text)
    except (tomllib.TOMLDecodeError, ValueError) as exc:  # JSONDecodeError is a ValueError
        raise error(f"{what} {path}: malformed ({exc})") from None
    except RecursionError:
        raise error(f"{what} {path}: malformed (nested too deeply)") from None


def check_output_dir(path: Path, what: str, error: type[Exception]) -> None:
    """Refuse, before any work and without creating anything, an output folder that cannot
    be created or written: a file in its place or in its path, a read-only or virtual
    file system."""
    path = Path(path)
    if any(c in str(path) for c in '"\n\r'):
        raise error(
            f"{what} {str(path)!r}: a double quote or line break, which the tools' scripts "
            "cannot carry"
        )
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        where = "exists" if existing == path else f"has the file {existing} in its path"
        raise error(f"{what} {path}: {where} and is not a folder")
    try:  # os.access does not see read-only mounts or /proc; a real file does
        fd, probe = tempfile.mkstemp(dir=existing, prefix=".lutcore-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise error(f"{what} {path}: cannot write in {existing} ({exc.strerror})") from None


def check_output_file(path: Path, what: str, error: type[Exception]) -> None:
    """Refuse, before any work, an output file whose folder cannot be written or that names
    a folder."""
    path = Path(path)
    if path.is_dir():
        raise error(f"{what} {path}: is a folder; give a file name")
    check_output_dir(path.parent, f"{what} {path}: its folder", error)
