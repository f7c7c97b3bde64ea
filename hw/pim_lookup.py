"""The PIM tile's lookup unit: schedules each step's SRAM reads over the banks' read ports,
sharing reads between identical index patterns, and gathers the entries per column."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.data import ArrayLayout, StructLayout
from amaranth.lib.wiring import In, Out

from .config import TileConfig
from .layouts import sram_signature, step_layout
from .util import tree_sum

__all__ = ["PimLookup", "lookup_beat_layout"]


def lookup_beat_layout(cfg: TileConfig) -> StructLayout:
    """A finished step: ``values[m][n] = sum_c T_m,c[idx_c,n]`` (signed) with the step's
    ``t``, ``first``, ``tile_last`` and ``neg``."""
    width = cfg.entry_bits + max(1, (cfg.banks - 1).bit_length()) + 1
    return StructLayout(
        {
            "values": ArrayLayout(ArrayLayout(signed(width), cfg.N), cfg.M),
            "t": unsigned(max(1, (cfg.w_bits - 1).bit_length())),
            "first": unsigned(1),
            "tile_last": unsigned(1),
            "neg": unsigned(1),
        }
    )


def _lowest(mask: Signal) -> Signal:
    """One-hot of the lowest set bit of ``mask`` (0 when none)."""
    return (mask & (~mask + 1))[: len(mask)]


class PimLookup(wiring.Component):
    """Per step (one weight plane of one K-slice for ``N`` columns) each column looks up in
    bank ``c`` the entry of its index ``idx_c`` (the ``g`` plane bits of chunk ``c``) at row
    ``base + idx_c - 1``; one read returns the entries of all ``M`` batch rows.

    Scheduling: the lookups a bank still owes are a mask over the columns; each cycle every
    bank serves its ``read_ports`` lowest pending columns. With ``pattern_aware`` a read
    answers every column of that bank with the same index (only a column whose index has
    not appeared in a lower column is pending) and index 0 is never read (its entry is 0);
    without it every column is read on its own, index 0 included (its value is then
    dropped). A step takes ``max(1, max_c ceil(pending_c / read_ports))`` cycles
    (:func:`lutcore.sim.pim_model.step_cycles`); a new step is accepted in the cycle its
    predecessor issues its last reads.

    Pipeline: (A) the step's indices and pending masks, issuing reads; (D) the cycle after,
    read data arrive and are gathered per (bank, column); when a step's last data arrive its
    values (the sum over banks per batch row and column) go out on ``o`` (always ready: the
    control keeps one output tile in flight).
    """

    def __init__(self, cfg: TileConfig):
        self.cfg = cfg
        sram = sram_signature(cfg).members
        super().__init__(
            {
                "step": In(stream.Signature(step_layout(cfg))),
                "rd_addr": Out(sram["rd_addr"].shape),
                "rd_en": Out(sram["rd_en"].shape),
                "rd_data": In(sram["rd_data"].shape),
                "o": Out(stream.Signature(lookup_beat_layout(cfg), always_ready=True)),
            }
        )

    def elaborate(self, platform) -> Module:
        cfg = self.cfg
        m = Module()
        g, lanes, ports, banks = cfg.g, cfg.N, cfg.read_ports, cfg.banks
        step = self.step.payload

        def indices(planes):
            return [[planes[n][c * g : (c + 1) * g] for n in range(lanes)] for c in range(banks)]

        # ---- stage A: the step being issued --------------------------------------------------
        a_valid = Signal()
        a = Signal(step_layout(cfg), reset_less=True)
        pending = [Signal(lanes, name=f"pending_{c}") for c in range(banks)]
        idx = indices(a.planes)
        served = [[Signal(g, name=f"served_{c}_{r}") for r in range(ports)] for c in range(banks)]
        picked = [[Signal(lanes, name=f"pick_{c}_{r}") for r in range(ports)] for c in range(banks)]
        left = []
        for c in range(banks):
            rest = pending[c]
            for r in range(ports):
                m.d.comb += picked[c][r].eq(_lowest(rest))
                rest = rest & ~picked[c][r]
                hit = [Mux(picked[c][r][n], idx[c][n], 0) for n in range(lanes)]
                served_idx = hit[0]
                for h in hit[1:]:
                    served_idx = served_idx | h
                m.d.comb += served[c][r].eq(served_idx)
                m.d.comb += [
                    self.rd_en[c][r].eq(a_valid & picked[c][r].any()),
                    # index 0 is only read without pattern awareness; its row is a dummy
                    self.rd_addr[c][r].eq(a.base + Mux(served[c][r] == 0, 0, served[c][r] - 1)),
                ]
            left.append(rest)
        a_done = Signal()
        m.d.comb += a_done.eq(~Cat(*left).any())
        m.d.comb += self.step.ready.eq(~a_valid | a_done)

        # the pending masks of an arriving step
        new_idx = indices(step.planes)
        with m.If(a_valid):
            m.d.sync += [pending[c].eq(left[c]) for c in range(banks)]
            with m.If(a_done):
                m.d.sync += a_valid.eq(0)
        with m.If(self.step.valid & self.step.ready):
            m.d.sync += [a_valid.eq(1), a.eq(step)]
            for c in range(banks):
                bits = []
                for n in range(lanes):
                    if cfg.pattern_aware:
                        seen = [new_idx[c][j] == new_idx[c][n] for j in range(n)]
                        bits.append(
                            new_idx[c][n].any() & ~Cat(*seen).any() if seen else new_idx[c][n].any()
                        )
                    else:
                        bits.append(Const(1, 1))
                m.d.sync += pending[c].eq(Cat(*bits))

        # ---- stage D: the data of the reads issued last cycle --------------------------------
        d_valid, d_done = Signal(), Signal()
        d = Signal(step_layout(cfg), reset_less=True)
        d_served = [
            [Signal(g, name=f"d_served_{c}_{r}") for r in range(ports)] for c in range(banks)
        ]
        d_picked = [
            [Signal(lanes, name=f"d_pick_{c}_{r}") for r in range(ports)] for c in range(banks)
        ]
        d_en = [[Signal(name=f"d_en_{c}_{r}") for r in range(ports)] for c in range(banks)]
        m.d.sync += [d_valid.eq(a_valid), d_done.eq(a_valid & a_done), d.eq(a)]
        for c in range(banks):
            for r in range(ports):
                m.d.sync += [
                    d_served[c][r].eq(served[c][r]),
                    d_picked[c][r].eq(picked[c][r]),
                    d_en[c][r].eq(self.rd_en[c][r]),
                ]
        d_idx = indices(d.planes)
        word = unsigned(cfg.sram_word_bits)
        gather = [
            [Signal(word, name=f"gather_{c}_{n}") for n in range(lanes)] for c in range(banks)
        ]
        merged = [
            [Signal(word, name=f"merged_{c}_{n}") for n in range(lanes)] for c in range(banks)
        ]
        for c in range(banks):
            for n in range(lanes):
                value = gather[c][n]
                for r in range(ports):
                    if cfg.pattern_aware:
                        match = d_idx[c][n] == d_served[c][r]
                    else:
                        match = d_picked[c][r][n]
                    take = d_en[c][r] & match & d_idx[c][n].any()
                    value = Mux(take, self.rd_data[c][r], value)
                m.d.comb += merged[c][n].eq(value)
                with m.If(d_valid):
                    m.d.sync += gather[c][n].eq(Mux(d_done, 0, merged[c][n]))

        out = self.o.payload
        eb = cfg.entry_bits
        m.d.comb += [
            self.o.valid.eq(d_valid & d_done),
            out.t.eq(d.t),
            out.first.eq(d.first),
            out.tile_last.eq(d.tile_last),
            out.neg.eq(d.neg),
        ]
        for row in range(cfg.M):
            for n in range(lanes):
                parts = [merged[c][n][row * eb : (row + 1) * eb].as_signed() for c in range(banks)]
                m.d.comb += out.values[row][n].eq(tree_sum(parts))
        return m
