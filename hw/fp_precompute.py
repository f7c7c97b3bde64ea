"""FP table precompute unit: one K-slice of FP16 activations in, the slice's FP16 tables out."""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, Value

from .config import FP16
from .fp import ALIGN_EXTRA_BITS, finite, normalize, round_pack
from .precompute import TablePrecompute, chunk_entries
from .util import stage, stream_stages, tree_max

__all__ = ["FpTablePrecompute", "LARGEST_FP16"]

#: the largest finite FP16 magnitude (65504) as a word: where an entry saturates
LARGEST_FP16 = ((FP16.exp_field_max - 1) << FP16.frac_bits) | ((1 << FP16.frac_bits) - 1)


def fp_chunk_entries(m: Module, words: list[Value], name: str, stage=None) -> list[Value]:
    """The ``2**(g-1)`` symmetric FP16 entries ``T[p | 2**(g-1)] = a[g-1] + sum_j +-a[j]`` of
    one chunk of ``g`` FP16 activation words.

    Activations follow the converters' special-value rule (an infinity is the largest finite
    number of its sign, a NaN is 0). They are aligned once to the chunk's largest exponent
    ``E``, keeping :data:`~lutcore.hw.fp.ALIGN_EXTRA_BITS` bits below it and truncating there; the
    entries are then exact integer sums sharing adders as in the integer unit
    (:func:`~lutcore.hw.precompute.chunk_entries`), each rounded once to FP16 (nearest even) and
    saturated to +-65504 instead of overflowing, so every entry is finite.
    ``stage(value, name)``, if given, registers the integer sums (with ``E``) and the
    rounded entries.
    """
    stage = stage or (lambda value, _name: value)
    acts = [finite(m, FP16, w, f"{name}_a{j}") for j, w in enumerate(words)]
    top = Signal.like(acts[0].exp, name=f"{name}_top")
    m.d.comb += top.eq(tree_max([a.exp for a in acts]))
    width = FP16.frac_bits + 1 + ALIGN_EXTRA_BITS
    aligned = []
    for j, a in enumerate(acts):
        dist = Signal(range(width + 1), name=f"{name}_d{j}")
        m.d.comb += dist.eq(Mux(top - a.exp > width, width, top - a.exp))
        mag = Signal(width, name=f"{name}_m{j}")
        m.d.comb += mag.eq((a.sig << ALIGN_EXTRA_BITS) >> dist)
        aligned.append(Mux(a.sign, -mag, mag))
    out = []
    top = stage(top, f"{name}_top_q")
    for e, value in enumerate(chunk_entries(aligned, symmetric=True)):
        total = Signal(value.shape(), name=f"{name}_t{e}")
        m.d.comb += total.eq(value)
        total = stage(total, f"{name}_t{e}_q")
        mag = Signal(len(total), name=f"{name}_tm{e}")
        m.d.comb += mag.eq(Mux(total < 0, -total, total))
        norm = normalize(m, mag, top - ALIGN_EXTRA_BITS, f"{name}_n{e}")
        word = round_pack(m, FP16, total < 0, norm, Const(0, 1), f"{name}_r{e}")
        entry = Signal(16, name=f"{name}_e{e}")
        infinite = word[: FP16.width - 1] == FP16.exp_field_max << FP16.frac_bits
        m.d.comb += entry.eq(Mux(infinite, (word & 0x8000) | LARGEST_FP16, word))
        out.append(stage(entry, f"{name}_e{e}_q"))
    return out


class FpTablePrecompute(TablePrecompute):
    """Builds the ``M x K/g`` FP16 tables of one K-slice for the FP-table tile (``arch ==
    "fplut"``); the integer unit's interface.

    ``i``: FP16 activation words ``[m][k]``; ``o``: :func:`~lutcore.hw.layouts.table_layout` (FP16
    entries; chunk ``c``'s sum is its last entry). See :func:`fp_chunk_entries` for the
    arithmetic. With ``pipeline == 0`` ``o`` is valid with ``i`` (the table buffer registers
    it); otherwise the unit is a two-stage pipeline (registers after the aligned integer
    sums and after the rounding) that stalls as a whole: FP normalization and rounding of
    every entry would otherwise set the tile's clock.
    """

    #: register stages with ``pipeline >= 1``
    DEPTH = 2

    def elaborate(self, platform) -> Module:
        cfg = self.cfg
        m = Module()
        if cfg.pipeline:
            advance = stream_stages(m, self.i, self.o, self.DEPTH)

            def reg(value, name):
                return stage(m, advance, value, name)
        else:
            m.d.comb += [self.o.valid.eq(self.i.valid), self.i.ready.eq(self.o.ready)]
            reg = None
        for row in range(cfg.M):
            for c in range(cfg.chunks):
                words = [self.i.payload[row][c * cfg.g + j] for j in range(cfg.g)]
                for e, entry in enumerate(fp_chunk_entries(m, words, f"r{row}c{c}", reg)):
                    m.d.comb += self.o.payload.entries[row][c][e].eq(entry)
        return m
