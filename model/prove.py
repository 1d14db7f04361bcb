"""Z3 back-end: inductive proofs, bounded model checking, and the step oracle.

Proofs range over *all* counter values: usages, limits, failcnts, max_usage,
page counts and the number of physical pages are unbounded integers; only the
shape (how many memcgs and tasks, which parent) comes from the configuration.
An obligation is one (action, invariant) pair: assuming every state invariant
and the action's guard, the invariant holds after the action, for every
parameter of the action. A failed obligation comes with its counterexample to
induction, rendered as two readable states.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import z3

from kmemcg.model.config import Config
from kmemcg.model.dual import And, Eq, Or, symbolic
from kmemcg.model.slice import slice_of, symbolic_like


def symbolic_state(cfg: Config, tag: str):
    """A state of ``cfg``'s slice whose every field is a fresh Z3 constant."""
    return symbolic_like(slice_of(cfg).initial(cfg), tag)


def concrete_state(model: z3.ModelRef, s):
    """Read a symbolic state's values out of a Z3 model."""

    def val(x):
        if isinstance(x, tuple):
            items = tuple(val(y) for y in x)
            return type(x)(*items) if hasattr(x, "_fields") else items
        if not isinstance(x, z3.ExprRef):
            return x
        v = model.eval(x, model_completion=True)
        return z3.is_true(v) if z3.is_bool(v) else v.as_long()

    return val(s)


# ---------------------------------------------------------------- frames
#
# Every leaf of a symbolic state is its own fresh constant, and an effect
# builds its post-state with ``NamedTuple._replace`` (and ``If``, which keeps a
# leaf that both branches share): a leaf the action does not touch is the very
# pre-state term. So what an action writes, and what an invariant reads, can be
# read off the terms themselves, with no solver. This leans on the rule the
# dual style already needs (model/dual.py): no Python branch on a state value,
# so an invariant's term means the same function of the leaves, whichever
# terms fill them.


def leaves(x):
    """The ints, bools and terms of a (nested) tuple, depth first."""
    if isinstance(x, tuple):
        for y in x:
            yield from leaves(y)
    else:
        yield x


def written(pre, post) -> set[int]:
    """Ids of the pre-state constants whose leaf ``post`` does not keep.

    Obligation: every leaf outside the result is, in ``post``, the very term it
    is in ``pre``. A subtree ``post`` shares with ``pre`` is skipped unread.
    """
    out: set[int] = set()
    stack = [(pre, post)]
    while stack:
        a, b = stack.pop()
        if a is b:
            continue
        if isinstance(a, tuple):
            stack.extend(zip(a, b, strict=True))
        elif not (isinstance(b, z3.ExprRef) and z3.eq(a, b)):
            out.add(a.get_id())
    return out


def constants(term) -> set[int]:
    """Ids of the uninterpreted constants ``term`` mentions.

    Obligation: a formula's value is a function of these constants alone, so an
    invariant evaluated on a symbolic state reads no leaf but those whose
    constants appear here (a Python bool reads nothing).
    """
    out: set[int] = set()
    if not isinstance(term, z3.ExprRef):
        return out
    seen: set[int] = set()
    stack = [term]
    while stack:
        t = stack.pop()
        key = t.get_id()
        if key in seen:
            continue
        seen.add(key)
        if z3.is_const(t) and t.decl().kind() == z3.Z3_OP_UNINTERPRETED:
            out.add(key)
        else:
            stack.extend(t.children())
    return out


def as_term(v):
    """A Python int or bool as a Z3 value (``z3.substitute`` takes terms only)."""
    if isinstance(v, z3.ExprRef):
        return v
    return z3.BoolVal(v) if isinstance(v, bool) else z3.IntVal(v)


# ---------------------------------------------------------------- induction


@dataclass
class Obligation:
    action: str
    invariant: str
    ok: bool
    #: solver time spent on this obligation (0 when no query was needed).
    seconds: float
    #: counterexample to induction: (args, pre, post) as concrete states.
    cti: tuple | None = None
    #: solver queries asked for this obligation, one per case (parameter
    #: tuple) of the action that writes something the invariant reads.
    queries: int = 0

    @property
    def by_frame(self) -> bool:
        """Discharged with no query of its own: no case of the action writes what
        the invariant reads (a step invariant leans on its stutter lemma too)."""
        return self.ok and self.queries == 0


@dataclass
class ProofReport:
    config: Config
    obligations: list[Obligation] = field(default_factory=list)
    seconds: float = 0.0
    init_ok: bool = True
    init_violations: list[str] = field(default_factory=list)
    #: every solver query asked, the stutter lemmas of step invariants included.
    queries: int = 0

    @property
    def ok(self) -> bool:
        return self.init_ok and all(o.ok for o in self.obligations)

    @property
    def failed(self) -> list[Obligation]:
        return [o for o in self.obligations if not o.ok]

    @property
    def by_frame(self) -> list[Obligation]:
        return [o for o in self.obligations if o.by_frame]


class Induction:
    """The obligations of one configuration, over one shared solver.

    The solver holds the hypothesis (every state invariant of ``pre``) once;
    each case of an action adds its guard inside a push, and each invariant is
    one query under an assumption: its negation over ``post``, a second
    symbolic state, rewritten by substitution onto the case's post-state
    terms. So each invariant is built over symbolic states twice in all, not
    once per case.
    """

    def __init__(self, cfg: Config, sl, wanted):
        self.cfg, self.sl = cfg, sl
        self.pre = symbolic_state(cfg, "pre")
        self.post = symbolic_state(cfg, "post")
        self.pre_leaves, self.post_leaves = list(leaves(self.pre)), list(leaves(self.post))
        self.hyp = And(*(i.check(cfg, self.pre) for i in sl.state_invariants()))
        self.solver = z3.Solver()
        self.solver.add(self.hyp)
        self.queries = 0
        self.broken = {i.id: z3.Not(self.goal(i, self.post)) for i in wanted}
        #: per invariant, the leaf positions it reads of its post-state
        self.reads_at = {i.id: self.positions(self.broken[i.id]) for i in wanted}
        #: the same positions, named by the pre-state constants found there
        self.reads = {k: {self.pre_leaves[p].get_id() for p in at}
                      for k, at in self.reads_at.items()}
        self.stutter: dict[str, bool] = {}

    def goal(self, inv, post):
        """What ``inv`` asks of a step from ``pre`` to ``post``."""
        if inv.kind == "step":
            return inv.check(self.cfg, self.pre, post)
        return inv.check(self.cfg, post)

    def positions(self, term) -> list[int]:
        """Where the post-state leaves that ``term`` mentions stand."""
        mentioned = constants(term)
        return [p for p, c in enumerate(self.post_leaves) if c.get_id() in mentioned]

    def query(self, *assumptions):
        self.queries += 1
        return self.solver.check(*assumptions)

    def stutters(self, inv) -> bool:
        """Whether the hypothesis implies ``inv`` over a step that changes nothing.

        A step invariant over a case that writes none of the post-state leaves
        it reads equals itself over (pre, pre): proved once, this lemma
        discharges every such case. Unproved (sat or unknown), no case is skipped.
        """
        if inv.id not in self.stutter:
            self.stutter[inv.id] = self.query(z3.Not(self.goal(inv, self.pre))) == z3.unsat
        return self.stutter[inv.id]

    def unaffected(self, inv, writes: set[int]) -> bool:
        """The obligation of ``inv`` holds for this case with no query.

        A state invariant depends on the leaves it reads alone; when the case
        writes none of them the invariant has the same value after the step as
        before, where the hypothesis assumes it.
        """
        if writes.isdisjoint(self.reads[inv.id]):
            return inv.kind != "step" or self.stutters(inv)
        return False

    def readable_cti(self, inv, args, guard, post) -> tuple:
        """The counterexample to induction of a failed case, from a fresh solver.

        The shared solver's model depends on every query asked before it (and
        its models came out with more values near 2^63); a fresh solver asked
        this one obligation, as every obligation once was, picks its model
        from that obligation alone. Only failures pay for it.
        """
        s = z3.Solver()
        s.add(self.hyp, guard, z3.Not(self.goal(inv, post)))
        m = s.model() if s.check() == z3.sat else self.solver.model()
        return args, concrete_state(m, self.pre), concrete_state(m, post)

    def action(self, a, wanted) -> list[Obligation]:
        """The obligations of action ``a``, one per invariant of ``wanted``.

        Cases are tried in domain order and an invariant's first failing case
        gives its counterexample, as one solver per query did.
        """
        obligations = {i.id: Obligation(a.name, i.id, True, 0.0) for i in wanted}
        for args in a.domain(self.cfg):
            args = tuple(args)
            post, _ = a.effect(self.cfg, self.pre, *args)
            writes = written(self.pre, post)
            todo = [i for i in wanted if obligations[i.id].ok
                    and not self.unaffected(i, writes)]
            if todo:
                self.case(a, args, post, todo, obligations)
        return [obligations[i.id] for i in wanted]

    def case(self, a, args, post, todo, obligations) -> None:
        guard = a.guard(self.cfg, self.pre, *args)
        values = list(leaves(post))
        self.solver.push()
        self.solver.add(guard)
        try:
            for i in todo:
                o = obligations[i.id]
                t = time.perf_counter()
                # only the leaves the invariant reads: z3's wrapper checks every pair
                onto = [(self.post_leaves[p], as_term(values[p])) for p in self.reads_at[i.id]]
                verdict = self.query(z3.substitute(self.broken[i.id], *onto) if onto
                                     else self.broken[i.id])
                o.seconds += time.perf_counter() - t
                o.queries += 1
                if verdict == z3.sat:
                    o.ok, o.cti = False, self.readable_cti(i, args, guard, post)
                elif verdict != z3.unsat:
                    # undecided proves nothing: no verdict, never "holds"
                    o.ok, o.cti = False, (args, None, None)
        finally:
            self.solver.pop()


def prove(cfg: Config, actions: list[str] | None = None,
          invariants: list[str] | None = None) -> ProofReport:
    """Check every (action, invariant) obligation by induction.

    Obligation of a pair: for every parameter tuple of the action, every state
    invariant and the guard at ``pre`` imply the invariant after the step. A
    case that writes nothing the invariant reads is discharged by frame
    reasoning (:meth:`Induction.unaffected`), the others by one query each.
    """
    t0 = time.perf_counter()
    report = ProofReport(cfg)
    sl = slice_of(cfg)
    report.init_violations = sl.violated(cfg, sl.initial(cfg))
    report.init_ok = not report.init_violations
    names = actions or list(sl.actions)
    wanted = [i for i in sl.invariants.values() if invariants is None or i.id in invariants]
    with symbolic():
        run = Induction(cfg, sl, wanted)
        for name in names:
            report.obligations.extend(run.action(sl.actions[name], wanted))
    report.queries = run.queries
    report.seconds = time.perf_counter() - t0
    return report


@dataclass
class BmcReport:
    config: Config
    depth: int
    ok: bool
    seconds: float
    violation: str | None = None
    trace: list = field(default_factory=list)
    #: why the solver could not decide (an interrupt, a resource limit): no verdict
    unknown: str | None = None


def bmc(cfg: Config, depth: int) -> BmcReport:
    """Bounded model checking: can any invariant break within ``depth`` steps of Init?"""
    t0 = time.perf_counter()
    sl = slice_of(cfg)
    init = sl.initial(cfg)
    checked = sl.state_invariants()
    with symbolic():
        s = z3.Solver()
        states = [symbolic_state(cfg, "s0")]
        s.add(Eq(states[0], init))
        labels = []
        for k in range(1, depth + 1):
            cur, nxt = states[-1], symbolic_state(cfg, f"s{k}")
            choices, tags = [], []
            for name, a in sl.actions.items():
                for args in a.domain(cfg):
                    post, _ = a.effect(cfg, cur, *args)
                    tag = z3.Bool(f"step{k}:{name}{tuple(args)}")
                    choices.append(And(tag, a.guard(cfg, cur, *args), Eq(nxt, post)))
                    tags.append((tag, name, tuple(args)))
            s.add(Or(*choices))
            states.append(nxt)
            labels.append(tags)
        found = None
        for i in checked:
            s.push()
            s.add(Or(*(z3.Not(i.check(cfg, st)) for st in states)))
            verdict = s.check()
            if verdict == z3.unknown:
                # an undecided query proves nothing: never read it as "no violation"
                return BmcReport(cfg, depth, False, time.perf_counter() - t0,
                                 unknown=f"{i.id}: {s.reason_unknown()}")
            if verdict == z3.sat:
                m = s.model()
                found = (i.id, [
                    (("Init", ()) if k == 0 else next(
                        ((n, a) for tag, n, a in labels[k - 1]
                         if z3.is_true(m.eval(tag, model_completion=True))), ("?", ())),
                     concrete_state(m, st))
                    for k, st in enumerate(states)
                ])
                s.pop()
                break
            s.pop()
    if found is None:
        return BmcReport(cfg, depth, True, time.perf_counter() - t0)
    bad, trace = found
    cut = next(k for k, (_, st) in enumerate(trace) if not sl.invariants[bad].check(cfg, st))
    return BmcReport(cfg, depth, False, time.perf_counter() - t0, bad, trace[: cut + 1])
