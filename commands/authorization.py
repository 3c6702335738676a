"""``lycredit authorization``: record, list and revoke subjects' written authorisations (Art. 11, 12, 14)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from lycredit.dbapi import MAX_ID
from lycredit.i18n import N_, _

from ._cli import INPUT_FILE, app, command, dry_run_option, group, option, reason_option, say

cli = group("authorization", N_("Subjects' written authorisations (Art. 11, 12, 14): add, list, revoke."))

SCOPE_CHOICES = ["consent:income", "consent:deposits", "consent:securities", "consent:insurance",
                 "consent:real_estate", "consent:tax", "consent:market", "query", "share"]
LIST_COLUMNS = ["id", "subject", "subject_name", "grantee", "scope", "valid_from", "valid_until", "status",
                "document_ref", "revoked_at"]
DAY = click.DateTime(formats=["%Y-%m-%d"])


@command(cli, "add", N_(
    "Record a subject's written authorisation for a unit: consent to collect personal information "
    "(consent:income, consent:deposits, consent:securities, consent:insurance, consent:real_estate, "
    "consent:tax; Art. 12), consent to collect a person's market credit information (consent:market; "
    "Art. 11), to query (query; Art. 14) or to share (share; Art. 11). The signed document is pinned by "
    "its SHA-256."))
@click.argument("subject")
@option("--grantee", required=True, metavar="USCC",
        help=N_("Unified social credit code of the unit the authorisation is given to."))
@option("--scope", required=True, type=click.Choice(SCOPE_CHOICES), help=N_("What the authorisation allows."))
@option("--from", "valid_from", required=True, type=DAY, help=N_("First day in force (YYYY-MM-DD)."))
@option("--until", "valid_until", required=True, type=DAY, help=N_("Last day in force (YYYY-MM-DD)."))
@option("--document-ref", required=True, help=N_("Reference number of the signed authorisation document."))
@option("--document", "document", required=True, type=INPUT_FILE,
        help=N_("The signed authorisation document (a scan or a signed file)."))
@reason_option()
@dry_run_option
def add(subject: str, grantee: str, scope: str, valid_from: datetime, valid_until: datetime, document_ref: str,
        document: Path, reason: str | None, dry_run: bool) -> None:
    from lycredit.authorizations import add as add_authorization

    obj = app()
    with obj.operation("authorization.add", reason=reason, dry_run=dry_run) as uow:
        row = add_authorization(uow, subject, grantee, scope, valid_from.date(), valid_until.date(), document_ref,
                                document)
    click.echo(str(row["id"]))
    say((_("Dry run: would record authorisation {id} ({scope}, {start} to {until})") if dry_run
         else _("Recorded authorisation {id} ({scope}, {start} to {until})")).format(
        id=row["id"], scope=scope, start=row["valid_from"], until=row["valid_until"]))


@command(cli, "list", N_("List authorisations, with the subject's code and name masked where they are a person's."))
@option("--subject", "subject", metavar="CODE", help=N_("Only this subject's authorisations."))
@option("--active", is_flag=True, help=N_("Only those in force on the --as-of day (default today)."))
def list_(subject: str | None, active: bool) -> None:
    from lycredit.authorizations import list_ as list_authorizations
    from lycredit.output import render_rows

    obj = app()
    with obj.reading() as conn:
        rows = list_authorizations(conn, subject, obj.as_of if active else None)
    render_rows(rows, obj.fmt, columns=LIST_COLUMNS, bom=obj.bom)


@command(cli, "revoke", N_("Revoke an authorisation from now on (the subject withdrew it)."))
# bounded by the largest id the column holds (lycredit.dbapi.MAX_ID): a bigger number was a traceback,
# OverflowError from SQLite past 2**63 - 1 or "integer out of range" from PostgreSQL past 2**31 - 1
@click.argument("authorization_id", metavar="ID", type=click.IntRange(1, MAX_ID))
@reason_option(required=True)
@dry_run_option
def revoke(authorization_id: int, reason: str, dry_run: bool) -> None:
    from lycredit.authorizations import revoke as revoke_authorization

    obj = app()
    with obj.operation("authorization.revoke", reason=reason, dry_run=dry_run) as uow:
        revoke_authorization(uow, authorization_id, reason)
    say((_("Dry run: would revoke authorisation {id}") if dry_run else _("Revoked authorisation {id}")).format(
        id=authorization_id))
