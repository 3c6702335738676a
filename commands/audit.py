"""``lycredit audit``: verify the signed log against the data, anchor, export and read it."""

from __future__ import annotations

from pathlib import Path

import click

from lycredit.i18n import N_, _

from ._cli import INPUT_DIR, OUTPUT_DIR, app, command, group, limited, one_more, option, say

cli = group("audit", N_("Verify, anchor, export and read the signed operation log."))


@command(cli, "verify", N_(
    "Check the whole log (order, hashes, signatures, key validity, checkpoints), replay it, and compare "
    "the result with every row of the tables. Exit 1 if anything is wrong."))
@option("--anchor", "anchor_dir", type=INPUT_DIR, metavar="DIR",
        help=N_("Also check every checkpoint anchored in this directory."))
def verify(anchor_dir: Path | None) -> None:
    from lycredit.oplog.verify import verify_database
    from lycredit.output import render_object, render_rows

    obj = app()
    with obj.reading() as conn:
        report = verify_database(conn, anchor_dir)
    summary = {"ok": report.ok, "entries": report.entries, "operations": report.operations,
               "rows": report.rows, "checkpoints": report.checkpoints, "anchors": report.anchors,
               "root": report.root, "problems": len(report.problems)}
    if obj.fmt in ("json", "ndjson"):
        render_object({**summary, "problems": [p.as_dict() for p in report.problems]}, obj.fmt)
    else:
        if report.problems:
            render_rows([p.as_dict() for p in report.problems], obj.fmt, columns=["where", "what"], bom=obj.bom)
        say(_("{entries} entries, {operations} operations, {rows} rows, {checkpoints} checkpoints, "
              "{anchors} anchors checked: {problems} problems").format(**summary))
    if not report.ok:
        click.get_current_context().exit(1)


@command(cli, "anchor", N_(
    "Write the latest signed checkpoint into DIR (one file per checkpoint, never overwritten). "
    "Keep DIR outside the database administrator's control."))
@option("--out", "out_dir", required=True, type=OUTPUT_DIR, metavar="DIR", help=N_("Anchor directory."))
def anchor(out_dir: Path) -> None:
    from lycredit.oplog.anchor import write_anchor

    obj = app()
    with obj.reading() as conn:
        path, created = write_anchor(conn, out_dir)
    say((_("Anchored {path}") if created else _("Already anchored: {path}")).format(path=path))
    click.echo(str(path))


@command(cli, "export", N_(
    "Write a bundle for an external auditor into DIR: the log's entries, every signed checkpoint, the "
    "operators' keys with their validity, a manifest of SHA-256 hashes, and verify.py, a verifier that needs "
    "only Python and 'cryptography'. DIR must be new or empty. The bundle holds hashes, not personal data."))
@option("--out", "out_dir", required=True, type=OUTPUT_DIR, metavar="DIR",
        help=N_("Bundle directory (new or empty; nothing is overwritten)."))
def export(out_dir: Path) -> None:
    from lycredit.oplog.export import export_bundle
    from lycredit.output import render_object

    obj = app()
    with obj.reading() as conn:
        done = export_bundle(conn, out_dir)
    render_object({"path": str(done.path), "origin": done.origin, "tree_size": done.tree_size, "root": done.root,
                   "entries": done.entries, "operations": done.operations, "checkpoints": done.checkpoints,
                   "keys": done.keys}, obj.fmt, bom=obj.bom)
    say(_("Exported {entries} entries, {operations} operations, {checkpoints} checkpoints and {keys} keys; "
          "check the bundle with: python {verifier} {path}").format(
        entries=done.entries, operations=done.operations, checkpoints=done.checkpoints, keys=done.keys,
        verifier=out_dir / "verify.py", path=out_dir))


LOG_TABLE_COLUMNS = ["seq", "at", "operator", "action", "subject", "reason", "summary"]


@command(cli, "log", N_(
    "Show the signed operations, newest first: who did what, when, to what and why. Days are Asia/Shanghai "
    "days; --since and --until include the days they name."))
@option("--operator", metavar="NAME", help=N_("Only operations signed by this operator."))
@option("--subject", metavar="ID", help=N_("Only operations on this subject."))
@option("--action", metavar="ACTION", help=N_("Only actions starting with this text, e.g. 'operator.' or "
                                              "'key.rotate'."))
@option("--since", type=click.DateTime(["%Y-%m-%d"]), metavar="DATE", help=N_("From this day (YYYY-MM-DD)."))
@option("--until", type=click.DateTime(["%Y-%m-%d"]), metavar="DATE", help=N_("To this day (YYYY-MM-DD)."))
@option("--limit", type=click.IntRange(min=1), default=100, show_default=True,
        help=N_("At most this many operations."))
def log(operator: str | None, subject: str | None, action: str | None, since, until, limit: int) -> None:  # noqa: ANN001
    from lycredit.oplog.history import COLUMNS, LogFilter, operations, shanghai_zone
    from lycredit.output import render_rows

    obj = app()
    flt = LogFilter(operator=operator, subject=subject, action=action, since=since and since.date(),
                    until=until and until.date(), limit=one_more(limit))
    with obj.reading() as conn:
        rows = limited(operations(conn, flt), limit)
    if obj.fmt == "table":
        zone = shanghai_zone()
        rows = [{**r, "at": r["at"].astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")} for r in rows]
        render_rows(rows, "table", columns=LOG_TABLE_COLUMNS)
        say(_("{n} operations shown (times in Asia/Shanghai)").format(n=len(rows)))
    else:
        render_rows(rows, obj.fmt, columns=list(COLUMNS), bom=obj.bom)
