r"""Multi-agent learners with sharing hooks (``sharelib.learners``).

Learners
--------
:class:`REINFORCE`, :class:`A2C`, :class:`PPO` (and :class:`MAPPO`, PPO with a centralised critic)
    One on-policy actor-critic implementation (:class:`ActorCritic`) with three presets; see
    :mod:`sharelib.learners.actor_critic`.
:class:`DQN`
    Replay buffer, target network, double-Q option, linear epsilon schedule
    (:mod:`sharelib.learners.dqn`).
:class:`DGN`
    DQN with DGN's graph-attention Q-network over each agent's neighbourhood, one network for all
    agents, joint minibatches, soft targets (:mod:`sharelib.learners.dgn`; the neighbourhood
    travels in the observation through :class:`WithNeighbours`).
:class:`CoLight`
    The same graph Q-learner with CoLight's one-layer attention network and DQN's training rules
    (Huber loss, hard target copies, epsilon in rounds; :mod:`sharelib.learners.colight`).
:class:`QMIX`
    Rashid et al. (2018): one agent Q-network for all agents and a monotonic mixing network whose
    weights are hypernetworks of the global state, trained on the team reward (the agents' sum)
    from joint transitions (:mod:`sharelib.learners.qmix`).
:class:`MADDPG`
    Lowe et al. (2017): a decentralised actor and a centralised critic (every agent's observation and
    action) per agent, discrete actions through the Gumbel-softmax relaxation, replay and soft targets
    (:mod:`sharelib.learners.maddpg`; no sharing hooks).
:class:`SimplexDPG`
    Deterministic policy gradient for actions on the probability simplex (LToS's sharing
    weights; :mod:`sharelib.learners.dpg`).

All work on the batched environment interface of :mod:`sharelib.envs.base` (``reset(seed)``,
``step(actions (E, n)) -> obs (E, n, d), rewards (E, n), dones (E,)``).  By default the ``n``
agents learn **independently**: network ``i`` (parameters ``policy_params[i]``, a row of a
``(n, P)`` population) is trained on agent ``i``'s observations and rewards only.  With
``share_params=True`` there is one network (population of one row) trained on all agents' data.
:mod:`sharelib.learners.mixing` runs the learning-core notebook's experiments (fixed reward mixing
on the prisoner corridor, the Coin game and Trust-Your-Brother).
``learner.train(env, total_steps, seed)`` returns a :class:`TrainResult` (learning curve of the
environment's own rewards, whatever the hooks did).  Same parameters and seeds give the same
numbers.

Sharing hooks
-------------
The five papers' sharing mechanisms plug into four hooks, passed as ``hooks=Hooks(...)`` (all
optional; ``None`` means identity).  Shapes: ``T`` rollout length, ``E`` environment copies,
``n`` agents, ``m`` networks (``n``, or 1 when shared), ``B`` minibatch size, ``A`` actions.

``reward(rewards: (T, E, n) float64, ctx: HookContext) -> (T, E, n)``
    Reward transformation before learning: what each agent *learns from*.  Called once per
    rollout (actor-critic) or once per environment step with ``T = 1`` (DQN, before storing in
    the replay buffer).  Examples: D3C's loss mixing ``r'_i = sum_j A_ij r_j``
    (:func:`mix_rewards`), LToS's weights on a graph (``A`` as a callable of ``ctx``),
    CE-DOS-style transfers.
``advantage(adv: (T, E, n), ctx) -> (T, E, n)``
    Advantage transformation after GAE and before the policy update (``ctx.returns`` holds the
    value targets, ``ctx.rollout.values`` the critic's values).  Example: value sharing, an agent
    learns from the sum of its neighbours' advantages (:func:`share_advantages`).
    Actor-critic learners only.
``params(nets: dict[str, ndarray (m, P)], ctx) -> None``
    Parameter exchange after every update, **in place**.  Keys: ``"policy"`` and ``"value"``
    (actor-critic; once per iteration) or ``"q"`` (DQN; after every gradient step).  Examples:
    federated averaging (:func:`federated_average`), consensus over a graph (:func:`consensus`), regularisation toward a shared model
    (:func:`pull_toward_mean`).  Optimiser states are not exchanged.
``loss(batch: LossBatch) -> (value: float, dlogits: (B, A))``
    Extra policy term added to the loss to *minimise*, as its value and gradient w.r.t. the
    logits of the network being updated (``batch.network``); called at every minibatch step of
    every policy network with ``batch.obs``, ``.actions``, ``.logits``, ``.advantages``,
    ``.old_logp``, ``.agents`` (which agent made each sample), ``.index`` (flat ``t * E + e``
    into the rollout) and ``.context``.  Example: AS's anticipation penalties;
    :func:`log_prob_penalty`.  Actor-critic learners only.

``HookContext`` fields: ``learner`` (the learner itself: its parameters, nets and settings are
readable), ``iteration``, ``env_steps``, ``rollout`` (a :class:`Rollout`: ``obs (T, E, n, d)``,
``actions``, ``rewards`` (untransformed), ``dones (T, E)``, ``values (T + 1, E, n)``, ``logp``,
``last_obs``), ``returns`` and ``advantages`` (once computed), ``info`` (a dict hooks may use to
talk to each other within an iteration).  The order within an iteration is
reward -> GAE -> advantage -> (loss at each minibatch) -> params.
"""

from .actor_critic import A2C, MAPPO, PPO, REINFORCE, ActorCritic, evaluate
from .common import EpisodeTracker, TrainResult, gae
from .dpg import SimplexDPG
from .maddpg import MADDPG
from .dqn import DQN
from .dgn import DGN, WithNeighbours
from .colight import CoLight
from .qmix import QMIX
from .hooks import (
    HookContext,
    Hooks,
    LossBatch,
    Rollout,
    consensus,
    federated_average,
    log_prob_penalty,
    mix_rewards,
    pull_toward_mean,
    share_advantages,
)

__all__ = [
    "ActorCritic", "REINFORCE", "A2C", "PPO", "DQN", "DGN", "CoLight", "WithNeighbours", "QMIX", "MADDPG", "SimplexDPG", "evaluate",
    "TrainResult", "EpisodeTracker", "gae",
    "Hooks", "HookContext", "LossBatch", "Rollout",
    "MAPPO",
    "mix_rewards", "share_advantages", "federated_average", "consensus", "pull_toward_mean",
    "log_prob_penalty",
]
