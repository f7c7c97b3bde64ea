"""Formal check: a LUT dot product equals a multiply-based reference for all inputs.

The miter instantiates the real :class:`TablePrecompute` and the array's per-plane lookup
path (:func:`~lutcore.hw.lut_array.plane_partial`: table select, symmetric sign handling,
zero-point leaf, signed-top-plane negation, adder tree, exact halving) for one row of ``K``
activations, and compares it with ``sum_k a_k * (w_k - z)`` (negated for the top plane of
signed weights) computed with multipliers. Yosys' SAT solver proves ``ok`` is 1 for every
input; a deliberately wrong reference must yield a counterexample (the proof is not vacuous).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from amaranth.back import rtlil
from amaranth.hdl import Const, Module, Mux, Signal, Value, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from lutcore.base import procs
from lutcore.base.yosys import run_script, yosys_abc
from lutcore.hw.config import TileConfig, tile_config
from lutcore.hw.layouts import weight_layout
from lutcore.hw.lut_array import group_partial, plane_partial
from lutcore.hw.precompute import TablePrecompute
from lutcore.sim.golden import ternary_patterns

__all__ = ["FORMAL_CONFIGS", "FormalFailure", "LutDotMiter", "prove_lut_dot"]

#: Small configurations (g <= 4, int8) covering both table kinds and both weight formats.
FORMAL_CONFIGS = (
    tile_config(M=1, N=1, K=4, g=4, symmetric=True, w_bits=2, weight_format="unsigned"),
    tile_config(M=1, N=1, K=4, g=4, symmetric=True, w_bits=2, weight_format="signed"),
    tile_config(M=1, N=1, K=4, g=4, symmetric=False, w_bits=2, weight_format="unsigned"),
    tile_config(M=1, N=1, K=4, g=4, symmetric=False, w_bits=2, weight_format="signed"),
    tile_config(M=1, N=1, K=4, g=2, symmetric=True, w_bits=2, weight_format="signed"),
    tile_config(M=1, N=1, K=4, g=2, symmetric=True, w_bits=2, weight_format="unsigned"),
    # base-3 ternary groups (:func:`~lutcore.hw.lut_array.group_partial`): g = 2 and 3
    tile_config(M=1, N=1, K=4, g=2, w_bits=2, weight_format="ternary"),
    tile_config(M=1, N=1, K=6, g=3, w_bits=2, weight_format="ternary"),
)


class FormalFailure(AssertionError):
    """The SAT proof failed: the LUT path and the multiply reference differ somewhere."""


class LutDotMiter(wiring.Component):
    """``mismatch`` is 1 iff the LUT path and the multiply reference differ for the inputs.

    ``acts``: K activations, signed ``a_bits``; ``bits``: one weight bit plane (bit k for
    activation k); ``zbit``: the plane's zero-point bit (unsigned weights); ``neg``: the
    plane is the signed top plane. ``broken`` builds a wrong reference (ignores ``zbit``
    and ``neg``) to check the proof can fail.

    Base-3 ternary groups: ``bits`` holds the ``K/g`` group codes (magnitude and sign), and
    the reference multiplies each activation by its digit ``t_j``, taken from the
    enumeration of every ternary vector (:func:`~lutcore.sim.golden.ternary_patterns`), not
    from the tables' construction; a magnitude beyond the table contributes 0. ``broken``
    ignores the sign.
    """

    def __init__(self, cfg: TileConfig, *, broken: bool = False):
        if cfg.M != 1:
            raise ValueError(f"M={cfg.M}: the miter covers one row (M=1)")
        self.cfg = cfg
        self.broken = broken
        super().__init__(
            {
                "acts": In(signed(cfg.a_bits)).array(cfg.K),
                "bits": In(weight_layout(cfg).elem_shape.elem_shape),
                "zbit": In(1),
                "neg": In(1),
                "mismatch": Out(1),
            }
        )

    def elaborate(self, platform) -> Module:
        cfg = self.cfg
        m = Module()
        m.submodules.precompute = pre = TablePrecompute(cfg)
        for k in range(cfg.K):
            m.d.comb += pre.i.payload[0][k].eq(self.acts[k])
        # Only the combinations the controller issues: z with unsigned weights, the negated
        # top plane with signed weights.
        zbit = self.zbit if cfg.has_zero_point else 0
        neg = self.neg if cfg.weight_format == "signed" else 0
        if cfg.base3:
            lut, reference = group_partial(cfg, pre.o.payload, 0, self.bits), self._ternary()
            lut_value, ref_value = Signal(signed(32)), Signal(signed(32))
            m.d.comb += [lut_value.eq(lut), ref_value.eq(reference)]
            m.d.comb += self.mismatch.eq(lut_value != ref_value)
            return m
        lut = plane_partial(cfg, pre.o.payload, 0, self.bits, zbit, neg)

        terms = [self.acts[k] * (self.bits[k] - (0 if self.broken else zbit)) for k in range(cfg.K)]
        total = sum(terms)
        reference = total if self.broken else Mux(neg, -total, total)
        lut_value, ref_value = Signal(signed(32)), Signal(signed(32))
        m.d.comb += [lut_value.eq(lut), ref_value.eq(reference)]
        m.d.comb += self.mismatch.eq(lut_value != ref_value)
        return m

    def _ternary(self) -> Value:
        """``sum_k a_k * t_k`` by multiplication, each group's digits decoded from its code."""
        cfg, width = self.cfg, self.cfg.group_code_bits
        patterns = ternary_patterns(cfg.g)
        middle = (3**cfg.g - 1) // 2  # row of the all-zero vector
        terms = []
        for c in range(cfg.chunks):
            code = self.bits[c * width : (c + 1) * width]
            magnitude, sign = code[: width - 1], code[width - 1]
            for j in range(cfg.g):
                digits = [
                    int(patterns[middle + p, j]) if p <= middle else 0
                    for p in range(1 << (width - 1))
                ]
                digit = Const(0, signed(2))  # a compare chain: an Array of constants is a ROM
                for p, d in enumerate(digits):
                    digit = Mux(magnitude == p, Const(d, signed(2)), digit)
                if not self.broken:
                    digit = Mux(sign, -digit, digit)
                terms.append(self.acts[c * cfg.g + j] * digit)
        return sum(terms)


def prove_lut_dot(cfg: TileConfig, *, broken: bool = False) -> None:
    """Prove ``mismatch`` is 0 for all inputs; raises :class:`FormalFailure` otherwise.

    Yosys flattens the miter to an and-inverter graph; the proof runs in Yosys' bundled ABC:
    ``collapse`` builds the output's BDD (small for sums of a few bytes), then ``iprove``
    (SAT) decides the collapsed miter. Yosys' ``sat -prove`` (MiniSAT straight on the adder
    trees) needs about 6 minutes for one of the 64 control cases, so it is not used.
    """
    text = rtlil.convert(LutDotMiter(cfg, broken=broken), name="miter", emit_src=False)
    with tempfile.TemporaryDirectory(prefix="lutcore-formal-") as tmp:
        il, aig = Path(tmp) / "miter.il", Path(tmp) / "miter.aig"
        il.write_text(text)
        run_script(
            [
                f"read_rtlil {il}",
                "hierarchy -top miter",
                "proc",
                "flatten",
                "opt",
                "techmap",
                "opt",
                "setundef -zero",  # don't-care bits of exhaustive muxes: any value works
                "aigmap",
                "opt_clean",
                f"write_aiger -zinit {aig}",
            ],
            log=Path(tmp) / "yosys.log",
        )
        # 1. A bounded SAT search finds a counterexample quickly if there is one.
        # 2. Otherwise the collapsed (BDD) miter must be constant 0: UNSAT is the proof.
        search = _abc(aig, "strash; sat -C 20000")
        if search.startswith("SATISFIABLE"):
            raise FormalFailure(
                f"{cfg.slug}: LUT path differs from the multiply reference for some input"
            )
        proof = _abc(aig, "strash; collapse; strash; iprove")
    if not proof.startswith("UNSATISFIABLE"):
        raise FormalFailure(f"{cfg.slug}: not proved ({proof})")


def _abc(aig: Path, commands: str) -> str:
    """Run ABC on ``aig``; returns its SAT verdict line."""
    proc = procs.run([yosys_abc(), "-c", f"read_aiger {aig}; {commands}"])
    lines = [ln.strip() for ln in proc.stdout.splitlines()]
    verdict = [ln for ln in lines if "SATISFIABLE" in ln or "UNDECIDED" in ln]
    if proc.returncode or len(verdict) != 1:
        raise FormalFailure(f"ABC `{commands}` gave no verdict:\n{proc.stdout}{proc.stderr}")
    return verdict[0]
