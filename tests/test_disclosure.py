"""Query and disclosure (Art. 13, 14, 15, 28, 33): what each mode shows, what it never shows, and the log.

The world every test queries: an organisation and a natural person, each with one
active record per disclosure method (社会公开, 政务共享, 授权查询), plus, for each of
them, records that no query may show: archived (Art. 15), repaired (Art. 33),
withdrawn, past their ``disclosure_until`` before the sweep ran, and dishonesty
information past the five-year cap. Both subjects authorised the bank's unit to
query them from 2026 to 2036. Queries are made as of 2026-06-01.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from lycredit import disclosure
from lycredit.disclosure import AUTHORISED, GOV_SHARE, MODES, PUBLIC, SELF
from lycredit.identity import mask_ric
from tests.conftest import PROVIDER_UNIT, valid_uscc

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
DOCUMENT = SAMPLES / "authorizations" / "consent-0001.txt"
COMPANY = "91211382MA0Y8C1K08"
COMPANY_NAME = "凌源市示例建材有限公司"
PERSON = "211382198001010014"
PERSON_NAME = "张三"
PERSON_MASKED = "211382********0014"
UNREGISTERED_PERSON = "211382199912310012"
BANK = valid_uscc("91211382MA0BANK01")
AS_OF = dt.date(2026, 6, 1)
AS_OF_TEXT = AS_OF.isoformat()
METHODS = ("public", "gov_share", "authorised")
HIDDEN = ("archived", "repaired", "withdrawn", "past_end", "past_cap")
FIRST_RECORD_ID = 100


@dataclass
class World:
    """The platform with its subjects' ids, their records by label, and the bank's authorisation ids."""

    platform: object
    subject_ids: dict[str, int]
    records: dict[tuple[str, str], int]
    authorizations: dict[str, int]

    def record_ids(self, code: str, labels: tuple[str, ...]) -> set[int]:
        return {self.records[(code, label)] for label in labels}


@contextlib.contextmanager
def operation(platform, action: str, key: str = "admin") -> Iterator:
    """A signed operation through the application context, as a command runs one."""
    from lycredit.context import AppContext

    ctx = AppContext(db=platform.url, key_file=str(platform.keys[key]), command_name="test")
    try:
        with ctx.operation(action) as uow:
            yield uow
    finally:
        ctx.close()


def _catalog(uow) -> dict[str, dict]:
    from lycredit.models import CatalogItem, CatalogVersion

    version = uow.insert(
        CatalogVersion.__table__,
        {
            "version": "2026",
            "effective_from": dt.date(2026, 1, 1),
            "source_name": "catalog-2026.csv",
            "source_sha256": "0" * 64,
            "imported_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        },
    )
    standard = json.dumps(
        [
            {"name": "行政相对人名称", "type": "text", "required": True},
            {"name": "证件号码", "type": "ric", "required": False},
            {"name": "处罚内容", "type": "text", "required": True},
        ],
        ensure_ascii=False,
    )
    items = {}
    for method, code, name in (
        ("public", "XZCF-001", "行政处罚信息"),
        ("gov_share", "SWQS-001", "欠缴税款信息"),
        ("authorised", "GJJ-001", "住房公积金缴存信息"),
    ):
        items[method] = uow.insert(
            CatalogItem.__table__,
            {
                "version_id": version["id"],
                "code": code,
                "name": name,
                "provider_uscc": PROVIDER_UNIT,
                "provider_name": "凌源市市场监督管理局",
                "category": "administrative",
                "disclosure": method,
                "validity_months": 36,
                "dishonesty": method == "public",
                "severity": "general",
                "subject_kinds": "",
                "data_standard": standard,
            },
        )
    return items


def _snapshot(subject_id: int, day: dt.date, until: dt.date | None, fields: str, revision: int) -> str:
    """A state in the shape ``lycredit.records.snapshot`` keeps in ``record_history``: dates, fields, ids."""
    return json.dumps(
        {
            "act_ended_on": day.isoformat(),
            "concluded_on": day.isoformat(),
            "decision_date": day.isoformat(),
            "fields": json.loads(fields),
            "publicity_until": until and until.isoformat(),
            "revision": revision,
            "subject_id": subject_id,
        },
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )


SUBMITTED_AT = dt.datetime(2025, 3, 5, 2, 0, tzinfo=dt.UTC)


def record_row(
    record_id: int,
    item: dict,
    subject_id: int,
    *,
    day: dt.date,
    until: dt.date | None,
    document_no: str,
    fields: str = "{}",
    status: str = "active",
    publicity_until: dt.date | None = None,
    archived_on: dt.date | None = None,
) -> dict:
    """The values of a ``record`` row of provider PROVIDER_UNIT decided, concluded and ended on ``day``,
    submitted by admin at SUBMITTED_AT (revision 1 while active, 2 after a change of status)."""
    return {
        "id": record_id,
        "provider_uscc": PROVIDER_UNIT,
        "item_code": item["code"],
        "document_no": document_no,
        "catalog_item_id": item["id"],
        "subject_id": subject_id,
        "decision_date": day,
        "concluded_on": day,
        "act_ended_on": day,
        "publicity_until": publicity_until,
        "disclosure_until": until,
        "fields": fields,
        "status": status,
        "revision": 1 if status == "active" else 2,
        "due_date": None,
        "due_guessed": False,
        "late_days": 0,
        "submitted_at": SUBMITTED_AT,
        "submitted_by": "admin",
        "import_run_id": None,
        "archived_on": archived_on,
    }


def _record(
    uow,
    record_id: int,
    item: dict,
    subject_id: int,
    *,
    name: str,
    number: str | None,
    status: str = "active",
    act_ended: dt.date = dt.date(2025, 3, 1),
    until: dt.date | None = dt.date(2028, 3, 1),
    document_no: str | None = None,
) -> None:
    """A record and its history as ``lycredit.records`` keeps them.

    Each history row holds the state before its change (``{}`` before the submission). A
    record that is no longer active had its content changed with its status.
    """
    from lycredit.models import Record, RecordHistory

    fields = {
        "行政相对人名称": name,
        "证件号码": number,
        "处罚内容": f"罚款，经办人核对证件 {number or '无'}",
    }
    text = json.dumps(fields, ensure_ascii=False)
    later = json.dumps({**fields, "处罚内容": "罚款（已更正）"}, ensure_ascii=False)
    at = SUBMITTED_AT
    uow.insert(
        Record.__table__,
        record_row(
            record_id, item, subject_id, day=act_ended, until=until,
            document_no=document_no or f"凌市监罚〔2025〕{record_id}号",
            fields=text if status == "active" else later, status=status,
            publicity_until=until,
            archived_on=until + dt.timedelta(days=1) if status == "archived" and until else None,
        ),
    )
    uow.insert(
        RecordHistory.__table__,
        {
            "id": record_id * 10 + 1,
            "record_id": record_id,
            "revision": 1,
            "change": "submit",
            "fields": "{}",
            "reason": None,
            "changed_at": at,
            "changed_by": "admin",
        },
    )
    if status != "active":
        change = {"archived": "archive", "repaired": "repair", "withdrawn": "withdraw"}[status]
        uow.insert(
            RecordHistory.__table__,
            {
                "id": record_id * 10 + 2,
                "record_id": record_id,
                "revision": 2,
                "change": change,
                "fields": _snapshot(subject_id, act_ended, until, text, 1),
                "reason": f"{change} 的理由",
                "changed_at": at + dt.timedelta(days=30),
                "changed_by": "admin",
            },
        )


def build_world(platform) -> World:
    """Subjects from the samples, the bank's operator and authorisations, three catalog items, the records."""
    platform.add_operator("bank-01", "agency", unit=BANK, unit_name="凌源示例银行")
    platform.add_operator("scjg-01", "provider")
    r = platform.run("subject", "import", str(SAMPLES / "subjects" / "subjects.csv"))
    assert r.exit_code == 0, r.output
    for code in (COMPANY, PERSON):
        r = platform.run(
            "authorization",
            "add",
            code,
            "--grantee",
            BANK,
            "--scope",
            "query",
            "--from",
            "2026-01-01",
            "--until",
            "2036-12-31",
            "--document-ref",
            "SQ-2026-0001",
            "--document",
            str(DOCUMENT),
        )
        assert r.exit_code == 0, r.output
    with platform.engine().connect() as conn:
        subject_ids = {
            COMPANY: conn.execute(sa.text("SELECT id FROM subject WHERE uscc = :c"), {"c": COMPANY}).scalar()
        }
        subject_ids[PERSON] = conn.execute(
            sa.text("SELECT id FROM subject WHERE kind = 'natural_person' AND name = :n"), {"n": "张*"}
        ).scalar()
        authorizations = {
            code: conn.execute(
                sa.text('SELECT id FROM "authorization" WHERE subject_id = :s'), {"s": subject_ids[code]}
            ).scalar()
            for code in (COMPANY, PERSON)
        }
    records: dict[tuple[str, str], int] = {}
    next_id = FIRST_RECORD_ID
    with operation(platform, "record.submit") as uow:
        items = _catalog(uow)
        for code, name, number in (
            (COMPANY, COMPANY_NAME, "211382198512120020"),
            (PERSON, PERSON_NAME, PERSON),
        ):
            subject_id = subject_ids[code]
            cases = [(method, items[method], {}) for method in METHODS] + [
                ("archived", items["public"], {"status": "archived", "until": dt.date(2026, 3, 1)}),
                ("repaired", items["public"], {"status": "repaired"}),
                ("withdrawn", items["authorised"], {"status": "withdrawn"}),
                ("past_end", items["gov_share"], {"until": dt.date(2026, 5, 31)}),
                ("past_cap", items["public"], {"until": None, "act_ended": dt.date(2021, 5, 31)}),
            ]
            for label, item, options in cases:
                _record(uow, next_id, item, subject_id, name=name, number=number, **options)
                records[(code, label)] = next_id
                next_id += 1
    return World(platform, subject_ids, records, authorizations)


@pytest.fixture
def world(platform) -> World:
    return build_world(platform)


def core_query(
    world: World,
    code: str,
    mode: str,
    *,
    key: str | None = None,
    authorization: int | None = None,
    as_of: dt.date = AS_OF,
) -> disclosure.QueryResult:
    """A query through the core: a public one on a read connection, the others in a signed operation.

    The bank queries under its authorisations, staff serve the real-name query, the market regulation
    bureau queries in the other modes.
    """
    key = key or {AUTHORISED: "bank-01", SELF: "admin"}.get(mode, "scjg-01")
    action = disclosure.action_for(mode)
    if action is None:
        with world.platform.engine().connect() as conn:
            return disclosure.query(conn, code, mode, "贷款审查", as_of=as_of)
    with operation(world.platform, action, key=key) as uow:
        return disclosure.query(uow, code, mode, "贷款审查", authorization_id=authorization, as_of=as_of)


def cli_query(
    world: World,
    code: str,
    *mode_args: str,
    key: str | None = "bank-01",
    fmt: str = "json",
    as_of: str = AS_OF_TEXT,
    purpose: str = "贷款审查",
):
    return world.platform.run(
        "--format", fmt, "--as-of", as_of, "query", code, "--purpose", purpose, *mode_args, key=key
    )


def operations(world: World, action: str) -> list[dict]:
    with world.platform.engine().connect() as conn:
        rows = (
            conn.execute(
                sa.text(
                    "SELECT seq, operator, action, subject, reason, summary FROM oplog_operation "
                    "WHERE action = :a ORDER BY seq"
                ),
                {"a": action},
            )
            .mappings()
            .all()
        )
    return [{**row, "summary": json.loads(row["summary"])} for row in rows]


def events(world: World, seq: int) -> list[dict]:
    with world.platform.engine().connect() as conn:
        entries = (
            conn.execute(sa.text("SELECT entry FROM oplog_entry WHERE op_seq = :s ORDER BY idx"), {"s": seq})
            .scalars()
            .all()
        )
    return [leaf for leaf in (json.loads(bytes(e)) for e in entries) if leaf["type"] == "event"]


# --- the rule table -----------------------------------------------------------------------------

REFUSED = "refused"
#: mode -> subject kind -> the disclosure methods shown (Art. 13, 14).
RULE_TABLE = {
    PUBLIC: {"organisation": {"public"}, "person": REFUSED},
    SELF: {"organisation": set(METHODS), "person": set(METHODS)},
    AUTHORISED: {"organisation": {"public", "authorised"}, "person": {"public", "authorised"}},
    GOV_SHARE: {"organisation": set(METHODS), "person": set(METHODS)},
}


def test_each_mode_shows_exactly_its_disclosure_methods_for_each_kind_of_subject(world) -> None:
    for mode, by_kind in RULE_TABLE.items():
        for kind, code in (("organisation", COMPANY), ("person", PERSON)):
            expected = by_kind[kind]
            case = f"{mode} query of a {kind}"
            if expected == REFUSED:
                with pytest.raises(disclosure.QueryRefused, match="Art. 13"):
                    core_query(world, code, mode)
                continue
            authorization = world.authorizations[code] if mode == AUTHORISED else None
            result = core_query(world, code, mode, authorization=authorization)
            shown = {r["disclosure"] for r in result.records}
            assert shown == expected, case
            assert {r["record_id"] for r in result.records} == world.record_ids(code, tuple(expected)), case


def test_visible_records_applies_the_same_rules_by_subject_id(world) -> None:
    person = world.subject_ids[PERSON]
    with world.platform.engine().connect() as conn:
        shown = disclosure.visible_records(
            conn,
            person,
            AUTHORISED,
            querier_unit=BANK,
            authorization=world.authorizations[PERSON],
            as_of=AS_OF,
        )
        assert {r["id"] for r in shown} == world.record_ids(PERSON, ("public", "authorised"))
        with pytest.raises(disclosure.QueryRefused, match="Art. 13"):
            disclosure.visible_records(conn, person, PUBLIC, querier_unit=None, as_of=AS_OF)
        with pytest.raises(disclosure.QueryRefused, match="needs its authorisation; none was given"):
            disclosure.visible_records(conn, person, AUTHORISED, querier_unit=BANK, as_of=AS_OF)
        with pytest.raises(disclosure.QueryRefused, match="not to " + PROVIDER_UNIT):
            disclosure.visible_records(
                conn,
                person,
                AUTHORISED,
                querier_unit=PROVIDER_UNIT,
                authorization=world.authorizations[PERSON],
                as_of=AS_OF,
            )


def test_the_rule_table_in_code_is_the_documented_one() -> None:
    for mode, by_kind in RULE_TABLE.items():
        for kind, subject_kind in (("organisation", "legal_person"), ("person", "natural_person")):
            if by_kind[kind] == REFUSED:
                with pytest.raises(disclosure.QueryRefused):
                    disclosure.shown_methods(mode, subject_kind)
            else:
                assert disclosure.shown_methods(mode, subject_kind) == by_kind[kind]


def test_disclosure_labels_are_the_catalogs() -> None:
    from lycredit.catalog import DISCLOSURES

    assert disclosure.DISCLOSURE_LABELS_ZH == DISCLOSURES


@given(
    mode=st.sampled_from(MODES),
    kind=st.sampled_from(["legal_person", "unincorporated", "individual_business"]),
)
def test_a_stricter_mode_never_shows_more(mode: str, kind: str) -> None:
    public = disclosure.shown_methods(PUBLIC, kind)
    authorised = disclosure.shown_methods(AUTHORISED, kind)
    assert (
        public
        <= authorised
        <= disclosure.shown_methods(SELF, kind)
        == disclosure.shown_methods(GOV_SHARE, kind)
    )
    assert disclosure.shown_methods(mode, kind) <= disclosure.ALL_METHODS


# --- what no query shows (Art. 15, 33) -----------------------------------------------------------


def test_archived_repaired_withdrawn_and_expired_records_are_absent_from_every_query(world) -> None:
    for code in (COMPANY, PERSON):
        hidden = world.record_ids(code, HIDDEN)
        for mode in (SELF, AUTHORISED, GOV_SHARE) + ((PUBLIC,) if code == COMPANY else ()):
            authorization = world.authorizations[code] if mode == AUTHORISED else None
            shown = {
                r["record_id"] for r in core_query(world, code, mode, authorization=authorization).records
            }
            assert not shown & hidden, f"{mode} query of {code} showed {sorted(shown & hidden)}"


def test_a_record_past_its_disclosure_end_is_absent_before_the_sweep_archives_it(world) -> None:
    record_id = world.records[(COMPANY, "past_end")]
    with world.platform.engine().connect() as conn:
        assert (
            conn.execute(sa.text("SELECT status FROM record WHERE id = :i"), {"i": record_id}).scalar()
            == "active"
        )
    on_last_day = core_query(world, COMPANY, GOV_SHARE, key="admin", as_of=dt.date(2026, 5, 31))
    next_day = core_query(world, COMPANY, GOV_SHARE, key="admin", as_of=dt.date(2026, 6, 1))
    assert record_id in {r["record_id"] for r in on_last_day.records}
    assert record_id not in {r["record_id"] for r in next_day.records}


def test_dishonesty_information_leaves_every_query_five_years_after_the_act_even_without_an_end(
    world,
) -> None:
    record_id = world.records[(COMPANY, "past_cap")]  # act ended 2021-05-31: disclosed through 2026-05-31
    before = core_query(world, COMPANY, PUBLIC, as_of=dt.date(2026, 5, 31))
    after = core_query(world, COMPANY, PUBLIC, as_of=dt.date(2026, 6, 1))
    assert record_id in {r["record_id"] for r in before.records}
    assert record_id not in {r["record_id"] for r in after.records}


_days = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2040, 12, 31))


@given(until=st.none() | _days, dishonesty=st.booleans(), act_ended=st.none() | _days, decided=_days)
def test_the_disclosure_end_is_the_one_the_expiry_sweep_archives_by(
    until, dishonesty, act_ended, decided
) -> None:
    from lycredit.sweep import effective_end

    assert disclosure.disclosure_end(until, dishonesty, act_ended, decided) == effective_end(
        until, dishonesty, act_ended, decided
    )


@given(
    status=st.sampled_from(["active", "archived", "repaired", "withdrawn"]),
    end=st.none() | _days,
    as_of=_days,
)
def test_only_an_active_record_within_its_period_is_still_disclosed(status, end, as_of) -> None:
    shown = disclosure.still_disclosed(status, end, as_of)
    assert shown == (status == "active" and (end is None or as_of <= end))
    state = disclosure.record_state(status, end, as_of)
    assert (state == disclosure.DISCLOSED) == shown
    if shown and end is not None:
        assert disclosure.still_disclosed(status, end, end)  # still shown on its last day ...
    if end is not None and end < dt.date.max:
        assert not disclosure.still_disclosed(
            status, end, end + dt.timedelta(days=1)
        )  # ... never the day after


# --- natural persons and authorisations (Art. 13 para. 4, Art. 14) --------------------------------


def test_a_natural_persons_information_is_never_public(world) -> None:
    for code in (PERSON, UNREGISTERED_PERSON):
        r = cli_query(world, code, key=None)
        assert r.exit_code == 77, r.output
        assert "Art. 13: a natural person's information is not public" in r.stderr
        assert code not in r.output
    public = json.loads(cli_query(world, COMPANY, key=None).stdout)
    assert public["subject"]["name"] == COMPANY_NAME and public["subject"]["code"] == COMPANY
    assert {r["disclosure"] for r in public["records"]} == {"public"}


def test_a_public_query_needs_no_operator_and_is_not_logged(world) -> None:
    before = len(operations(world, "query"))
    r = cli_query(world, COMPANY, key=None)
    assert r.exit_code == 0, r.output
    assert len(operations(world, "query")) == before


def test_a_query_under_another_subjects_authorisation_is_refused_and_logged(world) -> None:
    r = cli_query(world, COMPANY, "--authorization", str(world.authorizations[PERSON]))
    assert r.exit_code == 77, r.output
    assert "Art. 14: Authorisation" in r.stderr and "another subject" in r.stderr
    refused = operations(world, "query")[-1]
    assert refused["operator"] == "bank-01" and refused["subject"] == str(world.subject_ids[COMPANY])
    assert refused["summary"]["outcome"] == "refused" and refused["summary"]["rule"] == "art14_other_subject"
    assert refused["summary"]["authorization_id"] == world.authorizations[PERSON]
    [event] = events(world, refused["seq"])
    assert event["event"] == "query.refused" and event["subject_id"] == world.subject_ids[COMPANY]
    assert event["querier"] == "bank-01" and event["querier_unit"] == BANK and event["purpose"] == "贷款审查"


def test_an_authorisation_given_to_another_unit_is_refused(world) -> None:
    r = cli_query(world, PERSON, "--authorization", str(world.authorizations[PERSON]), key="scjg-01")
    assert r.exit_code == 77 and f"was given to unit {BANK}" in r.stderr


def test_an_expired_authorisation_is_refused_naming_its_last_day(world) -> None:
    r = cli_query(world, PERSON, "--authorization", str(world.authorizations[PERSON]), as_of="2037-01-05")
    assert r.exit_code == 77, r.output
    assert f"Art. 14: Authorisation {world.authorizations[PERSON]} expired after 2036-12-31" in r.stderr
    assert operations(world, "query")[-1]["summary"]["rule"] == "art14_expired"


def test_an_unknown_authorisation_is_refused(world) -> None:
    r = cli_query(world, PERSON, "--authorization", "9999")
    assert r.exit_code == 77 and "Authorisation 9999 is not recorded" in r.stderr


def test_government_sharing_is_refused_to_an_agency_by_the_role_table_and_logged(world) -> None:
    r = cli_query(world, PERSON, "--gov-share")
    assert r.exit_code == 77 and "query.gov_share" in r.stderr
    refused = operations(world, "refused")[-1]
    assert refused["operator"] == "bank-01" and refused["summary"]["refused_action"] == "query.gov_share"


def test_an_authorised_query_is_logged_with_querier_purpose_mode_and_authorisation(world) -> None:
    authorization = world.authorizations[PERSON]
    r = cli_query(world, PERSON, "--authorization", str(authorization), purpose="个人住房贷款审批")
    assert r.exit_code == 0, r.output
    logged = operations(world, "query")[-1]
    assert logged["subject"] == str(world.subject_ids[PERSON]) and logged["reason"] == "个人住房贷款审批"
    assert logged["summary"] == {
        "querier_unit": BANK,
        "querier_unit_name": "凌源示例银行",
        "purpose": "个人住房贷款审批",
        "mode": "authorised",
        "authorization_id": authorization,
        "outcome": "disclosed",
        "records": 2,
    }
    [event] = events(world, logged["seq"])
    assert event["event"] == "query" and event["record_ids"] == sorted(
        world.record_ids(PERSON, ("public", "authorised"))
    )
    assert PERSON not in json.dumps(event, ensure_ascii=False) and PERSON_NAME not in json.dumps(
        event, ensure_ascii=False
    )


@pytest.mark.parametrize("number", [PERSON, PERSON.translate(str.maketrans("0123456789", "０１２３４５６７８９"))])
def test_a_resident_id_number_typed_into_the_purpose_is_logged_masked(world, number) -> None:
    """The purpose is the operation's reason and is in its summary: a person's number in it is masked there, so
    that the log carries no resident ID number; a unified social credit code stays as typed."""
    r = cli_query(world, PERSON, "--authorization", str(world.authorizations[PERSON]),
                  purpose=f"核查{number}的贷款申请（{BANK}）")
    assert r.exit_code == 0, r.output
    logged = operations(world, "query")[-1]
    assert logged["reason"] == logged["summary"]["purpose"] == f"核查{mask_ric(PERSON)}的贷款申请（{BANK}）"
    with world.platform.engine().connect() as conn:
        entries = b"".join(conn.execute(sa.text("SELECT entry FROM oplog_entry")).scalars())
    assert PERSON.encode() not in entries and number.encode() not in entries
    assert world.platform.run("audit", "verify", key=None).exit_code == 0


def test_government_sharing_is_logged_under_its_own_action(world) -> None:
    r = cli_query(world, PERSON, "--gov-share", key="scjg-01")
    assert r.exit_code == 0, r.output
    logged = operations(world, "query.gov_share")[-1]
    assert logged["summary"]["mode"] == "gov_share" and logged["summary"]["querier_unit"] == PROVIDER_UNIT


# --- masking (Art. 4, 13, 28) ---------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "table", "csv"])
def test_the_resident_id_number_is_never_in_clear_in_public_or_authorised_output(world, fmt) -> None:
    outputs = [
        cli_query(world, COMPANY, key=None, fmt=fmt),
        cli_query(world, COMPANY, "--authorization", str(world.authorizations[COMPANY]), fmt=fmt),
        cli_query(world, PERSON, "--authorization", str(world.authorizations[PERSON]), fmt=fmt),
    ]
    for r in outputs:
        assert r.exit_code == 0, r.output
        assert PERSON not in r.output and "211382198512120020" not in r.output
    person = outputs[2].stdout
    assert PERSON_NAME not in person, "an authorised querier sees the person's name masked"
    assert "张*" in person


def test_the_person_sees_its_name_and_government_sharing_too_but_never_the_number(world) -> None:
    for args, key in ((("--self",), "admin"), (("--gov-share",), "scjg-01")):
        r = cli_query(world, PERSON, *args, key=key)
        assert r.exit_code == 0, r.output
        result = json.loads(r.stdout)
        assert result["subject"]["name"] == PERSON_NAME and result["subject"]["code"] == PERSON_MASKED
        assert PERSON not in r.stdout
        assert all(rec["fields"]["证件号码"] == PERSON_MASKED for rec in result["records"])


def test_numbers_inside_text_are_masked_but_an_all_digit_credit_code_is_not() -> None:
    digits_uscc = valid_uscc("91211382000000001")
    text = f"经办人核对证件 {PERSON}，单位代码 {COMPANY}，另 {digits_uscc}"
    masked = disclosure.mask_text(text, {PERSON_NAME: "张*"})
    assert PERSON not in masked and PERSON_MASKED in masked and COMPANY in masked
    assert disclosure.mask_text(f"当事人{PERSON_NAME}", {PERSON_NAME: "张*"}) == "当事人张*"


@given(
    st.from_regex(r"[0-9]{17}[0-9X]", fullmatch=True)
    | st.sampled_from([PERSON, COMPANY, valid_uscc("91211382000000001")])
)
def test_a_number_in_text_is_shown_as_subjects_display_it(number: str) -> None:
    from lycredit.subjects import display_code

    assert disclosure.mask_text(f"号码{number}。", {}) == f"号码{display_code(number)}。"


def test_a_ric_field_is_masked_whatever_its_spacing() -> None:
    fields = json.dumps({"证件号码": "211382 19800101 0014", "备注": "无"}, ensure_ascii=False)
    assert disclosure.mask_fields(fields, {"证件号码"}, {}) == {"证件号码": PERSON_MASKED, "备注": "无"}


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("purpose", "complaint"),
    [
        ("", "purpose is empty"),
        ("   ", "purpose is empty"),
        ("x" * 201, "201 characters; at most 200"),
        ("贷款\n审查", "must be one line"),
    ],
)
def test_a_query_must_name_a_purpose_of_one_short_line(platform, purpose, complaint) -> None:
    r = platform.run("query", COMPANY, "--purpose", purpose, key=None)
    assert r.exit_code == 2 and complaint in r.stderr


def test_a_purpose_of_200_characters_is_accepted() -> None:
    assert disclosure.validate_purpose(" " + "查" * 200 + " ") == "查" * 200


def test_the_purpose_option_is_required(platform) -> None:
    r = platform.run("query", COMPANY, key=None)
    assert r.exit_code == 2 and "--purpose" in r.stderr


def test_only_one_mode_option_may_be_given(platform) -> None:
    r = platform.run("query", PERSON, "--purpose", "核查", "--self", "--gov-share")
    assert r.exit_code == 2 and "at most one of --self, --authorization and --gov-share" in r.stderr


@pytest.mark.parametrize(
    ("code", "complaint"),
    [
        ("91211382MA0Y8C1K0", "17 characters"),
        ("91211382MA0Y8C1K09", "check character"),
        ("", "code is empty"),
    ],
)
def test_a_malformed_subject_code_is_refused_naming_what_is_wrong(world, code, complaint) -> None:
    r = cli_query(world, code, "--gov-share", key="admin")
    assert r.exit_code == 65, r.output
    assert complaint in r.stderr


def test_an_unregistered_organisation_is_not_found(world) -> None:
    r = cli_query(world, valid_uscc("91211382MA0NEW001"), key=None)
    assert r.exit_code == 65 and "No credit subject" in r.stderr


def test_a_non_public_query_without_an_operation_is_a_programming_error(world) -> None:
    with world.platform.engine().connect() as conn, pytest.raises(TypeError, match="UnitOfWork"):
        disclosure.query(conn, COMPANY, SELF, "核查", as_of=AS_OF)


# --- the log stays verifiable, and a public query stays light ------------------------------------


def test_audit_verify_exits_0_after_queries_and_refusals(world) -> None:
    assert cli_query(world, PERSON, "--self", key="admin").exit_code == 0
    assert cli_query(world, PERSON, "--authorization", "9999").exit_code == 77
    assert cli_query(world, PERSON, "--gov-share").exit_code == 77
    r = world.platform.run("audit", "verify", key=None)
    assert r.exit_code == 0, r.output


def test_a_public_query_loads_no_orm_model(world) -> None:
    script = (
        "import sys\nfrom lycredit.commands.main import cli\n"
        f"cli.main(['--db', {world.platform.url!r}, '--as-of', {AS_OF_TEXT!r}, '--format', 'json', 'query', "
        f"{COMPANY!r}, '--purpose', '核查'], standalone_mode=False)\n"
        "print(sorted(m for m in ('sqlmodel', 'sqlalchemy.orm', 'lycredit.models') "
        "if m in sys.modules), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout)["subject"]["code"] == COMPANY
    assert done.stderr.strip().splitlines()[-1] == "[]"


def test_a_real_name_query_is_served_by_staff_only(world) -> None:
    r = cli_query(world, PERSON, "--self", key="scjg-01")
    assert r.exit_code == 77 and "query.self" in r.stderr
    assert cli_query(world, PERSON, "--self", key="bank-01").exit_code == 77


def test_a_revoked_or_lapsed_authorisation_opens_nothing_with_an_earlier_as_of_day(world) -> None:
    """Art. 14 para. 3: the query discloses today, so the authorisation must be in force today as well as on
    the --as-of day. An earlier --as-of must not reopen one the subject revoked, nor one that lapsed."""
    authorization = world.authorizations[PERSON]
    r = world.platform.run("authorization", "revoke", str(authorization), "--reason", "本人书面撤回")
    assert r.exit_code == 0, r.output
    r = cli_query(world, PERSON, "--authorization", str(authorization), as_of=AS_OF_TEXT)
    assert r.exit_code == 77, r.output
    assert f"Authorisation {authorization} was revoked on" in r.stderr and PERSON_NAME not in r.stdout
    assert operations(world, "query")[-1]["summary"]["rule"] == "art14_revoked"

    r = world.platform.run(
        "authorization", "add", COMPANY, "--grantee", BANK, "--scope", "query", "--from", "2020-01-01",
        "--until", "2020-12-31", "--document-ref", "SQ-2020-0001", "--document", str(DOCUMENT),
    )
    assert r.exit_code == 0, r.output
    lapsed = r.stdout.strip().splitlines()[-1]
    r = cli_query(world, COMPANY, "--authorization", lapsed, as_of="2020-06-01")
    assert r.exit_code == 77, r.output
    assert f"Authorisation {lapsed} expired after 2020-12-31" in r.stderr


def test_a_later_as_of_day_does_not_open_an_authorisation_before_it_is_in_force(world) -> None:
    from lycredit.periods import shanghai_today

    start = shanghai_today() + dt.timedelta(days=30)
    r = world.platform.run(
        "authorization", "add", COMPANY, "--grantee", BANK, "--scope", "query", "--from", start.isoformat(),
        "--until", (start + dt.timedelta(days=365)).isoformat(), "--document-ref", "SQ-NEXT-0001",
        "--document", str(DOCUMENT),
    )
    assert r.exit_code == 0, r.output
    future = r.stdout.strip().splitlines()[-1]
    r = cli_query(world, COMPANY, "--authorization", future, as_of=(start + dt.timedelta(days=1)).isoformat())
    assert r.exit_code == 77, r.output
    assert f"Authorisation {future} is valid only from {start.isoformat()}" in r.stderr


def test_a_resident_id_number_written_in_full_width_digits_is_masked_too(world) -> None:
    """Chinese input methods type full-width digits (２１１３８２…): a number so written in a record's text is
    a resident ID number all the same, and no query or report may show it in clear."""
    full_width = PERSON.translate({ord(d): ord(d) + 0xFEE0 for d in "0123456789"})
    with world.platform.engine().connect() as conn:
        item = conn.execute(sa.text("SELECT id, code FROM catalog_item WHERE code = 'XZCF-001'")).mappings().one()
    with operation(world.platform, "record.submit") as uow:
        _record(uow, 900, dict(item), world.subject_ids[COMPANY], name=COMPANY_NAME, number=full_width)
    outputs = [
        cli_query(world, COMPANY, key=None),
        cli_query(world, COMPANY, "--authorization", str(world.authorizations[COMPANY])),
        world.platform.run("--format", "json", "--as-of", AS_OF_TEXT, "report", COMPANY),
    ]
    for r in outputs:
        assert r.exit_code == 0, r.output
        assert full_width not in r.stdout and PERSON not in r.stdout
    shown = {rec["record_id"]: rec for rec in json.loads(outputs[0].stdout)["records"]}
    assert shown[900]["fields"]["处罚内容"] == f"罚款，经办人核对证件 {PERSON_MASKED}"
