"""Coverage of the model: the outcomes a run exercised, those the model reaches,
and a scenario that reaches each.

An *outcome* is a string in one vocabulary, shared by every machine:

- ``charge.kmem = -ENOMEM``: a model action with one of its results (errno included);
- ``kmem_limit.write = -EBUSY [below usage]``: a branch of the action's guard or
  effect, named where it is cheap to name (why a write was refused, whether a
  charge propagated, whether a reset had something to reset);
- ``face: write memory.kmem.limit_in_bytes [minus-one-junk] = -EINVAL``: a branch of
  the cgroupfs face (the parse of a write, a file without a handler), and
  ``face: charge.bypass [in_interrupt]``, why an allocation bypassed accounting;
- ``fix kmem_rollback: charge.res``: a profile's bug site, the step where the fix
  makes a difference (the model without the fix takes another step, or none);
  ``fix offline_excludes_root_destroy: rmdir held off`` where the fix is a guard
  that keeps a step from being taken;
- ``window W5 root destroy vs offline``: a race window of the domain
  (kernel-semantics.md section 13), a pattern over one checked step and the state
  it starts in. :data:`WINDOWS` says which are modelled; :data:`UNMODELLED` lists
  the others.

A :class:`Coverage` is handed to the harness and the interleaver, which call
:meth:`Coverage.step` for every checked step (and the harness :meth:`Coverage.face`
for every operation it decides). What the model reaches comes from the model
itself: :func:`reachable` searches the scope breadth first, whole operations on
the model's actions (the sequential machine's moves, each operation's steps the
model's), and keeps for each outcome the shortest operation list that reaches
it; :func:`scenarios` are those lists, which the sequential machine replays
(``kmemcg conform --cover``). For the race scopes, whose interleavings the model
explorer enumerates, :func:`reachable_steps` gives the step outcomes of every
explored state (of the first states, on a scope too large to explore whole).
"""

from __future__ import annotations

import fcntl
import hashlib
import inspect
import json
import os
import re
import time
from collections import Counter, deque
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from errno import EBUSY, EINVAL, errorcode
from functools import cache, lru_cache
from pathlib import Path

import kmemcg.impl as impl_package
import kmemcg.model as model_package
from kmemcg.conformance import guided, machine, settle
from kmemcg.conformance import race as race_machine
from kmemcg.conformance.alone import minimal_work_name, model_operation, user_faults
from kmemcg.conformance.harness import BYPASS_CONTEXT, memcg_paths
from kmemcg.model import cgroupfs, slab_common
from kmemcg.model import explore as explorer
from kmemcg.model.background import Background
from kmemcg.model.config import NONE, PAGE_SIZE, ROOT, UNLIMITED, Config
from kmemcg.model.controller import MODEL
from kmemcg.model.facts import (
    has_children,
    immigrate_in_scope,
    kmem_accounted,
    moves_anon,
    owner_memcg,
    owns_mm,
    reaches,
    tasks_in,
)
from kmemcg.model.profiles import FIXES
from kmemcg.model.serial import serial as serial_step
from kmemcg.model.state import ADMIN_IDLE, CSS_READ_USAGE, OFFLINE, ONLINE, State
from kmemcg.model.state import Counter as ResCounter

# ---------------------------------------------------------------- vocabulary


def ret_text(ret) -> str:
    """A step's or an operation's result as an outcome names it: 0, -EBUSY, ..."""
    if isinstance(ret, int) and ret < 0:
        return f"-{errorcode.get(-ret, str(-ret))}"
    return "0" if ret == 0 else "ok"


def _flat(cfg: Config, s: State, m: int) -> str:
    """Whether a charge at ``m`` propagates: the root, a level of a hierarchy, or flat."""
    if m == ROOT:
        return "root"
    return "hierarchical" if s.hier[m] else "flat"


def _refused(cfg, s, m) -> str:
    return "tasks" if tasks_in(cfg, s, m) > 0 else "children"


def _branch(cfg: Config, s: State, action: str, a: tuple, ret: int) -> str | None:
    """The guard or effect branch a step took, where it is cheap to name."""
    if action in ("charge.kmem", "charge.res", "user.charge"):
        return _flat(cfg, s, a[1])
    if action == "free.uncharge":
        return _flat(cfg, s, a[0])
    if action == "kmem_limit.write":
        m, v = a
        if m == ROOT:
            return None
        if s.kmem_active[m]:
            return "below usage" if ret else "set"
        if v == UNLIMITED:
            return "unlimited, inactive"
        return f"activation refused: {_refused(cfg, s, m)}" if ret else "activates"
    if action == "limit.write":
        return "below usage" if ret == -EBUSY else None
    if action == "use_hierarchy.write":
        m, v = a
        if ret == -EINVAL:
            p = cfg.parents[m]
            return "parent hierarchical" if p != NONE and s.use_hierarchy[p] else "bad value"
        if ret == -EBUSY:
            return "children"
        return "unchanged" if s.use_hierarchy[m] == (v == 1) else "changed"
    if action in ("rmdir", "force_empty"):
        m = a[0]
        if ret == -EBUSY:
            return "tasks" if tasks_in(cfg, s, m) > 0 else "children"
        return "user pages moved" if s.user_pages[m] else "no user pages"
    if action == "max_usage.reset":
        m, c = a
        return "usage > 0" if (s.res, s.kmem)[c][m].usage else "usage 0"
    if action == "failcnt.reset":
        m, c = a
        return "failcnt > 0" if (s.res, s.kmem)[c][m].failcnt else "failcnt 0"
    if action == "mkdir":
        p = cfg.parents[a[0]]
        return "inherits kmem" if s.use_hierarchy[p] and s.kmem_active[p] else None
    return None


#: the charges that walk a hierarchy of counters (each level charged in turn)
_CHARGES = frozenset({"charge.kmem", "charge.res", "user.charge", "anon.charge",
                      "pagecache.charge"})
#: the res charges that reclaim page cache at U (__mem_cgroup_try_charge without
#: __GFP_NORETRY, model/actions/reclaim.py), and the res limit write that
#: reclaims before it gives -EBUSY (mem_cgroup_resize_limit)
_RECLAIMING = frozenset({"charge.res", "anon.charge", "pagecache.charge", "limit.write"})


def _detail(cfg: Config, s: State, action: str, a: tuple, ret: int) -> list[str]:
    """Branches beside :func:`_branch`'s: the order of a page charge or uncharge
    (PAGE_SIZE << order bytes), and the kernel pages a reparenting leaves behind."""
    out = []
    if action == "charge.kmem" or action == "free.uncharge":
        order = a[2] if action == "charge.kmem" else a[1]
        out += [f"order {order}"] if len(cfg.orders) > 1 else []
    if action in ("rmdir", "force_empty"):
        m = a[0]
        if s.kmem_pages[m]:
            out.append("kmem pages stay")
        if s.page_cache[m] and ret == 0:
            out.append("page cache")
        if s.user_pages[m] and s.hier[m] and cfg.parents[m] != ROOT and ret == 0:
            out.append("to a hierarchical parent")  # not to the root
    if action == "charge.kmem" and ret and any(
            s.page_cache[d] and reaches(cfg, s, d, a[1]) for d in range(cfg.n_memcgs)):
        # a kmem charge over K reclaims nothing, not even the page cache its own
        # subtree holds (which a charge over U would reclaim)
        out.append("page cache stays")
    if action == "mkdir":
        p = cfg.parents[a[0]]
        if s.kmem_active[p] and not s.use_hierarchy[p]:
            out.append("under an accounting parent, flat")  # inherits nothing
    if action == "attach" and s.task_memcg[a[0]] not in (NONE, ROOT, a[1]) \
            and a[1] != ROOT and s.kmem_pages[s.task_memcg[a[0]]]:
        out.append("kmem charged where it was")  # it stays there: a group to a group
    if action == "attach":
        out += _immigration(cfg, s, *a)
    return out


def _immigration(cfg: Config, s: State, t: int, m: int) -> list[str]:
    """What an attach with move_charge_at_immigrate precharges and moves: the
    mm's anonymous pages in the old group (mem_cgroup_precharge_mc), and
    whether there are several (the all-at-once try before one by one)."""
    k, frm = s.task_mm[t], s.task_memcg[t]
    if not (immigrate_in_scope(cfg) and k != NONE and frm not in (NONE, m)
            and moves_anon(s, m) and owns_mm(cfg, s, t)):
        return []
    n = s.mm_anon[k][frm]
    return ["moves anonymous pages"] + (["moves several anonymous pages"] if n > 1 else []) \
        if n else []


def _ancestor_refused(cfg: Config, s: State, action: str, a: tuple) -> bool:
    """A charge refused above the memcg it charges: its own counter had room, a
    hierarchical ancestor's had not (so the levels below were charged, then
    given back)."""
    t, m = a[0], a[1]
    counter = s.kmem if action == "charge.kmem" else s.res
    order = a[2] if action == "charge.kmem" else s.task_order[t] if action == "charge.res" else 0
    return s.hier[m] and counter[m].usage + (PAGE_SIZE << order) <= counter[m].limit


#: the steps that uncharge kernel memory (memcg_uncharge_kmem's callers)
_UNCHARGES = frozenset({"free.uncharge", "put_task_struct", "free.release_pages",
                        "shrink.release"})

#: the race windows of kernel-semantics.md section 13 the model has, each a
#: pattern over a checked step (action, its arguments) and the state it starts in
WINDOWS = {
    "W3 double destroy": lambda cfg, s, action, a: (
        action in ("free.release_pages", "shrink.release") and s.dead[a[0]]
        and s.work[a[0]] != 0),
    "W4 shrink frees last page": lambda cfg, s, action, a: (
        action.startswith("destroy_work.") and s.shrinking == a[0]),
    "W5 root destroy vs offline": lambda cfg, s, action, a: (
        s.rdestroy_root != NONE and s.offline_memcg != NONE),
    "W9 list/slot order": lambda cfg, s, action, a: (
        action.startswith("offline.") and any(s.half_created)),
    "W10 activation vs child creation": lambda cfg, s, action, a: (
        action == "kmem_limit.write" and a[0] != ROOT and not s.kmem_active[a[0]]
        and a[1] != UNLIMITED and has_children(cfg, s, a[0])),
    "W11 activation vs static-key patching": lambda cfg, s, action, a: (
        action in ("charge.kmem", "charge.bypass", "alloc") and s.admin_pc != ADMIN_IDLE),
    "W12 creation work vs offline": lambda cfg, s, action, a: (
        action.startswith("create_work.") and s.offline_memcg != NONE),
    # memcg death (model/actions/death.py): an uncharge while a memcg's css_free
    # has marked it DEAD but not yet read its kmem usage (W1's middle order)
    "W1 last uncharge vs death": lambda cfg, s, action, a: (
        action in _UNCHARGES and any(
            pc == CSS_READ_USAGE and s.kmem[m].usage for m, pc in enumerate(s.destroy_pc))),
    # an uncharge while a DEAD hierarchical parent is still charged: only its
    # child's uncharges can bring it to 0 (W2, the leak uncharge_tests_dead_ancestors fixes)
    "W2 hierarchical parent": lambda cfg, s, action, a: (
        action in _UNCHARGES and any(
            s.hier[m] and cfg.parents[m] not in (NONE, ROOT) and s.kmem_dead[cfg.parents[m]]
            and s.kmem[cfg.parents[m]].usage for m in range(1, cfg.n_memcgs))),
}

#: the windows the model does not have yet, and why
UNMODELLED = {
    "W6 root destroy vs running worker": "the worker's kmem_cache_destroy is one step",
    "W7 create vs relocate": "memcg_caches array relocation is not modelled",
    "W8 reader vs relocate": "memcg_caches array relocation is not modelled",
}


class _Asking:
    """The configuration, noting each fix the model asks it about; with
    ``without``, a configuration that lacks that one fix: the kernel the fix's
    profile would be where only this fix is taken away."""

    def __init__(self, cfg: Config, without: str | None = None):
        self._cfg, self._without, self.asked = cfg, without, set()

    def has_fix(self, fix: str) -> bool:
        self.asked.add(fix)
        return fix != self._without and self._cfg.has_fix(fix)

    def __getattr__(self, name):
        value = getattr(self._cfg, name)
        self.__dict__[name] = value  # asked again and again in the searches' hot loops
        return value


_HAS_FIX = re.compile(r"has_fix\(\"([a-z_]+)\"\)")


@cache
def _module_fixes(module) -> frozenset[str]:
    """The fixes an action module's code tests, with those of the action modules it
    calls into (charge.kmem charges through kmem.py's kmem_level_charge)."""
    names = set(_HAS_FIX.findall(inspect.getsource(module)))
    for v in vars(module).values():
        home = inspect.getmodule(v)
        if home is not None and home is not module and \
                home.__name__.startswith("kmemcg.model.actions."):
            names |= set(_HAS_FIX.findall(inspect.getsource(home)))
    return frozenset(names)


@cache
def _fixes_of(action: str) -> tuple[str, ...]:
    """The fixes whose code an action's guard or effect may run."""
    a = MODEL.actions[action]
    return tuple(sorted(_module_fixes(inspect.getmodule(a.guard))
                        | _module_fixes(inspect.getmodule(a.effect))))


@cache
def _unfixed(cfg: Config) -> dict:
    return {f: _Asking(cfg, without=f) for f in FIXES if cfg.has_fix(f)}


@cache
def _asking(cfg: Config) -> _Asking:
    return _Asking(cfg)


def bug_sites(cfg: Config, s: State, action: str, a: tuple, ret: int, post: State) -> list[str]:
    """The fixes this step exercises: without the fix, the model takes another
    step here (another result or state), or none. Only a fix the step's guard
    or effect asks about can change it (until it is asked, the run without the
    fix is the same run), so the step is taken once more to see which are asked."""
    unfixed, act = _unfixed(cfg), MODEL.actions[action]
    if not any(f in unfixed for f in _fixes_of(action)):
        return []
    asking = _asking(cfg)
    asking.asked = set()
    act.guard(asking, s, *a)
    act.effect(asking, s, *a)
    out = []
    for fix in sorted(asking.asked & unfixed.keys()):
        other = unfixed[fix]
        if not act.guard(other, s, *a) or act.effect(other, s, *a) != (post, ret):
            out.append(f"fix {fix}: {action}")
    return out


@cache
def _guard_fixes(action: str) -> tuple[str, ...]:
    """The fixes an action's guard tests in its own code."""
    return tuple(sorted(set(_HAS_FIX.findall(inspect.getsource(MODEL.actions[action].guard)))))


@cache
def _guarded_steps(cfg: Config) -> tuple:
    """The (action, args) whose guard a fix the configuration has may change."""
    out = []
    for name, args, guard, _ in explorer.enabled_steps(cfg):
        fixes = [f for f in _guard_fixes(name) if f in _unfixed(cfg)]
        if fixes:
            out.append((name, args, guard, tuple(fixes)))
    return tuple(out)


@lru_cache(maxsize=1 << 16)
def held_off(cfg: Config, s: State) -> tuple[str, ...]:
    """The fixes that keep a step from being taken in ``s``: its guard holds
    without the fix, not with it."""
    out, unfixed = [], _unfixed(cfg)
    for name, args, guard, fixes in _guarded_steps(cfg):
        if guard(cfg, s, *args):
            continue
        act = MODEL.actions[name]
        out += [f"fix {f}: {name} held off" for f in fixes if act.guard(unfixed[f], s, *args)]
    return tuple(out)


def step_outcomes(cfg: Config, s: State, action: str, a: tuple, ret: int,
                  post: State) -> list[str]:
    """Every outcome one checked step (s, action(a) = ret, post) exercises."""
    return list(_step_outcomes(cfg, s, action, a, ret, post))


# the search meets each step about twice (from the exact states, then again from
# the shapes), and the bug sites' unfixed guards and effects are its dearest part
@lru_cache(maxsize=1 << 18)
def _step_outcomes(cfg: Config, s: State, action: str, a: tuple, ret: int,
                   post: State) -> tuple[str, ...]:
    head = f"{action} = {ret_text(ret)}"
    out = [head]
    branch = _branch(cfg, s, action, a, ret)
    if branch:
        out.append(f"{head} [{branch}]")
    out += [f"{head} [{b}]" for b in _detail(cfg, s, action, a, ret)]
    if action in _CHARGES and ret and _ancestor_refused(cfg, s, action, a):
        out.append(f"{head} [an ancestor at its limit]")
    # a page cache charge adds the page it charged: reclaim shows only net of it
    added = 1 if action == "pagecache.charge" and ret == 0 else 0
    if action in _RECLAIMING and sum(post.page_cache) < sum(s.page_cache) + added:
        out.append(f"{head} [reclaimed]")  # the charge met U and freed page cache
        m = a[0] if action == "limit.write" else a[1]  # the memcg written, or charged
        if any(post.page_cache[d] < s.page_cache[d] for d in range(cfg.n_memcgs) if d != m):
            out.append(f"{head} [reclaimed from another memcg]")  # a subtree's reclaim
    elif action == "limit.write" and ret == -EBUSY:
        out.append(f"{head} [unreclaimable]")  # nothing the write could reclaim
    out += bug_sites(cfg, s, action, a, ret, post)
    out += [f"window {w}" for w, hit in WINDOWS.items() if hit(cfg, s, action, a)]
    return tuple(out)


# ---------------------------------------------------------------- the face

_SPACE = " \t\n\v\f\r\xa0"


def limit_text_class(text: str) -> str:
    """The branch of res_counter_memparse_write_strategy a limit text takes."""
    if len(text) >= 63:  # cgroup_write_string's max_write_len: 63 bytes is the first refused
        return "63 bytes" if len(text) == 63 else "too long"
    t = text.strip(_SPACE)
    if t.startswith("-"):
        if re.fullmatch(r"-[0-9]*", t):  # simple_strtoull wraps modulo 2^64
            n = int(t[1:] or "0")
            return ("minus-one" if n == 1 else "minus-one wrapped") if n % (1 << 64) == 1 \
                else "minus-number"
        return "minus-one-junk" if re.match(r"-0*1", t) else "minus-junk"
    value = cgroupfs.parse_limit(t)
    if value is None:
        return "junk"
    if t[-1:].lower() in "kmg":
        return "suffix"
    if t.lower().startswith("0x"):
        return "hex"
    if t.startswith("0") and len(t) > 1:
        return "octal"
    return "unaligned" if value % PAGE_SIZE or int(t or "0") % PAGE_SIZE else "decimal"


def write_outcome(cfg: Config, s: State, m: int, file: str, text: str, error: int) -> str:
    """A write's branch of the face: the file's kind, the text's class, its errno."""
    counter = cgroupfs.COUNTER_FILES.get(file)
    res = f" = -{errorcode[error]}" if error else ""
    if counter is not None and counter[1] == "limit":
        cls = "root" if m == ROOT and not error == 0 else limit_text_class(text)
        return f"face: write {file} [{cls}]{res}"
    if counter is not None and counter[1] in ("max_usage", "failcnt"):
        value = getattr(getattr(s, counter[0])[m], counter[1])
        usage = getattr(s, counter[0])[m].usage
        moves = value != (usage if counter[1] == "max_usage" else 0)
        return (f"face: write {file} [text {'0' if text.strip() == '0' else 'other'}, "
                f"{'something to reset' if moves else 'nothing to reset'}]{res}")
    if file == "memory.use_hierarchy":
        cls = "too long" if len(text) >= 64 else "empty" if not text else ("number" if cgroupfs.parse_u64(
            text.strip(_SPACE)) is not None else "junk")
        return f"face: write {file} [{cls}]{res}"
    return f"face: write {file if file in cgroupfs.FILES or file in cgroupfs.WRITE_ONLY else '(no such file)'}{res}"


def operation_outcomes(cfg: Config, s: State, op: str, args: dict, paths, pure,
                       page_memcg=None) -> list[str]:
    """The face outcomes of an operation decided in ``s``: ``pure`` is the errno it
    must return with no step (None: it takes steps); ``page_memcg``, the memcg the
    page a free names is charged to (None: not charged, or no page)."""
    if op == "free_kmem" and page_memcg is not None and pure is None:
        t = args.get("task")
        how = "by the kernel" if t is None else \
            "by a task in another memcg" if s.task_memcg[cfg.task_index(t)] != page_memcg else \
            "in place"
        return [f"face: free_kmem [{how}]"]
    if op == "write" and s.lifecycle[paths.index(args["path"])] == ONLINE:
        m = paths.index(args["path"])
        return [write_outcome(cfg, s, m, args["file"], args["text"], -(pure or 0))]
    if op == "kmem_cache_create" and pure is not None:  # why kmem_cache_create refused it
        why = slab_common.refusal(cfg, s, args.get("name"), args["size"],
                                  args["objs_per_slab"], args.get("order", 0))
        return [f"face: kmem_cache_create [{why}] = {ret_text(pure)}"]
    return [] if pure is None or op == "set_task" else [f"face: {op} = {ret_text(pure)}"]


def bypass_outcomes(reasons, s: State, m: int) -> list[str]:
    """Why an allocation bypassed accounting, and for a context the kernel never
    charges, whether the memcg would have been charged otherwise: only there does
    a wrong context check show (elsewhere the memcg itself bypasses)."""
    out = [f"face: charge.bypass [{r}]" for r in (reasons or ["not accounted"])]
    if reasons and kmem_accounted(s, m):
        out += [f"face: charge.bypass [{r}, accounting memcg]" for r in reasons]
    return out


def fatal_signal_outcomes(cfg: Config, s: State, op: str, t: int) -> list[str]:
    """A user page of task ``t`` with a fatal signal pending, which goes to the
    root (__mem_cgroup_try_charge's bypass): named where the mm owner's group is
    not the root, the only place a charge to the group would differ."""
    return [f"face: {op} [fatal_signal]"] if owner_memcg(cfg, s, t) != ROOT else []


@dataclass
class Coverage:
    """The outcomes a run exercised (with how often), against those reachable."""

    cfg: Config
    seen: Counter = field(default_factory=Counter)
    #: the outcomes the model reaches in this scope, or None: unknown
    reachable: frozenset | None = None
    #: whether ``reachable`` is every outcome of the scope (False: a bounded search's)
    complete: bool = False
    #: reachable outcomes the model shows only where a path is split by another:
    #: out of reach of an implementation of whole operations (:func:`serial_outcomes`)
    split_only: frozenset = frozenset()
    _states: set = field(default_factory=set)

    def step(self, s: State, action: str, a: tuple, ret: int, post: State) -> None:
        """A checked step, and (once per state) the fixes holding steps off in it."""
        self.seen.update(step_outcomes(self.cfg, s, action, a, ret, post))
        if s not in self._states:
            self._states.add(s)
            self.seen.update(held_off(self.cfg, s))

    def face(self, s: State, op: str, args: dict, paths, pure, page_memcg=None) -> None:
        self.seen.update(operation_outcomes(self.cfg, s, op, args, paths, pure, page_memcg))

    def bypass(self, reasons, s: State, m: int) -> None:
        """An allocation in memcg ``m`` (in ``s``) that bypassed accounting, and why."""
        self.seen.update(bypass_outcomes(reasons, s, m))

    def fatal_signal(self, s: State, op: str, t: int) -> None:
        """A user page charged (in ``s``) by task ``t`` with a fatal signal pending."""
        self.seen.update(fatal_signal_outcomes(self.cfg, s, op, t))

    def add(self, outcomes) -> None:
        self.seen.update(outcomes)

    def of_whole_operations(self) -> None:
        """The implementation runs whole operations: the outcomes only a split
        path reaches are out of its reach, and reported apart."""
        self.split_only = (self.reachable or frozenset()) - serial_outcomes(self.cfg)

    @property
    def uncovered(self) -> list[str]:
        return sorted((self.reachable or frozenset()) - set(self.seen))

    def summary(self) -> str:
        """One line: covered of reachable, or what was seen where that is unknown."""
        seen = set(self.seen)
        if self.reachable is None:
            return f"coverage: {len(seen)} outcomes seen; reachable: unknown"
        got = len(seen & self.reachable)
        bound = "" if self.complete else " (at least: the search was bounded)"
        extra = len(seen - self.reachable)
        more = f", {extra} more outside the search" if extra else ""
        return (f"coverage: {got}/{len(self.reachable)} reachable outcomes{bound}{more}; "
                f"{len(self.reachable) - got} uncovered")

    def lines(self, limit: int = 40) -> list[str]:
        """The summary, what stayed uncovered, and the windows left unmodelled."""
        out = [self.summary()]
        split = [o for o in self.uncovered if o in self.split_only]
        for head, items in (
                ("uncovered", [o for o in self.uncovered if o not in self.split_only]),
                ("uncovered where only a split path goes (the implementation runs whole "
                 "operations)", split),
                ("seen outside the search", self.outside)):
            if items:
                out.append(f"  {head}: " + "; ".join(items[:limit])
                           + (f"; ... {len(items) - limit} more" if len(items) > limit else ""))
        return out

    def exercised(self, limit: int = 30) -> str:
        """The outcomes seen, as one line (a replay's: what its operations exercised)."""
        seen = sorted(self.seen)
        more = f"; ... {len(seen) - limit} more" if len(seen) > limit else ""
        return f"coverage: {len(seen)} outcomes exercised: " + "; ".join(seen[:limit]) + more

    @property
    def outside(self) -> list[str]:
        """Outcomes seen that the model's search did not reach (it was bounded)."""
        return [] if self.reachable is None else sorted(set(self.seen) - self.reachable)


# ---------------------------------------------------------------- the model's reach

#: limit texts the search writes beside the scope's values: one per parse branch
FACE_LIMIT_TEXTS = ("-1", "-1x", "-x", "-18446744073709551617", "-2", "-", "4k", "0x1000", "010000", "4097", " 8192\n", "abc",
                    "9" * 70, "9" * 63, "9" * 62)
_RESET_TEXTS = ("0", "1")
_HIERARCHY_TEXTS = ("0", "1", "2", "x", "")
#: memory.move_charge_at_immigrate: off, anonymous pages, both bits, -EINVAL
_IMMIGRATE_TEXTS = ("0", "1", "3", "4")
#: allocation contexts that must bypass accounting: the operations that set one
#: up, allocate, and undo it
BYPASSES = dict(zip(BYPASS_CONTEXT, (
    ({"gfp": ["GFP_KERNEL"]}, None),
    ({"gfp": ["GFP_KERNEL", "__GFP_KMEMCG", "__GFP_NOFAIL"]}, None),
    ({"in_interrupt": True}, None),
    ({}, "has_mm"),
    ({}, "kthread"),
    ({}, "fatal_signal"),
), strict=True))


def _limit_text(v: int) -> str:
    return "-1" if v == UNLIMITED else str(v)


#: files whose writes move no state a guard reads (a reset, a refusal): the deep
#: search leaves them to the shallow one
_SHALLOW_FILES = frozenset({
    "memory.max_usage_in_bytes", "memory.kmem.max_usage_in_bytes", "memory.failcnt",
    "memory.kmem.failcnt", "memory.usage_in_bytes", "memory.nosuch"})


def _menu(cfg: Config, s: State, paths, pages: tuple, faces: bool, deep: bool = False) -> list:
    """The operations the search tries in ``s``: one scenario list item each, a
    list of (op, args) run in a row (a bypass context is set up and undone).
    The parse branches of a limit text do not depend on the state, so their
    texts are tried (``faces``) only near the start. The ``deep`` menu keeps
    only what moves the state toward a deeper outcome: no reset or refused
    write, no bypassing or aborted allocation (their outcomes lie near the
    start, where the shallow search finds them)."""
    ops = _full_menu(cfg, s, paths, pages, faces and not deep)
    if not deep:
        return ops
    return [item for item in ops if len(item) == 1 and not _shallow(*item[0])]


def _shallow(op: str, args: dict) -> bool:
    if op == "write":
        return args["file"] in _SHALLOW_FILES or (
            args["file"] == "memory.use_hierarchy" and args["text"] not in ("0", "1"))
    return bool(args.get("bypass") or args.get("fail"))


def _full_menu(cfg: Config, s: State, paths, pages: tuple, faces: bool) -> list:
    ops: list = []
    for m, path in enumerate(paths):
        if s.lifecycle[m] != OFFLINE:  # the model never creates a memcg again
            ops.append([("mkdir", {"path": path})])
        ops.append([("rmdir", {"path": path})])
        if s.lifecycle[m] != ONLINE:
            ops += [[("write", {"path": path, "file": "memory.limit_in_bytes", "text": "0"})],
                    [("attach", {"task": cfg.tasks[0], "path": path})]]
            continue
        extra = set(FACE_LIMIT_TEXTS) if faces else set()
        texts = {_limit_text(v) for v in cfg.kmem_limits} | extra
        writes = [("memory.kmem.limit_in_bytes", t) for t in sorted(texts)]
        texts = {_limit_text(v) for v in cfg.res_limits} | extra
        writes += [("memory.limit_in_bytes", t) for t in sorted(texts)]
        writes += [("memory.use_hierarchy", t) for t in _HIERARCHY_TEXTS]
        writes += [(f, t) for f in ("memory.max_usage_in_bytes", "memory.kmem.max_usage_in_bytes",
                                    "memory.failcnt", "memory.kmem.failcnt")
                   for t in _RESET_TEXTS]
        writes += [("memory.force_empty", "0"), ("memory.usage_in_bytes", "0"),
                   ("memory.nosuch", "0")]
        if cfg.actions is None or "move_charge.write" in cfg.actions:
            writes += [("memory.move_charge_at_immigrate", t) for t in _IMMIGRATE_TEXTS]
        ops += [[("write", {"path": path, "file": f, "text": t})] for f, t in writes]
        ops += [[("attach", {"task": t, "path": path})] for t in cfg.tasks]
    for t in cfg.tasks:
        for o in cfg.orders:
            for fail in (False, True):
                ops.append([("alloc_kmem", {"task": t, "fail": fail, "order": o})])
        for why, (extra, flag) in BYPASSES.items():
            alloc = ("alloc_kmem", {"task": t, "fail": False, "order": cfg.orders[0], **extra,
                                    "bypass": why})
            if flag is None:
                ops.append([alloc])
            else:
                on = flag != "has_mm"
                ops.append([("set_task", {"task": t, flag: on}), alloc,
                            ("set_task", {"task": t, flag: not on})])
        ops.append([("alloc_user", {"task": t})])
        if cfg.fatal_signals and owner_memcg(cfg, s, cfg.task_index(t)) != ROOT:
            # a dying task's user pages bypass to the root: set up and undone
            ops += [[("set_task", {"task": t, "fatal_signal": True}),
                     (op, {"task": t, "bypass": "fatal_signal"}),
                     ("set_task", {"task": t, "fatal_signal": False})]
                    for op in ("alloc_user", *user_faults(cfg))]
        # a fault in the root charges nothing and reclaims nothing: only the
        # states it adds, which would crowd others out of the bounded search;
        # but an attach with move_charge_at_immigrate moves them out of the root
        if owner_memcg(cfg, s, cfg.task_index(t)) != ROOT or immigrate_in_scope(cfg):
            ops += [[(op, {"task": t})] for op in user_faults(cfg)]
    for kind, m, order in sorted(set(pages)):
        page = {"kind": kind, "memcg": m, "order": order}
        if kind == "kmem":  # any task may free kernel memory, in its memcg or not, or the kernel
            ops += [[("free_kmem", {**who, "page": page})]
                    for who in (*({"task": t} for t in cfg.tasks), {})]
        else:
            ops.append([("free_user", {"page": page})])
    # a cpu's drain work (drain_local_stock): of a stock caching a memcg, or of none
    ops += [[("drain_stock", {"cpu": c})] for c in range(cfg.cpus)]
    return ops


@dataclass
class Reach:
    """What :func:`reachable` found: each outcome with the shortest scenario (a list
    of operations) that reaches it, and whether the search was complete."""

    scenarios: dict = field(default_factory=dict)
    complete: bool = True
    #: the states the shallow search stored, and the shapes the deep one did
    states: int = 0
    shapes: int = 0
    #: the search's scenario of each state (or shape) it stored, while it runs
    prefix: dict = field(default_factory=dict, repr=False)

    @property
    def outcomes(self) -> frozenset:
        return frozenset(self.scenarios)


def _operation_steps(cfg, s, paths, pages, item):
    """Run a menu item on the model: (the outcomes, the state and pages after),
    or None when it cannot run alone here."""
    out = []
    for op, args in item:
        if op == "set_task":
            continue
        pure, steps, post, pages = model_operation(cfg, s, paths, pages, op, args)
        if steps is None:
            return None
        page = args.get("page")
        charged = page["memcg"] if page and page["memcg"] != NONE else None
        out += operation_outcomes(cfg, s, op, args, paths, pure, charged)
        if args.get("bypass") == "fatal_signal":
            out += fatal_signal_outcomes(cfg, s, op, cfg.task_index(args["task"]))
        if op == "alloc_kmem" and steps and steps[0][1] == "charge.bypass":
            pre, _, a, _, _ = steps[0]
            out += bypass_outcomes([args["bypass"]] if args.get("bypass") else [], pre, a[1])
        for pre, action, a, ret, after in steps:
            out += step_outcomes(cfg, pre, action, a, ret, after)
            out += held_off(cfg, pre)
        s = post
    return out, s, pages


def _model_digest(code: tuple = ()) -> str:
    """A digest of the model's and this module's code, and of the folders or
    files ``code`` names besides: a cached search is stale once any changes."""
    h = hashlib.sha256()
    roots = [Path(model_package.__file__).parent, Path(__file__),
             *(Path(__file__).with_name(f) for f in ("harness.py", "alone.py")), *code]
    for f in sorted(p for r in roots for p in ([r] if r.is_file() else r.rglob("*.py"))):
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def _cache_file(kind: str, cfg: Config, max_states: int, code: tuple = ()) -> Path:
    key = hashlib.sha256(json.dumps([cfg.to_json(), max_states, _model_digest(code)],
                                    sort_keys=True).encode()).hexdigest()[:20]
    home = os.environ.get("KMEMCG_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "kmemcg")
    return Path(home) / f"{kind}-{cfg.name}-{key}.json"


def _disk_cached(kind: str, cfg: Config, max_states: int, compute, decode, code: tuple = ()):
    """``decode(compute())`` (``compute`` gives JSON data), cached on disk (under
    ``$KMEMCG_CACHE``, else ``$XDG_CACHE_HOME/kmemcg``), keyed by the
    configuration, the bound and the model's code. Processes that want the same
    entry at once (pytest's workers) take turns on a lock file, so one computes
    it and the others read it. A cache that cannot be read, decoded, locked or
    written is computed again: it only saves time. ``code``: what else the entry
    depends on (:func:`_model_digest`)."""
    path = _cache_file(kind, cfg, max_states, code)
    with _locked(path.with_suffix(".lock")):
        try:
            return decode(json.loads(path.read_text()))
        except (OSError, ValueError, KeyError, TypeError):
            pass
        data = compute()
        try:
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data))
            tmp.replace(path)
        except OSError:
            pass
    return decode(data)


@contextmanager
def _locked(lock: Path):
    """An exclusive flock on ``lock`` while the block runs; none if it cannot be had."""
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        f = open(lock, "a")
        fcntl.flock(f, fcntl.LOCK_EX)
    except OSError:
        f = None
    try:
        yield
    finally:
        if f is not None:
            f.close()  # closing releases the lock


@cache
def reachable(cfg: Config, max_states: int = 3000) -> Reach:
    """:func:`search`, cached per configuration: in memory, and on disk."""
    def compute():
        reach = search(cfg, max_states)
        return {"scenarios": list(reach.scenarios.items()), "complete": reach.complete,
                "states": reach.states, "shapes": reach.shapes}

    return _disk_cached("reach", cfg, max_states, compute, lambda data: Reach(
        {o: [(op, args) for op, args in ops] for o, ops in data["scenarios"]},
        data["complete"], data["states"], data["shapes"]))


def warm(cfg: Config) -> None:
    """:func:`reachable` computed and stored on disk, for a later call in another
    process (``kmemcg check`` runs it beside its other checks)."""
    reachable(cfg)


def search(cfg: Config, max_states: int = 3000, deep_states: int = 8000) -> Reach:
    """Every outcome the model reaches within the bounds, each with a scenario.

    Two breadth-first searches over whole operations alone (the sequential
    machine's moves). The shallow one tells states apart exactly, so each
    outcome it finds within ``max_states`` states comes with its shortest
    scenario. Where that bound cut it short, the deep one goes on from the
    start over :func:`_shape` (what a guard or an outcome can tell apart) with
    the :func:`_menu`'s deep operations, for ``deep_states`` shapes: outcomes
    six to nine operations in (a reparenting to a hierarchical parent, reclaim
    from an ancestor's other child), which the exact search would need some
    10^5 states to reach.

    The deep search runs beside the exact one, in a process of its own: it is
    needed only where the exact one is cut short, which is known only at its
    end, and it shares nothing with it. An outcome both find keeps the exact
    search's scenario, as when the deep one ran after it."""
    reach = Reach()
    with Background(_deep_search, cfg, deep_states) if deep_states else nullcontext() as deep:
        _breadth_first(cfg, reach, max_states, key=lambda s, pages: (s, pages), deep=False)
        reach.states = len(reach.prefix)
        _forget_steps()
        if not reach.complete and deep is not None:
            scenarios, reach.shapes = deep.result()
            for o, scenario in scenarios.items():
                reach.scenarios.setdefault(o, scenario)
    reach.prefix = {}
    return reach


def _deep_search(cfg: Config, deep_states: int) -> tuple[dict, int]:
    """:func:`search`'s deep search: its outcomes with their scenarios, and the
    shapes it stored."""
    reach = Reach()
    _breadth_first(cfg, reach, deep_states, key=lambda s, pages: _shape(cfg, s, pages),
                   deep=True)
    _forget_steps()
    return reach.scenarios, len(reach.prefix)


def _forget_steps() -> None:
    """Empty the search's caches: they hold some 10^5 states, the search's alone."""
    _step_outcomes.cache_clear()
    _shape.cache_clear()


def _breadth_first(cfg: Config, reach: Reach, max_states: int, key, deep: bool) -> None:
    """One search of :func:`search`'s: states told apart by ``key``; outcomes
    ``reach`` has already are kept with their scenario."""
    paths = memcg_paths(cfg)
    init = (MODEL.initial(cfg), ())
    reach.prefix = {key(*init): []}
    queue = deque([init])
    while queue:
        s, pages = queue.popleft()
        prefix = reach.prefix[key(s, pages)]
        for item in _menu(cfg, s, paths, pages, faces=len(prefix) <= 4, deep=deep):
            got = _operation_steps(cfg, s, paths, pages, item)
            if got is None:
                continue
            outcomes, post, after = got
            for o in outcomes:
                if o not in reach.scenarios:
                    reach.scenarios[o] = [*prefix, *item]
            nxt = key(post, after)
            # most ways lead where the search has been: asked first, it spares
            # them the constraint
            if nxt in reach.prefix or not MODEL.in_constraint(cfg, post) or post.error:
                continue
            if len(reach.prefix) >= max_states:
                reach.complete = False
                continue
            reach.prefix[nxt] = [*prefix, *item]
            queue.append((post, after))


@lru_cache(maxsize=1 << 17)  # a state's shape is asked for once per way into it
def _shape(cfg: Config, s: State, pages: tuple):
    """What the deep search tells apart: a counter by whether it is charged and
    how many pages it has room for (so which orders fit), a count by 0, 1 or
    more, the pages held by kind and memcg, whether each memcg has a task; not
    the ids and references that follow from the rest."""
    most = 1 << max(cfg.orders)

    def shape(v):
        if isinstance(v, ResCounter):
            return v.usage > 0, min(max(v.limit - v.usage, 0) // PAGE_SIZE, most)
        if isinstance(v, tuple):
            return tuple(map(shape, v))
        return min(v, 2) if type(v) is int else v

    return (tuple(shape(v) for f, v in zip(s._fields, s, strict=True) if f not in _UNSHAPED),
            frozenset((kind, m) for kind, m, _ in pages),
            tuple(tasks_in(cfg, s, m) > 0 for m in range(cfg.n_memcgs)))


#: State fields :func:`_shape` leaves out: they follow from the others (an id
#: and the key from activation) or only count (the death puts)
_UNSHAPED = frozenset({"kmemcg_id", "static_key", "death_puts"})


def through_face(action: str, args: tuple) -> bool:
    """Whether an implementation can be asked for the step: a limit write to the
    root is refused by the face with no step (model/cgroupfs.py)."""
    return not (action in cgroupfs.LIMIT_ACTION.values() and args[0] == ROOT)


#: named stutters the explorer leaves out, and the step whose operation takes them
#: instead (an allocation that bypasses accounting; free.bypass is left out: the
#: interleaver frees charged pages only)
_STUTTERS = {"charge.bypass": "charge.kmem"}


def _stutter_steps(cfg: Config) -> list:
    out = []
    for name, instead in _STUTTERS.items():
        enabled = cfg.actions if cfg.actions is not None else \
            [a for a in MODEL.actions if MODEL.actions[a].explored]
        if instead in enabled and name not in enabled:
            a = MODEL.actions[name]
            out += [(name, tuple(args), a.guard, a.effect) for args in a.domain(cfg)]
    return out


def _first_reached(cfg: Config, max_states: int, whole: bool = False):
    """The explorer's states in ``cfg`` (within ``max_states``; a state that breaks
    an invariant stored, not expanded), every step outcome of theirs (each enabled
    step's, and each held off), and for each outcome the first (state id, step
    from it, or None for any step) that shows it: breadth-first, so on a
    shortest path. A held-off outcome is shown by any step from its state
    (Coverage.step counts it there). ``whole``: the model's serial runs only
    (model/serial.py), those an implementation of whole operations can take."""
    allowed = serial_step if whole else None
    r = explorer.explore(cfg, graph=False, max_states=max_states, keep_going=True,
                         allowed=allowed, check_deadlock=False if whole else None)
    steps = explorer.enabled_steps(cfg) + _stutter_steps(cfg)
    out: set = set()
    first: dict = {}
    for sid, s in enumerate(r.states):
        if sid in r.broken:
            continue
        held = held_off(cfg, s)
        out.update(held)
        for o in held:
            first.setdefault(o, (sid, None))
        for name, args, ret, post in explorer.successors(cfg, s, steps):
            if through_face(name, args) and (allowed is None or allowed(cfg, s, name, args)):
                here = step_outcomes(cfg, s, name, args, ret, post)
                out.update(here)
                for o in here:
                    first.setdefault(o, (sid, explorer.Step(name, args, ret, post)))
    return r, out, first


@cache
def _explored(cfg: Config, max_states: int, whole: bool = False) -> dict:
    """:func:`_first_reached` as JSON data, cached in memory and on disk: the
    outcomes, whether the search was complete, and the model's shortest trace
    (action, args) to each outcome and to each invariant broken."""
    def compute():
        r, out, first = _first_reached(cfg, max_states, whole)
        traces = {VIOLATION.format(inv): trace[1:] for inv, trace in r.violations.items()}
        traces |= {VIOLATION.format(prop): trace[1:] for prop, trace in _lassos(cfg, max_states)}
        for o, (sid, step) in first.items():
            traces[o] = [*explorer.trace_to(r, sid)[1:], step or ANY_STEP]
        return {"outcomes": sorted(out), "complete": r.complete,
                "traces": {o: [[st.action, list(st.args)] for st in trace]
                           for o, trace in traces.items()}}

    return _disk_cached("steps-serial" if whole else "steps", cfg, max_states, compute,
                        lambda data: data)


def _lassos(cfg: Config, max_states: int) -> list:
    """For each leads-to property the configured kernel's model breaks (W2's
    L2), the shortest trace to the state its counterexample stays in (the
    lasso's stem: the race machine's end-of-run check, conformance/settle.py,
    lets the fair actions run from there). Only for a profile's kernel (the
    default one passes them), on a scope the explorer finishes."""
    if cfg.profile in (None, "correct") or not settle.properties(cfg):
        return []
    r = explorer.explore(cfg, graph=True, max_states=max_states, keep_going=False)
    return [(prop, explorer.trace_to(r, ids[-1])) for prop, _, ids in r.liveness]


@cache
def reachable_steps(cfg: Config, max_states: int = 50_000) -> tuple[frozenset, bool]:
    """(the step outcomes of every state the model explorer stores in ``cfg``
    within ``max_states``: each enabled step's, and each held off; whether that
    is every state). A state that breaks an invariant (a profile's bug) is stored
    but not expanded, as the interleaver does under a kernel claim. A bounded
    search's outcomes are each reachable, so they are the least the race
    machine can be asked to cover. Cached in memory and on disk."""
    data = _explored(cfg, max_states)
    return frozenset(data["outcomes"]), bool(data["complete"])


#: the outcome a race scenario names for an invariant the configured kernel breaks
VIOLATION = "violation {}"
#: a trace's last step where any step will do (a held-off outcome's: its state is what counts)
ANY_STEP = explorer.Step("(any step)", (), 0, None)


def model_trace(cfg: Config, actions) -> list:
    """A trace of (action, args) as the explorer's Steps, Init first: each
    action's effect in turn (the model is deterministic given the arguments)."""
    s = MODEL.initial(cfg)
    out = [explorer.Step("Init", (), 0, s)]
    for name, args in actions:
        s, ret = MODEL.actions[name].effect(cfg, s, *args)
        out.append(explorer.Step(name, tuple(args), ret, s))
    return out


@cache
def race_scenarios(cfg: Config, max_states: int = 50_000, whole: bool = False) -> dict:
    """The race machine's scenarios: for each step outcome the explorer reaches
    (as :func:`reachable_steps` bounds it), and each invariant the configured
    kernel's model breaks (``violation I6...``, a profile's bug), the explorer's
    shortest trace to it as a schedule of tries (:func:`guided.schedule_of`, on
    the reference booted as ``cfg`` says), shortest first; None where no
    schedule takes the trace. ``whole``: the shortest serial trace, which an
    implementation of whole operations can take (a trace that splits a path
    does not fit one). Cached in memory and on disk."""
    def compute():
        traces = sorted(_explored(cfg, max_states, whole)["traces"].items(),
                        key=lambda kv: len(kv[1]))
        out = []
        for o, trace in traces:
            anything = trace[-1][0] == ANY_STEP.action
            trace = model_trace(cfg, trace[:-1] if anything else trace)
            tries = guided.schedule_of(cfg, trace, then_any_step=anything)
            if whole and tries is not None:  # the works by the minimal path's names
                tries = [(c[0], minimal_work_name(c[1]), *c[2:]) if c[0] == "work" else c
                         for c in tries]
            out.append([o, tries])
        return out

    return _disk_cached("race-scenarios-serial" if whole else "race-scenarios", cfg,
                        max_states, compute, lambda data: {
        o: None if tries is None else [tuple(c) for c in tries] for o, tries in data},
        code=_TRANSLATION_CODE)


#: what a race scenario's tries depend on beside the model: the reference they
#: were found on, the interleaver's choices, the guided replay
_TRANSLATION_CODE = (Path(impl_package.__file__).parent, Path(__file__).with_name("interleave.py"),
                     Path(__file__).with_name("guided.py"))


def scenario_ops(scenario) -> list:
    """A scenario's operations with the search's bookkeeping keys dropped."""
    return [(op, {k: v for k, v in args.items() if k != "bypass"}) for op, args in scenario]



# ---------------------------------------------------------------- driving


def for_machine(cfg: Config) -> tuple[Coverage, dict]:
    """A coverage of the sequential machine's scope, against what the model reaches
    there, and the model's scenario for each outcome."""
    reach = reachable(cfg)
    return Coverage(cfg, reachable=reach.outcomes, complete=reach.complete), reach.scenarios


def for_steps(cfg: Config, max_states: int = 50_000) -> Coverage:
    """A coverage of a race scope: the step outcomes of every state the model
    explorer stores; of its first ``max_states`` states where the scope is too
    large to explore whole (the summary then says "at least")."""
    outcomes, complete = reachable_steps(cfg, max_states)
    return Coverage(cfg, reachable=outcomes, complete=complete)


def conform(cfg: Config, make_impl, *, seed_value: int, examples: int, steps: int,
            oracle: str = "eval", scenarios: bool = True, budget: float | None = None,
            shrink_seconds: float = 20.0, **kw):
    """The sequential machine with its coverage: the model's scenarios first (unless
    ``scenarios`` is False), then ``examples`` random runs; with a ``budget`` (in
    seconds), more random runs on the next seeds until every reachable outcome is
    covered or the budget is spent; ``kw`` go to :func:`machine.run` (a kernel claim,
    an example database). (the run's stats, its Coverage)."""
    cov, scen = for_machine(cfg)
    stats = machine.run(cfg, make_impl, seed_value=seed_value, examples=examples, steps=steps,
                        oracle=oracle, shrink_seconds=shrink_seconds, coverage=cov,
                        scenarios=scen if scenarios else None, **kw)
    if budget is None:
        return stats, cov
    t0, seed_now = time.perf_counter(), seed_value
    while (cov.uncovered and stats.failure is None and not stats.interrupted
           and time.perf_counter() - t0 < budget):
        seed_now += 1
        more = machine.run(cfg, make_impl, seed_value=seed_now, examples=examples,
                           steps=steps, oracle=oracle, shrink_seconds=shrink_seconds,
                           coverage=cov, **kw)
        stats.ops += more.ops
        stats.steps += more.steps
        stats.seconds += more.seconds
        stats.seeds += 1
        stats.failure, stats.failing_ops = more.failure, more.failing_ops
        stats.interrupted = more.interrupted
    return stats, cov


def serial_outcomes(cfg: Config, max_states: int = 50_000) -> frozenset:
    """The step outcomes of the model's serial runs (model/serial.py): those an
    implementation of whole operations can show. Cached in memory and on disk."""
    return frozenset(_explored(cfg, max_states, whole=True)["outcomes"])


def _runs_whole(make) -> bool:
    """Whether the implementation ``make`` boots runs whole operations only (the
    minimal path: conformance/sequential.py)."""
    impl = make()
    try:
        return getattr(impl, "stepping", True) is False
    finally:
        impl.close()


def race(cfg: Config, make, *, seed_value: int, examples: int, steps: int,
         budget: float | None = None, scenarios: bool = True, **kw):
    """The race machine with its coverage: the model's scenarios first (unless
    ``scenarios`` is False: :func:`race_scenarios`), then ``examples`` random runs;
    with a ``budget`` (seconds), more runs on the next seeds until every step
    outcome the model explorer reaches is covered. (the run's stats, its Coverage)."""
    cov = for_steps(cfg)
    whole = _runs_whole(make)
    if whole:
        cov.of_whole_operations()
    stats = race_machine.run(cfg, seed_value=seed_value, examples=examples, steps=steps,
                             make=make, coverage=cov,
                             scenarios=race_scenarios(cfg, whole=whole) if scenarios else None,
                             **kw)
    t0, seed_now = time.perf_counter(), seed_value
    while (budget is not None and cov.uncovered and stats.failure is None
           and not stats.interrupted and time.perf_counter() - t0 < budget):
        seed_now += 1
        more = race_machine.run(cfg, seed_value=seed_now, examples=examples, steps=steps,
                                make=make, coverage=cov, **kw)
        stats.steps += more.steps
        stats.seconds += more.seconds
        stats.failure, stats.schedule = more.failure, more.schedule
        stats.interrupted = more.interrupted
    return stats, cov
