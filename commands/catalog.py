"""``lycredit catalog``: import, list, show, diff and export the credit information catalog (Art. 9)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import click

from lycredit.i18n import N_, _

from ._cli import INPUT_FILE, OUTPUT_FILE, app, command, dry_run_option, group, option, reason_option, say

cli = group("catalog",
            N_("The public credit information catalog (Art. 9): import, list, show, diff, export."))

DATE = click.DateTime(formats=["%Y-%m-%d"])
ITEM_COLUMNS = ["code", "name", "provider_name", "category", "disclosure", "validity_months", "dishonesty",
                "severity"]
VERSION_COLUMNS = ["version", "effective_from", "superseded_from", "in_force", "items", "source_name"]
DIFF_COLUMNS = ["change", "code", "name", "field", "old", "new"]
FIELD_COLUMNS = ["name", "type", "required", "values"]


def _version_option(f: Callable) -> Callable:
    return option("--version", "version", metavar="V",
                  help=N_("A catalog version by name (default: the version in force on --as-of, today)."))(f)


@command(cli, "import", N_(
    "Check a catalog file (csv, xlsx, json, ndjson or parquet; Chinese or English column names) and import "
    "it as a new version in force from --effective. Every problem is reported at once and nothing is "
    "imported unless the whole file is valid (exit 65)."))
@click.argument("file", type=INPUT_FILE)
@option("--version", "version", required=True, metavar="V", help=N_("Name of the new version, e.g. 2026."))
@option("--effective", required=True, type=DATE, metavar="DATE",
        help=N_("The day the version takes effect (YYYY-MM-DD)."))
@option("--backdate", is_flag=True,
        help=N_("Allow an effective date before the latest version's (the operation records it)."))
@reason_option()
@dry_run_option
def import_(file: Path, version: str, effective: dt.datetime, backdate: bool, reason: str | None,
            dry_run: bool) -> None:
    from lycredit.catalog import import_catalog

    obj = app()
    with obj.operation("catalog.import", reason=reason, dry_run=dry_run) as uow:
        result = import_catalog(uow, file, version, effective.date(), backdate=backdate)
    if dry_run:
        text = _("Dry run: would import catalog version {version} ({items} items), in force from {day}")
    else:
        text = _("Imported catalog version {version} ({items} items), in force from {day}")
    say(text.format(version=result.version, items=result.items, day=result.effective_from))
    if result.earlier_records:
        say(_("Note: {count} stored records have a decision date that version {version} now covers; they were "
              "checked against an earlier version and keep its items, and a correction of one is checked against "
              "version {version}").format(count=result.earlier_records, version=result.version))


@command(cli, "list", N_("List the items of a catalog version (default: the one in force on --as-of), or the "
                         "versions."))
@_version_option
@option("--on", type=DATE, metavar="DATE", help=N_("The version in force on this day."))
@option("--versions", "versions", is_flag=True,
        help=N_("List the versions with their effective dates instead."))
def list_(version: str | None, on: dt.datetime | None, versions: bool) -> None:
    from lycredit.catalog import list_versions, select_catalog
    from lycredit.errors import UsageError
    from lycredit.output import render_rows

    obj = app()
    if version and (on or versions):
        raise UsageError(_("--version names one version: it cannot be combined with --on or --versions"))
    day = on.date() if on else obj.as_of
    with obj.reading() as conn:
        if versions:
            rows = [{**v.as_row(), "in_force": v.in_force_on(day)} for v in list_versions(conn)]
            render_rows(rows, obj.fmt, columns=VERSION_COLUMNS if obj.fmt == "table" else None, bom=obj.bom)
            return
        catalog = select_catalog(conn, version, day)
    say(_("Catalog version {version}, in force from {day}: {items} items").format(
        version=catalog.version.version, day=catalog.version.effective_from, items=len(catalog.items)))
    render_rows([item.as_row() for item in catalog.items], obj.fmt,
                columns=ITEM_COLUMNS if obj.fmt == "table" else None, bom=obj.bom)


@command(cli, "show", N_("Show one catalog item with its data standard."))
@click.argument("code")
@_version_option
def show(code: str, version: str | None) -> None:
    from lycredit.catalog import show_item
    from lycredit.output import render_object, render_rows

    obj = app()
    with obj.reading() as conn:
        found, item = show_item(conn, code, version, on=obj.as_of)
    data = {"version": found.version, **item.as_row()}
    fields = [f.as_dict() for f in item.data_standard]
    if obj.fmt in ("json", "ndjson"):
        render_object({**data, "data_standard": fields}, obj.fmt)
        return
    render_object({k: v for k, v in data.items() if k != "data_standard"}, obj.fmt, bom=obj.bom)
    click.echo()  # the data standard follows in the same file: its BOM is at its start, not before each table
    render_rows([{**f, "values": "|".join(f.get("values", []))} for f in fields], obj.fmt,
                columns=FIELD_COLUMNS, excel=obj.bom)


@command(cli, "diff", N_("Show the items added, removed and changed (field by field) from version V1 to V2."))
@click.argument("v1")
@click.argument("v2")
def diff_(v1: str, v2: str) -> None:
    from lycredit.catalog import diff
    from lycredit.output import render_rows

    obj = app()
    with obj.reading() as conn:
        result = diff(conn, v1, v2)
    render_rows(result.rows(), obj.fmt, columns=DIFF_COLUMNS, bom=obj.bom)
    say(_("From {old} to {new}: {added} added, {removed} removed, {changed} changed").format(
        old=v1, new=v2, added=len(result.added), removed=len(result.removed), changed=len(result.changed)))


@command(cli, "export", N_(
    "Write a catalog version as a catalog file that imports back unchanged: csv (UTF-8 with a BOM, for "
    "Excel), xlsx, json or parquet, by the suffix of --out. Without --out, print it in --format."))
@_version_option
@option("--out", type=OUTPUT_FILE, metavar="FILE", help=N_("The file to write (replaced if it exists)."))
def export_(version: str | None, out: Path | None) -> None:
    from lycredit.catalog import catalog_in_force, export, write_catalog_file
    from lycredit.output import render_rows

    obj = app()
    with obj.reading() as conn:
        name = version or catalog_in_force(conn, obj.as_of).version.version
        rows = export(conn, name)
    if out is None:
        render_rows(rows, obj.fmt, bom=obj.bom)
        return
    fmt = write_catalog_file(rows, out)
    say(_("Exported catalog version {version} ({items} items) to {file} ({format})").format(
        version=name, items=len(rows), file=out, format=fmt))
