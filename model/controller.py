"""The one model of the whole kmem controller.

``MODEL`` is built from every concern's actions and invariants at once
(model/actions/, model/invariants/); importing it yields the whole model.
Configurations (model/scopes.py) scope it the way TLA+ CONSTANTS do.
"""

from __future__ import annotations

from kmemcg.model import state
from kmemcg.model.actions import ACTIONS
from kmemcg.model.core import Model
from kmemcg.model.invariants import INVARIANTS, LIVENESS
from kmemcg.model.symmetry import root_symmetry

MODEL = Model.build(
    initial=state.initial,
    in_constraint=state.in_constraint,
    to_json=state.to_json,
    actions=ACTIONS,
    invariants=INVARIANTS,
    liveness=LIVENESS,
    symmetry=root_symmetry,
)
