"""Payload layouts of the tile's streams and internal buses.

Every layout is an :mod:`amaranth.lib.data` layout; arrays are packed element 0 at the least
significant bit, so the flat Verilog port of an ``ArrayLayout(ArrayLayout(x, K), M)`` holds
element ``[m][k]`` at bit offset ``(m*K + k) * width(x)``.
"""

from __future__ import annotations

from amaranth.hdl import signed, unsigned
from amaranth.lib import enum, stream, wiring
from amaranth.lib.data import ArrayLayout, StructLayout
from amaranth.lib.wiring import In, Out

from .config import LARGEST_FIXED, SramBanks, TileConfig
from .pim_isa import EXP_BITS
from .pim_programs import Conversion

__all__ = [
    "act_layout",
    "weight_layout",
    "cmd_layout",
    "result_layout",
    "result_words",
    "table_layout",
    "fixed_table_layout",
    "beat_layout",
    "control_layout",
    "TileSignature",
    "ArraySignature",
    "SliceHandshake",
    "fp_act_layout",
    "bfp_layout",
    "dequant_item_layout",
    "PimOp",
    "response_layout",
    "step_layout",
    "sram_signature",
]


def act_layout(cfg: TileConfig) -> ArrayLayout:
    """One K-slice of activations: ``[m][k]`` signed ``a_bits`` (FP16 words for the FP tiles)."""
    word = unsigned(16) if cfg.fp_words else signed(cfg.a_bits)
    return ArrayLayout(ArrayLayout(word, cfg.K), cfg.M)


def weight_layout(cfg: TileConfig) -> ArrayLayout:
    """One weight beat: ``[n][j]`` is a K-bit vector, bit ``k`` = bit ``t*ppc + j`` of the code
    ``Wq[k, n]`` (``t`` = beat index within the slice, planes least significant first).

    Base-3 ternary groups (``ternary_code = "base3"``): ``[n][0]`` holds the ``K/g`` group
    codes of column ``n``, group ``c`` (weights ``c*g .. c*g+g-1``) at bit
    ``c * group_code_bits``: the magnitude ``|v|`` of ``v = sum_j t_j * 3**j`` in the low
    ``group_code_bits - 1`` bits, the sign of ``v`` (1: negative) on top."""
    width = cfg.chunks * cfg.group_code_bits if cfg.base3 else cfg.K
    return ArrayLayout(ArrayLayout(unsigned(width), cfg.planes_per_cycle), cfg.N)


class PimOp(enum.Enum, shape=unsigned(3)):
    """The PIM tile's command opcodes (SAIL's single instruction; codes 5..7 are taken and
    do nothing)."""

    #: one output tile of ``N`` columns over the resident tables (``n_slices`` unused)
    COMPUTE = 0
    #: write the tables of ``n_slices`` activation beats into the banks
    LOAD = 1
    #: run conversion ``program`` on the banks' conversion region; one response (``exp``)
    CONVERT = 2
    #: memory mode: write ``wdata`` at (``bank``, ``row``)
    WRITE = 3
    #: memory mode: read (``bank``, ``row``); one response (``word``)
    READ = 4


def cmd_layout(cfg: TileConfig) -> StructLayout:
    """One command: ``n_slices`` (runtime K / K, 1..max_slices; 0 acts as 1, a value above
    ``max_slices`` as ``max_slices``) and, for unsigned weights, the per-column zero point
    ``zero[n]`` (unsigned ``w_bits``); for the FP16 baseline the per-column FP16 scale
    ``scale[n]``. The PIM tile's command also carries its opcode ``op``
    (:class:`PimOp`), the memory-mode ``bank``, ``row`` (rows at or above ``sram_rows`` and
    banks at or above ``banks`` do not exist: a write there is dropped, a read returns 0)
    and ``wdata`` (one word), and the conversion ``program``
    (:class:`~lutcore.hw.pim_programs.Conversion`)."""
    members = {"n_slices": unsigned(cfg.slice_count_bits)}
    if cfg.opcode_command:
        members = {"op": PimOp, **members}
    if cfg.zero_in_tile:
        members["zero"] = ArrayLayout(unsigned(cfg.w_bits), cfg.N)
    if cfg.scale_in_command:
        members["scale"] = ArrayLayout(unsigned(16), cfg.N)
    if cfg.opcode_command:
        members |= {
            "bank": unsigned(max(1, (cfg.banks - 1).bit_length())),
            "row": unsigned(_sram_address_bits(cfg)),
            "wdata": unsigned(cfg.sram_word_bits),
            "program": Conversion,
        }
    return StructLayout(members)


def response_layout(cfg: TileConfig) -> StructLayout:
    """The PIM tile's response to a ``READ`` (``word``: the SRAM word, ``exp`` 0) or a
    ``CONVERT`` (``exp``: the recorded register, the block exponent field of an FP16 ->
    block-FP conversion; ``word`` 0)."""
    return StructLayout({"word": unsigned(cfg.sram_word_bits), "exp": unsigned(EXP_BITS)})


def result_layout(cfg: TileConfig, *, row_sums: bool = True):
    """One output tile: ``[m][n]`` signed ``acc_bits``, the exact ``sum_k A[m,k] * W[k,n]``
    (the FP tiles: words of their ``acc_format``, FP32 or FP16; with ``"fixed"`` signed
    ``acc_bits`` integers in units of ``2**-24``).

    With ``offset = "output"`` (and ``row_sums``) a struct: ``acc[m][n]`` twice the results
    without the offset term, ``sum_b c_b 2**b sum_k A[m,k] * (2 w_bkn - 1)``, and
    ``total[m]`` the row's activation sum ``S_m = sum_k A[m,k]`` (same words); the output
    is ``(acc[m][n] + (C - 2 z_n) * total[m]) / 2``
    (:attr:`~lutcore.hw.config.Tables.offset`).
    ``acc`` comes first: its bits are where the plain layout has them."""
    word = unsigned(cfg.result_bits) if cfg.fp_results else signed(cfg.acc_bits)
    words = ArrayLayout(ArrayLayout(word, cfg.N), cfg.M)
    if not (row_sums and getattr(cfg, "offset_out", False)):
        return words
    return StructLayout({"acc": words, "total": ArrayLayout(word, cfg.M)})


def result_words(payload):
    """The ``[m][n]`` results of a :func:`result_layout` payload (without any row sums)."""
    return payload.acc if isinstance(payload.shape(), StructLayout) else payload


def table_layout(cfg: TileConfig) -> StructLayout:
    """The tables of one K-slice: ``entries[m][c][e]`` (signed ``entry_bits``) and each row's
    slice sum ``total[m] = sum_k a[m][k]`` (signed ``sum_bits``).

    Symmetric: ``entries[e] = T[e | 2**(g-1)]``; unsigned: ``entries[e] = T[e + 1]``;
    base-3 ternary: ``entries[e] = T[e + 1]``, the sum ``sum_j a_j * t_j`` of the weights
    whose value ``sum_j t_j * 3**j`` is ``e + 1``, and no ``total`` (ternary weights have no
    offset). The FP-table tile (``fplut``) has FP16 words as entries and no ``total`` (each
    chunk's sum is its last entry).
    """
    if cfg.fp_tables or cfg.base3:
        word = unsigned(16) if cfg.fp_tables else signed(cfg.entry_bits)
        entries = ArrayLayout(ArrayLayout(word, cfg.entries), cfg.chunks)
        return StructLayout({"entries": ArrayLayout(entries, cfg.M)})
    return StructLayout(
        {
            "entries": ArrayLayout(
                ArrayLayout(ArrayLayout(signed(cfg.entry_bits), cfg.entries), cfg.chunks), cfg.M
            ),
            "total": ArrayLayout(signed(cfg.sum_bits), cfg.M),
        }
    )


def fixed_table_layout(cfg: TileConfig) -> StructLayout:
    """The FP-table tile's tables with exact fixed-point accumulation (``acc_format =
    "fixed"``) as its cells take them: ``entries[m][c][e]`` each FP16 entry of
    :func:`table_layout` as a signed integer in units of ``2**-24`` (``LARGEST_FIXED`` at
    most), and ``total[m]`` the row's slice sum ``sum_c S_c`` (the chunks' last entries)."""
    word = signed(LARGEST_FIXED.bit_length() + 1)
    entries = ArrayLayout(ArrayLayout(word, cfg.entries), cfg.chunks)
    total = signed((LARGEST_FIXED * cfg.chunks).bit_length() + 1)
    return StructLayout(
        {"entries": ArrayLayout(entries, cfg.M), "total": ArrayLayout(total, cfg.M)}
    )


def beat_layout(cfg: TileConfig) -> StructLayout:
    """One issued weight beat with its control, as broadcast into the array.

    ``t``: beat index within the slice; ``first``: first beat of an output tile (the
    accumulators restart); ``slice_last``/``tile_last``: last beat of the slice / tile;
    ``neg``: this beat holds the signed top plane (local plane ``ppc-1``), whose weight is
    ``-2**(w_bits-1)``; ``zbits[n][j]``: bit ``t*ppc + j`` of column ``n``'s zero point.
    """
    return StructLayout(
        {
            "planes": weight_layout(cfg),
            "zbits": ArrayLayout(unsigned(cfg.planes_per_cycle), cfg.N),
            "t": unsigned(max(1, (cfg.beats_per_slice - 1).bit_length())),  # never 0 bits
            "first": unsigned(1),
            "slice_last": unsigned(1),
            "tile_last": unsigned(1),
            "neg": unsigned(1),
            **({"scale": ArrayLayout(unsigned(16), cfg.N)} if cfg.scale_in_command else {}),
        }
    )


def control_layout(cfg: TileConfig) -> StructLayout:
    """The accumulate stage's control of one beat, as an array stages it for its columns:
    ``valid``, the beat index ``t``, ``first`` and ``tile_last`` (see :func:`beat_layout`)."""
    return StructLayout(
        {
            "valid": unsigned(1),
            "t": beat_layout(cfg).members["t"],
            "first": unsigned(1),
            "tile_last": unsigned(1),
        }
    )


class TileSignature(wiring.Signature):
    """The interface of a tile, from the tile's side (every arch: the same streams).

    Members
    -------
    a : ``In(stream.Signature(act_layout(cfg)))``
        Activations, one K-slice per beat.
    w : ``In(stream.Signature(weight_layout(cfg)))``
        Weight bit planes, ``beats_per_slice`` beats per K-slice.
    cmd : ``In(stream.Signature(cmd_layout(cfg)))``
        One command per output tile.
    y : ``Out(stream.Signature(result_layout(cfg)))``
        One result per output tile.
    rsp : ``Out(stream.Signature(response_layout(cfg)))``
        Tiles with SRAM banks only: one response per ``READ`` or ``CONVERT`` command.
    sram : ``Out(sram_signature(cfg))``
        With ``external_sram`` only: the banks' ports (the ASIC flow's SRAM macros).
    """

    def __init__(self, cfg: TileConfig, *, external_sram: bool = False):
        self.cfg = cfg
        self.external_sram = external_sram
        members = {
            "a": In(stream.Signature(act_layout(cfg))),
            "w": In(stream.Signature(weight_layout(cfg))),
            "cmd": In(stream.Signature(cmd_layout(cfg))),
            "y": Out(stream.Signature(result_layout(cfg))),
        }
        if isinstance(cfg, SramBanks):
            members["rsp"] = Out(stream.Signature(response_layout(cfg)))
            if external_sram:
                members["sram"] = Out(sram_signature(cfg))
        super().__init__(members)

    def __eq__(self, other):
        return (
            isinstance(other, TileSignature)
            and self.cfg == other.cfg
            and self.external_sram == other.external_sram
        )

    def __hash__(self):
        return hash((self.cfg, self.external_sram))

    def __repr__(self):
        sram = ", external_sram=True" if self.external_sram else ""
        return f"TileSignature({self.cfg.slug}{sram})"


class SliceHandshake(wiring.Signature):
    """The slice buffer's side of its handshake with the tile controller: which of its two
    slice registers hold operands, and when the array has used ``current`` for the last
    time.

    Members
    -------
    cur_valid : ``Out(1)``
        ``current`` holds a slice's operands.
    nxt_valid : ``Out(1)``
        ``next`` holds the following slice's operands.
    consumed : ``In(1)``
        The array uses ``current`` for the last time in this cycle (it is then replaced).
    """

    def __init__(self):
        super().__init__({"cur_valid": Out(1), "nxt_valid": Out(1), "consumed": In(1)})

    def __eq__(self, other):
        return isinstance(other, SliceHandshake)

    def __hash__(self):
        return hash(SliceHandshake)

    def __repr__(self):
        return "SliceHandshake()"


class ArraySignature(wiring.Signature):
    """The interface of an array (LUT or MAC), from the array's side.

    Members
    -------
    <operands> : ``In(layout)``
        The broadcast per-slice operands (``tables`` or ``acts``).
    beat : ``In(stream.Signature(beat_layout(cfg), always_ready=True))``
        The issued weight beats with their control.
    o : ``Out(stream.Signature(result_layout(cfg)))``
        One result per output tile (the accumulators are the result register; a column's
        has no row sums).
    last_pending : ``Out(1)``
        A tile's last beat is in the array's own pipeline register.
    control : ``In(control_layout(cfg))``
        A column of a wider array only (``column``): the accumulate stage's control, staged
        by the array with the data; the array then drives the result's ``valid`` and
        ``last_pending`` (the column's stay 0).
    """

    def __init__(self, cfg: TileConfig, operands: str, layout, *, column: bool = False):
        self.cfg, self.operands, self.layout, self.column = cfg, operands, layout, column
        members = {
            operands: In(layout),
            "beat": In(stream.Signature(beat_layout(cfg), always_ready=True)),
            "o": Out(stream.Signature(result_layout(cfg, row_sums=not column))),
            "last_pending": Out(1),
        }
        if column:
            members["control"] = In(control_layout(cfg))
        super().__init__(members)

    def __eq__(self, other):
        return isinstance(other, ArraySignature) and (self.cfg, self.operands, self.column) == (
            other.cfg,
            other.operands,
            other.column,
        )

    def __hash__(self):
        return hash((self.cfg, self.operands, self.column))

    def __repr__(self):
        return f"ArraySignature({self.cfg.slug}, {self.operands!r}, column={self.column})"


def fp_act_layout(cfg: TileConfig) -> ArrayLayout:
    """One beat of floating-point activations: ``act_lanes`` consecutive ``act_format`` words
    of one row's block (a block takes ``bfp_block / act_lanes`` beats, element 0 first)."""
    return ArrayLayout(unsigned(cfg.act_fmt.width), cfg.act_lanes)


def bfp_layout(cfg: TileConfig) -> StructLayout:
    """One beat of block floating point: mantissas ``q[i]`` (signed ``a_bits``) of the
    beat's ``act_lanes`` activations, the block's exponent ``x`` (signed; ``A ~= q * 2**x``)
    and ``nonfinite`` flag (the block held an infinity or a NaN), ``total`` the sum of the
    block's mantissas so far (the whole block's ``S`` on its ``last`` beat)."""
    return StructLayout(
        {
            "q": ArrayLayout(signed(cfg.a_bits), cfg.act_lanes),
            "x": signed(cfg.bfp_exp_bits),
            "total": signed(cfg.block_total_bits),
            "nonfinite": unsigned(1),
            "last": unsigned(1),
        }
    )


def dequant_item_layout(cfg: TileConfig) -> StructLayout:
    """One output's operands for the dequant converter (FP16 words are unsigned 16 bits).

    Uniform weights: ``acc`` (signed ``acc_bits``, the tile's result for one group),
    ``scale``; unsigned weights also ``zero`` (unsigned ``w_bits``; 0 when the tile applied
    it) and ``total`` (the group's activation sum ``S``, signed ``total_bits``); with
    ``offset = "output"`` ``acc`` is the tile's ``acc`` (twice the result without the offset
    term), and ``total`` and the zero point come for signed weights too (``zero`` unsigned
    weights only).
    BCQ: ``planes[i]`` (signed ``acc_bits``, plane ``i``'s +-1 dot product), ``alpha[i]``,
    ``offset`` and ``total``. Floating-point activations add the block exponent ``x``.
    The FP-table tile's results (zero points applied in the tile): ``acc`` a word of its
    ``acc_format`` (FP32 or FP16) and ``scale``; with ``offset = "output"`` also ``total``
    (the row sum ``S``, a word of the same format) and, for unsigned weights, ``zero``; with
    ``acc_format = "fixed"`` ``acc`` (signed ``acc_bits``) and ``total`` (signed
    ``total_bits``) are integers in units of ``2**-24``. The FP16 MAC's exact fixed-point
    results: ``acc`` alone (signed ``acc_bits``, integers of ``2**-48``).
    """
    if getattr(cfg, "fixed_acc", False) and cfg.scale_in_command:  # the FP16 MAC's sums
        return StructLayout({"acc": signed(cfg.acc_bits)})
    if cfg.fp_tables and cfg.fixed_acc:
        members = {"acc": signed(cfg.acc_bits), "scale": unsigned(16)}
        if cfg.has_zero_point:
            members["zero"] = unsigned(cfg.w_bits)
        return StructLayout(members | {"total": signed(cfg.total_bits)})
    if cfg.fp_tables:
        members = {"acc": unsigned(cfg.result_bits), "scale": unsigned(16)}
        if cfg.offset_out:
            members["total"] = unsigned(cfg.result_bits)
            if cfg.has_zero_point:
                members["zero"] = unsigned(cfg.w_bits)
        return StructLayout(members)
    members: dict = {}
    if cfg.weight_format == "bcq":
        members["planes"] = ArrayLayout(signed(cfg.acc_bits), cfg.w_bits)
        members["alpha"] = ArrayLayout(unsigned(16), cfg.w_bits)
        members["offset"] = unsigned(16)
    else:
        members["acc"] = signed(cfg.acc_bits)
        members["scale"] = unsigned(16)
        if cfg.has_zero_point:
            members["zero"] = unsigned(cfg.w_bits)
    if cfg.has_zero_point or cfg.weight_format == "bcq" or getattr(cfg, "offset_out", False):
        members["total"] = signed(cfg.total_bits)
    if cfg.act_format != "int":
        members["x"] = signed(cfg.bfp_exp_bits)
    return StructLayout(members)


def _sram_address_bits(cfg: TileConfig) -> int:
    return max(1, (cfg.sram_rows - 1).bit_length())


def step_layout(cfg: TileConfig) -> StructLayout:
    """One PIM lookup step (one weight plane of one K-slice for the ``N`` columns):
    ``planes[n]`` (``K`` bits of column ``n``'s plane), ``base`` (the slice's first SRAM
    row), ``t`` (the plane), ``first``/``tile_last`` (first/last step of the output tile),
    ``neg`` (the signed top plane)."""
    return StructLayout(
        {
            "planes": ArrayLayout(unsigned(cfg.K), cfg.N),
            "base": unsigned(_sram_address_bits(cfg)),
            "t": unsigned(max(1, (cfg.w_bits - 1).bit_length())),
            "first": unsigned(1),
            "tile_last": unsigned(1),
            "neg": unsigned(1),
        }
    )


def sram_signature(cfg: TileConfig) -> wiring.Signature:
    """The PIM tile's SRAM banks as seen from its logic: per bank ``read_ports`` synchronous
    read ports (``rd_addr``, ``rd_en`` out; ``rd_data`` in, valid the cycle after, the
    word before a write in the same cycle) and one write port (``wr_addr``, ``wr_data``,
    ``wr_en`` one enable per bit: the conversions' masked writes). Each bank is one
    ``sram_rows`` x ``sram_word_bits`` bit-write macro."""
    addr = unsigned(_sram_address_bits(cfg))
    word = unsigned(cfg.sram_word_bits)
    ports, banks = cfg.read_ports, cfg.banks
    return wiring.Signature(
        {
            "rd_addr": Out(ArrayLayout(ArrayLayout(addr, ports), banks)),
            "rd_en": Out(ArrayLayout(unsigned(ports), banks)),
            "rd_data": In(ArrayLayout(ArrayLayout(word, ports), banks)),
            "wr_addr": Out(ArrayLayout(addr, banks)),
            "wr_en": Out(ArrayLayout(word, banks)),
            "wr_data": Out(ArrayLayout(word, banks)),
        }
    )
