"""What a sequential implementation can show, counted from the model alone."""

from kmemcg.model.config import Config
from kmemcg.model.serial import restricted, under_way


def between_operations(cfg: Config) -> int:
    """The model's serial states where no kernel path is under way: those an
    implementation of whole operations is judged on by ``kmemcg interleave``."""
    return sum(1 for s in restricted(cfg, graph=False).states if not under_way(cfg, s))
