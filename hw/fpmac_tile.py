"""The FP16 baseline tile: activation buffer, control and FP16 MAC array (the tile interface,
with FP16 activation words, per-column FP16 scales in the command and FP32 results)."""

from __future__ import annotations

from .fpmac_array import FpMacArray
from .mac_tile import MacTile

__all__ = ["FpMacTile"]


class FpMacTile(MacTile):
    """``Y[m, n] = sum_k A[m, k] * fp16(scale[n] * W[k, n])`` with FP16 activations, fused
    ``K``-term dot products and FP32 accumulation over the output tile's K-slices (see
    :class:`~lutcore.hw.fpmac_array.FpMacArray`): the MAC tile's buffer and control around the FP16
    array. The protocol is the LUT tile's; each command also carries the columns' scales.
    """

    BLOCKS = ("act_buffer", "control", "fpmac_array")
    ARRAY = FpMacArray
