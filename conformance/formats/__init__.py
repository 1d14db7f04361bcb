"""Output formats: what kmemcg writes for CI and for other tools.

One module per format, each taking what a command found (a verdict's checks, a
model trace, the explored graph, an interleaving) and writing one file:

| module | flag | what |
|---|---|---|
| ``verdict`` | ``--json FILE`` | every command's verdict, one record per check (schema in ``schema/``) |
| ``junit`` | ``--junit FILE`` | the same checks as JUnit XML test cases |
| ``itf`` | ``explore --itf FILE`` | a model counterexample (a lasso for liveness) as ITF |
| ``graph`` | ``explore --graph FILE`` | the explored state graph, GraphML or DOT |
| ``picture`` | ``--picture FILE`` | a counterexample interleaving, threads as lanes, SVG or DOT |
| ``progress`` | (a terminal) | states, rate, queue and elapsed time while a long command runs |

``options`` holds the click options the commands share. A new format is a new
module here and, if a flag, an option in ``options``; ``cli.py`` only passes it
what the command found.
"""
