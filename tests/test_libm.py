"""Tests of sharelib.libm: a vectorisable exp with the C library's bits."""

import platform
from decimal import Decimal, localcontext

import numba
import numpy as np
import pytest

from sharelib import libm, markets
from sharelib.sharing import ce_dos


@numba.njit
def _table_exp(x, out):
    # the three steps as the kernels use them, in separate loops
    keys = np.empty_like(x)
    rs = np.empty_like(x)
    tails = np.empty_like(x)
    for t in range(x.shape[0]):
        keys[t], rs[t] = libm.exp_reduce(x[t])
    for t in range(x.shape[0]):
        tails[t], keys[t] = libm.exp_lookup(keys[t])
    for t in range(x.shape[0]):
        out[t] = libm.exp_finish(rs[t], tails[t], keys[t])


@numba.njit
def _libm_exp(x, out):
    for t in range(x.shape[0]):
        out[t] = np.exp(x[t])  # numba calls the C library's exp


@numba.njit
def _exp_scalar(x, out):
    for t in range(x.shape[0]):
        out[t] = libm.exp_scalar(x[t])


def _glibc_with_fma() -> bool:
    lib, ver = platform.libc_ver()
    if platform.system() != "Linux" or platform.machine() != "x86_64" or lib != "glibc":
        return False
    if tuple(int(v) for v in ver.split(".")[:2]) < (2, 28):
        return False
    try:
        with open("/proc/cpuinfo") as f:
            return " fma " in f.read()
    except OSError:
        return False


def _args(rng, size):
    return np.concatenate([
        rng.uniform(-10, 10, size),  # the logistic market's range
        rng.uniform(-511.9, 511.9, size),
        rng.uniform(-1e-3, 1e-3, size // 10),
        rng.uniform(-1e-17, 1e-17, size // 10),
        np.array([0.0, -0.0, 1.0, -1.0, 0.5, np.log(2.0), 511.99, -511.99]),
    ])


@pytest.mark.skipif(not _glibc_with_fma(), reason="the bit-for-bit claim is about glibc >= 2.28 on x86-64 with FMA")
def test_table_exp_has_the_c_librarys_bits():
    x = _args(np.random.default_rng(0), 1_000_000)
    mine, ref = np.empty_like(x), np.empty_like(x)
    _table_exp(x, mine)
    _libm_exp(x, ref)
    differ = np.flatnonzero(mine != ref)
    assert differ.size == 0, f"{differ.size} of {x.size} differ, e.g. exp({x[differ[:3]]})"


def test_table_exp_is_within_one_ulp_of_the_exact_value():
    x = _args(np.random.default_rng(1), 300)
    mine = np.empty_like(x)
    _table_exp(x, mine)
    with localcontext() as ctx:
        ctx.prec = 50
        exact = np.array([float(Decimal(float(v)).exp()) for v in x])
    ulps = np.abs(mine - exact) / np.spacing(exact)
    assert ulps.max() <= 1.0


def test_exp_scalar_falls_back_outside_the_table_range():
    x = np.array([600.0, 709.7, 710.0, -700.0, -745.0, -746.0, np.inf, -np.inf, np.nan, 3.0])
    mine, ref = np.empty_like(x), np.empty_like(x)
    _exp_scalar(x, mine)
    _libm_exp(x, ref)
    np.testing.assert_array_equal(mine, ref)
    assert [bool(libm.exp_in_range(v)) for v in (511.0, -511.0, 512.0, np.nan)] == [True, True, False, False]


@pytest.mark.parametrize("steep", [False, True])
def test_kernel_rewards_match_the_market_module(steep):
    # the CE-DOS kernel evaluates Eqs. 4-6 with the table exp; markets.rewards uses np.exp.
    # steep: c_i = 300 puts |c_i (a - o_i)| beyond 512 for some samples, which takes np.exp.
    rng = np.random.default_rng(2)
    n, k = 7, 33
    c = rng.uniform(1, 3, n)
    if steep:
        c[3] = 300.0
    m = markets.logistic_market(c, rng.uniform(1, 3, n), 2.0, 1.5)
    a = rng.uniform(0.1, 4.0, (k, n))
    out, tot, ws = np.empty((n, k)), np.empty(k), np.empty((3, k))
    ce_dos._rewards_t(*m.kernel_args(), np.ascontiguousarray(a.T), out, tot, ws)
    ref = markets.rewards(m, a)
    if _glibc_with_fma():
        np.testing.assert_array_equal(out.T, ref)
    np.testing.assert_allclose(out.T, ref, rtol=4e-16, atol=0)
