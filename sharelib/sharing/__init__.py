"""The papers' sharing mechanisms and their baselines, one module per paper.

- :mod:`sharelib.sharing.ce_dos`: utility sharing with distributed cross-entropy (Belzner et al. 2018).
- :mod:`sharelib.sharing.d3c`: loss mixing that reduces the price of anarchy (Gemp et al.).
- :mod:`sharelib.sharing.ltos`: learning to share rewards on a graph (LToS, Yi et al. 2022);
  :mod:`sharelib.sharing.ltos_corridor` its prisoner-corridor experiment,
  :mod:`sharelib.sharing.ltos_jungle` its jungle experiments, :mod:`sharelib.sharing.ltos_traffic` its
  traffic experiment (SUMO), :mod:`sharelib.sharing.ltos_ppo` its sharing on a PPO low level (the comparison).
- :mod:`sharelib.sharing.anticipation`: anticipation sharing (AS, "Learning to Cooperate under Private Rewards").
"""
