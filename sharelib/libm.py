"""``exp`` in numba, vectorisable, with the same bits as the C library's (glibc 2.28+ on x86-64).

The logistic market evaluates ``exp`` a million times per CE-DOS run (Eqs. 4-5). Numba's
``np.exp`` calls the C library one value at a time (6-7 ns here), and LLVM cannot vectorise
that call without Intel's SVML. This module computes the same function in three loops that LLVM
*can* turn into SIMD code, and with the same results, so switching changes no number.

The algorithm is the classic table-driven one (Tang 1989) in the form glibc uses since 2.28:
``x = k ln2/N + r`` with ``N = 128`` and ``|r| <= ln2/(2N)``; ``exp(x) = 2**(k/N) exp(r)``, where
``2**(k/N) = 2**(k // N) * H[k % N] * (1 + T[k % N])`` comes from a table of ``N`` doubles ``H``
(``2**(i/N)`` rounded) and their relative rounding errors ``T``, and ``exp(r) - 1`` is a degree-5
polynomial. The table is computed here at import, with 80-digit decimal arithmetic; the other
constants are glibc's, written as hexadecimal floats. On x86-64 CPUs with FMA, glibc selects a
build whose compiler fused the multiply-adds; :func:`exp_finish` and :func:`exp_reduce` use fused
multiply-adds in the same places, which gives bit-identical results (``tests/test_libm.py``
checks this against ``np.exp`` on millions of arguments, and against an 80-digit reference
everywhere: at most 1 ulp from the exact value).

Table lookups are kept out of the vectorised loops: this CPU (and others with the 2023 "Gather
Data Sampling" microcode) runs vector gathers so slowly that a gathered ``exp`` is no faster
than the library's. :func:`exp_lookup` hides the index from the vectoriser, so the lookup stays
scalar while the arithmetic around it is SIMD.

Only ``|x| < 512`` takes this path (glibc's own fast-path range); :func:`exp_in_range` says which
arguments qualify, and callers fall back to ``np.exp`` for the rest (overflow, underflow, NaN).
"""

from __future__ import annotations

from decimal import Decimal, localcontext

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

__all__ = ["fma", "exp_reduce", "exp_lookup", "exp_finish", "exp_in_range", "exp_scalar", "TABLE_BITS",
           "FAST_RANGE"]

#: log2 of the table size ``N``.
TABLE_BITS = 7
_N = 1 << TABLE_BITS
#: ``|x|`` below which the table path is exact (beyond it: overflow or subnormal scaling).
FAST_RANGE = 512.0

# glibc's constants (sysdeps/ieee754/dbl-64/e_exp_data.c), as hexadecimal floats
_INV_LN2_N = float.fromhex("0x1.71547652b82fep0") * _N  # N / ln 2
_SHIFT = float.fromhex("0x1.8p52")  # adding it rounds to an integer held in the low mantissa bits
_NEG_LN2_HI_N = float.fromhex("-0x1.62e42fefa0000p-8")  # -ln2/N, split in two for an exact r
_NEG_LN2_LO_N = float.fromhex("-0x1.cf79abc9e3b3ap-47")
_C2 = float.fromhex("0x1.ffffffffffdbdp-2")  # exp(r) - 1 - r ~ r^2 (C2 + C3 r) + r^4 (C4 + C5 r)
_C3 = float.fromhex("0x1.555555555543cp-3")
_C4 = float.fromhex("0x1.55555cf172b91p-5")
_C5 = float.fromhex("0x1.1111167a4d017p-7")


def _table() -> np.ndarray:
    """``tab[2i]`` = bits of ``T_i``, ``tab[2i+1]`` = bits of ``H_i`` minus ``i << (52 - TABLE_BITS)``."""
    tab = np.zeros(2 * _N, dtype=np.uint64)
    with localcontext() as ctx:
        ctx.prec = 80
        for i in range(_N):
            exact = Decimal(2) ** (Decimal(i) / _N)
            h = float(exact)  # correctly rounded to nearest
            t = float(exact / Decimal(h) - 1)
            tab[2 * i] = np.float64(t).view(np.uint64)
            tab[2 * i + 1] = np.uint64((int(np.float64(h).view(np.uint64)) - (i << (52 - TABLE_BITS))) % 2**64)
    return tab


_TAB = _table()


@intrinsic
def fma(typingctx, a, b, c):
    """``a * b + c`` with a single rounding (``llvm.fma.f64``; a libm call on CPUs without FMA)."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        d = ir.DoubleType()
        fn = builder.module.declare_intrinsic("llvm.fma", [d], ir.FunctionType(d, [d, d, d]))
        return builder.call(fn, args)

    return sig, codegen


@intrinsic
def _bits(typingctx, a):
    sig = types.uint64(types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return sig, codegen


@intrinsic
def _double(typingctx, a):
    sig = types.float64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


@intrinsic
def _opaque(typingctx, a):
    """``a`` unchanged, through an empty inline-assembly statement the vectoriser cannot see into."""
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        return builder.asm(ir.FunctionType(i64, [i64]), "", "=r,0", [args[0]], side_effect=False)

    return sig, codegen


@numba.njit(cache=True, inline="always")
def exp_in_range(x):
    """True when ``x`` takes the table path (``|x| < 512``; False for NaN)."""
    return abs(x) < FAST_RANGE


@numba.njit(cache=True, inline="always")
def exp_reduce(x):
    """Step 1 (vectorisable): ``(key, r)`` with ``x = k ln2/N + r``.

    ``key = k + 1.5 * 2**52`` is a double whose low mantissa bits hold the integer ``k``.
    """
    key = fma(x, _INV_LN2_N, _SHIFT)
    kd = key - _SHIFT
    return key, fma(kd, _NEG_LN2_LO_N, fma(kd, _NEG_LN2_HI_N, x))


@numba.njit(cache=True, inline="always")
def exp_lookup(key):
    """Step 2 (kept scalar): ``(tail, scale)`` with ``2**(k/N) = scale * (1 + tail)``."""
    ki = _opaque(_bits(key))
    idx = (ki % np.uint64(_N)) << np.uint64(1)
    return _double(_TAB[idx]), _double(_TAB[idx + np.uint64(1)] + (ki << np.uint64(52 - TABLE_BITS)))


@numba.njit(cache=True, inline="always")
def exp_finish(r, tail, scale):
    """Step 3 (vectorisable): ``scale * (1 + tail + (exp(r) - 1))``, rounded once at the end."""
    r2 = r * r
    tmp = fma(r2 * r2, fma(r, _C5, _C4), fma(r2, fma(r, _C3, _C2), tail + r))
    return fma(scale, tmp, scale)


@numba.njit(cache=True, inline="always")
def exp_scalar(x):
    """``exp(x)`` for one value (the table path when it applies, else ``np.exp``)."""
    if not exp_in_range(x):
        return np.exp(x)
    key, r = exp_reduce(x)
    tail, scale = exp_lookup(key)
    return exp_finish(r, tail, scale)
