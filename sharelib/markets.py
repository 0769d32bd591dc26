"""The two market domains of the CE-DOS paper (Belzner et al. 2018, Sec. 4.1).

Each of ``n`` self-interested agents chooses a production amount ``a_i`` in ``[0.1, 4]``.

* **Simple market** (Eq. 3): ``r_i(a) = a_i / (sum_j a_j) ** xi`` with slope ``xi``. Global reward
  is ``(sum_j a_j) ** (1 - xi)``, maximal when every agent produces the least, while each agent's
  own reward grows with ``a_i`` whenever ``sum_j a_j > xi * a_i`` (always for ``n > xi``): the
  selfish equilibrium is overproduction.
* **Logistic market** (Eqs. 4-6): agent ``i`` has a logistic production curve
  ``p_i(a_i) = 1 / (1 + exp(-c_i (a_i - o_i)))`` (Eq. 4); the price per unit is an inverse logistic
  of global production, ``price(prod) = 1 - 1 / (1 + exp(-c (prod - o)))`` (Eq. 5); the reward is
  ``r_i(a) = p_i(a_i) * price(sum_j p_j(a_j))`` (Eq. 6).

Domain sampler (Sec. 4.2): ``xi ~ U[2, 4]``; ``c`` and ``o`` ~ ``U[1, 3]`` "for all production and
cost functions", i.e. one ``(c_i, o_i)`` per agent and one ``(c, o)`` for the price. The authors'
public code (``dos/market.py``, ``dos/market_simple.py``) does the same; it divides by
``|sum_j a_j| ** xi`` (absolute value), which we keep (it only matters for unclipped actions).

Rewards are evaluated for a batch of joint actions at once by jitted kernels:
``rewards(market, actions)`` with ``actions`` of shape ``(..., n)``.

Zero production: in the simple market a single agent producing ``a_i = 0`` gets reward 0, but
when *nobody* produces, ``sum_j a_j = 0`` and Eq. 3 reads ``0 / 0``: along ``a = t v``,
``r_i = t**(1 - xi) v_i / (sum_j v_j)**xi`` diverges as ``t -> 0`` for ``xi > 1``, so no value is
the right one (the paper never meets the case: actions lie in ``[0.1, 4]``). :func:`rewards`
raises a ``ValueError`` naming ``actions`` and the offending row rather than returning a number.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numba
import numpy as np

from . import experiments

__all__ = [
    "ACTION_MIN",
    "ACTION_MAX",
    "MARKETS",
    "Market",
    "simple_market",
    "logistic_market",
    "sample_market",
    "rewards",
    "production",
    "price",
]

#: Action bounds of Sec. 4.1/4.2 ("A_i = [.1, 4]").
ACTION_MIN = 0.1
ACTION_MAX = 4.0
#: Market kinds, in the order of their integer codes inside kernels.
MARKETS = ("simple", "logistic")


@dataclass(frozen=True)
class Market:
    """One sampled market instance.

    Attributes
    ----------
    kind : {"simple", "logistic"}
    n_agents : int
    xi : float
        Slope of the simple market (Eq. 3); ``nan`` for the logistic market.
    c, o : ndarray of shape (n_agents,)
        Per-agent production steepness and offset (Eq. 4); empty for the simple market.
    c_price, o_price : float
        Steepness and offset of the price function (Eq. 5); ``nan`` for the simple market.

    The constructor checks every field (``kind`` one of :data:`MARKETS`, ``n_agents >= 1``, a
    finite ``xi > 0`` for the simple market, ``c`` and ``o`` of length ``n_agents`` and finite
    prices for the logistic one) and stores ``c`` and ``o`` as read-only float64 copies;
    :func:`simple_market`, :func:`logistic_market` and :func:`sample_market` build instances.
    """

    kind: str
    n_agents: int
    xi: float = float("nan")
    c: np.ndarray = field(default_factory=lambda: np.zeros(0))
    o: np.ndarray = field(default_factory=lambda: np.zeros(0))
    c_price: float = float("nan")
    o_price: float = float("nan")

    def __post_init__(self):
        kind = experiments.check_choice("kind", self.kind, MARKETS)
        n = experiments.check_int("n_agents", self.n_agents, min=1)
        set_ = object.__setattr__  # frozen: store the checked values
        set_(self, "n_agents", n)
        c = np.array(self.c, dtype=np.float64).reshape(-1) if np.ndim(self.c) else np.array([self.c], np.float64)
        o = np.array(self.o, dtype=np.float64).reshape(-1) if np.ndim(self.o) else np.array([self.o], np.float64)
        if kind == "simple":
            set_(self, "xi", experiments.check_float("xi", self.xi, min=0.0, min_inclusive=False))
            if c.size or o.size or not (np.isnan(self.c_price) and np.isnan(self.o_price)):
                raise ValueError("c, o, c_price and o_price apply to the logistic market only; "
                                 "leave them unset for kind='simple'")
        else:
            if not np.isnan(self.xi):
                raise ValueError(f"xi applies to the simple market only; got xi={self.xi!r} for kind='logistic'")
            if np.ndim(self.c) != 1 or np.ndim(self.o) != 1 or c.size != n or o.size != n:
                raise ValueError(f"c and o must be 1-d arrays of length n_agents={n}; "
                                 f"got shapes {np.shape(self.c)} and {np.shape(self.o)}")
            if not (np.all(np.isfinite(c)) and np.all(np.isfinite(o))):
                raise ValueError("c and o must be finite")
            set_(self, "c_price", experiments.check_float("c_price", self.c_price))
            set_(self, "o_price", experiments.check_float("o_price", self.o_price))
        c.setflags(write=False)
        o.setflags(write=False)
        set_(self, "c", c)
        set_(self, "o", o)

    @property
    def code(self) -> int:
        """Integer code of ``kind`` used by the kernels (0 simple, 1 logistic)."""
        return MARKETS.index(self.kind)

    def kernel_args(self):
        """``(code, xi, c, o, c_price, o_price)`` as plain scalars and float64 arrays."""
        n = self.n_agents
        # writable copies: read-only arrays would be a second numba type (and a second compile)
        c = np.array(self.c, dtype=np.float64) if self.kind == "logistic" else np.zeros(n)
        o = np.array(self.o, dtype=np.float64) if self.kind == "logistic" else np.zeros(n)
        return self.code, float(self.xi), c, o, float(self.c_price), float(self.o_price)

    def rewards(self, actions) -> np.ndarray:
        """Rewards for a batch of joint actions; see :func:`rewards`."""
        return rewards(self, actions)


def simple_market(n_agents: int, xi: float) -> Market:
    """The simple market of Eq. 3 with slope ``xi`` (> 0)."""
    n_agents = experiments.check_int("n_agents", n_agents, min=1)
    xi = experiments.check_float("xi", xi, min=0.0, min_inclusive=False)
    return Market("simple", n_agents, xi=xi)


def logistic_market(c, o, c_price: float, o_price: float) -> Market:
    """The logistic market of Eqs. 4-6 with per-agent ``c``, ``o`` and price ``c_price``, ``o_price``."""
    c = np.atleast_1d(np.asarray(c, dtype=np.float64)).copy()
    o = np.atleast_1d(np.asarray(o, dtype=np.float64)).copy()
    if c.ndim != 1 or c.shape != o.shape or c.size < 1:
        raise ValueError(f"c and o must be 1-d arrays of the same length >= 1; got shapes {c.shape} and {o.shape}")
    if not (np.all(np.isfinite(c)) and np.all(np.isfinite(o))):
        raise ValueError("c and o must be finite")
    c_price = experiments.check_float("c_price", c_price)
    o_price = experiments.check_float("o_price", o_price)
    c.setflags(write=False)
    o.setflags(write=False)
    return Market("logistic", int(c.size), c=c, o=o, c_price=c_price, o_price=o_price)


def sample_market(kind: str, n_agents: int, rng) -> Market:
    """Draw a market from the domain distribution of Sec. 4.2.

    Parameters
    ----------
    kind : {"simple", "logistic"}
    n_agents : int
    rng : numpy.random.Generator or int
        Source of randomness (an int is used as a seed).

    Notes
    -----
    Simple: ``xi ~ U[2, 4]``. Logistic: ``c_i, o_i ~ U[1, 3]`` for each agent and
    ``c, o ~ U[1, 3]`` for the price (Sec. 4.2: "for all production and cost functions").
    """
    kind = experiments.check_choice("market", kind, MARKETS)
    n_agents = experiments.check_int("n_agents", n_agents, min=1)
    if not (rng is None or isinstance(rng, (np.random.Generator, np.random.BitGenerator, np.random.SeedSequence,
                                            list, tuple, np.ndarray))):
        rng = experiments.check_int("rng", rng, min=0)  # a seed
    rng = np.random.default_rng(rng)
    if kind == "simple":
        return simple_market(n_agents, rng.uniform(2.0, 4.0))
    c = rng.uniform(1.0, 3.0, size=n_agents)
    o = rng.uniform(1.0, 3.0, size=n_agents)
    cp, op = rng.uniform(1.0, 3.0, size=2)
    return logistic_market(c, o, cp, op)


# ------------------------------------------------------------------------------------------------
# Kernels
# ------------------------------------------------------------------------------------------------


@numba.njit(cache=True)
def _logistic(x, c, o):
    return 1.0 / (1.0 + np.exp(-c * (x - o)))


@numba.njit(cache=True)
def _market_rewards_row(code, xi, c, o, cp, op, a, out):
    """Rewards of one joint action ``a`` (length n) into ``out``: Eq. 3 or Eqs. 4-6."""
    n = a.shape[0]
    if code == 0:
        s = 0.0
        for i in range(n):
            s += a[i]
        denom = np.abs(s) ** xi
        for i in range(n):
            out[i] = a[i] / denom
    else:
        prod = 0.0
        for i in range(n):
            p = _logistic(a[i], c[i], o[i])
            out[i] = p
            prod += p
        pr = 1.0 - _logistic(prod, cp, op)
        for i in range(n):
            out[i] *= pr


@numba.njit(cache=True)
def _market_rewards_batch(code, xi, c, o, cp, op, actions, out):
    """Rewards for a batch ``actions`` of shape (k, n) into ``out`` (k, n).

    Returns -1, or the first row whose simple-market denominator ``|sum_j a_j| ** xi`` is zero
    (computed exactly as :func:`_market_rewards_row` does; ``out`` is then not filled).
    """
    if code == 0:
        for k in range(actions.shape[0]):
            s = 0.0
            for i in range(actions.shape[1]):
                s += actions[k, i]
            if np.abs(s) ** xi == 0.0:
                return k
    for k in range(actions.shape[0]):
        _market_rewards_row(code, xi, c, o, cp, op, actions[k], out[k])
    return -1


def rewards(market: Market, actions) -> np.ndarray:
    """Rewards ``r_i(a)`` for a batch of joint actions (Eq. 3 or Eq. 6).

    Parameters
    ----------
    market : Market
    actions : array_like of shape (..., n_agents)
        Joint actions (not clipped here; clip to ``[ACTION_MIN, ACTION_MAX]`` yourself).

    Returns
    -------
    ndarray of shape (..., n_agents)

    Raises
    ------
    ValueError
        In the simple market, for a joint action with ``sum_j a_j = 0`` (Eq. 3 is ``0 / 0`` there;
        see the module docstring).

    Examples
    --------
    >>> m = simple_market(2, 2.0)
    >>> rewards(m, [1.0, 3.0]).tolist()   # a_i / 4**2
    [0.0625, 0.1875]
    """
    a = np.asarray(actions, dtype=np.float64)
    if a.ndim == 0 or a.shape[-1] != market.n_agents:
        raise ValueError(f"actions must have last dimension n_agents={market.n_agents}; got shape {a.shape}")
    flat = np.ascontiguousarray(a.reshape(-1, market.n_agents))
    out = np.empty_like(flat)
    bad = _market_rewards_batch(*market.kernel_args(), flat, out)
    if bad >= 0:
        where = np.unravel_index(bad, a.shape[:-1]) if a.ndim > 1 else ()
        raise ValueError(
            f"actions must have a nonzero total production in the simple market: r_i = a_i / |sum_j a_j| ** xi "
            f"is undefined when sum_j a_j = 0 (|sum_j a_j| ** xi is 0 in row {bad}"
            f"{', index ' + str(tuple(int(i) for i in where)) if a.ndim > 2 else ''}: {flat[bad].tolist()}); "
            f"the paper's actions lie in [{ACTION_MIN}, {ACTION_MAX}]")
    return out.reshape(a.shape)


def production(market: Market, actions) -> np.ndarray:
    """Per-agent production ``p_i(a_i)`` of Eq. 4 (logistic market only); shape like ``actions``."""
    if market.kind != "logistic":
        raise ValueError("production is defined for the logistic market only")
    a = np.asarray(actions, dtype=np.float64)
    return 1.0 / (1.0 + np.exp(-market.c * (a - market.o)))


def price(market: Market, prod) -> np.ndarray:
    """Price per unit as a function of global production (Eq. 5; logistic market only)."""
    if market.kind != "logistic":
        raise ValueError("price is defined for the logistic market only")
    prod = np.asarray(prod, dtype=np.float64)
    return 1.0 - 1.0 / (1.0 + np.exp(-market.c_price * (prod - market.o_price)))
