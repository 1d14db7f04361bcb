--------------------------- MODULE KmemcgCounters ---------------------------
(***************************************************************************)
(* struct res_counter and its operations (kernel/res_counter.c), as pure   *)
(* operators: no constants, no variables.  The model's functions are       *)
(* model/res_counter.py.                                                   *)
(*                                                                         *)
(* A counter is a record [usage, max_usage, limit, failcnt], in bytes.  A  *)
(* memcg's counters form a function from memcg number to counter, and a    *)
(* charge walks a sequence of levels, nearest first (a memcg, then each    *)
(* ancestor its counters charge: see Walk in KmemcgState).                 *)
(***************************************************************************)
EXTENDS Integers, Sequences

Max(a, b) == IF a >= b THEN a ELSE b

\* A counter nothing has been charged to yet.
NewCounter(limit) == [usage |-> 0, max_usage |-> 0, limit |-> limit, failcnt |-> 0]

(***************************************************************************)
(* res_counter_charge(counter, n): charge n bytes to each level of the     *)
(* walk w of the counters c, nearest first.  A level over its limit        *)
(* (usage + n > limit) counts the failure in its own failcnt and ends the  *)
(* walk; the levels below it, already charged, are uncharged again, but    *)
(* the max_usage they recorded stays.  So only the first failing level     *)
(* counts a failure, and a max_usage may record a usage that never stuck.  *)
(* The result is the new counters and whether the charge succeeded.        *)
(***************************************************************************)
RECURSIVE Charge(_, _, _)
Charge(c, w, n) ==
    IF w = << >>
    THEN [counters |-> c, ok |-> TRUE]
    ELSE LET i == Head(w)
             level == c[i]
         IN  IF level.usage + n > level.limit
             THEN [counters |-> [c EXCEPT ![i].failcnt = @ + 1], ok |-> FALSE]
             ELSE LET above == Charge([c EXCEPT ![i].usage = @ + n,
                                                ![i].max_usage = Max(@, level.usage + n)],
                                      Tail(w), n)
                  IN  IF above.ok
                      THEN above
                      ELSE [above EXCEPT !.counters[i].usage = @ - n]

\* The charge of the no_kmem_limit_check bug: every level takes the charge,
\* whatever its limit.
RECURSIVE ChargeIgnoringLimit(_, _, _)
ChargeIgnoringLimit(c, w, n) ==
    IF w = << >>
    THEN c
    ELSE ChargeIgnoringLimit([c EXCEPT ![Head(w)].usage = @ + n,
                                       ![Head(w)].max_usage = Max(@, c[Head(w)].usage + n)],
                             Tail(w), n)

\* res_counter_uncharge: every level of the walk loses n bytes.  A level
\* holding less than n drops to 0 (the kernel WARNs).
RECURSIVE Uncharge(_, _, _)
Uncharge(c, w, n) ==
    IF w = << >>
    THEN c
    ELSE Uncharge([c EXCEPT ![Head(w)].usage = IF @ >= n THEN @ - n ELSE 0], Tail(w), n)

\* res_counter_set_limit: -EBUSY, changing nothing, when the usage is already
\* over the new limit; it never reclaims.
SetLimit(c, m, v) ==
    IF c[m].usage > v THEN c ELSE [c EXCEPT ![m].limit = v]
=============================================================================
