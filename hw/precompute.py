"""Table precompute unit: one K-slice of activations in, the slice's tables out."""

from __future__ import annotations

from amaranth.hdl import Module, Value
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .config import TileConfig
from .layouts import act_layout, table_layout

__all__ = ["TablePrecompute", "chunk_entries"]


def chunk_entries(acts: list[Value], symmetric: bool) -> list[Value]:
    """Table entries of one chunk of ``g`` activations, adders shared between entries.

    Symmetric (``t_j = +-1``): ``E[q] = a[g-1] + sum_{j<g-1} a[j]*(2*q_j - 1)``. Entries that
    differ in bit ``j`` differ by ``2*a[j]``, so after the all-minus base each new entry is one
    adder on an existing one: ``g-1 + 2**(g-1) - 1`` adders, depth ``log2(g) + g - 1``.

    Unsigned (``t_j`` in {0, 1}): ``T[p] = sum_j a[j]*p_j``, built by doubling; adding bit
    ``j`` to the zero entry costs nothing: ``2**g - 1 - g`` adders. ``T[0] = 0`` is dropped.
    """
    g = len(acts)
    if symmetric:
        entries = [acts[g - 1] - sum(acts[: g - 1])]
        for j in range(g - 1):
            twice = acts[j] << 1
            entries += [e + twice for e in entries]
        return entries
    entries: list[Value | None] = [None]  # None: the constant zero entry
    for j in range(g):
        entries += [acts[j] if e is None else e + acts[j] for e in entries]
    return entries[1:]


class TablePrecompute(wiring.Component):
    """Builds the ``M x K/g`` tables of one K-slice (combinational stream transform).

    ``i``: activations ``[m][k]`` (signed ``a_bits``); ``o``:
    :func:`~lutcore.hw.layouts.table_layout`
    (entries and per-row slice sums). ``o`` is valid with ``i``; the table buffer registers it.
    The slice sum ``S`` is the all-ones entry of each chunk summed over chunks, so it costs
    ``K/g - 1`` adders, not a K-input tree.
    """

    def __init__(self, cfg: TileConfig):
        self.cfg = cfg
        super().__init__(
            {
                "i": In(stream.Signature(act_layout(cfg))),
                "o": Out(stream.Signature(table_layout(cfg))),
            }
        )

    def elaborate(self, platform) -> Module:
        cfg = self.cfg
        m = Module()
        m.d.comb += [self.o.valid.eq(self.i.valid), self.i.ready.eq(self.o.ready)]
        for row in range(cfg.M):
            acts = [self.i.payload[row][k] for k in range(cfg.K)]
            chunk_sums = []
            for c in range(cfg.chunks):
                entries = chunk_entries(acts[c * cfg.g : (c + 1) * cfg.g], cfg.symmetric)
                for e, value in enumerate(entries):
                    m.d.comb += self.o.payload.entries[row][c][e].eq(value)
                chunk_sums.append(entries[-1])  # the all-ones pattern: sum of the chunk
            m.d.comb += self.o.payload.total[row].eq(sum(chunk_sums))
        return m
