"""A sweep can fork worker processes after a ``parallel=True`` kernel ran in the parent.

GNU OpenMP (numba's default threading layer on Linux) hangs a forked child that runs a parallel
region; ``sharelib/__init__`` selects numba's fork-safe layer unless the user chose one.
"""


from sharelib import experiments as ex
from sharelib.games.prisoners_dilemma import PrisonersDilemma
from sharelib.sharing.d3c import run_pd


def pd_point(n_players, seed):
    result = run_pd(PrisonersDilemma(n_players=n_players), method="gd", n_runs=8, seed=seed, steps=50)
    return float(result.ratio[-1].mean())


def test_processes_backend_after_a_parallel_kernel_in_the_parent():
    parent = pd_point(3, seed=1)  # starts numba's threading layer in this process
    points = ex.sweep(pd_point, ex.grid(n_players=[3, 4]), runs=2, backend="processes", n_jobs=2, progress=False)
    serial = ex.sweep(pd_point, ex.grid(n_players=[3, 4]), runs=2, backend="serial", progress=False)
    assert [p.value for p in points] == [p.value for p in serial]
    assert parent > 0
