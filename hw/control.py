"""Tile controller: weight and command stream handshakes, plane/slice counters, issue rule."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out, connect

from .config import TileConfig
from .layouts import SliceHandshake, beat_layout, cmd_layout, weight_layout
from .util import select

__all__ = ["TileControl", "connect_control"]


class TileControl(wiring.Component):
    """Issues one weight beat per cycle into the array when everything it needs is there.

    A beat issues when a weight beat and the tile's command are valid, the beat's table will
    be in the table buffer's ``current`` register when the beat reaches the array, and, for
    the first beat of an output tile, the accumulators (which double as the result register)
    will have been read out by then. The command stays valid for the whole output tile and is
    accepted with its last beat.

    Members: ``w`` weight beats; ``cmd`` per-tile commands; ``slots``
    (:class:`~lutcore.hw.layouts.SliceHandshake`, flipped) the slice buffer's occupancy, and
    ``consumed`` back to it; ``acc_free`` the accumulators are free now (result not pending,
    or being read this cycle) and no last beat is in the array's own pipeline; ``beat`` the
    issued beat (registered when ``pipeline >= 1``, so the broadcast into the array starts
    at flip-flops).
    """

    def __init__(self, cfg: TileConfig):
        self.cfg = cfg
        super().__init__(
            {
                "w": In(stream.Signature(weight_layout(cfg))),
                "cmd": In(stream.Signature(cmd_layout(cfg))),
                "slots": In(SliceHandshake()),
                "acc_free": In(1),
                "beat": Out(stream.Signature(beat_layout(cfg), always_ready=True)),
            }
        )

    def elaborate(self, platform) -> Module:
        cfg = self.cfg
        m = Module()
        beats = cfg.beats_per_slice
        # At least one bit each: a zero-width counter would print as `[-1:0]` in Verilog.
        t = Signal(range(max(beats, 2)), name="plane_beat")
        s = Signal(range(max(cfg.max_slices, 2)), name="slice")
        t_last = Signal()
        tile_last = Signal()
        first = Signal()
        issue = Signal()
        issued = Signal(beat_layout(cfg))
        m.d.comb += [
            t_last.eq(t == beats - 1),
            # n_slices = 0 behaves as 1: the counter never runs past the first slice; above
            # max_slices (the field can carry up to 2*max_slices - 1) it behaves as max_slices,
            # which the accumulators are sized for (and the counter reaches). With a fixed
            # runtime K (max_slices = 1) every slice ends a tile.
            tile_last.eq(
                t_last
                if cfg.max_slices == 1
                else t_last & ((s + 1 >= self.cmd.payload.n_slices) | (s == cfg.max_slices - 1))
            ),
            first.eq(~s.any() & ~t.any()),
        ]

        if cfg.pipeline >= 1:
            staged = Signal(beat_layout(cfg), reset_less=True)
            staged_valid = Signal()
            # The payload loads every cycle (no enable: cheaper flip-flops); valid qualifies it.
            m.d.sync += [staged.eq(issued), staged_valid.eq(issue)]
            m.d.comb += [self.beat.payload.eq(staged), self.beat.valid.eq(staged_valid)]
            slice_last_in_flight = staged_valid & staged.slice_last
            tile_last_in_flight = staged_valid & staged.tile_last
            # The beat reads `current` one cycle after issue: the table it needs must exist
            # beyond the one the staged slice-last beat is about to release (if any).
            table_ok = Mux(
                slice_last_in_flight,
                self.slots.cur_valid & self.slots.nxt_valid,
                self.slots.cur_valid | self.slots.nxt_valid,
            )
        else:
            m.d.comb += [self.beat.payload.eq(issued), self.beat.valid.eq(issue)]
            tile_last_in_flight = 0
            table_ok = self.slots.cur_valid

        acc_ok = self.acc_free & ~tile_last_in_flight
        m.d.comb += [
            issue.eq(self.w.valid & self.cmd.valid & table_ok & (~first | acc_ok)),
            self.w.ready.eq(issue),
            self.cmd.ready.eq(issue & tile_last),
            self.slots.consumed.eq(self.beat.valid & self.beat.payload.slice_last),
            issued.planes.eq(self.w.payload),
            issued.t.eq(t),
            issued.first.eq(first),
            issued.slice_last.eq(t_last),
            issued.tile_last.eq(tile_last),
            # The signed top plane is the last local plane of the slice's last beat.
            issued.neg.eq(t_last if cfg.signed_codes else 0),
        ]
        if cfg.scale_in_command:
            m.d.comb += issued.scale.eq(self.cmd.payload.scale)
        if cfg.zero_in_tile:
            for n in range(cfg.N):
                zero = self.cmd.payload.zero[n]
                groups = [zero.word_select(i, cfg.planes_per_cycle) for i in range(beats)]
                m.d.comb += issued.zbits[n].eq(select(groups, t))

        with m.If(issue):
            with m.If(t_last):
                m.d.sync += t.eq(0)
                with m.If(tile_last):
                    m.d.sync += s.eq(0)
                with m.Else():
                    m.d.sync += s.eq(s + 1)
            with m.Else():
                m.d.sync += t.eq(t + 1)
        return m


def connect_control(m: Module, tile, buffer, control: TileControl, array) -> None:
    """Wire a tile's controller between its ``w``/``cmd`` streams, its slice buffer (tables or
    activations) and its array, and the array's results to ``y``: the same for every tile."""
    connect(m, wiring.flipped(tile.w), control.w)
    connect(m, wiring.flipped(tile.cmd), control.cmd)
    connect(m, control.beat, array.beat)
    connect(m, array.o, wiring.flipped(tile.y))
    connect(m, buffer.slots, control.slots)
    m.d.comb += control.acc_free.eq((~array.o.valid | tile.y.ready) & ~array.last_pending)
