"""The batched numba Cleanup/Harvest against an independent, straightforward per-step NumPy version of
the same rules (benchmarks/reference_ssd.py), fed the same random stream: identical trajectories
(observations, rewards, dones, positions, orientations, map) under random actions, across episode
boundaries, for both games, both variants and both observation forms."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from reference_ssd import ReferenceSSD, SplitMixStream  # noqa: E402

from sharelib.envs import Cleanup, Harvest  # noqa: E402
from sharelib.envs.base import seed_states  # noqa: E402
from sharelib.envs.ssd import CLEANUP_MAPS, HARVEST_MAPS  # noqa: E402

CROWDED_CLEANUP = [
    "@@@@@@@@@@",
    "@HHRPPPBB@",
    "@RHHPPPBB@",
    "@HRRPPPBB@",
    "@@@@@@@@@@",
]
CROWDED_HARVEST = [
    "@@@@@@@@@@",
    "@AAAPPPAA@",
    "@AAPPPPAA@",
    "@APAPPAAA@",
    "@@@@@@@@@@",
]
CASES = [
    ("cleanup", CLEANUP_MAPS["as"], 6, 40),
    ("cleanup", CROWDED_CLEANUP, 7, 30),
    ("harvest", HARVEST_MAPS["as"], 6, 40),
    ("harvest", CROWDED_HARVEST, 7, 30),
]


@pytest.mark.parametrize("obs", ["grid", "rgb"])
@pytest.mark.parametrize("variant", ["canonical", "fpf_lmf"])
@pytest.mark.parametrize("game,rows,n,T", CASES)
def test_kernel_equals_reference(game, rows, n, T, variant, obs):
    E, seed, steps = 2, 5, 85
    cls = Cleanup if game == "cleanup" else Harvest
    kw = dict(waste_spawn_prob=0.5) if game == "cleanup" else {}
    env = cls(n_envs=E, n_agents=n, map=rows, variant=variant, obs=obs, max_steps=T, **kw)
    refs = [ReferenceSSD(game, rows, n, variant=variant, obs=obs, max_steps=T,
                         rng=SplitMixStream(int(s))) for s in seed_states(seed, E)]
    o = env.reset(seed)
    ro = [r.reset() for r in refs]
    rng = np.random.default_rng(0)
    tol = 1e-6 if obs == "rgb" else 0
    n_done = 0
    for t in range(steps + 1):
        for e, ref in enumerate(refs):
            np.testing.assert_allclose(o[e], ro[e], atol=tol, rtol=0, err_msg=f"obs, step {t}, copy {e}")
            np.testing.assert_array_equal(env.positions[e], ref.positions, err_msg=f"step {t}")
            np.testing.assert_array_equal(env.orientations[e], ref.orientations, err_msg=f"step {t}")
            np.testing.assert_array_equal(env.cells[e], ref.cells, err_msg=f"map, step {t}")
        if t == steps:
            break
        a = rng.integers(0, env.n_actions, (E, n))
        o, r, d = env.step(a)
        ro = []
        for e, ref in enumerate(refs):
            obs_e, rew_e, done_e = ref.step(a[e])
            ro.append(obs_e)
            np.testing.assert_array_equal(r[e], rew_e, err_msg=f"rewards, step {t}, copy {e}")
            assert d[e] == done_e
            if game == "cleanup":
                np.testing.assert_array_equal(env.cleaned[e], ref.cleaned)
        n_done += int(d.sum())
    assert n_done >= 2 * E  # the comparison crossed episode boundaries
