"""The command line as the tests drive it: in process, never a traceback."""

from click.testing import CliRunner

from kmemcg.conformance.cli import main


def run(*args):
    r = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert "Traceback" not in r.output, r.output
    return r
