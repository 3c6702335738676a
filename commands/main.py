"""``lycredit``: the root command, its global options and the table of subcommand groups."""

from __future__ import annotations

import sys

import click

from lycredit import __version__
from lycredit.i18n import N_, set_language

from ._cli import LyOption, RootGroup

GROUPS: dict[str, tuple[str, str]] = {
    "db": ("lycredit.commands.db", N_("Create, upgrade and inspect the database.")),
    "operator": ("lycredit.commands.operator", N_("Register, list and revoke operators.")),
    "key": ("lycredit.commands.key", N_("Generate and rotate operators' signing keys.")),
    "calendar": ("lycredit.commands.calendar", N_("Working-day calendar: import official schedules, show, count.")),
    "catalog": ("lycredit.commands.catalog", N_("The public credit information catalog (Art. 9): import, list, show, diff, export.")),
    "subject": ("lycredit.commands.subject", N_("Credit subjects (Art. 3, 8): add, import, show, link, unlink.")),
    "authorization": ("lycredit.commands.authorization",
                      N_("Subjects' written authorisations (Art. 11, 12, 14): add, list, revoke.")),
    "record": ("lycredit.commands.record", N_("Credit records (Art. 10-12): submit, import, show, list, correct, withdraw; import runs, abandon.")),
    "query": ("lycredit.commands.query", N_("Disclosure-controlled view of a subject (Art. 13, 14), logged.")),
    "report": ("lycredit.commands.report", N_("A subject's own full credit report (Art. 14, 30).")),
    "sweep": ("lycredit.commands.sweep", N_("Nightly sweeps: take expired dishonesty information out of view (Art. 15).")),
    "deadline": ("lycredit.commands.deadline", N_("Deadline checks: late submissions and other windows due (Art. 10, 46).")),
    "audit": ("lycredit.commands.audit", N_("Verify, anchor, export and read the signed operation log.")),
}


def _set_lang(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value:
        set_language(value)
    return value


def _prompt_passphrase(path) -> str:  # noqa: ANN001
    if not sys.stdin.isatty():
        from lycredit.errors import ConfigError
        from lycredit.i18n import _
        from lycredit.keys import PASSPHRASE_ENV

        raise ConfigError(_("Key file {path} is encrypted: set {env} or run on a terminal to be asked").format(
            path=path, env=PASSPHRASE_ENV))
    from lycredit.i18n import _

    return click.prompt(_("Passphrase for {path}").format(path=path), hide_input=True, err=True)


@click.group(
    cls=RootGroup,
    lazy=GROUPS,
    help=N_(
        "lycredit: administration of the public credit information platform, under the city's Social Credit "
        "Management Measures. Every change is signed and kept in a tamper-evident log."
    ),
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option("--lang", cls=LyOption, is_eager=True, expose_value=False, callback=_set_lang,
              type=click.Choice(["zh", "en"]), help=N_("Language of messages and help (default: from LANG)."))
@click.option("--db", "db", cls=LyOption, metavar="URL",
              help=N_("Database URL (else LYCREDIT_DATABASE_URL, the config file, sqlite:///lycredit.db)."))
@click.option("--config", "config_file", cls=LyOption, metavar="FILE", help=N_("TOML configuration file."))
@click.option("--key", "key_file", cls=LyOption, metavar="FILE",
              help=N_("The operator's private key file (else LYCREDIT_KEY_FILE)."))
@click.option("--format", "fmt", cls=LyOption, type=click.Choice(["table", "json", "ndjson", "csv"]),
              default="table", show_default=True, help=N_("Output format."))
@click.option("--bom", cls=LyOption, is_flag=True, help=N_("With --format csv: start with a UTF-8 BOM for Excel."))
@click.option("--quiet", "-q", cls=LyOption, is_flag=True, help=N_("No messages on stderr, only data and errors."))
@click.option("--verbose", "-v", cls=LyOption, is_flag=True, help=N_("More detail in messages."))
@click.option("--no-progress", cls=LyOption, is_flag=True, help=N_("No progress bar even on a terminal."))
@click.option("--as-of", "as_of", cls=LyOption, metavar="DATE",
              help=N_("Act as of this day (YYYY-MM-DD, Asia/Shanghai); default today."))
@click.version_option(__version__, "--version", prog_name="lycredit")
@click.pass_context
def cli(ctx: click.Context, db, config_file, key_file, fmt, bom, quiet, verbose, no_progress, as_of) -> None:  # noqa: ANN001
    from lycredit.context import AppContext

    if ctx.obj is None:
        ctx.obj = AppContext()
    obj = ctx.obj
    obj.db = db if db is not None else obj.db
    obj.config_file = config_file if config_file is not None else obj.config_file
    obj.key_file = key_file if key_file is not None else obj.key_file
    obj.fmt, obj.bom, obj.quiet, obj.verbose = fmt, bom, quiet, verbose
    obj.progress = not no_progress and sys.stderr.isatty()
    obj.as_of_text = as_of
    if as_of is not None:
        from lycredit.periods import parse_as_of

        obj.as_of = parse_as_of(as_of)  # a malformed day is a usage error before anything runs
    obj.passphrase_prompt = obj.passphrase_prompt or _prompt_passphrase
    ctx.call_on_close(obj.close)


def main(args: list[str] | None = None, prog_name: str = "lycredit") -> None:
    cli.main(args=args, prog_name=prog_name)
