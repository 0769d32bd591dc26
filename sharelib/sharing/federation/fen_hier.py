r"""Hierarchical FEN (Jiang & Lu, NeurIPS 2019, "Learning Fairness in Multi-Agent Systems"), the
``"fen_hier"`` baseline of FPF/LMF's Fig. 1, built from the learning core's PPO.

The hierarchy (reference notes Sec. 2.4; FEN's scripts are "(F)", the FPF-LMF code's
``PPO-FEN-Hierarchal`` is "(L)"), per agent i:

* a **meta-controller** ``pi_meta(z | o_i, rat_i, util)`` picks a signal ``z`` in ``{0..K-1}``
  (K = 4) at the first step of every segment of ``T`` steps and keeps it for the segment (``T``:
  Job 25, Matthew 50, Plant 50, the (L) values, :data:`FEN_T`). Its reward is the fair-efficient
  reward ``util / (0.1 + |rat_i|)`` at the segment's last step (episode-to-date ``rat``, ``util``
  of :func:`.discrete.fen_step_kernel`); its value target is that reward (every segment is a
  one-step episode: no bootstrapping) and its advantages are not normalised, as (F);
* **sub-policy 0** ``pi_0(a | o_i)`` learns from the environment reward;
* **sub-policies z >= 1** learn from the information reward ``p_meta(z | o'_i, rat'_i, util')``,
  the meta-controller's probability of the sub-policy's own signal at the next observation and
  the next step's ``rat``, ``util`` ((F)'s stand-in for the paper's discriminator of ``z``; the
  meta-controller's parameters before this iteration's update). A sub-policy is trained only on
  the segments in which it acted; each segment is one episode for it (the return ends at the
  segment's end, as (F)'s Monte-Carlo returns over a segment), with GAE (gamma 0.98, lambda
  0.97, as (L) and our other baselines) inside the segment.

Deviations, on purpose:

* one update per 200-step episode of every copy (the learning core's iteration, as all our
  discrete baselines), not one per segment; the core's PPO (2 epochs, 4 minibatches, clip 0.2,
  entropy 0.01, per-minibatch advantage normalisation for the sub-policies), without the
  code's one-update lag;
* the same MLP widths and step sizes for meta-controller and sub-policies (the preset's, e.g.
  (32,) and 1e-3 at the reduced preset; (F): meta 128, sub-policies 256, lr 3e-4, no biases;
  (L): 256-256, sub-policy lr 1e-4), with biases;
* parameter sharing: one network per agent for the meta-controller and every sub-policy in every
  scenario (as (L) and our other baselines); (F) shares the meta-controller and sub-policies
  among agents in Job and Matthew (``share_params=True`` here) and, in Plant, skips training
  sub-policy 0 (we train it everywhere, as the paper's text describes).
"""

from __future__ import annotations

import numpy as np

from ... import experiments as _ex
from ...learners import PPO
from ...learners.common import EpisodeTracker, TrainResult
from ...learners.hooks import Rollout

__all__ = ["FENHierarchy", "FEN_T", "N_SUB"]

#: segment length ``T`` between the meta-controller's choices, the (L) values (notes Sec. 2;
#: (F): Job 25, Matthew 50, Plant 500 with (F)'s 10 000-step Plant episodes)
FEN_T = {"job": 25, "matthew": 50, "plant": 50}
#: number of sub-policies (signals) in both codes
N_SUB = 4


class FENHierarchy:
    """FEN's meta-controller and ``n_sub`` sub-policies for every agent of ``env`` (module docstring).

    ``T``: segment length (must divide ``env.max_steps``, so segments never straddle two
    episodes of the fixed-length scenarios); ``max_u``: the fair-efficient reward's ``max_u``;
    ``n_sub`` >= 2; ``ppo_kw``: keywords of the learning core's :class:`~sharelib.learners.PPO`
    shared by all networks (``hidden``, ``lr``, ``vf_lr``, ``gamma``, ``gae_lambda``,
    ``n_epochs``, ``n_minibatches``, ...; not ``n_steps``, ``norm_adv``, ``share_params``,
    ``seed``). ``share_params``: one meta-controller and one network per sub-policy for all
    agents ((F)'s Job and Matthew) instead of one per agent.
    """

    def __init__(self, env, T, max_u, n_sub=N_SUB, share_params=False, seed=0, **ppo_kw):
        for k in ("n_steps", "norm_adv", "share_params", "seed", "critic"):
            if k in ppo_kw:
                raise ValueError(f"{k} is set by FENHierarchy; remove it from the PPO keywords")
        self.T = _ex.check_int("T", T, min=1)
        if env.max_steps % self.T:
            raise ValueError(f"T must divide the episode length max_steps = {env.max_steps}; got T={T}")
        self.max_u = _ex.check_float("max_u", max_u, min=0, min_inclusive=False)
        self.n_sub = _ex.check_int("n_sub", n_sub, min=2)
        self.share_params = bool(share_params)
        self.seed = _ex.check_int("seed", seed, min=0)
        self.n_agents, self.obs_dim, self.n_actions = env.n_agents, env.obs_dim, env.n_actions
        self.H = env.max_steps  # steps per iteration: one episode of every copy
        n, d = self.n_agents, self.obs_dim
        seeds = np.random.SeedSequence(self.seed).generate_state(1 + 2 * self.n_sub) % (2 ** 31)
        kw = dict(ppo_kw, share_params=self.share_params)
        # the meta-controller sees o_i + [rat_i, util]; one sample per segment, target = reward
        self.meta = PPO(d + 2, self.n_sub, n, n_steps=self.H // self.T, norm_adv=False, seed=int(seeds[0]), **kw)
        # acting networks: sub-policy k of every agent; their parameter arrays are the storage
        self.subs = [PPO(d, self.n_actions, n, n_steps=self.T, seed=int(seeds[1 + k]), **kw)
                     for k in range(self.n_sub)]
        # trainers: one single-agent PPO per (sub-policy, network) whose parameters are views of
        # the acting networks' rows, so a sub-policy trains on a ragged set of segments per agent
        self.trainers = []
        for k, sub in enumerate(self.subs):
            row = []
            for j in range(sub.n_networks):
                t = PPO(d, self.n_actions, 1, n_steps=self.T, seed=int(seeds[1 + self.n_sub + k]), **ppo_kw)
                t.policy_params = sub.policy_params[j:j + 1]
                t.value_params = sub.value_params[j:j + 1]
                row.append(t)
            self.trainers.append(row)
        self.iteration = 0
        self.env_steps = 0

    # ------------------------------------------------------------------------------ rollout
    @staticmethod
    def meta_input(obs, rat, util):
        """The meta-controller's input ``(E, n, d + 2)``: ``o_i`` then ``rat_i`` and ``util``."""
        E, n, _ = obs.shape
        return np.concatenate([obs, rat[:, :, None], np.broadcast_to(util[:, None, None], (E, n, 1))],
                              axis=2).astype(np.float32)

    def collect(self, env, obs, rng, tracker):
        """One episode of every copy from ``obs`` (an episode start); returns ``(data, next obs)``.

        ``data``: ``obs``, ``actions``, ``env_rewards``, ``sub_rewards`` (each sub-policy's reward
        of the step: the environment's for z = 0, else ``p_meta(z | next meta input)``),
        ``dones``, ``logp``, ``values`` (of the acting sub-policy), ``z`` ``(H, E, n)`` (the signal
        in force at every step), the meta-controller's ``meta_obs`` ``(S, E, n, d + 2)``,
        ``meta_z``, ``meta_logp``, ``meta_values``, ``meta_rewards`` ``(S, E, n)`` and
        ``meta_calls`` (the steps at which the meta-controller acted)."""
        from .discrete import fen_step_kernel
        H, T, E, n, d, K = self.H, self.T, env.n_envs, self.n_agents, self.obs_dim, self.n_sub
        S = H // T
        O = np.empty((H, E, n, d), np.float32)
        A = np.empty((H, E, n), np.int64)
        R = np.empty((H, E, n))
        RS = np.empty((H, E, n))
        D = np.empty((H, E), np.bool_)
        LP = np.empty((H, E, n))
        V = np.empty((H, E, n))
        Z = np.empty((H, E, n), np.int64)
        MO = np.empty((S, E, n, d + 2), np.float32)
        MZ = np.empty((S, E, n), np.int64)
        MLP = np.empty((S, E, n))
        MV = np.empty((S, E, n))
        MR = np.empty((S, E, n))
        cum, count = np.zeros((E, n)), np.zeros(E, np.int64)
        rat, util = np.zeros((E, n)), np.zeros(E)  # the episode-to-date statistics (0 at a start)
        rat_t, util_t, fen_t = np.empty((E, n)), np.empty(E), np.empty((E, n))
        calls = []
        ai = np.arange(n)[None, :]
        ei = np.arange(E)[:, None]
        for t in range(H):
            if t % T == 0:  # the meta-controller acts only here
                s = t // T
                MO[s] = self.meta_input(obs, rat, util)
                MZ[s], MLP[s], MV[s] = self.meta.act(MO[s], rng)
                calls.append(t)
            z = MZ[t // T]
            outs = [sub.act(obs, rng) for sub in self.subs]  # every sub-policy, then keep agent i's z_i
            acts = np.stack([o[0] for o in outs])
            a = acts[z, ei, ai]
            O[t], A[t], Z[t] = obs, a, z
            LP[t] = np.stack([o[1] for o in outs])[z, ei, ai]
            V[t] = np.stack([o[2] for o in outs])[z, ei, ai]
            obs, r, done = env.step(a)
            R[t], D[t] = r, done
            tracker.add(r, done)
            fen_step_kernel(np.ascontiguousarray(r, dtype=np.float64), np.ascontiguousarray(done), cum, count,
                            self.max_u, rat_t, util_t, fen_t)
            nxt = obs.copy()
            if done.any():  # the next observation of an ended copy is its final one, not the reset
                nxt[done] = env.final_obs[done]
            p = self.meta.probs(self.meta_input(nxt, rat_t, util_t))
            RS[t] = np.where(z == 0, r, np.take_along_axis(p, z[:, :, None], axis=2)[:, :, 0])
            if t % T == T - 1:
                MR[t // T] = fen_t
            keep = ~done[:, None]  # the next segment's meta input restarts from 0 after an episode end
            rat = np.where(keep, rat_t, 0.0)
            util = np.where(done, 0.0, util_t)
        self.env_steps += H * E
        data = dict(obs=O, actions=A, env_rewards=R, sub_rewards=RS, dones=D, logp=LP, values=V, z=Z,
                    meta_obs=MO, meta_z=MZ, meta_logp=MLP, meta_values=MV, meta_rewards=MR,
                    meta_calls=np.asarray(calls), last_obs=obs.copy())
        return data, obs

    # ------------------------------------------------------------------------------ update
    def update(self, data, rng):
        """The meta-controller's update on the segments, then every sub-policy's on the segments
        in which it acted (module docstring)."""
        S, E, n = data["meta_z"].shape
        T, d = self.T, self.obs_dim
        # meta: one-step episodes, target = the fair-efficient reward at the segment's end
        ro = Rollout(data["meta_obs"], data["meta_z"], data["meta_rewards"], np.ones((S, E), np.bool_),
                     np.concatenate([data["meta_values"], np.zeros((1, E, n))]), data["meta_logp"],
                     data["meta_obs"][-1])
        stats = {"meta": self.meta.update(ro, rng)}
        # segments as columns: (T, S, E, n, ...) -> per (segment, copy, agent)
        seg = {k: data[k].reshape(S, T, *data[k].shape[1:]).swapaxes(0, 1)
               for k in ("obs", "actions", "sub_rewards", "logp", "values")}
        dn = data["dones"].reshape(S, T, E).swapaxes(0, 1)
        for k in range(self.n_sub):
            for j, tr in enumerate(self.trainers[k]):
                sel = data["meta_z"] == k
                if not self.share_params:
                    sel = sel & (np.arange(n) == j)[None, None, :]
                s_, e_, i_ = np.nonzero(sel)
                M = s_.size
                if M == 0:
                    continue
                D = dn[:, s_, e_].copy()
                D[-1] = True  # the segment is the sub-policy's episode
                ro = Rollout(np.ascontiguousarray(seg["obs"][:, s_, e_, i_][:, :, None]),
                             np.ascontiguousarray(seg["actions"][:, s_, e_, i_][:, :, None]),
                             np.ascontiguousarray(seg["sub_rewards"][:, s_, e_, i_][:, :, None]), D,
                             np.concatenate([seg["values"][:, s_, e_, i_][:, :, None], np.zeros((1, M, 1))]),
                             np.ascontiguousarray(seg["logp"][:, s_, e_, i_][:, :, None]),
                             np.ascontiguousarray(seg["obs"][-1, s_, e_, i_][:, None]))
                stats[f"sub{k}_{j}"] = tr.update(ro, rng)
        self.iteration += 1
        return stats

    def train(self, env, iterations, seed=0):
        """``iterations`` episodes of every copy of ``env``; returns a
        :class:`~sharelib.learners.common.TrainResult` (environment returns per iteration)."""
        iterations = _ex.check_int("iterations", iterations, min=1)
        seed = _ex.check_int("seed", seed, min=0)
        if (env.n_agents, env.obs_dim, env.n_actions) != (self.n_agents, self.obs_dim, self.n_actions):
            raise ValueError("env does not match the hierarchy's (n_agents, obs_dim, n_actions)")
        ss = np.random.SeedSequence(seed)
        rng = np.random.default_rng(ss)
        obs = env.reset(int(ss.generate_state(1)[0] % (2 ** 31)))
        tracker = EpisodeTracker(env.n_envs, self.n_agents)
        steps = np.zeros(iterations, np.int64)
        rets = np.full((iterations, self.n_agents), np.nan)
        eps = np.zeros(iterations, np.int64)
        for it in range(iterations):
            data, obs = self.collect(env, obs, rng, tracker)
            self.update(data, rng)
            steps[it] = self.env_steps
            rets[it], eps[it] = tracker.pop()
        return TrainResult(steps, rets, eps)
