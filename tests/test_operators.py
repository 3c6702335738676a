"""Operators, keys and roles: who may run what, and how a key is protected."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import sqlalchemy as sa

from tests.conftest import PASSPHRASE, invoke


def test_key_generate_writes_an_encrypted_private_key_readable_only_by_its_owner(tmp_path) -> None:
    path = tmp_path / "k.key"
    r = invoke(["key", "generate", "--out", str(path)])
    assert r.exit_code == 0, r.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert "ENCRYPTED PRIVATE KEY" in text
    assert len(r.stdout.strip()) == 44  # base64 of the 32-byte public key


def test_key_generate_never_overwrites(tmp_path) -> None:
    path = tmp_path / "k.key"
    path.write_text("precious")
    r = invoke(["key", "generate", "--out", str(path)])
    assert r.exit_code == 78 and "never overwrites" in r.stderr
    assert path.read_text() == "precious"


def test_key_generate_refuses_a_pem_file_that_is_the_private_key_file(tmp_path) -> None:
    """--pem naming the --out file (or a link to it) would replace the new private key with its public key: the
    operator would register a key nobody holds. Refused before anything is written."""
    key = tmp_path / "k.key"
    (tmp_path / "link.pem").symlink_to(key)
    for pem in (key, tmp_path / "." / "k.key", tmp_path / "link.pem"):
        r = invoke(["key", "generate", "--out", str(key), "--pem", str(pem)])
        assert r.exit_code == 2, r.output
        assert "--pem" in r.stderr and "Traceback" not in r.output, r.stderr
        assert not key.exists()


def test_key_generate_without_passphrase_off_a_terminal_is_refused(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("LYCREDIT_KEY_PASSPHRASE")
    r = invoke(["key", "generate", "--out", str(tmp_path / "k.key")])
    assert r.exit_code == 78 and "LYCREDIT_KEY_PASSPHRASE" in r.stderr
    assert not (tmp_path / "k.key").exists()


def test_a_key_file_readable_by_others_is_refused(platform) -> None:
    os.chmod(platform.admin_key, 0o644)
    r = platform.run("operator", "revoke", "nobody", "--reason", "x")
    assert r.exit_code == 78 and "chmod 600" in r.stderr


def test_wrong_passphrase_is_refused_with_exit_77(platform) -> None:
    r = platform.run("operator", "revoke", "nobody", "--reason", "x",
                     env={"LYCREDIT_KEY_PASSPHRASE": "not the passphrase"})
    assert r.exit_code == 77 and "wrong passphrase" in r.stderr


def test_missing_key_file_is_exit_66(platform) -> None:
    r = platform.run("operator", "revoke", "nobody", "--reason", "x", key=str(platform.dir / "nope.key"))
    assert r.exit_code == 66


def test_admin_registers_an_operator_and_it_is_listed(platform) -> None:
    platform.add_operator("scjg-01", "provider")
    rows = json.loads(platform.run("--format", "json", "operator", "list", key=None).stdout)
    by_name = {r["name"]: r for r in rows}
    assert by_name["scjg-01"]["role"] == "provider" and by_name["scjg-01"]["status"] == "active"
    shown = json.loads(platform.run("--format", "json", "operator", "show", "scjg-01", key=None).stdout)
    assert shown["keys"][0]["valid_until"] is None


def test_a_role_that_may_not_run_a_command_is_refused_with_exit_77_and_logged(platform) -> None:
    platform.add_operator("scjg-01", "provider")
    key = str(platform.keys["admin"])
    r = platform.run("operator", "add", "x2", "--role", "auditor", "--unit-code", "91", "--public-key", key,
                     key="scjg-01")
    assert r.exit_code == 77
    assert "provider" in r.stderr and "operator.add" in r.stderr
    with platform.engine().connect() as conn:
        last = conn.execute(sa.text("SELECT operator, action, summary FROM oplog_operation ORDER BY seq DESC")).first()
    assert last.operator == "scjg-01" and last.action == "refused"
    assert json.loads(last.summary)["refused_action"] == "operator.add"


def test_a_revoked_operator_is_refused_with_exit_77(platform) -> None:
    platform.add_operator("scjg-01", "operator")
    assert platform.run("operator", "revoke", "scjg-01", "--reason", "left the bureau").exit_code == 0
    r = platform.run("operator", "revoke", "admin", "--reason", "x", key="scjg-01")
    assert r.exit_code == 77 and "revoked" in r.stderr


def test_an_unregistered_key_is_refused_with_exit_77(platform) -> None:
    stray = platform.dir / "stray.key"
    assert invoke(["key", "generate", "--out", str(stray)]).exit_code == 0
    r = platform.run("operator", "revoke", "admin", "--reason", "x", key=str(stray))
    assert r.exit_code == 77 and "not registered" in r.stderr


def test_key_rotation_keeps_the_old_key_valid_for_the_overlap(platform) -> None:
    platform.add_operator("ops-1", "operator")
    new = platform.dir / "ops-1-new.key"
    public = invoke(["key", "generate", "--out", str(new)]).stdout.strip()
    r = platform.run("key", "rotate", "ops-1", "--public-key", public, "--overlap-days", "3")
    assert r.exit_code == 0, r.output
    keys = json.loads(platform.run("--format", "json", "operator", "show", "ops-1", key=None).stdout)["keys"]
    assert len(keys) == 2
    assert keys[0]["valid_until"] is not None and keys[1]["valid_until"] is None
    rotate_now = platform.run("key", "rotate", "ops-1", "--public-key", public, "--overlap-days", "0")
    assert rotate_now.exit_code == 65 and "already registered" in rotate_now.stderr


def test_rotation_with_no_overlap_ends_the_old_key_at_once(platform) -> None:
    old = platform.add_operator("ops-2", "admin")
    new = platform.dir / "ops-2-new.key"
    public = invoke(["key", "generate", "--out", str(new)]).stdout.strip()
    assert platform.run("key", "rotate", "ops-2", "--public-key", public, "--overlap-days", "0").exit_code == 0
    assert platform.run("operator", "revoke", "nobody", "--reason", "x", key=str(old)).exit_code == 77
    assert platform.run("operator", "revoke", "nobody", "--reason", "x", key=str(new)).exit_code == 65


def test_operator_names_and_units_are_validated(platform) -> None:
    key = platform.dir / "v.key"
    public = invoke(["key", "generate", "--out", str(key)]).stdout.strip()
    bad_name = platform.run("operator", "add", "Bad Name", "--role", "operator", "--unit-code",
                            "91210000000000000X", "--public-key", public)
    assert bad_name.exit_code == 65 and "not valid" in bad_name.stderr
    bad_unit = platform.run("operator", "add", "okname", "--role", "operator", "--unit-code", "123",
                            "--unit-name", "x", "--public-key", public)
    assert bad_unit.exit_code == 65
    bad_key = platform.run("operator", "add", "okname", "--role", "operator", "--unit-code", "123",
                           "--public-key", "AAAA")
    assert bad_key.exit_code == 65 and "public key" in bad_key.stderr


def test_passphrase_is_never_echoed_or_stored(platform) -> None:
    assert PASSPHRASE.encode() not in platform.admin_key.read_bytes()


def test_an_operation_is_refused_if_the_key_expires_before_it_is_signed(platform, monkeypatch) -> None:
    import datetime as dt

    from lycredit.oplog import log

    platform.add_operator("slow-1", "operator")
    new = platform.dir / "slow-1-new.key"
    public = invoke(["key", "generate", "--out", str(new)]).stdout.strip()
    assert platform.run("key", "rotate", "slow-1", "--public-key", public, "--overlap-days", "1").exit_code == 0
    later = log.utcnow() + dt.timedelta(days=2)  # the import ran past the end of the overlap
    monkeypatch.setattr(log, "utcnow", lambda: later)
    sample = Path(__file__).resolve().parents[1] / "samples" / "calendar" / "2027.csv"
    r = platform.run("calendar", "import", str(sample), key="slow-1")  # a command its role may run
    assert r.exit_code == 77 and "not valid now" in r.stderr
    with platform.engine().connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM calendar_day")).scalar() == 0


def test_operator_show_as_csv_for_excel_starts_with_one_bom_and_has_none_inside(platform) -> None:
    """operator show writes two tables (the operator, its keys); with --bom each began with a BOM, so the
    second sat inside the file and Excel showed it as part of the cell 'key_id'. --bom starts the CSV with one."""
    platform.add_operator("scjg-01", "provider")
    r = platform.run("--format", "csv", "--bom", "operator", "show", "scjg-01", key=None)
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("\ufeff") and r.stdout.count("\ufeff") == 1
    lines = r.stdout[1:].splitlines()
    assert lines[0] == "field,value" and "key_id,public_key,valid_from,valid_until" in lines
    plain = platform.run("--format", "csv", "operator", "show", "scjg-01", key=None)
    assert "\ufeff" not in plain.stdout
