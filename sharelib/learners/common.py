"""Pieces shared by the learners: result container, episode bookkeeping, argument checks."""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numba
import numpy as np

from ..diagnostics import first_nonfinite, warn_if_nonfinite
from ..experiments import check_choice, check_float, check_int

__all__ = ["TrainResult", "EpisodeTracker", "gae", "check_hidden", "check_network"]


@dataclass
class TrainResult:
    """Learning curve of one training run.

    ``steps`` int ``(K,)``: environment steps (summed over copies) at the end of iteration ``k``;
    ``returns`` ``(K, n)``: mean *environment* return (before any reward hook) of the episodes that
    finished during iteration ``k`` (NaN if none did); ``episodes`` ``(K,)``: how many finished;
    ``stats``: per-iteration diagnostics (losses, entropy, ...), a dict of ``(K,)`` arrays.
    """

    steps: np.ndarray
    returns: np.ndarray
    episodes: np.ndarray
    stats: dict = field(default_factory=dict)

    def final_return(self, last_fraction: float = 0.1) -> np.ndarray:
        """Per-agent mean return over the last ``last_fraction`` of iterations (episode-weighted)."""
        K = len(self.steps)
        k0 = min(K - 1, int(np.floor(K * (1.0 - last_fraction))))
        w = self.episodes[k0:].astype(float)
        r = np.nan_to_num(self.returns[k0:])
        if w.sum() == 0:
            return np.full(self.returns.shape[1], np.nan)
        return (w[:, None] * r).sum(axis=0) / w.sum()


class EpisodeTracker:
    """Running per-copy returns; collects the returns of finished episodes."""

    def __init__(self, E, n):
        self.running = np.zeros((E, n))
        self.finished_sum = np.zeros(n)
        self.finished_count = 0

    def add(self, rewards, dones):
        self.running += rewards
        if dones.any():
            self.finished_sum += self.running[dones].sum(axis=0)
            self.finished_count += int(dones.sum())
            self.running[dones] = 0.0

    def pop(self):
        """``(mean return per agent or NaN, count)`` of episodes finished since the last pop."""
        c = self.finished_count
        m = self.finished_sum / c if c else np.full_like(self.finished_sum, np.nan)
        self.finished_sum = np.zeros_like(self.finished_sum)
        self.finished_count = 0
        return m, c


@numba.njit(cache=True)
def gae(rewards, values, dones, gamma, lam):
    """Generalised advantage estimation (Schulman et al. 2016, Eq. 16), time-major.

    rewards ``(T, E, n)``, values ``(T + 1, E, n)``, dones ``(T, E)`` (no bootstrap across an
    episode end).  Returns ``(advantages, returns = advantages + values[:T])``.  ``lam = 1`` gives
    Monte-Carlo returns minus the baseline (bootstrapped from ``values[T]`` at the rollout's end),
    ``lam = 0`` one-step TD errors.
    """
    T, E, n = rewards.shape
    adv = np.empty((T, E, n))
    ret = np.empty((T, E, n))
    for e in range(E):
        for i in range(n):
            last = 0.0
            for t in range(T - 1, -1, -1):
                nonterm = 0.0 if dones[t, e] else 1.0
                delta = rewards[t, e, i] + gamma * values[t + 1, e, i] * nonterm - values[t, e, i]
                last = delta + gamma * lam * nonterm * last
                adv[t, e, i] = last
                ret[t, e, i] = last + values[t, e, i]
    return adv, ret


def check_hidden(name, hidden) -> tuple:
    """``hidden`` as a tuple of layer widths (each an integer >= 1; ``()`` = no hidden layer).

    A bare number is refused rather than read as one layer: ``hidden=64`` could as well mean
    "width 64" at the default depth of two layers, so the caller says ``(64,)`` or ``(64, 64)``.
    """
    if isinstance(hidden, (numbers.Number, str, bytes, dict)) or not hasattr(hidden, "__iter__"):
        raise ValueError(f"{name} must be a sequence of layer widths, e.g. (64, 64), (64,) for one layer "
                         f"or () for none; got {hidden!r} ({type(hidden).__name__})")
    return tuple(check_int("hidden width", h, min=1) for h in hidden)


def check_network(obs_dim, n_actions, n_agents, hidden, activation):
    """Validate the sizes every learner's networks share; returns them normalised.

    ``(obs_dim, n_actions, n_agents, hidden, activation)`` with ``n_actions >= 2``, positive sizes,
    ``hidden`` a sequence of positive widths (see :func:`check_hidden`) and ``activation`` in
    ``("tanh", "relu")``.
    """
    return (check_int("obs_dim", obs_dim, min=1), check_int("n_actions", n_actions, min=2),
            check_int("n_agents", n_agents, min=1), check_hidden("hidden", hidden),
            check_choice("activation", activation, ("tanh", "relu")))


def set_replay_settings(learner, *, lr, gamma, buffer_size, batch_size, learning_starts, train_freq,
                        gradient_steps, target_update, eps_start, eps_end, eps_decay_steps, eps_decay_rate,
                        double, max_grad_norm, hooks, seed) -> None:
    """Check and set the settings every replay-based Q-learner shares (:class:`sharelib.learners.DQN`,
    :class:`sharelib.learners.QMIX`): rates, buffer and minibatch, the training and target schedule,
    epsilon, hooks (reward and params only) and seed. Errors name the parameter and its range."""
    from .hooks import Hooks

    learner.lr = check_float("lr", lr, min=0, min_inclusive=False)
    learner.gamma = check_float("gamma", gamma, min=0, max=1)
    learner.buffer_size = check_int("buffer_size", buffer_size, min=1)
    learner.batch_size = check_int("batch_size", batch_size, min=1)
    if learner.batch_size > learner.buffer_size:
        raise ValueError(f"batch_size={learner.batch_size} must be <= buffer_size={learner.buffer_size} "
                         "(a minibatch is drawn from the replay buffer)")
    learner.learning_starts = check_int("learning_starts", learning_starts, min=0)
    learner.train_freq = check_int("train_freq", train_freq, min=1)
    learner.gradient_steps = check_int("gradient_steps", gradient_steps, min=1)
    learner.target_update = check_int("target_update", target_update, min=1)
    learner.eps_start = check_float("eps_start", eps_start, min=0, max=1)
    learner.eps_end = check_float("eps_end", eps_end, min=0, max=1)
    learner.eps_decay_steps = check_int("eps_decay_steps", eps_decay_steps, min=1)
    learner.eps_decay_rate = None if eps_decay_rate is None else check_float(
        "eps_decay_rate", eps_decay_rate, min=0, max=1, min_inclusive=False)
    learner.double = bool(double)
    learner.max_grad_norm = check_float("max_grad_norm", max_grad_norm, min=0, min_inclusive=False)
    learner.hooks = Hooks() if hooks is None else hooks
    if not isinstance(learner.hooks, Hooks):
        raise ValueError(f"hooks must be a sharelib.learners.Hooks; got {type(hooks).__name__}")
    if learner.hooks.advantage is not None or learner.hooks.loss is not None:
        raise ValueError(f"{type(learner).__name__} supports only the reward and params hooks "
                         "(it has no advantage or policy loss)")
    learner.seed = check_int("seed", seed, min=0)


def warn_nonfinite_training(learner, result: TrainResult, keys=None, params=()) -> bool:
    """One :class:`~sharelib.diagnostics.NonFiniteWarning` if a training run went non-finite.

    Checked once, after training: the per-iteration ``stats`` (``keys``, default all; an entry
    that is NaN by design, e.g. a loss where no update happened, must be left out by the caller
    through a masked copy), the returns of iterations where episodes finished (NaN otherwise, by
    design) and finally the parameter arrays ``params`` (``(name, array)`` pairs). The warning
    names the learner, the quantity and the environment step (``result.steps``) of the first
    iteration where it was non-finite.
    """
    who = type(learner).__name__
    curves = {k: result.stats[k] for k in (result.stats if keys is None else keys)}
    curves["returns"] = np.where(result.episodes[:, None] > 0, result.returns, 0.0)
    first = {k: first_nonfinite(v) for k, v in curves.items()}
    bad = [(i, k) for k, i in first.items() if i is not None]
    hint = "a smaller learning rate (or bounded rewards) keeps training finite"
    if bad:
        _, k = min(bad, key=lambda t: t[0])  # earliest; ties in the order of the curves
        return warn_if_nonfinite(f"{who}.train: {k}", curves[k], result.steps, hint=hint, stacklevel=3)
    for name, arr in params:
        if warn_if_nonfinite(f"{who}.train: {name}", np.reshape(arr, (1, -1)), result.steps[-1:], hint=hint,
                             stacklevel=3):
            return True
    return False
