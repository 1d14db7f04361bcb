"""The output options the commands share: ``--json FILE`` and ``--junit FILE``.

:func:`outputs` wraps a command: while it runs, the checks its ``run_*``
functions record are collected (:mod:`.verdict`); when it ends, whatever its
exit status (a verdict, an incomplete run, Ctrl-C), the verdict is written as
JSON and as JUnit XML. With ``--json -`` the verdict is the standard output and
the text report goes to standard error.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from pathlib import Path

import click

from kmemcg.conformance.formats import graph, junit, picture, verdict
from kmemcg.conformance.status import Exit


def writable(ctx, param, value):
    """An output path is checked before the long work starts: its directory must
    exist and be writable (a run that finds a bug must be able to keep it)."""
    if value is None or (value == "-" and param.name == "json_path"):
        return value
    path = Path(value)
    parent = path.parent
    if path.is_dir():
        raise click.BadParameter(f"{value} is a directory", ctx, param)
    if not parent.is_dir():
        raise click.BadParameter(f"directory {str(parent)!r} does not exist", ctx, param)
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists()
                                                     and not os.access(path, os.W_OK)):
        raise click.BadParameter(f"{value} is not writable", ctx, param)
    return value


def outputs(command):
    """Add ``--json`` and ``--junit`` to a click command function."""

    @click.option("--json", "json_path", type=click.Path(dir_okay=False), callback=writable,
                  help="write the verdict as JSON (schema: kmemcg/conformance/formats/schema/"
                       "verdict.schema.json); - for standard output (the text report then "
                       "goes to standard error)")
    @click.option("--junit", "junit_path", type=click.Path(dir_okay=False), callback=writable,
                  help="write the verdict as JUnit XML, one test case per check")
    @functools.wraps(command)
    def wrapped(*args, json_path=None, junit_path=None, **kw):
        if json_path is None and junit_path is None:
            return command(*args, **kw)
        ctx = click.get_current_context()
        status = Exit.INTERNAL
        to_stderr = (contextlib.redirect_stdout(sys.stderr) if json_path == "-"
                     else contextlib.nullcontext())
        with verdict.collecting(ctx.info_name, _options(kw)) as v:
            try:
                with to_stderr:
                    command(*args, **kw)
                status = Exit.OK
            except SystemExit as e:
                status = Exit(e.code) if isinstance(e.code, int) else Exit.OK
                raise
            except click.exceptions.Exit as e:
                status = Exit(e.exit_code)
                raise
            except click.ClickException:
                status = Exit.USAGE
                raise
            except KeyboardInterrupt:
                status = Exit.INTERRUPTED
                raise
            except BrokenPipeError:
                status = Exit.BROKEN_PIPE
                raise
            finally:
                _write_all(v, status, json_path, junit_path)

    return wrapped


def _options(kw: dict) -> dict:
    """The command's options as JSON values (a path or an enum as its text)."""
    return {k: v if v is None or isinstance(v, bool | int | float | str) else
            [str(x) for x in v] if isinstance(v, list | tuple) else str(v)
            for k, v in kw.items()}


def _write_all(v, status, json_path, junit_path) -> None:
    """Write the verdict's files; one that cannot be written is said, and the
    command's own status stands."""
    for path, write, what in ((json_path, lambda p: verdict.write(p, v.to_json(status)),
                               "JSON verdict"),
                              (junit_path, lambda p: junit.write(p, v), "JUnit XML")):
        if path is None:
            continue
        try:
            write(path)
        except OSError as e:
            click.echo(f"cannot write the {what} to {path}: {e}", err=True)


def _suffixed(suffixes: dict):
    """A writable output path whose suffix names one of ``suffixes``' formats."""

    def check(ctx, param, value):
        if value is not None and Path(value).suffix.lower() not in suffixes:
            raise click.BadParameter(f"{value}: the format is the file's suffix, one of "
                                     f"{', '.join(suffixes)}", ctx, param)
        return writable(ctx, param, value)

    return check


graph_option = click.option(
    "--graph", type=click.Path(dir_okay=False), callback=_suffixed(graph.SUFFIXES),
    help="write the explored state graph: FILE.graphml (GraphML) or FILE.dot (DOT)")
picture_option = click.option(
    "--picture", type=click.Path(dir_okay=False), callback=_suffixed(picture.SUFFIXES),
    help="draw a counterexample interleaving, threads as lanes and the violating step "
         "marked: FILE.svg or FILE.dot")
