"""``lycredit subject``: register, import, show and link credit subjects (Art. 3, 4, 8, 13, 23).

A resident ID number and a person's name are printed masked; only an administrator can
see them in clear, with ``show --reveal --reason``, which is logged as event ``pii.reveal``.
"""

from __future__ import annotations

from pathlib import Path

import click

from lycredit.dbapi import MAX_ID
from lycredit.i18n import N_, _

from ._cli import INPUT_FILE, MAX_COUNT, app, command, dry_run_option, group, option, reason_option, say

cli = group("subject", N_("Credit subjects (Art. 3, 8): add, import, show, link, unlink."))

RELATION_CHOICES = ["legal_representative", "principal", "actual_controller", "financial_officer"]
SHOW_FIELDS = ["id", "kind", "kind_zh", "code", "name", "checksum_override", "created_at"]
LINK_COLUMNS = ["link_id", "relation", "relation_zh", "party", "code", "name", "ended_at"]


@command(cli, "add", N_(
    "Register a credit subject: an organisation by its unified social credit code, a natural person by "
    "resident ID number. A genuine code that fails only its checksum is admitted with --override-checksum "
    "and --reason (credit office staff only; logged)."))
@click.argument("code")
@option("--name", required=True, help=N_("The organisation's name or the person's name."))
@option("--override-checksum", is_flag=True,
        help=N_("Admit a unified social credit code whose only fault is its check character."))
@reason_option()
@dry_run_option
def add(code: str, name: str, override_checksum: bool, reason: str | None, dry_run: bool) -> None:
    from lycredit.output import render_object
    from lycredit.subjects import OVERRIDE_ACTION, add_subject, subject_view

    obj = app()
    with obj.operation(OVERRIDE_ACTION if override_checksum else "subject.add", reason=reason,
                       dry_run=dry_run) as uow:
        view = subject_view(uow.conn, add_subject(uow, code, name, override_checksum=override_checksum,
                                                  today=obj.as_of))
    render_object({field: view[field] for field in SHOW_FIELDS}, obj.fmt, bom=obj.bom)
    say((_("Dry run: would register credit subject {code}") if dry_run
         else _("Registered credit subject {code}")).format(code=view["code"]))


@command(cli, "import", N_(
    "Import credit subjects from a CSV, Excel, JSON or Parquet file with the columns 名称 (name), "
    "统一社会信用代码 or 公民身份号码 (code) and optionally 类型 (kind). Every row is checked first; if any "
    "row is wrong, every problem is listed and nothing is imported (exit 65). Subjects already registered "
    "are kept as they are."))
@click.argument("file", type=INPUT_FILE)
@option("--batch-size", type=click.IntRange(1, MAX_COUNT), default=10_000, show_default=True, metavar="N",
        help=N_("Subjects registered per signed operation, once the whole file has passed its checks."))
@reason_option()
@dry_run_option
def import_(file: Path, batch_size: int, reason: str | None, dry_run: bool) -> None:
    from lycredit.output import render_object
    from lycredit.subjects import import_subjects_file

    obj = app()
    counts = import_subjects_file(obj, file, reason=reason, dry_run=dry_run, today=obj.as_of, batch_size=batch_size)
    render_object({**counts, "dry_run": dry_run}, obj.fmt, bom=obj.bom)
    say((_("Dry run: would import {file}: {created} new subjects, {existing} already registered") if dry_run
         else _("Imported {file}: {created} new subjects, {existing} already registered")).format(
        file=file, **counts))


@command(cli, "show", N_(
    "Show a credit subject and its Art. 8 links. A person's number and name are masked; an administrator "
    "may see them in clear with --reveal and --reason, which is logged."))
@click.argument("code")
@option("--reveal", is_flag=True, help=N_("Show personal data in clear (administrators only; logged)."))
@reason_option()
def show(code: str, reveal: bool, reason: str | None) -> None:
    from lycredit.output import render_object, render_rows
    from lycredit.subjects import reveal as reveal_subject
    from lycredit.subjects import show as show_subject

    obj = app()
    if reveal:
        with obj.operation("pii.reveal", reason=reason) as uow:
            view = reveal_subject(uow, code)
    else:
        with obj.reading() as conn:
            view = show_subject(conn, code)
    data = {field: view[field] for field in SHOW_FIELDS}
    if obj.fmt in ("json", "ndjson"):
        render_object({**data, "links": view["links"]}, obj.fmt)
        return
    render_object(data, obj.fmt, bom=obj.bom)
    if view["links"]:
        click.echo()  # the links follow in the same file: its BOM is at its start, not before each table
        render_rows(view["links"], obj.fmt, columns=LINK_COLUMNS, excel=obj.bom)


@command(cli, "link", N_(
    "Link an organisation to its legal representative (法定代表人), principal (主要负责人), actual "
    "controller (实际控制人) or financial officer (财务负责人) (Art. 8, 23)."))
@click.argument("org_code")
@click.argument("person_code")
@option("--as", "relation", required=True, type=click.Choice(RELATION_CHOICES),
        help=N_("The person's relation to the organisation."))
@reason_option()
@dry_run_option
def link(org_code: str, person_code: str, relation: str, reason: str | None, dry_run: bool) -> None:
    from lycredit.subjects import RELATIONS, display_code
    from lycredit.subjects import link as link_subjects

    obj = app()
    with obj.operation("subject.link", reason=reason, dry_run=dry_run) as uow:
        row = link_subjects(uow, org_code, person_code, relation)
    click.echo(str(row["id"]))
    say((_("Dry run: would link {person} to {org} as {relation}") if dry_run
         else _("Linked {person} to {org} as {relation}")).format(
        person=display_code(person_code), org=display_code(org_code),
        relation=f"{relation} ({RELATIONS[relation]})"))


@command(cli, "unlink", N_(
    "End a link of an organisation to a person (the legal representative has changed, say): it stays on record "
    "with the time it ended and no longer counts for Art. 23's joint measures. LINK_ID is the link_id that "
    "'subject show' lists."))
@click.argument("link_id", type=click.IntRange(1, MAX_ID))  # a larger number is no link's id (lycredit.dbapi)
@reason_option(required=True)
@dry_run_option
def unlink(link_id: int, reason: str, dry_run: bool) -> None:
    from lycredit.subjects import unlink as end_link

    obj = app()
    with obj.operation("subject.unlink", reason=reason, dry_run=dry_run) as uow:
        end_link(uow, link_id)
    click.echo(str(link_id))
    say((_("Dry run: would end link {id}") if dry_run else _("Ended link {id}")).format(id=link_id))
