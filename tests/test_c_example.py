"""examples/c: a second implementation, in C, of docs/protocol.md's minimal path,
built here with the system compiler and judged over the pipe; its wrong variants
(-DBUG_...) are killed. Small, seeded runs: the whole file stays well under a minute."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kmemcg.conformance.status import Exit
from tests.cli import run

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "c"
KMEMCG = Path(sys.executable).parent / "kmemcg"
CC = shutil.which("gcc") or shutil.which("cc")
BUGS = {"NO_KMEM_ROLLBACK": "kmem.usage", "LIMIT_ROUND_DOWN": "kmem.limit",
        "ACTIVATE_WITH_TASKS": "kmem_active"}

pytestmark = pytest.mark.skipif(CC is None, reason="no C compiler on PATH")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The implementation and its variants, compiled side by side, warnings as errors."""
    out = tmp_path_factory.mktemp("c")
    jobs = [subprocess.Popen([CC, "-O1", "-Wall", "-Wextra", "-Werror", "-std=gnu11", *flags,
                              "-o", str(out / name), str(EXAMPLE / "kmemcg.c")],
                             stderr=subprocess.PIPE, text=True)
            for name, flags in [("kmemcg-c", [])]
            + [(f"kmemcg-c-{b}", [f"-DBUG_{b}"]) for b in BUGS]]
    for job in jobs:
        _, err = job.communicate(timeout=120)
        assert job.returncode == 0, err
    return out


def test_the_c_implementation_conforms_over_the_pipe(built):
    r = run("conform", "--pipe", built / "kmemcg-c", "--seed", "1", "--examples", "10",
            "--steps", "20")
    assert r.exit_code == Exit.OK, r.output
    assert "conforms" in r.output and "0 uncovered" in r.output


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_each_wrong_variant_of_the_c_implementation_is_killed(built, bug, tmp_path):
    r = run("conform", "--pipe", built / f"kmemcg-c-{bug}", "--seed", "1", "--examples", "10",
            "--steps", "20", "--save", tmp_path / "r.json")
    assert r.exit_code == Exit.VIOLATION, r.output
    assert "NONCONFORMANCE" in r.output and BUGS[bug] in r.output, r.output


def test_race_checking_says_in_one_line_why_the_c_implementation_cannot_be_interleaved(built):
    r = subprocess.run([KMEMCG, "interleave", "--config", "race", "--pipe",
                        str(built / "kmemcg-c")], capture_output=True, text=True, timeout=60)
    assert r.returncode == Exit.USAGE
    assert r.stderr.count("\n") == 1 and "offers only whole operations" in r.stderr, r.stderr


def test_the_c_implementation_refuses_a_scope_it_does_not_implement(built):
    r = run("conform", "--config", "destruction", "--pipe", built / "kmemcg-c",
            "--examples", "1")
    assert r.exit_code == Exit.USAGE, r.output
    assert "refuses the configuration 'destruction'" in r.output
    assert "root caches are not supported" in r.output
