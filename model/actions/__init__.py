"""The model's actions, one module per concern, each a guard and an effect per kernel step.

Every action is named after the kernel step it models and takes concrete
parameters (task, memcg, root and cache indices, written values); everything
that depends on the state goes through the dual-mode helpers (model/dual.py),
so the same definition drives the explorer, the oracle and the Z3 prover.
``effect`` returns ``(post, ret)``: ``ret`` is 0 when the step succeeds (or the
path goes on) and ``-errno`` when the operation ends with an error; a step that
ends an operation with an error may leave the state unchanged.

A new kernel path goes into the module of its concern, or a new module listed
here; the order is the order the explorer tries them in.
"""

from kmemcg.model.actions import (
    cgroup,
    charge,
    death,
    move_charge,
    offline,
    root_create,
    root_destroy,
    shrinker,
    slab,
    stock,
    tasks,
    user_memory,
    workers,
)

ACTIONS = (*charge.ACTIONS, *cgroup.ACTIONS, *slab.ACTIONS, *tasks.ACTIONS,
           *workers.ACTIONS, *offline.ACTIONS, *shrinker.ACTIONS, *root_destroy.ACTIONS,
           *root_create.ACTIONS,
           *death.ACTIONS, *user_memory.ACTIONS, *stock.ACTIONS,
           *move_charge.ACTIONS)
