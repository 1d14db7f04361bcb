"""Reports: readable traces, replay files, summary tables (files for other
tools are in :mod:`kmemcg.conformance.formats`)."""

from __future__ import annotations

import json
from pathlib import Path

from kmemcg.conformance.harness import REPLAYABLE, memcg_paths
from kmemcg.conformance.protocol import GFP_FLAGS, OPTIONAL_ARGS
from kmemcg.model.config import Config
from kmemcg.model.controller import MODEL
from kmemcg.model.state import cache_name, diff_json

#: the replay file format; 2: protocol 2 (one format for operations and schedules)
REPLAY_VERSION = 2

def thread_of(cfg: Config, action: str, args: tuple) -> str:
    """Who takes a model step: a task, the administrator, a worker, or any CPU."""
    return MODEL.thread_of(cfg, action, args)


def describe(cfg: Config, action: str, args: tuple) -> str:
    actions = MODEL.actions
    if action not in actions:
        return f"{action}{args}"
    parts = []
    for p, v in zip(actions[action].params, args, strict=True):
        if p == "memcg":
            v = cfg.memcgs[v]
        elif p == "cache":
            v = cache_name(cfg, v)
        elif p == "root":
            v = cfg.roots[v]
        elif p == "task":
            if actions[action].thread != "admin":
                continue  # the thread column names it
            v = cfg.tasks[v]
        elif p == "parent":
            v = cfg.tasks[v]
        elif p == "counter":
            v = ("res", "kmem")[v]
        elif p == "bytes" and v == (1 << 63) - 1:
            v = "unlimited"
        parts.append(f"{p}={v}")
    return f"{action}({', '.join(parts)})"


def render_model_trace(cfg: Config, steps, violation: str | None) -> str:
    """A shortest counterexample from the explorer or BMC as numbered steps."""
    lines = []
    prev = None
    for i, st in enumerate(steps):
        if st.action == "Init":
            lines.append("  0. Init")
        else:
            who = thread_of(cfg, st.action, st.args)
            ret = f"  -> {st.ret}" if st.ret else ""
            lines.append(f"{i:3}. [{who:>6}] {describe(cfg, st.action, st.args)}{ret}")
            for path, a, b in diff_json(MODEL.to_json(cfg, prev),
                                        MODEL.to_json(cfg, st.state)):
                lines.append(f"              {path}: {a} -> {b}")
        prev = st.state
    if violation:
        lines.append(f"     violates {violation}")
    return "\n".join(lines)


def render_conformance_failure(failure) -> str:
    lines = [f"nonconformance [{failure.check}]: {failure.message}", "operations (shrunk):"]
    last_op = None
    for e in failure.trace:
        if e.action is None:
            last_op = e.op_no
            args = ", ".join(f"{k}={v!r}" for k, v in e.args.items())
            lines.append(f"  op {e.op_no}: {e.op}({args})")
        else:
            ret = f" -> {e.ret}" if e.ret else ""
            lines.append(f"      step: {e.action} {e.step_args}{ret}")
    del last_op
    return "\n".join(lines)


def replay_data(cfg: Config, seed: int | None, failure: dict, *, ops=None, schedule=None,
                impl: str | None = None, pipe: str | None = None,
                timeout: float | None = None, kernel: str | None = None) -> dict:
    """A replay file's content (format :data:`REPLAY_VERSION`): the configuration,
    what ran the implementation (a Python ``impl``, or a ``pipe`` command, and the
    per-call time limit), the failure, and what reproduces it: the operations of
    the sequential machine (``ops``) or the tries of the race machine
    (``schedule``), so ``kmemcg replay`` re-runs it as it ran; ``kernel``, the
    release claimed (``--kernel``), if any, whose known bugs were warnings."""
    data = {"version": REPLAY_VERSION, "config": cfg.to_json(), "impl": impl, "pipe": pipe,
            "timeout": timeout, "seed": seed, "failure": failure, "kernel": kernel}
    if schedule is not None:
        data["schedule"] = [list(c) for c in schedule]
    else:
        data["ops"] = [{"op": op, "args": args} for op, args in ops]
    return data


def load_replay(path: str | Path) -> dict:
    """A replay file, its shape checked; a file of another format says which."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"cannot read replay file {path}: {e}") from None
    if not isinstance(data, dict) or "config" not in data:
        raise ValueError(f"{path}: not a kmemcg replay file")
    version = data.get("version")
    if version != REPLAY_VERSION:
        seed = data.get("seed")
        again = f" (kmemcg conform --seed {seed} finds it again)" if seed is not None else ""
        raise ValueError(f"{path}: a replay file of format {version!r}, written by an earlier "
                         f"kmemcg; this one reads format {REPLAY_VERSION} (adapter protocol "
                         f"2: one format for operations and schedules, factories called "
                         f"with the configuration). Record the failure again{again}")
    if ("ops" in data) == ("schedule" in data):
        raise ValueError(f"{path}: wants exactly one of 'ops' (operations) and 'schedule' "
                         f"(race tries)")
    if not isinstance(data["config"], dict):
        raise ValueError(f"{path}: 'config' must be an object (a configuration)")
    if (data.get("impl") is not None and not isinstance(data["impl"], str)) or \
            (data.get("pipe") is not None and not isinstance(data["pipe"], str)):
        raise ValueError(f"{path}: 'impl' (MOD:FACTORY) and 'pipe' (a command) must be "
                         f"strings or null")
    if "schedule" in data and not (isinstance(data["schedule"], list) and all(
            isinstance(c, list) and c for c in data["schedule"])):
        raise ValueError(f"{path}: 'schedule' must be a list of tries (lists)")
    return data


def check_ops(cfg: Config, ops) -> list[tuple[str, dict]]:
    """A replay file's operations, checked against the protocol and the
    configuration before anything runs: a bad file is the file's fault, and must
    not be blamed on the implementation it is replayed on."""
    if not isinstance(ops, list):
        raise ValueError("'ops' must be a list of operations")
    paths, out = memcg_paths(cfg), []
    for i, entry in enumerate(ops):
        where = f"operation {i}"
        if not isinstance(entry, dict) or not isinstance(entry.get("args"), dict):
            raise ValueError(f"{where}: not an object with 'op' and 'args': {entry!r}")
        op, args = entry.get("op"), entry["args"]
        if op not in REPLAYABLE:
            raise ValueError(f"{where}: unknown operation {op!r} (known: "
                             f"{', '.join(REPLAYABLE)})")
        missing = [a for a in REPLAYABLE[op] if a not in OPTIONAL_ARGS and a not in args]
        if missing:
            raise ValueError(f"{where}: {op} lacks {', '.join(missing)}")
        if "path" in args and args["path"] not in paths:
            raise ValueError(f"{where}: {op}: path {args['path']!r} is not in the "
                             f"configuration ({', '.join(paths)})")
        if "gfp" in args and not (isinstance(args["gfp"], list)
                                  and set(args["gfp"]) <= set(GFP_FLAGS)):
            raise ValueError(f"{where}: {op}: gfp must be a list of {', '.join(GFP_FLAGS)}")
        if "page" in args and (not isinstance(args["page"], int) or isinstance(args["page"], bool)):
            raise ValueError(f"{where}: {op}: page must be an integer handle")
        if "task" in args and args["task"] not in cfg.tasks:
            raise ValueError(f"{where}: {op}: task {args['task']!r} is not in the "
                             f"configuration ({', '.join(cfg.tasks)})")
        if op == "kmem_cache_create":
            _check_create(cfg, where, args)
        if op == "alloc_kmem" and args.get("order", 0) not in cfg.orders:
            raise ValueError(f"{where}: {op}: order {args['order']!r} is not one the "
                             f"configuration allocates ({list(cfg.orders)})")
        out.append((op, args))
    return out


def _check_create(cfg: Config, where: str, args: dict) -> None:
    """A kmem_cache_create the configuration can judge: one of its root slots
    (or a NULL name), integer sizes, and its own slab geometry."""
    name = args.get("name")
    if name is not None and name not in cfg.roots:
        raise ValueError(f"{where}: kmem_cache_create: {name!r} is not one of the "
                         f"configuration's root caches ({', '.join(cfg.roots) or 'none'})")
    counts = [args.get("size"), args.get("objs_per_slab"), args.get("order", 0)]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in counts):
        raise ValueError(f"{where}: kmem_cache_create: size, objs_per_slab and order must be "
                         f"integers")
    if (args.get("order", 0), args["objs_per_slab"]) != (cfg.slab_order, cfg.objs_per_slab):
        raise ValueError(f"{where}: kmem_cache_create: the configuration's slabs are "
                         f"2**{cfg.slab_order} pages of {cfg.objs_per_slab} objects "
                         f"(order {cfg.slab_order}, objs_per_slab {cfg.objs_per_slab})")


def write_json(path: str | Path, data: dict) -> None:
    Path(path).write_text(json.dumps(data, indent=2) + "\n")


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    out += [fmt.format(*(str(x) for x in r)) for r in rows]
    return "\n".join(out)
