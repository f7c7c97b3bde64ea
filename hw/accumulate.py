"""The accumulate stage shared by the LUT and MAC arrays (accumulators = result register)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from amaranth.hdl import Cat, Module, Mux, Signal, Value

from .config import TileConfig
from .layouts import result_layout, result_words
from .util import select

__all__ = ["AccumulatePorts", "accumulate", "control_stages", "present_result"]


@dataclass(frozen=True)
class AccumulatePorts:
    """What the accumulate stage reads and drives: the issued beat's ``valid``, ``t``,
    ``first`` and ``tile_last``; the results stream ``o``; ``last_pending`` (driven with
    ``pipeline == 2``). ``staged``: a column of a wider array, whose control arrives
    already registered with its data (:func:`control_stages` in the array) and whose
    result ``valid`` and ``last_pending`` the array drives."""

    valid: Value
    t: Value
    first: Value
    tile_last: Value
    o: object  # a stream interface (``payload``, ``valid``, ``ready``)
    last_pending: Value
    staged: bool = False

    @classmethod
    def of(cls, array) -> AccumulatePorts:
        """The ports of an array component (members ``beat``, ``o``, ``last_pending``; a
        column's ``control``)."""
        if "control" in array.signature.members:
            c = array.control
            return cls(c.valid, c.t, c.first, c.tile_last, array.o, array.last_pending, True)
        beat = array.beat.payload
        return cls(
            array.beat.valid, beat.t, beat.first, beat.tile_last, array.o, array.last_pending
        )


def control_stages(m: Module, ports: AccumulatePorts, depth: int) -> AccumulatePorts:
    """The control registered ``depth`` times (as the data are, ahead of the accumulators):
    the staged ports, ``last_pending`` driven while any stage holds a tile's last beat."""
    valid, t, first, tile_last = ports.valid, ports.t, ports.first, ports.tile_last
    pending = []
    for i in range(depth):
        suffix = "_q" if depth == 1 else f"_q{i}"
        valid_q = Signal(name=f"valid{suffix}")
        t_q = Signal.like(t, name=f"t{suffix}", reset_less=True)
        first_q = Signal(name=f"first{suffix}", reset_less=True)
        last_q = Signal(name=f"tile_last{suffix}", reset_less=True)
        m.d.sync += [valid_q.eq(valid), t_q.eq(t), first_q.eq(first), last_q.eq(tile_last)]
        valid, t, first, tile_last = valid_q, t_q, first_q, last_q
        pending.append(valid & tile_last)
    if pending:
        m.d.comb += ports.last_pending.eq(Cat(*pending).any())
    return AccumulatePorts(valid, t, first, tile_last, ports.o, ports.last_pending, True)


def present_result(m: Module, ports: AccumulatePorts) -> None:
    """Present the accumulators on ``ports.o`` after a tile's last beat, until read."""
    with m.If(ports.valid & ports.tile_last):
        m.d.sync += ports.o.valid.eq(1)
    with m.Elif(ports.o.ready):
        m.d.sync += ports.o.valid.eq(0)


def accumulate(
    m: Module,
    cfg: TileConfig,
    values: dict[tuple[int, int], Value],
    ports: AccumulatePorts,
    add=None,
    load_first: bool = False,
) -> None:
    """Add each cell's beat value ``values[row, col]`` (signed, before the beat's shift
    ``t * planes_per_cycle``) into its accumulator, restarting on ``first``, and present the
    accumulators on ``ports.o`` after a tile's last beat until read.

    ``ports``: the issued beats' control, ``o`` (results, ``[m][n]`` signed ``acc_bits``),
    ``last_pending`` (with ``pipeline == 2`` a register follows the
    cell values, and a tile's last beat may be in it). The controller does not issue the next
    tile's first beat until the result has been read. Staged ports (a column's) take the
    control as given and leave the result's ``valid`` and ``last_pending`` to the array.

    ``add(m, acc, value, name)`` replaces the integer ``+`` (the FP tiles add FP32 or FP16
    words, :func:`~lutcore.hw.fp.accumulator_add`; a
    restart adds to ``+0``, the all-zero word, in either case); their values come already
    scaled by the beat's ``2**(t * planes_per_cycle)``.

    ``load_first``: a restart loads the value itself instead of adding it to 0 (the same
    result where no value is ``-0``), so ``first`` and its fanout stay off the adder's path.
    """
    if cfg.pipeline >= 2:
        staged = {}
        for key, v in values.items():
            staged[key] = Signal(v.shape(), name=f"v_{key[0]}_{key[1]}_q", reset_less=True)
            m.d.sync += staged[key].eq(v)
        values = staged
        if not ports.staged:
            ports = dataclasses.replace(control_stages(m, ports, 1), staged=False)
    valid, t, first = ports.valid, ports.t, ports.first

    ppc, beats = cfg.planes_per_cycle, cfg.beats_per_slice
    # The accumulators are the result register; data flip-flops need no reset.
    accs = Signal(result_layout(cfg, row_sums=False), reset_less=True)
    m.d.comb += result_words(ports.o.payload).eq(accs)
    for (row, col), v in values.items():
        acc = accs[row][col]
        shifted = v if beats == 1 or add else select([v << (i * ppc) for i in range(beats)], t)
        acc_next = Signal(acc.shape(), name=f"acc_next_{row}_{col}")
        base = acc if load_first else Mux(first, 0, acc)
        total = base + shifted if add is None else add(m, base, shifted, f"acc_add_{row}_{col}")
        m.d.comb += acc_next.eq(Mux(first, shifted, total) if load_first else total)
        with m.If(valid):
            m.d.sync += acc.eq(acc_next)
    if not ports.staged:
        present_result(m, ports)
