"""The ``kmemcg`` console script.

Loading the suite (Z3, Hypothesis, the model) takes the better part of a
second, longer on a loaded machine, and a Ctrl-C in that time would otherwise
end the process with Python's own traceback. This entry point loads the
command group only once it can answer that Ctrl-C with the interrupted status,
as every command does once it runs.
"""

from __future__ import annotations

import sys

from kmemcg.conformance.status import Exit


def main() -> None:
    try:
        from kmemcg.conformance.cli import main as commands  # the load a Ctrl-C may cut
    except KeyboardInterrupt:
        print("interrupted (Ctrl-C) while starting", file=sys.stderr)
        raise SystemExit(Exit.INTERRUPTED) from None
    commands()
