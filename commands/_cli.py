"""Click plumbing shared by every command: translated help, lazy groups, reusable options, error mapping.

Help texts are written in English and marked with ``N_``; they are translated
when rendered, so ``--lang zh`` and ``LANG=zh_CN.UTF-8`` both work. Subcommand
groups are imported only when used, so ``lycredit --help`` stays fast.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from lycredit.errors import ExitCode, LycreditError
from lycredit.i18n import N_, _
from lycredit.inputs import SURROGATE, escaped, for_terminal

MAX_COUNT = 2**63 - 1
"""The largest count an option takes: a 64-bit signed integer, the most a Python slice (a batch) or a SQL
LIMIT (SQLite's driver) can hold; a larger one is a usage error rather than a traceback."""


def _translated(text: str | None) -> str | None:
    if not text:
        return text
    import inspect

    return _(inspect.cleandoc(text))


class LyOption(click.Option):
    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        original = self.help
        self.help = _translated(original)
        try:
            return super().get_help_record(ctx)
        finally:
            self.help = original


class _Translating:
    help: str | None
    short_help: str | None

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        original = self.help
        self.help = _translated(original)
        try:
            super().format_help_text(ctx, formatter)  # type: ignore[misc]
        finally:
            self.help = original

    def get_short_help_str(self, limit: int = 45) -> str:
        original_help, original_short = self.help, self.short_help
        self.short_help = _translated(original_short) if original_short else None
        self.help = _translated(original_help)
        try:
            return super().get_short_help_str(limit=200)  # type: ignore[misc]
        finally:
            self.help, self.short_help = original_help, original_short


def _not_text(value: Any) -> str | None:
    """The first text in a parameter's value (a text, or tuples of them) that is not Unicode: half of a
    surrogate pair, which is what Python makes of bytes that are not UTF-8 in an argument."""
    if isinstance(value, str):
        return value if not value.isascii() and SURROGATE.search(value) else None
    if isinstance(value, tuple):
        return next((found for item in value if (found := _not_text(item)) is not None), None)
    return None


class _TextArguments:
    """Text options and arguments must be UTF-8 text (a usage error, 2, naming the option otherwise): bytes of
    another encoding (a shell set to GBK, a script's Latin-1) would otherwise reach the database and the log,
    where no UTF-8 text can hold them. Paths are left as they are: a file's name may be any bytes."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        rest = super().parse_args(ctx, args)  # type: ignore[misc]
        for param in self.get_params(ctx):  # type: ignore[attr-defined]
            if isinstance(param.type, click.types.StringParamType) and param.name in ctx.params:
                bad = _not_text(ctx.params[param.name])
                if bad is not None:
                    raise click.BadParameter(_("{value} holds bytes that are not UTF-8 text; give it as "
                                               "UTF-8").format(value=escaped(bad)), ctx=ctx, param=param)
        return rest


class LyCommand(_Translating, _TextArguments, click.Command):
    pass


class LyGroup(_Translating, _TextArguments, click.Group):
    command_class = LyCommand

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: name -> (module, short help); the module's ``cli`` object is the command
        self.lazy = lazy or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.commands:
            return self.commands[name]
        if name not in self.lazy:
            return None
        module, _help = self.lazy[name]
        cmd = importlib.import_module(module).cli
        self.commands[name] = cmd
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            if name in self.commands:
                cmd = self.commands[name]
                if cmd.hidden:
                    continue
                rows.append((name, cmd.get_short_help_str()))
            else:
                rows.append((name, _(self.lazy[name][1])))
        if rows:
            with formatter.section(_("Commands")):
                formatter.write_dl(rows)


LyGroup.group_class = LyGroup

option = functools.partial(click.option, cls=LyOption)

#: The type of a file the command reads (an argument or an option): a Path that click does not check. The core
#: refuses a path that is missing, a directory or unreadable with exit 66, naming it; click's checks would make
#: the last two usage errors (exit 2).
INPUT_FILE = click.Path(path_type=Path, readable=False)
#: The same for a directory the command reads (the core: missing, not a directory or not listable is exit 66).
INPUT_DIR = click.Path(path_type=Path, readable=False)
#: The type of a file the command writes (an output): a Path that click does not check either. The core
#: (lycredit.outputs) refuses one that cannot be created or written, whenever that shows (a directory there, one on
#: the way missing, no permission, a full disk), with exit 78 naming it and leaves nothing half-written; click's
#: dir_okay check would make a directory there a usage error (2) instead.
OUTPUT_FILE = click.Path(path_type=Path)
#: The same for a directory the command writes into (created if need be).
OUTPUT_DIR = click.Path(path_type=Path)


def command(group: click.Group, name: str, help: str, **kwargs: Any) -> Callable:
    return group.command(name, help=help, cls=LyCommand, **kwargs)


def group(name: str, help: str) -> click.Group:
    return LyGroup(name=name, help=help)


def dry_run_option(f: Callable) -> Callable:
    return option("--dry-run", is_flag=True, help=N_("Do the real work in a transaction, report, and roll back."))(f)


def reason_option(required: bool = False) -> Callable:
    return option("--reason", required=required, help=N_("Why: recorded in the signed log."))


def app(ctx: click.Context | None = None):  # -> lycredit.context.AppContext
    ctx = ctx or click.get_current_context()
    obj = ctx.find_root().obj
    obj.command_name = ctx.command_path.partition(" ")[2] or ctx.command_path
    return obj


def say(text: str) -> None:
    """A message for people on stderr (silenced by --quiet)."""
    obj = click.get_current_context().find_root().obj
    if not getattr(obj, "quiet", False):
        click.echo(for_terminal(text), err=True)


def one_more(limit: int) -> int:
    """What to ask the core for to know whether ``--limit`` cut the list: one row more (:func:`limited`)."""
    return min(limit + 1, MAX_COUNT)


def limited(rows: list, limit: int) -> list:
    """The first ``limit`` of ``rows`` (read with :func:`one_more`), saying on stderr when there were more."""
    if len(rows) > limit:
        say(_("Only the first {limit} are shown; there are more: give a larger --limit").format(limit=limit))
    return rows[:limit]


def fail(exc: BaseException) -> int:
    """Map an error to its exit code and print it on stderr: the one place this happens."""
    if isinstance(exc, LycreditError):
        click.echo(for_terminal(_("Error: {message}").format(message=exc.message)), err=True)
        return int(exc.exit_code)
    if isinstance(exc, BrokenPipeError):  # whoever read the output stopped reading (| head): nothing to say
        _discard_output()
        return int(ExitCode.OUTPUT_CLOSED)
    module = type(exc).__module__
    if module.startswith(("sqlalchemy", "sqlite3", "psycopg")) and type(exc).__name__ == "OperationalError":
        detail = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        click.echo(_("Error: {message}").format(message=_("Database unavailable: {error}").format(error=detail)),
                   err=True)
        return int(ExitCode.UNAVAILABLE)
    raise exc


def _discard_output() -> None:
    """Point stdout at /dev/null, so that flushing what is left of it at exit does not fail again (Python would
    print 'Exception ignored' and exit 120)."""
    import os
    import sys

    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real stdout (a test runner's): nothing to flush there
        pass
    finally:
        os.close(devnull)


class RootGroup(LyGroup):
    """The ``lycredit`` group: maps every error raised below it to its exit code, in one place."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:  # noqa: BLE001 - the one mapping point
            ctx.exit(fail(exc))
