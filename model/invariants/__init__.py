"""The model's invariants, one module per concern: each with an id, a one-line meaning and its source.

State invariants are predicates on one state; step properties relate a state
to its successor (TLA+'s ``[][P]_vars``); structural ones (``kind="type"``) are
the facts induction needs beside the properties users care about. The order
here is the order the explorer reports a violated state's invariants in. A new
invariant goes into the module of its concern.
"""

from kmemcg.model.invariants import caches, counters, death, steps, structure

INVARIANTS = (*counters.INVARIANTS, *structure.INVARIANTS, *steps.INVARIANTS,
              *caches.INVARIANTS, *death.INVARIANTS)
LIVENESS = (*caches.LIVENESS, *death.LIVENESS)
FAIR_ACTIONS = tuple(dict.fromkeys((*caches.FAIR_ACTIONS, *death.FAIR_ACTIONS)))
