"""The instruction set of the in-memory converter (:class:`lutcore.hw.pim_convert.PimConvert`):
micro-ops on a bit-sliced subarray, one row operation per cycle across all columns, and the
:class:`Program` builder the micro-programs (:mod:`lutcore.hw.pim_programs`) are written with.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from amaranth.hdl import unsigned
from amaranth.lib.data import StructLayout

__all__ = [
    "AND",
    "ANDN",
    "COPY_A",
    "EXP_BITS",
    "ONE",
    "OR",
    "ZERO",
    "BSource",
    "CarryMode",
    "MicroOp",
    "OpKind",
    "Program",
    "TagMode",
    "op_layout",
]


class OpKind(enum.IntEnum):
    """What a micro-op computes per column."""

    #: a boolean function of the two operands (truth table ``tt[(a << 1) | b]``)
    BOOL = 0
    #: a full-adder step: sum out, carry into ``C``
    ADD = 1
    #: an increment step (``x = a ^ b``: sum ``x ^ C``, carry ``x & C``): adds ``C`` to a
    #: conditionally inverted word
    XADD = 2
    #: the maximum search step: keep the tagged columns whose operand bit is 1, if any;
    #: record whether there was one
    NARROW = 3


class BSource(enum.IntEnum):
    """Operand B of a micro-op."""

    ROW = 0  #: row ``b``
    CONST = 1  #: the constant ``k`` in every column
    RECORDED = 2  #: bit ``b`` of the recorded register ``E``


class TagMode(enum.IntEnum):
    """What a micro-op does to the tag latch ``T``."""

    KEEP = 0
    SET = 1  #: ``T = out``
    AND = 2  #: ``T &= out``


class CarryMode(enum.IntEnum):
    """What a micro-op does to the carry latch ``C``."""

    KEEP = 0
    CONST = 1  #: ``C = k`` before the op
    FROM_A = 2  #: ``C = A``


BOOL, ADD, XADD, NARROW = OpKind
EXP_BITS = 6  # the recorded-bits register (the block exponent field is 5 bits)


def op_layout(rows: int) -> StructLayout:
    """One micro-op: rows ``a``, ``b`` (read) and ``dst`` (written when ``write``, only
    where ``T`` with ``mask``); ``kind``; ``tt`` (BOOL's truth table); ``ainv`` (invert
    operand A); ``bsrc`` (operand B: 0 row ``b``, 1 the constant ``k``, 2 bit ``b`` of the
    recorded register ``E``); ``tmode`` (0 keep ``T``, 1 ``T = out``, 2 ``T &= out``);
    ``cmode`` (0 keep ``C``, 1 ``C = k`` before the op, 2 ``C = A``)."""
    r = unsigned(max(1, (rows - 1).bit_length()))
    return StructLayout(
        {
            "a": r,
            "b": r,
            "dst": r,
            "kind": unsigned(2),
            "tt": unsigned(4),
            "ainv": unsigned(1),
            "bsrc": unsigned(2),
            "k": unsigned(1),
            "write": unsigned(1),
            "mask": unsigned(1),
            "tmode": unsigned(2),
            "cmode": unsigned(2),
        }
    )


@dataclass(frozen=True)
class MicroOp:
    """One micro-op (the fields of :func:`op_layout`)."""

    a: int = 0
    b: int = 0
    dst: int = 0
    kind: OpKind = OpKind.BOOL
    tt: int = 0
    ainv: int = 0
    bsrc: BSource = BSource.ROW
    k: int = 0
    write: int = 0
    mask: int = 0
    tmode: TagMode = TagMode.KEEP
    cmode: CarryMode = CarryMode.KEEP


@dataclass
class Program:
    """A micro-program under construction: named rows (inputs first) and ops."""

    rows: dict[str, int] = field(default_factory=dict)
    ops: list[MicroOp] = field(default_factory=list)

    def row(self, name: str) -> int:
        if name not in self.rows:
            self.rows[name] = len(self.rows)
        return self.rows[name]

    def emit(self, **op) -> None:
        for key in ("a", "b", "dst"):
            if isinstance(op.get(key), str):
                op[key] = self.row(op[key])
        self.ops.append(MicroOp(**op))

    # ---- helpers (each one cycle) -----------------------------------------------------
    def logic(self, dst, a, b=None, tt=0b1000, *, k=0, mask=False, tmode=0, ainv=False):
        """``dst = tt(a, b)`` (``b`` a row name, or None for the constant ``k``)."""
        self.emit(
            a=a,
            b=b if b is not None else 0,
            dst=dst if dst is not None else 0,
            write=int(dst is not None),
            bsrc=BSource.ROW if b is not None else BSource.CONST,
            k=k,
            tt=tt,
            mask=int(mask),
            tmode=TagMode(tmode),
            ainv=int(ainv),
        )


#: truth tables ``tt[(a << 1) | b]``
AND, OR, ANDN, COPY_A, ZERO, ONE = 0b1000, 0b1110, 0b0100, 0b1100, 0b0000, 0b1111
