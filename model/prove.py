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
from kmemcg.model.controller import MODEL
from kmemcg.model.core import symbolic_like
from kmemcg.model.dual import And, symbolic
from kmemcg.model.frame import as_term, constants, leaves, substitution, written


def symbolic_state(cfg: Config, tag: str):
    """A state of the model under ``cfg`` whose every leaf is a fresh Z3 constant."""
    return symbolic_like(MODEL.initial(cfg), tag)


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
    #: the cases (parameter tuples) of the action the solver was asked about
    #: for this invariant: those that write something it reads. A case's
    #: obligations share one query, and have one each only when that one is
    #: not unsat (ProofReport.queries counts the queries themselves).
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
        """The obligations ``todo`` of one case, first all at once.

        One query asks whether the case breaks any of them; unsat (the common
        answer) discharges them all, each charged an equal share of its time.
        Only a case that breaks something pays for one query per invariant,
        which names the ones it breaks and their counterexamples.
        """
        guard = a.guard(self.cfg, self.pre, *args)
        values = list(leaves(post))
        self.solver.push()
        self.solver.add(guard)
        try:
            t = time.perf_counter()
            verdict = self.query(self.onto(z3.Or(*(self.broken[i.id] for i in todo)),
                                           values, todo))
            share = (time.perf_counter() - t) / len(todo)
            for i in todo:
                obligations[i.id].seconds += share
                obligations[i.id].queries += 1
            if verdict == z3.unsat:
                return
            for i in todo:
                self.alone(i, a, args, guard, post, values, obligations[i.id])
        finally:
            self.solver.pop()

    def onto(self, term, values, todo):
        """``term`` over the case's post-state: only the leaves ``todo`` reads
        are substituted, since z3's wrapper checks every pair it is given."""
        at = sorted(set().union(*(self.reads_at[i.id] for i in todo)))
        pairs = [(self.post_leaves[p], as_term(values[p])) for p in at]
        return z3.substitute(term, *pairs) if pairs else term

    def alone(self, inv, a, args, guard, post, values, o: Obligation) -> None:
        """One obligation on its own, after its case's shared query was not unsat."""
        t = time.perf_counter()
        verdict = self.query(self.onto(self.broken[inv.id], values, [inv]))
        o.seconds += time.perf_counter() - t
        if verdict == z3.sat:
            o.ok, o.cti = False, self.readable_cti(inv, args, guard, post)
        elif verdict != z3.unsat:
            # undecided proves nothing: no verdict, never "holds"
            o.ok, o.cti = False, (args, None, None)


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
    sl = MODEL
    report.init_violations = sl.violated(cfg, sl.initial(cfg))
    report.init_ok = not report.init_violations
    names = actions or [a.name for a in sl.scope(cfg)]
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


class Transition:
    """One step of the model as a relation between two symbolic states, built once.

    Frame-style: exactly one action case is taken (its tag), its guard holds,
    each leaf it writes takes its effect's value, and a leaf that no taken case
    writes keeps its value. A disjunction of "guard, and every leaf of the
    post-state equals the effect's" per case says the same with an equality
    per leaf per case; this one names each written leaf once. It is built over
    ``pre``/``post`` once and renamed onto each step of a trace, rather than
    evaluating every effect again per step.
    """

    def __init__(self, cfg: Config, sl):
        self.pre = symbolic_state(cfg, "pre")
        self.post = symbolic_state(cfg, "post")
        self.cases = []  # (tag, action name, args)
        pre, post = list(leaves(self.pre)), list(leaves(self.post))
        writers = [[] for _ in pre]
        parts = []
        for a in sl.scope(cfg):
            name = a.name
            for args in a.domain(cfg):
                args = tuple(args)
                tag = z3.Bool(f"step:{name}{args}")
                self.cases.append((tag, name, args))
                effect, _ = a.effect(cfg, self.pre, *args)
                writes = written(self.pre, effect)
                parts.append(z3.Implies(tag, a.guard(cfg, self.pre, *args)))
                for p, v in enumerate(leaves(effect)):
                    if pre[p].get_id() in writes:
                        parts.append(z3.Implies(tag, post[p] == v))
                        writers[p].append(tag)
        tags = [tag for tag, _, _ in self.cases]
        # exactly one case: with two tags true, the leaves each writes would
        # mix two steps into a state neither reaches
        parts += [z3.Or(*tags), z3.AtMost(*tags, 1)]
        parts += [z3.Or(q == p, *w) for p, q, w in zip(pre, post, writers, strict=True)]
        self.relation = z3.And(*parts)

    def step(self, k: int, cur, nxt):
        """The ``k``-th step of a trace, from ``cur`` to ``nxt``: (relation, its case tags)."""
        cases = [(z3.Bool(f"step{k}:{name}{args}"), name, args) for _, name, args in self.cases]
        renamed = [(old, new) for (old, _, _), (new, _, _) in zip(self.cases, cases, strict=True)]
        relation = z3.substitute(self.relation, *substitution(self.pre, cur),
                                 *substitution(self.post, nxt), *renamed)
        return relation, cases


def bmc(cfg: Config, depth: int) -> BmcReport:
    """Bounded model checking: can any invariant break within ``depth`` steps of Init?

    One solver, one step added per depth, one query per depth for every state
    invariant at once. Depths are asked in order, so a violation found is a
    shortest one; among the invariants it breaks, the report names the first
    in the model's order. A depth that holds adds its invariants as facts (they
    hold in every state that many steps from Init), which the deeper queries
    use. An undecided query is no verdict, never "no violation".
    """
    t0 = time.perf_counter()
    sl = MODEL
    init = sl.initial(cfg)
    broken = sl.violated(cfg, init)
    if broken:
        return BmcReport(cfg, depth, False, time.perf_counter() - t0, broken[0],
                         [(("Init", ()), init)])
    with symbolic():
        found = unroll(cfg, sl, init, depth)
    if isinstance(found, str):
        return BmcReport(cfg, depth, False, time.perf_counter() - t0, unknown=found)
    if found is None:
        return BmcReport(cfg, depth, True, time.perf_counter() - t0)
    # the trace's states are concrete: which invariants the last one breaks is
    # the model's own (concrete) reading, in the model's order
    return BmcReport(cfg, depth, False, time.perf_counter() - t0,
                     sl.violated(cfg, found[-1][1])[0], found)


def unroll(cfg: Config, sl, init, depth: int):
    """The shortest trace from ``init`` to a state breaking some state invariant,
    None when there is none within ``depth`` steps, or why Z3 could not decide."""
    step = Transition(cfg, sl)
    holds = as_term(And(*(i.check(cfg, step.pre) for i in sl.state_invariants())))
    s = z3.Solver()
    # Init stands in the first step as values, not as constants equated to
    # them: simplified, that step's relation is each case's concrete successor
    states = [init]
    labels = []
    for k in range(1, depth + 1):
        nxt = symbolic_state(cfg, f"s{k}")
        relation, cases = step.step(k, states[-1], nxt)
        s.add(relation)
        states.append(nxt)
        labels.append(cases)
        now = z3.substitute(holds, *substitution(step.pre, nxt))
        verdict = s.check(z3.Not(now))
        if verdict == z3.unknown:
            return f"the invariants at step {k}: {s.reason_unknown()}"
        if verdict == z3.sat:
            return read_trace(s.model(), states, labels)
        s.add(now)
    return None


def read_trace(m: z3.ModelRef, states, labels) -> list:
    """The trace a model of the unrolling describes: ((action, args), state) per step."""
    def taken(k):
        return next(((name, args) for tag, name, args in labels[k - 1]
                     if z3.is_true(m.eval(tag, model_completion=True))), ("?", ()))

    return [(("Init", ()) if k == 0 else taken(k), concrete_state(m, st))
            for k, st in enumerate(states)]
