"""Written authorisations (Art. 11, 12, 14): consents in force day by day, revocation, query refusals."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from lycredit.errors import DataError
from lycredit.identity import CONSENT_FIELDS, mask_ric

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
DOCUMENT = SAMPLES / "authorizations" / "consent-0001.txt"
PERSON = "211382198001010014"
OTHER_PERSON = "211382198512120020"
COMPANY = "91211382MA0Y8C1K08"
OTHER_COMPANY = "91211382MA0Y8D2L19"
FIRST, LAST = dt.date(2026, 1, 1), dt.date(2026, 12, 31)


@pytest.fixture
def subjects(platform):
    r = platform.run("subject", "import", str(SAMPLES / "subjects" / "subjects.csv"))
    assert r.exit_code == 0, r.output
    return platform


def authorize(platform, *, subject: str = PERSON, scope: str = "query", start: str = "2026-01-01",
              until: str = "2026-12-31", grantee: str = COMPANY, document: Path = DOCUMENT, key: str = "admin"):
    return platform.run("authorization", "add", subject, "--grantee", grantee, "--scope", scope, "--from", start,
                        "--until", until, "--document-ref", "SQ-2026-0001", "--document", str(document), key=key)


def subject_id(platform, code: str) -> int:
    return json.loads(platform.run("--format", "json", "subject", "show", code, key=None).stdout)["id"]


def authorization_count(platform) -> int:
    with platform.engine().connect() as conn:
        return conn.execute(sa.text('SELECT count(*) FROM "authorization"')).scalar()


# --- scopes and the in-force rule --------------------------------------------------------------

def test_every_art_12_consent_topic_has_its_scope_and_the_cli_offers_every_scope() -> None:
    from lycredit.authorizations import SCOPES, TOPIC_SCOPES, consent_scope
    from lycredit.commands.authorization import SCOPE_CHOICES

    assert set(TOPIC_SCOPES) == {rule.topic for rule in CONSENT_FIELDS}
    assert SCOPE_CHOICES == list(SCOPES)
    assert consent_scope("commercial insurance") == consent_scope("insurance") == "consent:insurance"
    assert consent_scope("tax amount") == consent_scope("consent:tax") == "consent:tax"
    assert consent_scope("market") == "consent:market"


@pytest.mark.parametrize("bad", ["religion", "query", "consent:health", ""])
def test_a_topic_no_consent_covers_is_rejected(bad) -> None:
    from lycredit.authorizations import consent_scope

    with pytest.raises(DataError, match="No consent scope"):
        consent_scope(bad)


def test_an_unknown_scope_is_rejected_listing_the_scopes() -> None:
    from lycredit.authorizations import validate_scope

    assert validate_scope(" share ") == "share"
    with pytest.raises(DataError, match="consent:income"):
        validate_scope("consent:everything")


days = st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2030, 12, 31))


@given(days, days, days, st.one_of(st.none(), days))
def test_an_authorisation_is_in_force_within_its_days_until_the_day_it_is_revoked(start, until, on, revoked) -> None:
    from lycredit.authorizations import in_force

    revoked_at = None if revoked is None else dt.datetime.combine(revoked, dt.time(1, 30), dt.UTC)
    row = {"valid_from": start, "valid_until": until, "revoked_at": revoked_at}
    assert in_force(row, on) == (start <= on <= until and (revoked is None or on < revoked))


def test_the_revocation_day_is_the_day_in_shanghai() -> None:
    from lycredit.authorizations import in_force

    late_utc = dt.datetime(2026, 3, 31, 17, 0, tzinfo=dt.UTC)  # 2026-04-01 01:00 in Shanghai
    row = {"valid_from": FIRST, "valid_until": LAST, "revoked_at": late_utc}
    assert in_force(row, dt.date(2026, 3, 31)) and not in_force(row, dt.date(2026, 4, 1))


# --- recording ---------------------------------------------------------------------------------

def test_an_authorisation_is_recorded_with_the_document_hash(subjects) -> None:
    r = authorize(subjects)
    assert r.exit_code == 0, r.output
    rows = json.loads(subjects.run("--format", "json", "authorization", "list", key=None).stdout)
    assert len(rows) == 1
    assert rows[0]["id"] == int(r.stdout) and rows[0]["scope"] == "query" and rows[0]["status"] == "active"
    assert rows[0]["subject"] == mask_ric(PERSON) and rows[0]["subject_name"] == "张*"
    with subjects.engine().connect() as conn:
        stored = conn.execute(sa.text('SELECT document_sha256 FROM "authorization"')).scalar()
    assert stored == hashlib.sha256(DOCUMENT.read_bytes()).hexdigest()
    assert subjects.run("audit", "verify", key=None).exit_code == 0


def test_a_missing_document_exits_66_and_records_nothing(subjects, tmp_path) -> None:
    r = authorize(subjects, document=tmp_path / "none.pdf")
    assert r.exit_code == 66 and "none.pdf" in r.stderr
    assert authorization_count(subjects) == 0


@pytest.mark.parametrize(("change", "rule"), [
    ({"until": "2025-12-31"}, "ends (2025-12-31) before it starts (2026-01-01)"),
    ({"grantee": COMPANY[:-1] + "9"}, "check character"),
    ({"subject": OTHER_PERSON[:-1] + "9"}, "No credit subject"),
    ({"subject": COMPANY, "scope": "consent:income"}, "organisation"),
    ({"document": "empty"}, "is empty"),
])
def test_a_bad_authorisation_is_rejected_naming_the_rule(subjects, tmp_path, change, rule) -> None:
    if change.get("document") == "empty":
        (tmp_path / "empty.txt").write_bytes(b"")
        change = {"document": tmp_path / "empty.txt"}
    r = authorize(subjects, **change)
    assert r.exit_code == 65 and rule in r.stderr, r.output
    assert PERSON not in r.output and OTHER_PERSON[:-1] not in r.output
    assert authorization_count(subjects) == 0


def test_the_same_day_is_a_valid_one_day_authorisation_and_recording_it_twice_is_refused(subjects) -> None:
    assert authorize(subjects, start="2026-05-01", until="2026-05-01").exit_code == 0
    r = authorize(subjects, start="2026-05-01", until="2026-05-01")
    assert r.exit_code == 65 and "already recorded" in r.stderr


@pytest.mark.parametrize("args", [["--scope", "consent:everything"], ["--from", "2026-02-30"]])
def test_an_unknown_scope_or_a_date_that_does_not_exist_is_a_usage_error(subjects, args) -> None:
    base = {"--scope": "query", "--from": "2026-01-01"} | dict([args])
    r = subjects.run("authorization", "add", PERSON, "--grantee", COMPANY, *sum(base.items(), ()),
                     "--until", "2026-12-31", "--document-ref", "SQ-1", "--document", str(DOCUMENT))
    assert r.exit_code == 2


@pytest.mark.parametrize("reference", ["SQ-1\nSQ-2", "SQ-1\tx", "SQ\x00", "SQ\u20281", "   ", "x" * 201])
def test_a_document_reference_on_more_than_one_line_or_with_control_characters_is_refused(subjects,
                                                                                          reference) -> None:
    """The reference is shown in one cell of the authorisation list: a line break would split the table."""
    r = subjects.run("authorization", "add", PERSON, "--grantee", COMPANY, "--scope", "query", "--from", "2026-01-01",
                     "--until", "2026-12-31", "--document-ref", reference, "--document", str(DOCUMENT))
    assert r.exit_code == 65 and "document reference" in r.stderr, r.output
    assert authorization_count(subjects) == 0
    assert subjects.run("authorization", "add", PERSON, "--grantee", COMPANY, "--scope", "query", "--from",
                        "2026-01-01", "--until", "2026-12-31", "--document-ref", "凌授〔2026〕第 1 号",
                        "--document", str(DOCUMENT)).exit_code == 0


def test_auditors_and_agencies_may_not_record_or_revoke_and_providers_may(subjects) -> None:
    assert authorize(subjects).exit_code == 0
    for role in ("auditor", "agency"):
        subjects.add_operator(role, role)
        assert authorize(subjects, scope="share", key=role).exit_code == 77
        assert subjects.run("authorization", "revoke", "1", "--reason", "x", key=role).exit_code == 77
    subjects.add_operator("scjg-01", "provider")
    assert authorize(subjects, scope="share", key="scjg-01").exit_code == 0


# --- consents in force ---------------------------------------------------------------------------

def test_a_consent_is_in_force_from_the_first_to_the_last_day_only(subjects) -> None:
    from lycredit.authorizations import consent_in_force

    assert authorize(subjects, scope="consent:income").exit_code == 0
    person, other = subject_id(subjects, PERSON), subject_id(subjects, OTHER_PERSON)
    with subjects.engine().connect() as conn:
        def on(day: dt.date, topic: str = "income", **kw) -> bool:
            return consent_in_force(conn, person, topic, day, **kw)

        assert not on(FIRST - dt.timedelta(days=1))
        assert on(FIRST) and on(LAST)
        assert not on(LAST + dt.timedelta(days=1))
        assert not on(FIRST, "deposits")
        assert on(FIRST, grantee=COMPANY) and not on(FIRST, grantee=OTHER_COMPANY)
        assert not consent_in_force(conn, other, "income", FIRST)


def test_a_revoked_consent_is_not_in_force_from_the_revocation_day(subjects) -> None:
    from lycredit.authorizations import consent_in_force
    from lycredit.periods import shanghai_today

    today = shanghai_today()
    r = authorize(subjects, scope="consent:tax", start=str(today - dt.timedelta(days=10)),
                  until=str(today + dt.timedelta(days=10)))
    assert r.exit_code == 0
    assert subjects.run("authorization", "revoke", r.stdout.strip()).exit_code == 2  # --reason is required
    assert subjects.run("authorization", "revoke", r.stdout.strip(), "--reason", "本人书面撤回").exit_code == 0
    person = subject_id(subjects, PERSON)
    with subjects.engine().connect() as conn:
        assert not consent_in_force(conn, person, "tax amount", today)
        assert consent_in_force(conn, person, "tax amount", today - dt.timedelta(days=1))
    again = subjects.run("authorization", "revoke", r.stdout.strip(), "--reason", "再次撤回")
    assert again.exit_code == 65 and "already revoked" in again.stderr
    assert subjects.run("authorization", "revoke", "999", "--reason", "x").exit_code == 65
    with subjects.engine().connect() as conn:
        op = conn.execute(sa.text("SELECT action, reason FROM oplog_operation WHERE action = 'authorization.revoke'"
                                  " ORDER BY seq DESC")).first()
    assert op.reason == "本人书面撤回"
    assert subjects.run("audit", "verify", key=None).exit_code == 0


def test_list_filters_by_subject_and_by_what_is_in_force_as_of_a_day(subjects) -> None:
    authorize(subjects, start="2026-01-01", until="2026-06-30")
    authorize(subjects, scope="share", start="2026-07-01", until="2026-12-31")
    authorize(subjects, subject=COMPANY, grantee=OTHER_COMPANY)

    def ids(*args: str) -> list[int]:
        r = subjects.run("--format", "json", *args, key=None)
        assert r.exit_code == 0, r.output
        assert PERSON not in r.output
        return [row["id"] for row in json.loads(r.stdout)]

    assert ids("authorization", "list") == [1, 2, 3]
    assert ids("authorization", "list", "--subject", PERSON) == [1, 2]
    assert ids("authorization", "list", "--subject", COMPANY) == [3]
    assert ids("--as-of", "2026-06-30", "authorization", "list", "--active") == [1, 3]
    assert ids("--as-of", "2026-07-01", "authorization", "list", "--active", "--subject", PERSON) == [2]
    assert ids("--as-of", "2027-01-01", "authorization", "list", "--active") == []
    for fmt in ("table", "csv", "ndjson"):
        r = subjects.run("--format", fmt, "authorization", "list", key=None)
        assert r.exit_code == 0 and PERSON not in r.output and mask_ric(PERSON) in r.output


# --- query authorisations (Art. 14) -------------------------------------------------------------

def test_a_query_authorisation_covers_only_its_subject_grantee_scope_and_days(subjects) -> None:
    from lycredit.authorizations import AuthorizationRefused, query_authorization

    query_id = int(authorize(subjects, scope="query").stdout)
    share_id = int(authorize(subjects, scope="share").stdout)
    revoked_id = int(authorize(subjects, scope="query", start="2026-01-02").stdout)
    assert subjects.run("authorization", "revoke", str(revoked_id), "--reason", "撤回").exit_code == 0
    person, other = subject_id(subjects, PERSON), subject_id(subjects, OTHER_PERSON)
    day = dt.date(2026, 6, 1)
    with subjects.engine().connect() as conn:
        assert query_authorization(conn, query_id, COMPANY.lower(), person, day)["id"] == query_id
        assert query_authorization(conn, query_id, COMPANY, person, LAST)["id"] == query_id
        refusals = {
            "unknown": (999, COMPANY, person, day),
            "other_subject": (query_id, COMPANY, other, day),
            "other_grantee": (query_id, OTHER_COMPANY, person, day),
            "wrong_scope": (share_id, COMPANY, person, day),
            "revoked": (revoked_id, COMPANY, person, dt.date.today() + dt.timedelta(days=1)),
            "not_yet_valid": (query_id, COMPANY, person, FIRST - dt.timedelta(days=1)),
            "expired": (query_id, COMPANY, person, LAST + dt.timedelta(days=1)),
        }
        for rule, args in refusals.items():
            with pytest.raises(AuthorizationRefused) as caught:
                query_authorization(conn, *args)
            assert caught.value.rule == rule and caught.value.exit_code == 77
            assert str(args[0]) in caught.value.message and PERSON not in caught.value.message


@pytest.mark.parametrize("number", ["0", str(2**31), "99999999999999999999"])
def test_revoking_an_id_the_id_column_cannot_hold_is_a_usage_error(subjects, number) -> None:
    # A traceback before: SQLite raised OverflowError past 2**63 - 1, PostgreSQL "integer out of range" past 2**31 - 1.
    r = subjects.run("authorization", "revoke", number, "--reason", "x")
    assert r.exit_code == 2 and "Invalid value for 'ID'" in r.stderr
    largest = subjects.run("authorization", "revoke", str(2**31 - 1), "--reason", "x")
    assert largest.exit_code == 65 and "No authorisation with id 2147483647" in largest.stderr


@pytest.mark.parametrize("command", ["authorization add", "catalog import", "calendar import"])
def test_a_reason_longer_than_the_log_keeps_is_a_usage_error_on_both_backends(subjects, command) -> None:
    # oplog_operation.reason holds 1000 characters: PostgreSQL refused a longer --reason only when the log was
    # appended, after all the work (a traceback, StringDataRightTruncation), and SQLite stored it.
    from lycredit.models.oplog import LogOperation
    from lycredit.oplog.append import REASON_MAX_CHARS

    assert LogOperation.__table__.c.reason.type.length == REASON_MAX_CHARS
    args = {
        "authorization add": ["authorization", "add", PERSON, "--grantee", COMPANY, "--scope", "query", "--from",
                              "2026-01-01", "--until", "2026-12-31", "--document-ref", "SQ-1", "--document",
                              str(DOCUMENT)],
        "catalog import": ["catalog", "import", str(SAMPLES / "catalog" / "catalog-2026.csv"), "--version", "2026",
                           "--effective", "2026-01-01"],
        "calendar import": ["calendar", "import", str(SAMPLES / "calendar" / "2027.csv"),
                            "--replace-package-year"],  # whether or not the installed chinesecalendar has 2027
    }[command]
    with subjects.engine().connect() as conn:
        operations = conn.execute(sa.text("SELECT count(*) FROM oplog_operation")).scalar()
    r = subjects.run(*args, "--reason", "因" * 1001)
    assert r.exit_code == 2, r.output
    assert "The reason (--reason) has 1001 characters; the signed log keeps at most 1000" in r.stderr
    with subjects.engine().connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM oplog_operation")).scalar() == operations
    r = subjects.run(*args, "--reason", "因" * 1000)
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("reference", ["凌发改授〔2026〕\u30001号", "SQ\xa02026-0001", "SQ-2026\u2002A"])
def test_a_document_reference_with_a_full_width_or_no_break_space_is_recorded_as_given(subjects, reference) -> None:
    # str.isprintable() is False for every space but the ASCII one, so a reference typed with a Chinese input
    # method's full-width space (U+3000), or pasted with a no-break space, was refused as if it held a control
    # character or a line break, which it does not.
    r = subjects.run("authorization", "add", PERSON, "--grantee", COMPANY, "--scope", "query", "--from", "2026-01-01",
                     "--until", "2026-12-31", "--document-ref", reference, "--document", str(DOCUMENT))
    assert r.exit_code == 0, r.output
    listed = json.loads(subjects.run("--format", "json", "authorization", "list", key=None).stdout)
    assert [row["document_ref"] for row in listed] == [reference]
