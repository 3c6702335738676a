"""Stored personal data under the wrong PII key, and altered under the right one (Art. 4, 28).

Every command that opens a person's stored number or name, through the real CLI: under a key that
is not the database's it exits 78 naming the key (as a lookup of a person does, see
tests/test_subjects.py), never 65 as if the data were bad; under the right key an altered value is
still reported as altered (65), and ``audit verify`` still finds the change.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests import test_record_import
from tests.conftest import TEST_ENV
from tests.test_records import GEN, MARKET, submit

SAMPLES_DIR = Path(__file__).resolve().parents[1] / "samples"
COMPANY = "91211382MA0Y8C1K08"  # 凌源市示例建材有限公司 in samples/subjects/subjects.csv
PERSON, PERSON_NAME, PERSON_MASKED = "211382198001010014", "张三", "211382********0014"
TEST_KEY = TEST_ENV["LYCREDIT_PII_KEY"]
OTHER_PII_KEY = base64.b64encode(b"o" * 32).decode()
WRONG_KEY = "not the key this database's resident ID numbers were encrypted with"
ALTERED = "was altered"
AS_OF = "2026-11-27"

platform_with_catalog = test_record_import.platform_with_catalog  # the fixture: a catalog and provider "market"


@pytest.fixture
def world(platform_with_catalog):
    """Through the CLI: the sample subjects, the company linked to 张三, a record about each, an authorisation."""
    platform = platform_with_catalog
    r = platform.run("subject", "import", str(SAMPLES_DIR / "subjects" / "subjects.csv"))
    assert r.exit_code == 0, r.output
    r = platform.run("subject", "link", COMPANY, PERSON, "--as", "legal_representative")
    assert r.exit_code == 0, r.output
    company_record = submit(platform, *GEN)
    assert company_record.exit_code == 0, company_record.output
    person_record = submit(platform, "--item", "GEN-001", "--subject", PERSON, "--name", PERSON_NAME,
                           "--document-no", "凌市监查〔2026〕8号", "--decision-date", "2026-11-20",
                           "--field", "检查结果=合格", "--field", "检查日期=2026-11-19")
    assert person_record.exit_code == 0, person_record.output
    r = platform.run("authorization", "add", PERSON, "--grantee", MARKET, "--scope", "query", "--from",
                     "2026-01-01", "--until", "2026-12-31", "--document-ref", "SQ-2026-0001", "--document",
                     str(SAMPLES_DIR / "authorizations" / "consent-0001.txt"))
    assert r.exit_code == 0, r.output
    platform.company_record = json.loads(company_record.stdout)["id"]
    platform.person_record = json.loads(person_record.stdout)["id"]
    return platform


def commands(world) -> dict[str, tuple[tuple[str, ...], str | None]]:
    """Each command that shows a person's number or name, with the operator it runs as (None: no key)."""
    record = str(world.person_record)
    return {
        "subject show of the linked company": (("subject", "show", COMPANY), None),
        "subject show --reveal of the linked company": (("subject", "show", COMPANY, "--reveal", "--reason",
                                                         "核对身份"), "admin"),
        "subject show of the person": (("subject", "show", PERSON), None),
        "record show": (("record", "show", record), None),
        "record list": (("record", "list"), None),
        "record list --subject": (("record", "list", "--subject", PERSON), None),
        "record correct": (("record", "correct", record, "--field", "检查结果=不合格", "--reason", "录入错误"),
                           "market"),
        "authorization list": (("authorization", "list"), None),
        "query --self": (("query", PERSON, "--self", "--purpose", "本人查询"), "admin"),
        "query --gov-share": (("query", PERSON, "--gov-share", "--purpose", "行政审批核查"), "market"),
        "report": (("report", PERSON), "admin"),
    }


def run(world, args: tuple[str, ...], key: str | None):
    return world.run("--as-of", AS_OF, "--format", "json", *args, key=key)


def alter(world, column: str) -> int:
    """Alter one stored value of 张三 (the last base64url characters of its token), as a database user could."""
    with world.engine().begin() as conn:
        subject_id = conn.execute(sa.text("SELECT person_id FROM subject_link")).scalar()
        token = conn.execute(sa.text(f"SELECT {column} FROM subject WHERE id = :id"), {"id": subject_id}).scalar()
        altered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
        conn.execute(sa.text(f"UPDATE subject SET {column} = :t WHERE id = :id"), {"t": altered, "id": subject_id})
    return subject_id


def test_every_command_that_opens_a_persons_data_works_with_the_right_key(world) -> None:
    for label, (args, key) in commands(world).items():
        r = run(world, args, key)
        assert r.exit_code == 0, (label, r.output)
        assert PERSON not in r.stdout or "--reveal" in args, label
    shown = json.loads(run(world, ("subject", "show", COMPANY), None).stdout)
    assert [(link["code"], link["name"]) for link in shown["links"]] == [(PERSON_MASKED, "张*")]


def use_key(monkeypatch, tmp_path, variable: str, key: str) -> None:
    """Give the PII key in ``variable``: inline, or in a chmod 600 file that the variable names."""
    monkeypatch.delenv("LYCREDIT_PII_KEY", raising=False)
    monkeypatch.delenv("LYCREDIT_PII_KEY_FILE", raising=False)
    if variable == "LYCREDIT_PII_KEY":
        monkeypatch.setenv(variable, key)
        return
    key_file = tmp_path / "pii.key"
    key_file.write_text(key)
    key_file.chmod(0o600)
    monkeypatch.setenv(variable, str(key_file))


@pytest.mark.parametrize("variable", ["LYCREDIT_PII_KEY", "LYCREDIT_PII_KEY_FILE"])
def test_under_a_wrong_key_every_command_that_opens_a_persons_data_names_the_key(
        world, monkeypatch, tmp_path, variable) -> None:
    before = world.run("--format", "json", "record", "show", str(world.person_record), key=None).stdout
    use_key(monkeypatch, tmp_path, variable, OTHER_PII_KEY)
    for label, (args, key) in commands(world).items():
        r = run(world, args, key)
        assert r.exit_code == 78, (label, r.output)
        assert WRONG_KEY in r.stderr and variable in r.stderr, (label, r.stderr)
        assert "failed authentication" not in r.stderr and "Traceback" not in r.output, label
        assert PERSON not in r.output, label
    # what holds no personal data needs no key: an organisation without links, its records, the log
    assert run(world, ("subject", "show", "91211382MA0Y8D2L19"), None).exit_code == 0
    r = run(world, ("record", "show", str(world.company_record)), None)
    assert r.exit_code == 0, r.output
    r = run(world, ("record", "list", "--subject", "91211382MA0Y7K2R12"), None)
    assert r.exit_code == 0 and len(json.loads(r.stdout)) == 1
    r = world.run("audit", "verify", key=None)
    assert r.exit_code == 0, r.output
    use_key(monkeypatch, tmp_path, variable, TEST_KEY)  # nothing was changed (record correct) or stored
    assert world.run("--format", "json", "record", "show", str(world.person_record), key=None).stdout == before


@pytest.mark.parametrize("column", ["ric_enc", "name_enc"])
def test_under_the_right_key_an_altered_value_is_reported_as_altered_not_as_a_wrong_key(world, column) -> None:
    subject_id = alter(world, column)
    opened = {  # which commands open which value: a masked name is stored as such, the clear one is opened
        "ric_enc": set(commands(world)),
        "name_enc": {"subject show --reveal of the linked company", "record correct", "query --self",
                     "query --gov-share", "report"},
    }[column]
    for label, (args, key) in commands(world).items():
        r = run(world, args, key)
        if label not in opened:
            assert r.exit_code == 0, (label, r.output)
            continue
        assert r.exit_code == 65, (label, r.output)
        assert ALTERED in r.stderr and f"credit subject {subject_id}" in r.stderr, (label, r.stderr)
        assert "audit verify" in r.stderr and WRONG_KEY not in r.stderr, label
        assert PERSON not in r.output, label
    r = world.run("audit", "verify", key=None)
    assert r.exit_code == 1 and f"table subject key {subject_id}" in r.stdout, r.output


def test_in_a_database_with_one_person_one_altered_value_is_still_not_taken_for_a_wrong_key(platform) -> None:
    assert platform.run("subject", "add", COMPANY, "--name", "凌源市示例建材有限公司").exit_code == 0
    assert platform.run("subject", "add", PERSON, "--name", PERSON_NAME).exit_code == 0
    assert platform.run("subject", "link", COMPANY, PERSON, "--as", "legal_representative").exit_code == 0
    subject_id = alter(platform, "ric_enc")
    r = platform.run("subject", "show", COMPANY, key=None)
    assert r.exit_code == 65 and ALTERED in r.stderr and f"credit subject {subject_id}" in r.stderr, r.output
    assert WRONG_KEY not in r.stderr


def test_stored_personal_data_is_decrypted_only_through_open_stored() -> None:
    """So that no new command reports a wrong key as bad data again: only the key check and open_stored decrypt."""
    root = Path(__file__).resolve().parents[1]
    allowed = {root / "lycredit" / "identity.py", root / "lycredit" / "subject_lookup.py"}
    callers = [str(path.relative_to(root)) for folder in ("lycredit", "commands")
               for path in sorted((root / folder).rglob("*.py"))
               if path not in allowed and ".decrypt(" in path.read_text(encoding="utf-8")]
    assert callers == []


def test_altered_values_of_the_first_persons_are_not_taken_for_a_wrong_key_while_the_last_ones_open(
        world, monkeypatch) -> None:
    """The key check tries the first and the last persons (KEY_PROBES of each, here one): 张三, the first of the
    four sample persons, altered in both values, is reported as altered, since 赵六, the last, opens."""
    from lycredit import subject_lookup

    monkeypatch.setattr(subject_lookup, "KEY_PROBES", 1)
    alter(world, "name_enc")
    subject_id = alter(world, "ric_enc")
    r = run(world, ("subject", "show", COMPANY), None)
    assert r.exit_code == 65 and ALTERED in r.stderr and f"credit subject {subject_id}" in r.stderr, r.output
    assert WRONG_KEY not in r.stderr
    with world.engine().begin() as conn:  # the last person altered as well: no probe opens, as under a wrong key
        last, token = conn.execute(sa.text("SELECT id, ric_enc FROM subject WHERE ric_enc IS NOT NULL "
                                           "ORDER BY id DESC")).first()
        conn.execute(sa.text("UPDATE subject SET ric_enc = :t, name_enc = :t WHERE id = :id"),
                     {"t": token[:-2] + ("AA" if token[-2:] != "AA" else "BB"), "id": last})
    r = run(world, ("subject", "show", COMPANY), None)
    assert r.exit_code == 78 and WRONG_KEY in r.stderr, r.output
