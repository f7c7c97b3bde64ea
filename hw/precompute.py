"""Table precompute unit: one K-slice of activations in, the slice's tables out."""

from __future__ import annotations

from amaranth.hdl import Module, Signal, Value
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .config import TileConfig
from .layouts import act_layout, table_layout

__all__ = ["TablePrecompute", "balanced_ternary", "base3_entries", "chunk_entries"]


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


def balanced_ternary(value: int, g: int) -> list[int]:
    """The ``g`` balanced-ternary digits ``t_j`` in {-1, 0, +1} of ``value``
    (``value = sum_j t_j * 3**j``, ``|value| <= (3**g - 1)/2``), least significant first."""
    digits = []
    for _ in range(g):
        t = (value + 1) % 3 - 1
        digits.append(t)
        value = (value - t) // 3
    if value:
        raise ValueError(f"value out of range for {g} balanced-ternary digits")
    return digits


def base3_entries(m: Module, acts: list[Value], name: str) -> list[Signal]:
    """Base-3 table entries of one chunk of ``g`` activations: entry ``e - 1`` is
    ``T[e] = sum_j a_j * t_j(e)`` for ``e = 1 .. (3**g - 1)/2`` (``t(e)`` the balanced-ternary
    digits of ``e``, whose top non-zero digit is +1).

    Removing that top digit ``j`` leaves ``r = e - 3**j``, ``|r| < e``: ``T[e] = a_j + T[r]``,
    with ``T[r] = -T[-r]`` for ``r < 0``. So the ``g`` entries ``3**j`` are the activations
    themselves and every other entry is one adder or subtractor on an earlier one:
    ``(3**g - 1)/2 - g`` in all, at most ``g - 1`` deep. Each entry is its own signal
    ``<name>_<e>``, so the RTL holds each adder once (an expression used twice would be
    emitted twice).
    """
    table: list[Value | None] = [None]  # T[0] = 0, never stored
    for e in range(1, (3 ** len(acts) - 1) // 2 + 1):
        j = max(i for i, t in enumerate(balanced_ternary(e, len(acts))) if t)
        r = e - 3**j
        value = acts[j] if r == 0 else acts[j] + table[r] if r > 0 else acts[j] - table[-r]
        entry = Signal(value.shape(), name=f"{name}_{e}")
        m.d.comb += entry.eq(value)
        table.append(entry)
    return table[1:]


class TablePrecompute(wiring.Component):
    """Builds the ``M x K/g`` tables of one K-slice (combinational stream transform).

    ``i``: activations ``[m][k]`` (signed ``a_bits``); ``o``:
    :func:`~lutcore.hw.layouts.table_layout`
    (entries and per-row slice sums). ``o`` is valid with ``i``; the table buffer registers it.
    The slice sum ``S`` is the all-ones entry of each chunk summed over chunks, so it costs
    ``K/g - 1`` adders, not a K-input tree. Base-3 ternary tables (:func:`base3_entries`)
    have no ``S``.
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
                chunk = acts[c * cfg.g : (c + 1) * cfg.g]
                if cfg.base3:
                    for e, value in enumerate(base3_entries(m, chunk, f"t_{row}_{c}")):
                        m.d.comb += self.o.payload.entries[row][c][e].eq(value)
                    continue
                entries = chunk_entries(chunk, cfg.symmetric)
                for e, value in enumerate(entries):
                    m.d.comb += self.o.payload.entries[row][c][e].eq(value)
                chunk_sums.append(entries[-1])  # the all-ones pattern: sum of the chunk
            if chunk_sums:
                m.d.comb += self.o.payload.total[row].eq(sum(chunk_sums))
        return m
