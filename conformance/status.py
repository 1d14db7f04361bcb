"""The exit statuses of ``kmemcg``: one meaning each, so that CI and scripts can
tell a bug found from a run that could not reach a verdict (as TLC's do)."""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    """What a ``kmemcg`` command's exit status means."""

    OK = 0
    """Everything checked holds, or the implementation conforms."""
    VIOLATION = 1
    """A violation, a counterexample, or a nonconformance (a hang, a crash or garbage included)."""
    USAGE = 2
    """A bad flag, file, configuration or factory, or an unwritable output path."""
    INCOMPLETE = 3
    """A bound or a time limit stopped the run before a verdict."""
    TOOL = 4
    """An outside tool (TLC, java) is missing or failed."""
    INTERNAL = 5
    """A bug in kmemcg itself (set KMEMCG_DEBUG=1 for the traceback)."""
    BROKEN_PIPE = 141
    """The output's reader went away (``kmemcg ... | head``), as a shell reports SIGPIPE."""
    INTERRUPTED = 130
    """Ctrl-C, after the partial statistics were printed."""
