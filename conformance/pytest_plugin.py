"""kmemcg's pytest plugin: the checks of your implementation as pytest items.

In your test suite::

    # tests/test_kmemcg.py
    from kmemcg.conformance.pytest_plugin import kmemcg_checks

    test_kmemcg = kmemcg_checks(impl="mypkg.kernel:make_kernel")   # or pipe="./server"

collects one item per check (:data:`DEFAULT_CHECKS`: the sequential machine on
the ``conformance`` scope, the race machine and the interleaver on
``destruction``; or your own list of ``kmemcg`` argument lists). Each item runs
exactly what the ``kmemcg`` command with those arguments runs, in process, and
fails with the command's own report.

- **Seeds**: one per session, printed in pytest's header; ``--kmemcg-seed N``
  reruns a session. A failing item's report names the seed again.
- **Replays**: a failing machine writes its replay file to
  ``--kmemcg-replays`` (``.kmemcg/replays`` under the rootdir), one per item,
  which ``kmemcg replay FILE`` re-runs.
- **Hypothesis's example database** (``.hypothesis/kmemcg`` under the rootdir,
  ``--kmemcg-database`` to move it): a failure found is saved and tried first
  on the next run, whatever its seed.

The plugin registers itself (an entry point, ``pytest11``) and is inert until
a test module calls :func:`kmemcg_checks`.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from kmemcg.conformance.cli import main
from kmemcg.conformance.status import Exit

#: what a suite checks by default: whole operations, then races, then every interleaving
DEFAULT_CHECKS = (
    ("conform",),
    ("conform", "--race", "--config", "destruction"),
    ("interleave", "--config", "destruction"),
)

#: the commands whose machines draw at random (a seed, a database, a replay file)
_RANDOM = {"conform"}

_SEED = pytest.StashKey[int]()


def pytest_addoption(parser):
    group = parser.getgroup("kmemcg", "kmemcg conformance checks")
    group.addoption("--kmemcg-seed", type=int, default=None,
                    help="the seed of every kmemcg machine this session [default: random, "
                         "printed in the header]")
    group.addoption("--kmemcg-replays", default=None,
                    help="where failing kmemcg checks write their replay files "
                         "[default: .kmemcg/replays under the rootdir]")
    group.addoption("--kmemcg-database", default=None,
                    help="Hypothesis example database of the kmemcg machines "
                         "[default: .hypothesis/kmemcg under the rootdir]")


def pytest_configure(config):
    seed = config.getoption("--kmemcg-seed", default=None)
    config.stash[_SEED] = random.randrange(2**32) if seed is None else seed


def pytest_report_header(config):
    seed = config.stash[_SEED]
    return f"kmemcg: seed {seed} (rerun with --kmemcg-seed {seed})"


def kmemcg_checks(impl: str | None = None, pipe: str | None = None,
                  checks=DEFAULT_CHECKS, kernel: str | None = None,
                  timeout: float | None = None):
    """A test function pytest collects as one item per check of ``checks``
    (``kmemcg`` argument lists) on the implementation ``impl`` (``MOD:FACTORY``)
    or ``pipe`` (a command speaking the JSON-lines protocol); ``kernel`` is the
    release it claims to be (``--kernel``)."""
    if (impl is None) == (pipe is None):
        raise ValueError("kmemcg_checks: give impl or pipe, one of them")
    face = ["--impl", impl] if impl is not None else ["--pipe", pipe]
    face += ["--kernel", kernel] if kernel is not None else []
    face += ["--timeout", str(timeout)] if timeout is not None else []
    checks = [tuple(c) for c in checks]

    @pytest.mark.parametrize("kmemcg_check", checks, ids=[_id(c) for c in checks])
    def test(kmemcg_check, request):
        _run(request, [*kmemcg_check, *face])

    return test


def _id(check: tuple) -> str:
    return "-".join(a.lstrip("-") for a in check)


def _run(request, args: list[str]) -> None:
    config = request.config
    root = Path(config.rootpath)
    if args[0] in _RANDOM:
        replays = Path(config.getoption("--kmemcg-replays", default=None)
                       or root / ".kmemcg" / "replays")
        replays.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.name)
        database = config.getoption("--kmemcg-database", default=None) or \
            root / ".hypothesis" / "kmemcg"
        args = [*args, "--seed", str(config.stash[_SEED]),
                "--save", str(replays / f"{name}.json"), "--database", str(database)]
    result = CliRunner().invoke(main, args)
    if result.exit_code != Exit.OK:
        try:
            verdict = Exit(result.exit_code).name
        except ValueError:
            verdict = f"exit {result.exit_code}"
        pytest.fail(f"kmemcg {' '.join(args)}: {verdict}\n{result.output}", pytrace=False)
