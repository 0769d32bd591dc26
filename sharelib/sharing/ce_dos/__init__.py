"""CE-DOS: distributed cross-entropy optimisation with utility sharing (Belzner et al. 2018).

"The Sharer's Dilemma in Collective Adaptive Systems of Self-Interested Agents" (ISoLA 2018,
arXiv 1804.10781). Each agent ``i`` chooses an action ``a_i`` and, if it is a *sharer*, a share
``s_i >= 0``; its utility is (Eq. 1)

    u_i(a, s) = r_i(a) - s_i + sum_{j != i} s_j / (n - 1).

Distributed Optimisation with Sharing (DOS, Algorithm 1) lets every agent improve its own policy
from jointly sampled actions; Cross-Entropy DOS (Algorithm 2) uses per-agent isotropic normal
policies ``N(mu, sigma)`` over action and share, keeps elite samples by utility, and moves mean and
standard deviation towards the elite's with learning rate ``alpha`` and floor ``sigma_min``. After
``n_iter`` iterations every agent samples an action and a share and executes them (Algorithm 2,
lines 16-18). Defectors never share (their share is 0), but see ``sharing`` below for whether
they receive.

Readings the paper leaves open (all are options of :func:`run_ce_dos`)
----------------------------------------------------------------------
``sharing``
    ``"eq1"`` (default): Eq. 1 as printed: "Shares are uniformly distributed among all other
    agents", so a sharer's share is spread over all ``n - 1`` others and defectors receive too.
    ``"sharers"``: the public code (``dos/experiment.py``): only agents ``< N_SHARING`` trade,
    each sharer receives the mean share of the *other sharers*; defectors neither pay nor receive.
    With fewer than two sharers there is nobody to receive, and we make the transfer void
    (``u_i = r_i``; the public code takes the mean of an empty list, i.e. NaN).
``elite``
    ``"drop"`` (default): Sec. 3.3, "we drop a fraction psi of samples ... we only keep high
    utility samples", and the public code (``elite = sort[int(len(sort) * PSI):]``): at
    ``psi = 0.25`` the elite is the top 75% of samples. ``"keep"``: Algorithm 2, line 10, "keep
    psi * n_sample elite samples with highest utility" (top 25% at ``psi = 0.25``).
``share_cap``
    ``"reward"`` (default): Sec. 4.2, "we clipped the sharing values such that agents are only able
    to share up to their current reward, i.e. s_i <= r_i(a)" (the public code does the same,
    ``np.clip(trades, 0, values)``). ``"none"``: shares clipped to ``[0, inf)`` only (Algorithm 2,
    line 5; Sec. 4.2, "other setups with unbound sharing are possible").

Two further details where the public code differs from the text, also options:

``pool``
    ``"sample"`` (default): Eq. 1 per joint sample, so what agent ``i`` receives in joint sample
    ``k`` is the others' shares in that sample (budget balance holds in every joint sample).
    ``"batch"``: the public code receives ``np.mean([trades[j] for j ...])``, a mean over the other
    sharers *and over all samples*, a constant within an iteration that therefore never affects
    elite selection (budget balance holds for the mean over samples).
``action_update``
    ``"clipped"`` (default): elite statistics of the executed (clipped to ``[0.1, 4]``) actions.
    ``"raw"``: the public code computes them from the unclipped normal draws.

Defaults follow the paper's text where it is unambiguous (Eq. 1, the share cap), and the public
code where the text contradicts itself (the elite: Sec. 3.3 and the code against Algorithm 2).

The result reports the *expected* utilities of the final policies as a Monte-Carlo mean over
``n_eval`` executions of Algorithm 2, lines 16-18 (``n_eval = 1`` is the single execution of the
algorithm; the public code's figures use the sample means of the last iteration instead, which
the traces also hold).

Where things are
----------------
:mod:`.utility` (Eq. 1 and the share cap), :mod:`.algorithm` (Algorithm 2: the kernel and
:func:`run_ce_dos`), :mod:`.reference` (the same algorithm in plain NumPy), :mod:`.experiments`
(Figs. 3-5, the claims, ablations, presets) and :mod:`.coin` (Fig. 1).
"""

from .algorithm import ACTION_UPDATES, ELITE_MODES, CEDOSResult, n_elite, run_ce_dos
from .coin import CoinExample, coin_example, simulate_coin_game
from .experiments import (CODE_READING, DEFAULT_READING, PAPER_ALGO, ablation_data, claims, figure_data,
                          figure_grid, figure_point, panel_arrays, sharer_counts)
from .reference import run_ce_dos_numpy
from .utility import POOLS, SHARE_CAPS, SHARING_RULES, clip_shares, utilities

__all__ = [
    "SHARING_RULES", "ELITE_MODES", "SHARE_CAPS", "POOLS", "ACTION_UPDATES", "CEDOSResult", "run_ce_dos",
    "run_ce_dos_numpy", "utilities", "clip_shares", "n_elite", "PAPER_ALGO", "DEFAULT_READING", "CODE_READING",
    "figure_point", "figure_grid", "figure_data", "sharer_counts", "ablation_data", "panel_arrays", "claims",
    "CoinExample", "coin_example", "simulate_coin_game",
]
