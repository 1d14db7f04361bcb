"""What a sequential implementation can show, counted from the model alone."""

from dataclasses import replace

from kmemcg.model.config import Config
from kmemcg.model.scopes import PRESETS
from kmemcg.model.serial import restricted, under_way

#: page-cache cut down to a page's charge, its free, the task's life and a U
#: write: a kernel page outlives the task, a spawn then fails at U and raises
#: the max usage, and the page's free (by the kernel, no task being left)
#: reaches a state no other order of the operations does
OUTLIVED = replace(PRESETS["page-cache"], name="outlived", max_pages=1,
                   actions=("charge.kmem", "charge.res", "charge.commit", "free.uncharge",
                            "exit", "spawn", "put_task_struct", "attach", "limit.write"))


def between_operations(cfg: Config) -> int:
    """The model's serial states where no kernel path is under way: those an
    implementation of whole operations is judged on by ``kmemcg interleave``."""
    return sum(1 for s in restricted(cfg, graph=False).states if not under_way(cfg, s))


def shows_every_serial_state(cfg: Config, output: str) -> bool:
    """Whether ``kmemcg interleave``'s ``output`` says the implementation of whole
    operations reached the model's serial states between operations, and no
    other: all the model's (``equal``), or its serial runs' (``coarser-grained``)."""
    n = between_operations(cfg)
    return (f"{n} abstract states between whole operations, model {n}: equal" in output
            or f"restricted to the runs it allows has {n} states between operations: equal"
            in output)
