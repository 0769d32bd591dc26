"""Tests of sharelib.pcg64: NumPy's standard-normal stream, generated in blocks inside numba."""

import numpy as np
import pytest

from sharelib import pcg64


@pytest.mark.parametrize("seed", [0, 1, 2**32 - 1, 123456789])
def test_same_normals_as_numpy_in_any_block_sizes(seed):
    n = 300_000  # ~1% of draws take the ziggurat's slow branches: thousands of them here
    ref = np.random.default_rng(seed).standard_normal(n)
    state, words = pcg64.normal_stream(seed)
    out = np.empty(n)
    # blocks that start and end anywhere relative to the word buffer's refills
    cuts = np.unique(np.r_[0, np.random.default_rng(seed).integers(0, n, 40), 1, 2, pcg64.BLOCK, n])
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        pcg64.fill_standard_normal(state, words, out[lo:hi])
    np.testing.assert_array_equal(out, ref)


def test_stream_starts_where_the_generator_is():
    rng = np.random.default_rng(7)
    rng.standard_normal(5)
    state, words = pcg64.normal_stream(rng)
    out = np.empty(10)
    pcg64.fill_standard_normal(state, words, out)
    np.testing.assert_array_equal(out, rng.standard_normal(10))


def test_only_pcg64_generators_are_accepted():
    with pytest.raises(ValueError, match="PCG64"):
        pcg64.normal_stream(np.random.Generator(np.random.MT19937(0)))
