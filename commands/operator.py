"""``lycredit operator``: register, list, show and revoke operators (roles, units, public keys)."""

from __future__ import annotations

import click

from lycredit.i18n import N_, _
from lycredit.roles import ROLES

from ._cli import app, command, dry_run_option, group, option, reason_option, say

cli = group("operator", N_("Register, list and revoke operators."))

LIST_COLUMNS = ["name", "role", "unit", "unit_code", "status", "key_ids", "created_at"]


def _row(view) -> dict:  # noqa: ANN001
    return {"name": view.name, "role": view.role, "unit": view.unit, "unit_code": view.unit_code,
            "status": view.status, "key_ids": " ".join(k["key_id"] for k in view.keys),
            "created_at": view.created_at}


@command(cli, "add", N_("Register an operator with its role, unit and public key (administrators only)."))
@click.argument("name")
@option("--role", required=True, type=click.Choice(list(ROLES)), help=N_("The operator's role."))
@option("--unit-code", required=True, metavar="USCC", help=N_("Unified social credit code of the operator's unit."))
@option("--unit-name", help=N_("Name of the unit, if it is not registered yet."))
@option("--public-key", required=True, metavar="KEY",
        help=N_("The operator's public key: base64 as printed by 'key generate', or a PEM file."))
@dry_run_option
def add(name: str, role: str, unit_code: str, unit_name: str | None, public_key: str, dry_run: bool) -> None:
    from lycredit.keys import parse_public_key
    from lycredit.operators import add_operator

    obj = app()
    with obj.operation("operator.add", subject=None, dry_run=dry_run) as uow:
        add_operator(uow, name, role, unit_code, unit_name, parse_public_key(public_key))
    say((_("Dry run: would register operator {name} ({role})") if dry_run
         else _("Registered operator {name} ({role})")).format(name=name, role=role))


@command(cli, "list", N_("List operators with their role, unit and keys."))
@option("--active", is_flag=True, help=N_("Only operators that are not revoked."))
def list_(active: bool) -> None:
    from lycredit.operators import list_operators
    from lycredit.output import render_rows

    obj = app()
    with obj.reading() as conn:
        views = list_operators(conn, include_revoked=not active)
    render_rows([_row(v) for v in views], obj.fmt, columns=LIST_COLUMNS, bom=obj.bom)


@command(cli, "show", N_("Show one operator and its keys with their validity windows."))
@click.argument("name")
def show(name: str) -> None:
    from lycredit.operators import show_operator
    from lycredit.output import render_object, render_rows

    obj = app()
    with obj.reading() as conn:
        view = show_operator(conn, name)
    data = {**_row(view), "revoked_at": view.revoked_at, "revoke_reason": view.revoke_reason}
    if obj.fmt in ("json", "ndjson"):
        render_object({**data, "keys": view.keys}, obj.fmt)
        return
    render_object(data, obj.fmt, bom=obj.bom)
    click.echo()  # the keys follow in the same file: its BOM is at its start, not before each table
    render_rows(view.keys, obj.fmt, columns=["key_id", "public_key", "valid_from", "valid_until"], excel=obj.bom)


@command(cli, "revoke", N_("Revoke an operator: all its keys stop being valid now."))
@click.argument("name")
@reason_option(required=True)
@dry_run_option
def revoke(name: str, reason: str, dry_run: bool) -> None:
    from lycredit.operators import revoke_operator

    obj = app()
    with obj.operation("operator.revoke", reason=reason, dry_run=dry_run) as uow:
        revoke_operator(uow, name, reason)
    say((_("Dry run: would revoke operator {name}") if dry_run else _("Revoked operator {name}")).format(name=name))
