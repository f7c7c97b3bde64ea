"""Small expression builders shared by the blocks."""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Module, Mux, Signal, Value, signed

__all__ = [
    "carry_save_sum",
    "carry_select_add",
    "named",
    "select",
    "stage",
    "stream_stages",
    "tree_max",
    "tree_sum",
]


def tree_sum(values: list[Value]) -> Value:
    """Balanced adder tree (Yosys keeps the structure it is given; a chain would be deep)."""
    values = list(values)
    while len(values) > 1:
        pairs = zip(values[::2], values[1::2], strict=False)
        values = [a + b for a, b in pairs] + values[len(values) & ~1 :]
    return values[0]


def carry_select_add(m: Module, a: Value, b: Value, width: int, segment: int, name: str) -> Signal:
    """``a + b`` (signed) truncated to ``width`` bits, as a carry-select adder: the low
    ``segment`` bits ripple, every higher segment is added twice (carry in 0 and 1) at the
    same time and picked by the carry below it. Yosys maps a ``+`` to a ripple carry chain
    (``$lcu``); a wide accumulator's chain then sets the clock."""
    wide = []
    for v, tag in ((a, "a"), (b, "b")):  # sign-extended to the sum's width
        w = Signal(signed(width), name=f"{name}_{tag}")
        m.d.comb += w.eq(v)
        wide.append(w)
    out = Signal(signed(width), name=name)
    parts, carry = [], None
    for lo in range(0, width, segment):
        hi = min(width, lo + segment)
        sa, sb = wide[0][lo:hi], wide[1][lo:hi]
        if carry is None:
            total = Signal(hi - lo + 1, name=f"{name}_s{lo}")
            m.d.comb += total.eq(sa + sb)
        else:
            zero, one = (Signal(hi - lo + 1, name=f"{name}_s{lo}_c{c}") for c in (0, 1))
            m.d.comb += [zero.eq(sa + sb), one.eq(sa + sb + 1)]
            total = Signal(hi - lo + 1, name=f"{name}_s{lo}")
            m.d.comb += total.eq(Mux(carry, one, zero))
        parts.append(total[: hi - lo])
        carry = total[hi - lo]
    m.d.comb += out.eq(Cat(*parts))
    return out


def carry_save_sum(m: Module, values: list[Value], width: int, segment: int, name: str) -> Value:
    """The sum of ``values`` (signed) truncated to ``width`` bits: 3:2 compressors (a full
    adder per bit, no carry chain) reduce them to two, which one :func:`carry_select_add`
    adds."""
    wide = []
    for i, v in enumerate(values):  # sign-extended to the sum's width
        w = Signal(signed(width), name=f"{name}_in{i}")
        m.d.comb += w.eq(v)
        wide.append(w)
    values, level = wide, 0
    while len(values) > 2:
        out = []
        for i in range(0, len(values) - 2, 3):
            a, b, c = values[i : i + 3]
            s, carry = (Signal(signed(width), name=f"{name}_l{level}_{i}{t}") for t in "sc")
            m.d.comb += [s.eq(a ^ b ^ c), carry.eq(((a & b) | (a & c) | (b & c)) << 1)]
            out += [s, carry]
        values, level = out + values[len(values) - len(values) % 3 :], level + 1
    if len(values) == 1:
        return values[0]
    return carry_select_add(m, values[0], values[1], width, segment, f"{name}_add")


def tree_max(values: list[Value]) -> Value:
    """Balanced tree of maxima (signed or unsigned as the values are)."""
    values = list(values)
    while len(values) > 1:
        pairs = zip(values[::2], values[1::2], strict=False)
        values = [Mux(a > b, a, b) for a, b in pairs] + values[len(values) & ~1 :]
    return values[0]


def select(options: list, index: Value) -> Value:
    """``options[index]`` as a full case mux: the list is padded to ``2**len(index)`` with its
    last element, so every index value has an arm (no incomplete case, no latch-like X)."""
    options = list(options)
    options += [options[-1]] * ((1 << len(index)) - len(options))
    return Array(options)[index]


def named(m: Module, value, name: str) -> Signal:
    """``value`` as its own named signal. Arrays give every field of a wide broadcast bus its
    signal once, so cells reference small signals instead of slicing the bus (slicing in
    every cell makes elaboration quadratic in the tile size)."""
    sig = Signal(value.shape(), name=name)
    m.d.comb += sig.eq(value)
    return sig


def stage(m: Module, advance: Value, value, name: str, *, data: bool = True) -> Signal:
    """A pipeline register of ``value`` that loads when ``advance`` (the stage moves on); data
    registers need no reset, valid bits (``data=False``) do."""
    reg = Signal(Value.cast(value).shape(), name=name, reset_less=data)
    with m.If(advance):
        m.d.sync += reg.eq(value)
    return reg


def stream_stages(m: Module, i, o, depth: int) -> Value:
    """Valid/ready handshake of a ``depth``-stage pipeline from stream ``i`` to stream ``o``:
    the whole pipeline advances when its output is free or being read. Returns ``advance``;
    the caller registers its data with :func:`stage` under it."""
    advance = Signal(name="advance")
    m.d.comb += [advance.eq(~o.valid | o.ready), i.ready.eq(advance)]
    valid = i.valid
    for k in range(depth):
        valid = stage(m, advance, valid, f"valid_{k}", data=False)
    m.d.comb += o.valid.eq(valid)
    return advance
