"""lutcore: synthesizable RTL generator for LUT-based mixed-precision matrix hardware.

Subpackages: :mod:`lutcore.hw` (Amaranth generator), :mod:`lutcore.sim` (golden model,
cocotb benches and runner), :mod:`lutcore.synth` (Yosys/OpenSTA flows).
"""

__version__ = "0.1.0"
