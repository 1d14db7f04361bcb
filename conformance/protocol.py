"""The adapter protocol: what an implementation offers the suite.

Version 1. An implementation is driven through *operations* (the cgroupfs
face and the kernel face). Each operation runs as a thread of steps:

``start(op, args) -> thread id``
    begin an operation; nothing runs yet.
``step(thread) -> dict``
    run to the next preemption point and report one of
    ``{"action": name, "args": {...}, "ret": int}`` (a model action completed),
    ``{"blocked": lock}`` (waiting; step again later) or
    ``{"done": true, "result": value}`` (the operation returned ``result``:
    ``0``, a page handle ``>= 0`` for allocations, or ``-errno``).
``read(path, file) -> str | int``
    a cgroupfs read: the text, or ``-errno``; reads change nothing.
``snapshot() -> dict``
    the abstract state (alpha), keyed by memcg path and task name; see
    :func:`kmemcg.model.state.to_json` for the shape (memcg keys are paths here).

Operations and their arguments (memcg paths are absolute: ``/``, ``/A``, ``/A/B``):

==============  ===========================================================
``mkdir``        ``path``
``rmdir``        ``path``
``write``        ``path``, ``file``, ``text``
``attach``       ``task``, ``path``
``alloc_kmem``   ``task``, ``gfp`` (list of flag names), ``in_interrupt``, ``fail``
``free_kmem``    ``task``, ``page``
``alloc_user``   ``task``
``free_user``    ``page``
``set_task``     ``task``, ``kthread``, ``fatal_signal``, ``has_mm`` (booleans)
==============  ===========================================================

Step arguments name memcgs by path, tasks by name, the counter of a reset as
``"res"`` or ``"kmem"``, written limits in bytes, and a bypass's ``flags`` as
an integer (0 only when nothing in the context asks for a bypass).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

VERSION = 1

OPERATIONS: dict[str, tuple[str, ...]] = {
    "mkdir": ("path",),
    "rmdir": ("path",),
    "write": ("path", "file", "text"),
    "attach": ("task", "path"),
    "alloc_kmem": ("task", "gfp", "in_interrupt", "fail"),
    "free_kmem": ("task", "page"),
    "alloc_user": ("task",),
    "free_user": ("page",),
    "set_task": ("task", "kthread", "fatal_signal", "has_mm"),
}

#: the arguments an operation may leave out (their defaults: see the adapters)
OPTIONAL_ARGS = frozenset({"gfp", "in_interrupt", "fail", "kthread", "fatal_signal", "has_mm"})

#: gfp flag names an allocation may carry.
GFP_FLAGS = ("GFP_KERNEL", "__GFP_KMEMCG", "__GFP_NOFAIL")


class ProtocolError(Exception):
    """The implementation broke the protocol: raised, hung, or answered nonsense."""


class ImplementationTimeout(ProtocolError):
    """A call into the implementation did not return in time: it hangs or loops."""


class SetupError(ProtocolError):
    """The implementation cannot be set up at all (a bad ``MOD:FACTORY``, a factory
    that raises or returns something without the faces, a command that cannot
    start): the user's to fix, not a verdict about the implementation."""


@runtime_checkable
class Implementation(Protocol):
    def start(self, op: str, args: dict) -> int: ...

    def step(self, thread: int) -> dict: ...

    def read(self, path: str, file: str) -> str | int: ...

    def snapshot(self) -> dict: ...

    def close(self) -> None: ...
