"""Credit subjects (Art. 3, 4, 8, 13, 23, 28): codes, personal data at rest, overrides, links, imports, bulk."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import ric

from lycredit.errors import DataError, PermissionDenied
from lycredit.identity import ChecksumMismatch, SubjectKind, mask_ric
from tests.conftest import valid_uscc

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
ORG = "91211382MA0Y8C1K08"
ORG2 = "91211382MA0Y8D2L19"
PARTNERSHIP = "91211382MA0Y8J6Q5L"
PERSON = "211382198001010014"
PERSON2 = "211382198512120020"
PERSON_NAME = "张三"
ORGS = (ORG, ORG2, PARTNERSHIP)
PERSONS = (PERSON, PERSON2, "211382199003150031")
# a genuine-looking code whose check character is wrong (the right one is 8)
BAD_CHECKSUM = ORG[:-1] + "9"


def ric_with_check(body17: str) -> str:
    return body17 + ric.calc_check_digit(body17 + "0")


def context(platform, who: str = "admin"):
    from lycredit.context import AppContext

    return AppContext(db=platform.url, key_file=str(platform.keys[who]))


def stored_text(platform) -> bytes:
    """Everything the database holds, as bytes: the SQLite files, or every PostgreSQL row as text."""
    if platform.backend == "sqlite":
        path = Path(platform.url.removeprefix("sqlite:///"))
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    with platform.engine().connect() as conn:
        tables = conn.execute(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars()
        rows = "\n".join(str(row) for table in list(tables)
                         for row in conn.execute(sa.text(f'SELECT t::text FROM "{table}" t')).scalars())
        entries = conn.execute(sa.text("SELECT entry FROM oplog_entry")).scalars()  # bytea prints as hex above
        return rows.encode() + b"".join(bytes(entry) for entry in entries)


def log_events(platform, name: str) -> list[dict]:
    with platform.engine().connect() as conn:
        entries = conn.execute(sa.text("SELECT entry FROM oplog_entry ORDER BY idx")).scalars()
        leaves = [json.loads(bytes(e)) for e in entries]
    return [leaf for leaf in leaves if leaf.get("type") == "event" and leaf.get("event") == name]


def subject_count(platform) -> int:
    with platform.engine().connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM subject")).scalar()


def add(platform, code: str, name: str, *extra: str, key: str = "admin"):
    return platform.run("subject", "add", code, "--name", name, *extra, key=key)


# --- codes: one good and bad values for every rule --------------------------------------------

@pytest.mark.parametrize(("code", "kind"), [
    (PERSON, SubjectKind.natural_person),
    (ORG, SubjectKind.legal_person),
    ("92211382MA0Y8F3M2E", SubjectKind.individual_business),
    (valid_uscc("31211382MD0000001"), SubjectKind.unincorporated),
])
def test_a_valid_code_names_its_kind_of_subject(code, kind) -> None:
    from lycredit.subjects import validate_subject_code

    assert validate_subject_code(code) == (kind, code)


@pytest.mark.parametrize(("code", "rule"), [
    ("", "empty"),
    ("211382800101001", "15 digits"),
    ("2113821980010100", "has 16 characters"),
    (ORG[:-1] + "I", "not allowed"),
    (PERSON[:-1] + "5", "check digit does not match"),
    (ric_with_check("14010529990101001"), "after today"),
    (ric_with_check("99999919800101001"), "administrative division"),
    ("XX211382MA0Y8C1K08", "not in the GB 32100 code table"),
    ("9121138AMA0Y8C1K08", "positions 3-8"),
    (BAD_CHECKSUM, "explicit override"),
])
def test_an_invalid_code_is_rejected_naming_the_rule(code, rule) -> None:
    from lycredit.subjects import validate_subject_code

    with pytest.raises(DataError, match=rule):
        validate_subject_code(code)


def test_only_a_wrong_check_character_is_a_checksum_mismatch_that_an_override_admits() -> None:
    from lycredit.subjects import validate_subject_code

    with pytest.raises(ChecksumMismatch):
        validate_subject_code(BAD_CHECKSUM)
    assert validate_subject_code(BAD_CHECKSUM, allow_bad_checksum=True) == (SubjectKind.legal_person, BAD_CHECKSUM)
    with pytest.raises(DataError) as caught:
        validate_subject_code("XX211382MA0Y8C1K08", allow_bad_checksum=True)
    assert not isinstance(caught.value, ChecksumMismatch)


def test_a_person_number_with_a_wrong_check_digit_is_never_admitted_as_an_organisation_by_override() -> None:
    from lycredit.subjects import validate_subject_code

    wrong = "110101199003071230"  # also shaped like a USCC of category 11 with a wrong check character
    with pytest.raises(DataError, match="admits only unified social credit codes") as caught:
        validate_subject_code(wrong, allow_bad_checksum=True)
    assert wrong not in caught.value.message


birth_days = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2020, 12, 31))


@settings(deadline=None)  # the first call loads stdnum's division-code database
@given(birth_days, st.integers(0, 999), st.sampled_from(["", " ", "-"]), st.booleans())
def test_any_valid_resident_id_number_is_a_natural_person_however_it_is_typed(born, serial, sep, full_width) -> None:
    from lycredit.subjects import validate_subject_code

    number = ric_with_check(f"211382{born:%Y%m%d}{serial:03d}")
    typed = sep.join([number[:6], number[6:14], number[14:]]).lower()
    if full_width:
        typed = "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in typed)
    assert validate_subject_code(typed) == (SubjectKind.natural_person, number)


@settings(deadline=None)
@given(birth_days, st.integers(0, 999), st.integers(0, 10))
def test_a_code_that_may_be_a_person_number_is_always_displayed_masked(born, serial, check) -> None:
    from lycredit.subjects import display_code

    body = f"211382{born:%Y%m%d}{serial:03d}"
    number = body + "0123456789X"[check]
    assert display_code(number) == mask_ric(number)
    assert f"{born:%Y%m%d}" not in display_code(number)


def test_a_valid_organisation_code_is_displayed_in_clear() -> None:
    from lycredit.subjects import display_code

    assert display_code(ORG.lower()) == ORG
    assert display_code(BAD_CHECKSUM) == BAD_CHECKSUM


@pytest.mark.parametrize(("text", "kind"), [("自然人", SubjectKind.natural_person), ("legal_person", SubjectKind.legal_person),
                                            ("非法人组织", SubjectKind.unincorporated), (" Individual_Business ",
                                                                                   SubjectKind.individual_business)])
def test_a_kind_is_named_in_english_or_in_the_regulation_s_chinese(text, kind) -> None:
    from lycredit.subjects import parse_kind

    assert parse_kind(text) == kind


def test_an_unknown_kind_is_rejected_listing_the_kinds() -> None:
    from lycredit.subjects import parse_kind

    with pytest.raises(DataError, match="natural_person"):
        parse_kind("公司")


def test_the_cli_offers_exactly_the_four_relations_of_art_8() -> None:
    from lycredit.commands.subject import RELATION_CHOICES
    from lycredit.subjects import RELATIONS, parse_relation

    assert RELATION_CHOICES == list(RELATIONS)
    assert parse_relation("法定代表人") == "legal_representative"
    with pytest.raises(DataError, match="legal_representative"):
        parse_relation("director")


# --- registering and showing ------------------------------------------------------------------

def test_an_organisation_is_registered_and_shown_in_clear(platform) -> None:
    r = add(platform, ORG.lower(), "凌源市示例建材有限公司")
    assert r.exit_code == 0, r.output
    shown = json.loads(platform.run("--format", "json", "subject", "show", ORG, key=None).stdout)
    assert shown["code"] == ORG and shown["name"] == "凌源市示例建材有限公司"
    assert shown["kind"] == "legal_person" and shown["checksum_override"] is False


@pytest.mark.parametrize("invisible", ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"])
def test_a_code_copied_with_a_zero_width_character_is_the_code(platform, tmp_path, invisible) -> None:
    # Copied from a web page or a chat, a code can carry a zero-width space: it looks like the code
    # but used to be refused as having 19 characters.
    r = add(platform, ORG[:8] + invisible + ORG[8:], "凌源市示例建材有限公司")
    assert r.exit_code == 0, r.output
    path = write_rows(tmp_path / "s.csv", [{"姓名": PERSON_NAME, "公民身份号码": invisible + PERSON}])
    r = platform.run("--format", "json", "subject", "import", str(path))
    assert r.exit_code == 0, r.output
    for code in (ORG, PERSON[:6] + invisible + PERSON[6:]):
        assert platform.run("subject", "show", code, key=None).exit_code == 0
    assert subject_count(platform) == 2


def test_an_organisation_is_shown_without_the_personal_data_key_and_a_person_is_not(platform, monkeypatch) -> None:
    add(platform, ORG, "凌源市示例建材有限公司")
    add(platform, PERSON, PERSON_NAME)
    monkeypatch.delenv("LYCREDIT_PII_KEY")
    assert platform.run("subject", "show", ORG, key=None).exit_code == 0
    r = platform.run("subject", "show", PERSON, key=None)
    assert r.exit_code == 78 and "LYCREDIT_PII_KEY" in r.stderr


def test_organisations_are_imported_without_the_personal_data_key_and_persons_are_not(
        platform, monkeypatch, tmp_path) -> None:
    # 'subject add' registers an organisation without the key; 'subject import' of organisations only
    # used to exit 78 asking for it, so a unit that handles no personal data could not import its list.
    orgs = write_rows(tmp_path / "orgs.csv", [{"名称": "凌源市示例建材有限公司", "统一社会信用代码": ORG},
                                              {"名称": "凌源示例食品加工有限公司", "统一社会信用代码": ORG2}])
    persons = write_rows(tmp_path / "persons.csv", [{"姓名": PERSON_NAME, "公民身份号码": PERSON}])
    monkeypatch.delenv("LYCREDIT_PII_KEY")
    r = platform.run("--format", "json", "subject", "import", str(orgs))
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["created"] == 2
    assert platform.run("--format", "json", "subject", "import", str(orgs)).exit_code == 0  # found again
    r = platform.run("subject", "import", str(persons))
    assert r.exit_code == 78 and "LYCREDIT_PII_KEY" in r.stderr
    assert subject_count(platform) == 2


def test_a_batched_import_with_persons_and_no_personal_data_key_writes_nothing(platform, monkeypatch,
                                                                               tmp_path) -> None:
    """The key is asked for before the first batch: organisations first in the file are not registered alone."""
    rows = write_rows(tmp_path / "mixed.csv", [
        {"名称": "凌源市示例建材有限公司", "统一社会信用代码": ORG, "公民身份号码": ""},
        {"名称": "凌源示例食品加工有限公司", "统一社会信用代码": ORG2, "公民身份号码": ""},
        {"名称": PERSON_NAME, "统一社会信用代码": "", "公民身份号码": PERSON}])
    monkeypatch.delenv("LYCREDIT_PII_KEY")
    r = platform.run("subject", "import", str(rows), "--batch-size", "1")
    assert r.exit_code == 78 and "LYCREDIT_PII_KEY" in r.stderr, r.output
    assert subject_count(platform) == 0


def test_a_person_is_stored_encrypted_found_by_blind_index_and_shown_masked(platform) -> None:
    r = add(platform, PERSON, PERSON_NAME)
    assert r.exit_code == 0, r.output
    assert PERSON not in r.output
    shown = json.loads(platform.run("--format", "json", "subject", "show", PERSON, key=None).stdout)
    assert shown["code"] == mask_ric(PERSON) and shown["name"] == "张*"
    assert shown["kind"] == "natural_person"
    add(platform, ORG, "凌源市示例建材有限公司")
    data = stored_text(platform)
    assert ORG.encode() in data and "凌源市示例建材有限公司".encode() in data  # the check can see clear text
    assert PERSON.encode() not in data and PERSON_NAME.encode("utf-8") not in data
    assert PERSON[6:14].encode() not in data  # not even the date of birth


def test_a_person_with_the_same_number_typed_differently_is_found_not_registered_twice(platform) -> None:
    assert add(platform, PERSON, PERSON_NAME).exit_code == 0
    r = add(platform, f"{PERSON[:6]} {PERSON[6:14]} {PERSON[14:]}", "张三")
    assert r.exit_code == 65 and "already registered" in r.stderr
    assert PERSON not in r.output and mask_ric(PERSON) in r.stderr


def test_a_person_name_that_is_empty_too_long_or_has_a_line_break_is_rejected(platform) -> None:
    assert add(platform, PERSON, "   ").exit_code == 65
    r = add(platform, PERSON, "张" * 101)
    assert r.exit_code == 65 and "101 characters" in r.stderr
    r = add(platform, PERSON, "张\n三")
    assert r.exit_code == 65 and "control character" in r.stderr
    assert add(platform, PERSON, "张" * 100).exit_code == 0


@pytest.mark.parametrize("line_break", ["\u2028", "\u2029", "\x85", "\x9b"])
def test_a_name_with_a_unicode_line_break_or_c1_control_is_rejected_like_a_line_feed(
        platform, tmp_path, line_break) -> None:
    # LINE SEPARATOR, PARAGRAPH SEPARATOR and NEL break a line as a line feed does (str.splitlines
    # splits on them; copied from a web page or Word they come along), and C1 controls such as CSI
    # start terminal escape sequences: all used to be accepted in a name.
    for code, name in ((ORG, f"凌源市示例{line_break}建材有限公司"), (PERSON, f"张{line_break}三")):
        r = add(platform, code, name)
        assert r.exit_code == 65 and "control character" in r.stderr, r.output
    path = write_rows(tmp_path / "s.csv", [{"名称": f"凌源市示例{line_break}建材有限公司", "统一社会信用代码": ORG}])
    r = platform.run("subject", "import", str(path))
    assert r.exit_code == 65 and "row 2, field 名称" in r.stderr and "control character" in r.stderr
    assert subject_count(platform) == 0


@pytest.mark.parametrize("control", ["\u202e", "\u202d", "\u2067", "\u2069"])
def test_a_name_with_a_bidirectional_control_is_rejected(platform, control) -> None:
    # A right-to-left override makes "凌源市\u202e司公限有材建" display as another company's name in the
    # report, the published lists and the terminal; no name on an identity document or licence has one.
    r = add(platform, ORG, f"凌源市{control}司公限有材建")
    assert r.exit_code == 65 and "control character" in r.stderr, r.output
    assert subject_count(platform) == 0


@pytest.mark.parametrize("invisible", ["\u200b", "\ufeff\u200d", " \u2060 "])
def test_a_name_of_only_zero_width_characters_is_empty(platform, tmp_path, invisible) -> None:
    # It shows as nothing, like a name of spaces, but used to be registered.
    for code in (ORG, PERSON):
        r = add(platform, code, invisible)
        assert r.exit_code == 65 and "is empty" in r.stderr, r.output
    path = write_rows(tmp_path / "s.csv", [{"名称": invisible, "统一社会信用代码": ORG}])
    r = platform.run("subject", "import", str(path))
    assert r.exit_code == 65 and "row 2, field 名称" in r.stderr and "is empty" in r.stderr
    assert subject_count(platform) == 0
    assert add(platform, ORG, "\ufeff凌源市示例建材有限公司\u200b").exit_code == 0
    shown = json.loads(platform.run("--format", "json", "subject", "show", ORG, key=None).stdout)
    assert shown["name"] == "凌源市示例建材有限公司"


def test_an_unknown_subject_is_not_found_and_its_number_is_not_repeated(platform) -> None:
    r = platform.run("subject", "show", PERSON, key=None)
    assert r.exit_code == 65 and "No credit subject" in r.stderr and PERSON not in r.output


def test_an_unknown_subject_whose_code_is_not_valid_is_reported_with_the_rule_it_breaks(platform) -> None:
    # A mistyped code used to get only "No credit subject ***************** is registered", its
    # characters masked, so the operator could not tell a typo from a subject never registered.
    add(platform, ORG, "凌源市示例建材有限公司")
    for args in (("subject", "show", PERSON[:17]), ("subject", "link", ORG, PERSON[:-1] + "5", "--as", "principal")):
        r = platform.run(*args)
        assert r.exit_code == 65, r.output
        assert "No credit subject" in r.stderr and "not a valid one" in r.stderr
        assert ("17 characters" in r.stderr) or ("check digit does not match" in r.stderr)
        assert PERSON[:17] not in r.output
    for code in (PERSON, BAD_CHECKSUM):  # valid, or possibly admitted by override: simply not registered
        r = platform.run("subject", "show", code, key=None)
        assert r.exit_code == 65 and "No credit subject" in r.stderr and "not a valid one" not in r.stderr


def test_a_huge_code_is_not_repeated_in_the_message_one_asterisk_per_character(platform) -> None:
    huge = "9" * 100_000
    add(platform, ORG, "凌源市示例建材有限公司")
    for args in (("subject", "show", huge), ("subject", "link", ORG, huge, "--as", "principal")):
        r = platform.run(*args)
        assert r.exit_code == 65, r.output[:500]
        assert len(r.stderr) < 1000 and "(100000 characters)" in r.stderr


# --- the personal-data key -------------------------------------------------------------------

OTHER_PII_KEY = base64.b64encode(b"o" * 32).decode()
WRONG_KEY = "not the key this database's resident ID numbers were encrypted with"


def test_a_wrong_personal_data_key_is_named_instead_of_saying_the_person_is_not_registered(
        platform, monkeypatch, tmp_path) -> None:
    assert add(platform, PERSON, PERSON_NAME).exit_code == 0
    assert add(platform, ORG, "凌源市示例建材有限公司").exit_code == 0
    monkeypatch.setenv("LYCREDIT_PII_KEY", OTHER_PII_KEY)
    for code in (PERSON, PERSON2):  # registered or not: under another key nobody can be told apart
        r = platform.run("subject", "show", code, key=None)
        assert r.exit_code == 78, r.output
        assert WRONG_KEY in r.stderr and "LYCREDIT_PII_KEY" in r.stderr
        assert "No credit subject" not in r.stderr and code not in r.output
    r = platform.run("--format", "json", "query", PERSON, "--self", "--purpose", "本人查询")
    assert r.exit_code == 78 and WRONG_KEY in r.stderr
    r = platform.run("subject", "link", ORG, PERSON, "--as", "legal_representative")
    assert r.exit_code == 78 and WRONG_KEY in r.stderr
    # registering the person again, one at a time or from a file, would store a second copy under this key
    r = add(platform, PERSON, PERSON_NAME)
    assert r.exit_code == 78 and WRONG_KEY in r.stderr
    path = tmp_path / "subjects.csv"
    path.write_text(f"名称,公民身份号码\n{PERSON_NAME},{PERSON}\n", encoding="utf-8")
    r = platform.run("subject", "import", str(path))
    assert r.exit_code == 78 and WRONG_KEY in r.stderr
    from lycredit.errors import ConfigError
    from lycredit.subjects import register_checked, resolve_subjects_bulk

    for resolve in (lambda uow: resolve_subjects_bulk(uow, [(PERSON, PERSON_NAME)]),  # record intake's paths
                    lambda uow: register_checked(uow, {PERSON: (SubjectKind.natural_person, PERSON_NAME)})):
        with pytest.raises(ConfigError, match=WRONG_KEY), context(platform).operation("record.import") as uow:
            resolve(uow)
    assert subject_count(platform) == 2
    assert platform.run("subject", "show", ORG, key=None).exit_code == 0  # an organisation needs no key


def test_a_wrong_key_in_the_key_file_is_named_too(platform, monkeypatch, tmp_path) -> None:
    assert add(platform, PERSON, PERSON_NAME).exit_code == 0
    key_file = tmp_path / "pii.key"
    key_file.write_text(OTHER_PII_KEY)
    key_file.chmod(0o600)
    monkeypatch.delenv("LYCREDIT_PII_KEY")
    monkeypatch.setenv("LYCREDIT_PII_KEY_FILE", str(key_file))
    r = platform.run("subject", "show", PERSON, key=None)
    assert r.exit_code == 78 and WRONG_KEY in r.stderr and "LYCREDIT_PII_KEY_FILE" in r.stderr


def test_with_the_right_key_an_unregistered_person_is_still_not_registered(platform) -> None:
    assert add(platform, PERSON, PERSON_NAME).exit_code == 0
    r = platform.run("subject", "show", PERSON2, key=None)
    assert r.exit_code == 65 and "No credit subject" in r.stderr and WRONG_KEY not in r.stderr
    assert PERSON2 not in r.output and mask_ric(PERSON2) in r.stderr
    assert add(platform, PERSON2, "李四").exit_code == 0
    assert platform.run("subject", "show", PERSON2, key=None).exit_code == 0


def test_one_altered_number_is_not_taken_for_a_wrong_key(platform) -> None:
    for number in PERSONS[:2]:
        assert add(platform, number, PERSON_NAME).exit_code == 0
    with platform.engine().begin() as conn:  # the first person's number now fails authentication
        first = conn.execute(sa.text("SELECT min(id) FROM subject")).scalar()
        token = conn.execute(sa.text("SELECT ric_enc FROM subject WHERE id = :id"), {"id": first}).scalar()
        altered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
        conn.execute(sa.text("UPDATE subject SET ric_enc = :t WHERE id = :id"), {"t": altered, "id": first})
    r = platform.run("subject", "show", PERSONS[2], key=None)
    assert r.exit_code == 65 and "No credit subject" in r.stderr


def test_the_only_persons_altered_number_is_not_taken_for_a_wrong_key(platform) -> None:
    assert add(platform, PERSON, PERSON_NAME).exit_code == 0
    with platform.engine().begin() as conn:  # its name still opens under the key: the key is the database's
        token = conn.execute(sa.text("SELECT ric_enc FROM subject")).scalar()
        altered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
        conn.execute(sa.text("UPDATE subject SET ric_enc = :t"), {"t": altered})
    r = platform.run("subject", "show", PERSON2, key=None)
    assert r.exit_code == 65 and "No credit subject" in r.stderr and WRONG_KEY not in r.stderr


# --- the checksum override --------------------------------------------------------------------

def test_a_bad_checksum_without_the_override_is_rejected_and_suggests_it(platform) -> None:
    r = add(platform, BAD_CHECKSUM, "凌源市老字号商行")
    assert r.exit_code == 65 and "override" in r.stderr
    assert subject_count(platform) == 0


def test_the_checksum_override_needs_a_reason(platform) -> None:
    r = add(platform, BAD_CHECKSUM, "凌源市老字号商行", "--override-checksum")
    assert r.exit_code == 2 and "--reason" in r.stderr
    assert subject_count(platform) == 0


def test_the_checksum_override_is_refused_to_other_than_staff_and_the_refusal_is_logged(platform) -> None:
    for role in ("provider", "auditor"):
        platform.add_operator(role, role)
        r = add(platform, BAD_CHECKSUM, "凌源市老字号商行", "--override-checksum", "--reason", "2015年颁发的代码",
                key=role)
        assert r.exit_code == 77 and "subject.override_checksum" in r.stderr
        with platform.engine().connect() as conn:
            last = conn.execute(sa.text("SELECT action, summary FROM oplog_operation ORDER BY seq DESC")).first()
        assert last.action == "refused"
        assert json.loads(last.summary)["refused_action"] == "subject.override_checksum"
    assert subject_count(platform) == 0


def test_the_core_refuses_the_override_to_a_provider_even_inside_an_allowed_operation(platform) -> None:
    from lycredit.subjects import add_org

    platform.add_operator("scjg-01", "provider")
    with pytest.raises(PermissionDenied, match="subject.override_checksum"):
        with context(platform, "scjg-01").operation("subject.add", reason="x") as uow:
            add_org(uow, BAD_CHECKSUM, "凌源市老字号商行", override_checksum=True)
    assert subject_count(platform) == 0


def test_staff_admit_a_bad_checksum_with_the_override_and_it_is_logged_by_subject_id(platform) -> None:
    platform.add_operator("xyb-01", "operator")
    r = add(platform, BAD_CHECKSUM, "凌源市老字号商行", "--override-checksum", "--reason", "2015年颁发的代码",
            key="xyb-01")
    assert r.exit_code == 0, r.output
    shown = json.loads(platform.run("--format", "json", "subject", "show", BAD_CHECKSUM, key=None).stdout)
    assert shown["checksum_override"] is True
    events = log_events(platform, "subject.checksum_override")
    assert [e["subject_id"] for e in events] == [shown["id"]]
    assert BAD_CHECKSUM not in json.dumps(events)
    with platform.engine().connect() as conn:
        op = conn.execute(sa.text("SELECT action, reason FROM oplog_operation ORDER BY seq DESC")).first()
    assert op.action == "subject.override_checksum" and op.reason == "2015年颁发的代码"


def test_the_override_flag_on_a_valid_code_records_no_override(platform) -> None:
    r = add(platform, ORG, "凌源市示例建材有限公司", "--override-checksum", "--reason", "不需要")
    assert r.exit_code == 0
    assert log_events(platform, "subject.checksum_override") == []


# A Lingyuan resident ID number whose date of birth was mistyped as 30 February, which breaks its check
# digit too. Positions 1-2 (21) are also a GB 32100 category (foreign press agencies), so the checksum
# override used to register it as an organisation and print it in clear.
IMPOSSIBLE_BIRTH_DATE = "211382199002301234"
# The same date with a GB 11643 check digit that fits and, by chance, a GB 32100 check character that fits
# as well: a valid organisation code on paper, registered as one without any override.
IMPOSSIBLE_BIRTH_DATE_VALID_USCC = "211382199002300958"


@pytest.mark.parametrize(("code", "extra"), [
    (IMPOSSIBLE_BIRTH_DATE, ("--override-checksum", "--reason", "2015年颁发的代码")),
    (IMPOSSIBLE_BIRTH_DATE_VALID_USCC, ()),
    (IMPOSSIBLE_BIRTH_DATE_VALID_USCC, ("--override-checksum", "--reason", "2015年颁发的代码")),
])
def test_a_person_number_with_an_impossible_date_of_birth_is_never_registered_as_an_organisation(
        platform, code, extra) -> None:
    from lycredit.identity import validate_uscc

    assert validate_uscc(IMPOSSIBLE_BIRTH_DATE_VALID_USCC) == IMPOSSIBLE_BIRTH_DATE_VALID_USCC  # the premise
    r = add(platform, code, "凌源市老字号商行", *extra)
    assert r.exit_code == 65, r.output
    assert "never registered as an organisation" in r.stderr
    assert "positions 7-14 are not a valid date of birth" in r.stderr
    assert code not in r.output and "19900230" not in r.output and mask_ric(code) not in r.stdout
    assert subject_count(platform) == 0
    assert log_events(platform, "subject.checksum_override") == []


def test_a_subjects_file_with_a_person_number_with_an_impossible_date_of_birth_is_refused(platform, tmp_path) -> None:
    path = tmp_path / "subjects.csv"
    path.write_text(f"名称,统一社会信用代码\n凌源市老字号商行,{IMPOSSIBLE_BIRTH_DATE_VALID_USCC}\n", encoding="utf-8")
    r = platform.run("subject", "import", str(path))
    assert r.exit_code == 65 and "date of birth" in r.stderr
    assert IMPOSSIBLE_BIRTH_DATE_VALID_USCC not in r.output
    assert subject_count(platform) == 0


# 张三's neighbour's number (born 1990-01-01, check digit 5) with its check digit mistyped as 6, which
# happens to be the GB 32100 check character of these 18 characters read as a code of category 21: it
# used to be registered as an organisation without any override and printed in clear.
MISTYPED_CHECK_DIGIT_VALID_USCC = "211382199001010036"


@pytest.mark.parametrize("extra", [(), ("--override-checksum", "--reason", "2015年颁发的代码")])
def test_a_person_number_with_a_mistyped_check_digit_is_never_registered_as_an_organisation(platform, extra) -> None:
    from lycredit.identity import validate_uscc

    assert validate_uscc(MISTYPED_CHECK_DIGIT_VALID_USCC) == MISTYPED_CHECK_DIGIT_VALID_USCC  # the premise
    assert ric_with_check(MISTYPED_CHECK_DIGIT_VALID_USCC[:17]) != MISTYPED_CHECK_DIGIT_VALID_USCC
    r = add(platform, MISTYPED_CHECK_DIGIT_VALID_USCC, "张三", *extra)
    assert r.exit_code == 65, r.output
    assert "check digit does not match" in r.stderr and "never registered as an organisation" in r.stderr
    assert MISTYPED_CHECK_DIGIT_VALID_USCC not in r.output and "19900101" not in r.output
    path = write_rows(platform.dir / "subjects.csv", [{"名称": "张三", "统一社会信用代码": MISTYPED_CHECK_DIGIT_VALID_USCC}])
    r = platform.run("subject", "import", str(path))
    assert r.exit_code == 65 and "row 2, field 统一社会信用代码" in r.stderr and "check digit" in r.stderr
    assert MISTYPED_CHECK_DIGIT_VALID_USCC not in r.output
    assert subject_count(platform) == 0


@settings(deadline=None)
@given(st.sampled_from(["211382", "110101", "120101", "310101", "510104"]), birth_days, st.integers(0, 999),
       st.sampled_from("0123456789X"), st.booleans())
def test_no_person_number_with_a_wrong_check_digit_is_taken_for_an_organisation(
        region, born, serial, last, override) -> None:
    from lycredit.subjects import validate_subject_code

    body = f"{region}{born:%Y%m%d}{serial:03d}"
    if ric_with_check(body) == body + last:
        return
    with pytest.raises(DataError, match="check digit"):
        validate_subject_code(body + last, allow_bad_checksum=override)


def test_a_person_born_after_the_as_of_day_is_refused_by_subject_add_and_import(platform) -> None:
    # Record intake checks a date of birth against --as-of; subject add and import used to check it
    # against the clock, so the same number was refused by one and registered by the other.
    born_2026 = ric_with_check("21138220260601001")
    path = write_rows(platform.dir / "subjects.csv", [{"姓名": "新生", "公民身份号码": born_2026}])
    for args in (("subject", "add", born_2026, "--name", "新生"), ("subject", "import", str(path))):
        r = platform.run("--as-of", "2026-01-01", *args)
        assert r.exit_code == 65, r.output
        assert "the date of birth is after today (2026-01-01)" in r.stderr
        assert born_2026 not in r.output
    assert subject_count(platform) == 0
    r = platform.run("--as-of", "2026-06-01", "--format", "json", "subject", "import", str(path))
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["created"] == 1


TODAY = dt.date(2026, 6, 1)
wrong_birth_dates = st.tuples(st.integers(1800, 2099), st.integers(1, 12), st.integers(1, 31)).filter(
    lambda ymd: not _is_birth_date(*ymd))


def _is_birth_date(year: int, month: int, day: int) -> bool:
    try:
        return dt.date(1880, 1, 1) <= dt.date(year, month, day) <= TODAY
    except ValueError:
        return False


@settings(deadline=None)
@given(st.sampled_from(["211382", "110101", "120101", "310101", "510104"]), wrong_birth_dates,
       st.integers(0, 999), st.sampled_from("0123456789X"), st.booleans())
def test_no_person_number_with_a_wrong_date_of_birth_is_taken_for_an_organisation(
        region, ymd, serial, last, override) -> None:
    from lycredit.subjects import display_code, validate_subject_code

    year, month, day = ymd
    number = f"{region}{year:04d}{month:02d}{day:02d}{serial:03d}{last}"
    with pytest.raises(DataError, match="date of birth") as caught:
        validate_subject_code(number, allow_bad_checksum=override, today=TODAY)
    assert not isinstance(caught.value, ChecksumMismatch)  # nothing to override
    assert number[6:14] not in caught.value.message
    assert display_code(number) == mask_ric(number)


# An enterprise's code (category 91, which is no province's) of digits only, with a wrong check character
# and, by chance, a GB 11643 check digit that fits: it cannot be a person's number, so the override admits
# it. And a public institution's (category 12, also Tianjin's province code) whose digits are no date.
ALL_DIGIT_ENTERPRISE_BAD_CHECKSUM = "912113822000001000"
ALL_DIGIT_INSTITUTION_BAD_CHECKSUM = "122113824000001019"


@pytest.mark.parametrize("code", [ALL_DIGIT_ENTERPRISE_BAD_CHECKSUM, ALL_DIGIT_INSTITUTION_BAD_CHECKSUM])
def test_an_all_digit_credit_code_with_a_bad_checksum_is_still_admitted_by_the_override(platform, code) -> None:
    from lycredit.identity import validate_uscc

    assert ric.calc_check_digit(ALL_DIGIT_ENTERPRISE_BAD_CHECKSUM) == ALL_DIGIT_ENTERPRISE_BAD_CHECKSUM[17]
    with pytest.raises(ChecksumMismatch):
        validate_uscc(code)
    r = add(platform, code, "凌源市老字号商行", "--override-checksum", "--reason", "2015年颁发的代码")
    assert r.exit_code == 0, r.output
    shown = json.loads(platform.run("--format", "json", "subject", "show", code, key=None).stdout)
    assert shown["checksum_override"] is True and shown["kind"] == "legal_person"
    assert [e["subject_id"] for e in log_events(platform, "subject.checksum_override")] == [shown["id"]]


# --- revealing personal data ------------------------------------------------------------------

def test_an_administrator_reveals_a_person_with_a_reason_and_it_is_logged(platform) -> None:
    add(platform, PERSON, PERSON_NAME)
    assert platform.run("subject", "show", PERSON, "--reveal").exit_code == 2
    r = platform.run("--format", "json", "subject", "show", PERSON, "--reveal", "--reason", "核对身份")
    assert r.exit_code == 0, r.output
    shown = json.loads(r.stdout)
    assert shown["code"] == PERSON and shown["name"] == PERSON_NAME
    events = log_events(platform, "pii.reveal")
    assert [e["subject_id"] for e in events] == [shown["id"]]
    assert PERSON not in json.dumps(events)


def test_only_an_administrator_may_reveal(platform) -> None:
    add(platform, PERSON, PERSON_NAME)
    platform.add_operator("xyb-01", "operator")
    r = platform.run("subject", "show", PERSON, "--reveal", "--reason", "好奇", key="xyb-01")
    assert r.exit_code == 77 and PERSON not in r.output
    assert log_events(platform, "pii.reveal") == []


# --- Art. 8 links -----------------------------------------------------------------------------

def test_an_organisation_is_linked_to_its_legal_representative_and_both_show_it(platform) -> None:
    from lycredit.subjects import linked_persons

    add(platform, ORG, "凌源市示例建材有限公司")
    add(platform, PERSON, PERSON_NAME)
    r = platform.run("subject", "link", ORG, PERSON, "--as", "legal_representative")
    assert r.exit_code == 0, r.output
    assert PERSON not in r.output and "法定代表人" in r.stderr
    org = json.loads(platform.run("--format", "json", "subject", "show", ORG, key=None).stdout)
    assert [(link["relation"], link["code"], link["party"]) for link in org["links"]] == [
        ("legal_representative", mask_ric(PERSON), "person")]
    person = json.loads(platform.run("--format", "json", "subject", "show", PERSON, key=None).stdout)
    assert [(link["relation_zh"], link["code"]) for link in person["links"]] == [("法定代表人", ORG)]
    with platform.engine().connect() as conn:
        assert linked_persons(conn, org["id"], ["legal_representative", "principal"]) == [person["id"]]
        assert linked_persons(conn, org["id"], ["financial_officer"]) == []


def test_a_link_must_go_from_an_organisation_to_a_person_once(platform) -> None:
    add(platform, ORG, "凌源市示例建材有限公司")
    add(platform, ORG2, "凌源示例食品加工有限公司")
    add(platform, PERSON, PERSON_NAME)
    assert platform.run("subject", "link", PERSON, ORG, "--as", "principal").exit_code == 65
    assert platform.run("subject", "link", ORG, ORG2, "--as", "principal").exit_code == 65
    assert platform.run("subject", "link", ORG, PERSON, "--as", "director").exit_code == 2
    assert platform.run("subject", "link", ORG, PERSON2, "--as", "principal").exit_code == 65
    assert platform.run("subject", "link", ORG, PERSON, "--as", "principal").exit_code == 0
    r = platform.run("subject", "link", ORG, PERSON, "--as", "principal")
    assert r.exit_code == 65 and "already recorded" in r.stderr
    assert platform.run("subject", "link", ORG, PERSON, "--as", "actual_controller").exit_code == 0


def test_a_link_ended_stays_on_record_no_longer_counts_for_art_23_and_may_be_made_again(platform) -> None:
    from lycredit.subjects import linked_persons

    add(platform, ORG, "凌源市示例建材有限公司")
    add(platform, PERSON, PERSON_NAME)
    assert platform.run("subject", "link", ORG, PERSON, "--as", "legal_representative").exit_code == 0
    org = json.loads(platform.run("--format", "json", "subject", "show", ORG, key=None).stdout)
    link_id = org["links"][0]["link_id"]
    assert platform.run("subject", "unlink", str(link_id)).exit_code == 2, "a reason is required"
    dry = platform.run("subject", "unlink", str(link_id), "--reason", "法定代表人变更", "--dry-run")
    assert dry.exit_code == 0 and "Dry run" in dry.stderr
    person = json.loads(platform.run("--format", "json", "subject", "show", PERSON, key=None).stdout)
    with platform.engine().connect() as conn:
        assert linked_persons(conn, org["id"]) == [person["id"]], "a dry run ends nothing"
    r = platform.run("subject", "unlink", str(link_id), "--reason", "法定代表人变更")
    assert r.exit_code == 0 and r.stdout.strip() == str(link_id), r.output
    shown = json.loads(platform.run("--format", "json", "subject", "show", ORG, key=None).stdout)
    assert [(link["link_id"], link["ended_at"] is not None) for link in shown["links"]] == [(link_id, True)]
    with platform.engine().connect() as conn:
        assert linked_persons(conn, org["id"]) == []
    again = platform.run("subject", "unlink", str(link_id), "--reason", "再次")
    assert again.exit_code == 65 and "already ended" in again.stderr
    for unknown in ("999999", str(2**31), "10000000000", "99999999999999999999"):  # beyond 2**31 - 1: no link id
        r = platform.run("subject", "unlink", unknown, "--reason", "x")
        assert r.exit_code == (65 if unknown == "999999" else 2) and "Traceback" not in r.output, r.output
    assert platform.run("subject", "unlink", "999999", "--reason", "x").exit_code == 65
    r = platform.run("subject", "link", ORG, PERSON, "--as", "legal_representative")  # appointed again
    assert r.exit_code == 0 and r.stdout.strip() == str(link_id), r.output
    shown = json.loads(platform.run("--format", "json", "subject", "show", ORG, key=None).stdout)
    assert [(link["link_id"], link["ended_at"]) for link in shown["links"]] == [(link_id, None)]
    with platform.engine().connect() as conn:
        assert linked_persons(conn, org["id"]) == [person["id"]]
    with platform.engine().connect() as conn:
        reasons = conn.execute(sa.text("SELECT reason FROM oplog_operation WHERE action = 'subject.unlink'"
                                       " ORDER BY seq")).scalars().all()
    assert reasons == ["法定代表人变更"]
    assert platform.run("audit", "verify", key=None).exit_code == 0


def test_only_staff_and_providers_may_end_a_link(platform) -> None:
    add(platform, ORG, "凌源市示例建材有限公司")
    add(platform, PERSON, PERSON_NAME)
    assert platform.run("subject", "link", ORG, PERSON, "--as", "principal").exit_code == 0
    platform.add_operator("sj-01", "auditor")
    r = platform.run("subject", "unlink", "1", "--reason", "x", key="sj-01")
    assert r.exit_code == 77


# --- import ------------------------------------------------------------------------------------

def test_the_sample_file_imports_in_one_signed_operation_and_again_changes_nothing(platform) -> None:
    sample = SAMPLES / "subjects" / "subjects.csv"
    r = platform.run("--format", "json", "subject", "import", str(sample))
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == {"rows": 10, "created": 10, "existing": 0, "persons": 4,
                                         "organisations": 6, "dry_run": False}
    again = json.loads(platform.run("--format", "json", "subject", "import", str(sample)).stdout)
    assert again["created"] == 0 and again["existing"] == 10
    partnership = json.loads(platform.run("--format", "json", "subject", "show", PARTNERSHIP, key=None).stdout)
    assert partnership["kind"] == "unincorporated"
    with platform.engine().connect() as conn:
        ops = conn.execute(sa.text("SELECT count(*) FROM oplog_operation WHERE action = 'subject.import'")).scalar()
    assert ops == 2
    assert platform.run("audit", "verify", key=None).exit_code == 0


def _subject_imports(platform) -> int:
    with platform.engine().connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM oplog_operation WHERE action = 'subject.import'")).scalar()


@pytest.mark.parametrize("kept", [None, 2], ids=["kept", "read-again"])
def test_a_file_is_checked_whole_then_registered_in_batches_of_one_signed_operation_each(platform, monkeypatch,
                                                                                         kept) -> None:
    """The rows are checked first (a bad last row stops everything), then registered --batch-size at a time, from
    the subjects kept by the check or (a file of more rows than SUBJECTS_KEPT) read again; the result is the
    one-operation import's."""
    from lycredit import subjects

    if kept is not None:
        monkeypatch.setattr(subjects, "SUBJECTS_KEPT", kept)
    sample = SAMPLES / "subjects" / "subjects.csv"
    r = platform.run("--format", "json", "subject", "import", str(sample), "--batch-size", "3")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == {"rows": 10, "created": 10, "existing": 0, "persons": 4, "organisations": 6,
                                    "dry_run": False}
    assert _subject_imports(platform) == 4 and subject_count(platform) == 10
    again = json.loads(platform.run("--format", "json", "subject", "import", str(sample), "--batch-size", "4").stdout)
    assert (again["created"], again["existing"]) == (0, 10) and _subject_imports(platform) == 7
    assert platform.run("audit", "verify", key=None).exit_code == 0


def test_a_bad_last_row_stops_a_batched_import_before_anything_is_written(platform, tmp_path) -> None:
    lines = (SAMPLES / "subjects" / "subjects.csv").read_text(encoding="utf-8-sig").splitlines()
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([*lines, lines[1]]) + "\n", encoding="utf-8")  # its first subject again, last
    r = platform.run("subject", "import", str(bad), "--batch-size", "2")
    assert r.exit_code == 65 and "appears again" in r.stderr, r.output
    assert subject_count(platform) == 0 and _subject_imports(platform) == 0


def test_a_file_that_changes_between_its_check_and_its_import_stops_at_the_changed_row(platform, tmp_path,
                                                                                    monkeypatch) -> None:
    """The batches registered before the row stay (they passed); running the import again completes it."""
    from lycredit import subjects

    lines = (SAMPLES / "subjects" / "subjects.csv").read_text(encoding="utf-8-sig").splitlines()
    path = tmp_path / "s.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setattr(subjects, "SUBJECTS_KEPT", 2)  # a large file: read again to be registered
    real = subjects.read_subjects_file

    def then_changed(*args, **kwargs):
        read = real(*args, **kwargs)
        path.write_text("\n".join([*lines[:8], lines[8].replace(lines[8].split(",")[0], "")]) + "\n",
                        encoding="utf-8")
        return read

    monkeypatch.setattr(subjects, "read_subjects_file", then_changed)
    r = platform.run("subject", "import", str(path), "--batch-size", "3")
    assert r.exit_code == 65 and "row 9" in r.stderr and "changed while it was imported" in r.stderr, r.output
    assert subject_count(platform) == 7 and _subject_imports(platform) == 3  # rows 2-4, 5-7, then 8


def test_a_dry_run_import_writes_nothing(platform) -> None:
    r = platform.run("subject", "import", str(SAMPLES / "subjects" / "subjects.csv"), "--dry-run")
    assert r.exit_code == 0 and "Dry run" in r.stderr
    assert subject_count(platform) == 0


def write_rows(path: Path, rows: list[dict]) -> Path:
    suffix = path.suffix
    if suffix == ".csv":
        import csv

        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    elif suffix == ".json":
        path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    elif suffix == ".xlsx":
        import openpyxl

        book = openpyxl.Workbook()
        sheet = book.active
        sheet.append(list(rows[0]))
        for row in rows:
            sheet.append(list(row.values()))
        book.save(path)
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def test_subjects_import_from_excel_json_and_parquet(platform, tmp_path) -> None:
    for index, suffix in enumerate((".xlsx", ".json", ".parquet")):
        rows = [{"name": f"凌源市示例建材有限公司{index}", "code": ORGS[index], "kind": ""},
                {"name": PERSON_NAME, "code": PERSONS[index], "kind": "自然人"}]
        r = platform.run("--format", "json", "subject", "import", str(write_rows(tmp_path / f"s{suffix}", rows)))
        assert r.exit_code == 0, (suffix, r.output)
        assert json.loads(r.stdout)["created"] == 2
        assert PERSONS[index] not in r.output


def test_a_file_with_bad_rows_is_rejected_whole_listing_every_problem(platform, tmp_path) -> None:
    rows = [
        {"名称": "凌源市示例建材有限公司", "统一社会信用代码": ORG, "公民身份号码": "", "类型": ""},
        {"名称": "", "统一社会信用代码": ORG2, "公民身份号码": "", "类型": ""},
        {"名称": "李四", "统一社会信用代码": "", "公民身份号码": PERSON[:-1] + "5", "类型": ""},
        {"名称": "王五", "统一社会信用代码": PERSON2, "公民身份号码": "", "类型": ""},
        {"名称": "凌源市老字号商行", "统一社会信用代码": BAD_CHECKSUM, "公民身份号码": "", "类型": ""},
        {"名称": "凌源市示例五金店", "统一社会信用代码": "92211382MA0Y8F3M2E", "公民身份号码": "", "类型": "法人"},
        {"名称": "空", "统一社会信用代码": "", "公民身份号码": "", "类型": ""},
        {"名称": "重复", "统一社会信用代码": ORG, "公民身份号码": "", "类型": ""},
        {"名称": "甲", "统一社会信用代码": "", "公民身份号码": PERSON, "类型": "公司"},
    ]
    path = write_rows(tmp_path / "bad.csv", rows)
    r = platform.run("subject", "import", str(path))
    assert r.exit_code == 65
    assert subject_count(platform) == 0
    lines = [line for line in r.stderr.splitlines() if ", row " in line]
    expected = {3: "名称", 4: "公民身份号码", 5: "统一社会信用代码", 6: "统一社会信用代码", 7: "类型",
                8: "统一社会信用代码", 9: "统一社会信用代码", 10: "类型"}
    for row, field in expected.items():
        assert any(f"bad.csv, row {row}, field {field}" in line for line in lines), (row, r.stderr)
    assert "first at row 2" in r.stderr and "empty" in r.stderr and "override" in r.stderr
    assert PERSON not in r.output and PERSON2 not in r.output


def test_a_code_admitted_by_the_checksum_override_imports_as_already_registered(platform, tmp_path) -> None:
    # The file lists a subject that staff admitted with the override: it is found like any other
    # (record intake does the same), where the import used to refuse it and suggest the override,
    # which then said the subject was already registered.
    add(platform, BAD_CHECKSUM, "凌源市老字号商行", "--override-checksum", "--reason", "2015年颁发的代码")
    path = write_rows(tmp_path / "again.csv", [{"名称": "凌源市老字号商行", "统一社会信用代码": BAD_CHECKSUM.lower()},
                                               {"名称": "凌源示例食品加工有限公司", "统一社会信用代码": ORG2}])
    r = platform.run("--format", "json", "subject", "import", str(path))
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == {"rows": 2, "created": 1, "existing": 1, "persons": 0, "organisations": 2,
                                    "dry_run": False}
    assert subject_count(platform) == 2
    assert platform.run("audit", "verify", key=None).exit_code == 0


def test_a_bad_checksum_not_admitted_by_override_is_listed_with_the_other_problems_in_row_order(
        platform, tmp_path) -> None:
    add(platform, BAD_CHECKSUM, "凌源市老字号商行", "--override-checksum", "--reason", "2015年颁发的代码")
    other_bad = ORG2[:-1] + "A"
    path = write_rows(tmp_path / "bad.csv", [{"名称": "", "统一社会信用代码": BAD_CHECKSUM},
                                             {"名称": "凌源示例食品加工有限公司", "统一社会信用代码": other_bad},
                                             {"名称": "", "统一社会信用代码": PARTNERSHIP}])
    r = platform.run("subject", "import", str(path))
    assert r.exit_code == 65, r.output
    lines = [line for line in r.stderr.splitlines() if ", row " in line]
    assert [line.split(":")[0] for line in lines] == [
        f"{path}, row 2, field 名称", f"{path}, row 3, field 统一社会信用代码", f"{path}, row 4, field 名称"]
    assert "override" in lines[1]
    assert subject_count(platform) == 1


def test_the_checksum_faults_are_looked_up_a_batch_at_a_time_while_the_file_is_read(platform, tmp_path,
                                                                                    monkeypatch) -> None:
    """The codes that fail only their check character go to the database FAULTS_AT_ONCE at a time (memory does
    not grow with them); an admitted one imports, the others are problems, in row order, as before."""
    from lycredit import subjects

    monkeypatch.setattr(subjects, "FAULTS_AT_ONCE", 1)
    add(platform, BAD_CHECKSUM, "凌源市老字号商行", "--override-checksum", "--reason", "2015年颁发的代码")
    other_bad = ORG2[:-1] + "A"
    rows = [{"名称": "凌源示例食品加工有限公司", "统一社会信用代码": other_bad},
            {"名称": "凌源市老字号商行", "统一社会信用代码": BAD_CHECKSUM},
            {"名称": "", "统一社会信用代码": PARTNERSHIP}]
    r = platform.run("subject", "import", str(write_rows(tmp_path / "bad.csv", rows)))
    assert r.exit_code == 65, r.output
    assert [line.split(":")[0] for line in r.stderr.splitlines() if ", row " in line] == [
        f"{tmp_path / 'bad.csv'}, row 2, field 统一社会信用代码", f"{tmp_path / 'bad.csv'}, row 4, field 名称"]
    r = platform.run("--format", "json", "subject", "import", str(write_rows(tmp_path / "ok.csv", rows[1:2] + [
        {"名称": "凌源示例食品加工有限公司", "统一社会信用代码": ORG2}])))
    assert r.exit_code == 0, r.output
    assert (json.loads(r.stdout)["created"], json.loads(r.stdout)["existing"]) == (1, 1)


def test_a_file_with_very_many_problems_lists_the_first_ones_and_counts_them_all(platform, tmp_path,
                                                                                monkeypatch) -> None:
    """Memory does not grow with a bad file's problems: the first PROBLEMS_SHOWN by row are listed, all counted
    (a checksum fault, found later, still takes its place among them by row)."""
    from lycredit import subjects

    monkeypatch.setattr(subjects, "PROBLEMS_SHOWN", 3)
    rows = [{"名称": "凌源示例食品加工有限公司", "统一社会信用代码": ORG2[:-1] + "A"}]
    rows += [{"名称": "", "统一社会信用代码": ORG2}] * 9
    r = platform.run("subject", "import", str(write_rows(tmp_path / "bad.csv", rows)))
    assert r.exit_code == 65, r.output
    assert "10 problem(s); nothing was imported" in r.stderr
    assert [line.split(",")[1].strip() for line in r.stderr.splitlines() if ", row " in line] == [
        "row 2", "row 3", "row 4"]
    assert "... and 7 more (the first 3 are listed)" in r.stderr
    assert subject_count(platform) == 0


def test_a_code_given_again_after_the_codes_seen_went_to_disk_is_still_found(platform, tmp_path,
                                                                             monkeypatch) -> None:
    from lycredit import seen

    monkeypatch.setattr(seen, "IN_MEMORY", 2)
    lines = (SAMPLES / "subjects" / "subjects.csv").read_text(encoding="utf-8-sig").splitlines()
    path = tmp_path / "again.csv"
    path.write_text("\n".join([*lines, lines[1]]) + "\n", encoding="utf-8")
    r = platform.run("subject", "import", str(path))
    assert r.exit_code == 65 and f"row {len(lines) + 1}" in r.stderr and "first at row 2" in r.stderr, r.output
    assert platform.run("subject", "import", str(SAMPLES / "subjects" / "subjects.csv")).exit_code == 0
    assert subject_count(platform) == 10


def test_a_persons_number_given_again_is_named_in_the_column_it_is_in(platform, tmp_path, monkeypatch) -> None:
    """A resident ID number given twice in a file with both code columns was reported in 统一社会信用代码, the
    column of the organisations' codes, not in 公民身份号码, where it is; after the codes seen went to disk too."""
    from lycredit import seen

    lines = (SAMPLES / "subjects" / "subjects.csv").read_text(encoding="utf-8-sig").splitlines()
    person = next(row for row, line in enumerate(lines[1:], start=2) if line.endswith(",自然人"))
    path = tmp_path / "again.csv"
    path.write_text("\n".join([*lines, lines[person - 1], lines[1]]) + "\n", encoding="utf-8")
    for limit in (None, 2):
        if limit is not None:
            monkeypatch.setattr(seen, "IN_MEMORY", limit)
        r = platform.run("subject", "import", str(path))
        assert r.exit_code == 65, r.output
        assert [line.split(": ")[0].split(", ", 1)[1] for line in r.stderr.splitlines() if ", row " in line] == [
            f"row {len(lines) + 1}, field 公民身份号码", f"row {len(lines) + 2}, field 统一社会信用代码"], r.stderr
    assert subject_count(platform) == 0


def test_a_resident_id_number_stored_as_a_number_in_excel_is_refused_saying_why(platform, tmp_path) -> None:
    # Excel keeps 15 significant digits of a number, so the number's last three digits read as 000: the
    # check digit no longer fits, and the message says what happened instead of only that.
    import openpyxl

    path = tmp_path / "persons.xlsx"
    book = openpyxl.Workbook()
    book.active.append(["姓名", "公民身份号码"])
    book.active.append([PERSON_NAME, int(PERSON)])
    book.save(path)
    r = platform.run("subject", "import", str(path))
    assert r.exit_code == 65, r.output
    assert "row 2, field 公民身份号码" in r.stderr and "format the column as text" in r.stderr
    assert PERSON[:15] not in r.output
    wrong = add(platform, PERSON[:-1] + "5", PERSON_NAME)  # a mistyped check digit alone: no such advice
    assert wrong.exit_code == 65 and "check digit" in wrong.stderr and "spreadsheet" not in wrong.stderr
    assert subject_count(platform) == 0


def test_a_column_that_is_not_part_of_a_subject_is_refused_by_name(platform, tmp_path) -> None:
    for column, rule in (("宗教信仰", "Art. 12 forbids"), ("月收入", "authorisation"), ("备注", "unknown column")):
        path = write_rows(tmp_path / "extra.csv", [{"名称": PERSON_NAME, "公民身份号码": PERSON, column: "x"}])
        r = platform.run("subject", "import", str(path))
        assert r.exit_code == 65 and column in r.stderr and rule in r.stderr
    assert subject_count(platform) == 0


def test_a_file_of_the_wrong_type_is_refused_with_advice_the_cli_can_follow(platform, tmp_path) -> None:
    # The messages used to suggest naming the format explicitly, which no import command offers.
    text = tmp_path / "subjects.txt"
    text.write_text(f"名称,统一社会信用代码\n凌源市示例建材有限公司,{ORG}\n", encoding="utf-8")
    book = write_rows(tmp_path / "subjects.xlsx", [{"名称": "凌源市示例建材有限公司", "统一社会信用代码": ORG}])
    renamed = book.rename(tmp_path / "book.csv")
    for path, advice in ((text, "rename it if it is one"), (renamed, "rename it with the suffix .xlsx")):
        r = platform.run("subject", "import", str(path))
        assert r.exit_code == 65 and advice in r.stderr and "format explicitly" not in r.stderr, r.output
    assert subject_count(platform) == 0


def test_a_missing_import_file_exits_66(platform, tmp_path) -> None:
    assert platform.run("subject", "import", str(tmp_path / "none.csv")).exit_code == 66


# --- single and bulk resolution for record intake ---------------------------------------------

def test_resolve_or_create_registers_once_then_finds(platform) -> None:
    from lycredit.subjects import resolve_or_create

    with context(platform).operation("subject.add") as uow:
        first = resolve_or_create(uow, PERSON, PERSON_NAME)
        assert resolve_or_create(uow, PERSON.lower(), "别的名字") == first
        org = resolve_or_create(uow, ORG, "凌源市示例建材有限公司")
    assert org != first and subject_count(platform) == 2


def bulk_items(count: int) -> list[tuple[str, str]]:
    items = []
    for i in range(count):
        if i % 2:
            items.append((valid_uscc(f"91211382MA{i:07d}"), f"示例公司{i}"))
        else:
            items.append((ric_with_check(f"211382{dt.date(1950, 1, 1) + dt.timedelta(days=i):%Y%m%d}{i % 1000:03d}"),
                          f"示例{i}"))
    return items


def test_bulk_resolution_creates_then_finds_and_the_log_still_verifies(platform) -> None:
    from lycredit.subjects import resolve_subjects_bulk

    items = bulk_items(3000)
    started = time.perf_counter()
    with context(platform).operation("record.import") as uow:
        ids = resolve_subjects_bulk(uow, items + items[:10])
        assert uow.summary["subjects_created"] == 3000
    elapsed = time.perf_counter() - started
    assert len(ids) == 3000 and len(set(ids.values())) == 3000
    assert elapsed < 3.0 * 3000 / 1000  # generous: under 1 ms a subject even on a slow machine
    with context(platform).operation("record.import") as uow:
        again = resolve_subjects_bulk(uow, [(code.lower(), "另一个名字") for code, _name in items])
        assert "subjects_created" not in uow.summary
    assert again == ids and subject_count(platform) == 3000
    r = platform.run("audit", "verify", key=None)
    assert r.exit_code == 0, r.output
    assert items[0][0].encode() not in stored_text(platform)


def test_bulk_resolution_rejects_an_invalid_code_naming_its_problem_masked(platform) -> None:
    from lycredit.subjects import resolve_subjects_bulk

    wrong = PERSON[:-1] + "5"
    with pytest.raises(DataError, match="check digit") as caught:
        with context(platform).operation("record.import") as uow:
            resolve_subjects_bulk(uow, [(ORG, "凌源市示例建材有限公司"), (wrong, "李四")])
    assert wrong not in caught.value.message and mask_ric(wrong) in caught.value.message
    assert subject_count(platform) == 0


def test_bulk_resolution_finds_a_code_admitted_by_override_and_rejects_one_that_was_not(platform) -> None:
    from lycredit.subjects import resolve_subjects_bulk

    other_bad = ORG2[:-1] + "A"
    add(platform, BAD_CHECKSUM, "凌源市老字号商行", "--override-checksum", "--reason", "2015年颁发的代码")
    with context(platform).operation("record.import") as uow:
        ids = resolve_subjects_bulk(uow, [(BAD_CHECKSUM, "凌源市老字号商行")])
    assert list(ids) == [BAD_CHECKSUM]
    with pytest.raises(ChecksumMismatch, match=other_bad):
        with context(platform).operation("record.import") as uow:
            resolve_subjects_bulk(uow, [(other_bad, "别的商行")])


def test_bulk_resolution_rejects_an_empty_name_for_a_new_subject(platform) -> None:
    from lycredit.subjects import resolve_subjects_bulk

    with pytest.raises(DataError, match="name of the credit subject is empty"):
        with context(platform).operation("record.import") as uow:
            resolve_subjects_bulk(uow, [(ORG, " ")])


# --- roles and output -------------------------------------------------------------------------

def test_auditors_and_agencies_may_not_change_subjects(platform) -> None:
    commands = (["subject", "add", ORG, "--name", "凌源市示例建材有限公司"],
                ["subject", "import", str(SAMPLES / "subjects" / "subjects.csv")],
                ["subject", "link", ORG, PERSON, "--as", "principal"])
    for role in ("auditor", "agency"):
        platform.add_operator(role, role)
        for args in commands:
            r = platform.run(*args, key=role)
            assert r.exit_code == 77 and role in r.stderr, (role, args, r.output)
    assert subject_count(platform) == 0


def test_a_provider_registers_subjects(platform) -> None:
    platform.add_operator("scjg-01", "provider")
    assert add(platform, PERSON, PERSON_NAME, key="scjg-01").exit_code == 0


def test_no_output_shows_a_person_number_in_clear(platform) -> None:
    outputs = [platform.run("subject", "import", str(SAMPLES / "subjects" / "subjects.csv")),
               add(platform, PERSON, PERSON_NAME),
               platform.run("subject", "link", ORG, PERSON, "--as", "principal")]
    for fmt in ("table", "json", "ndjson", "csv"):
        outputs += [platform.run("--format", fmt, "subject", "show", code, key=None)
                    for code in (PERSON, ORG, PERSON2[:-1] + "9")]
    text = "".join(r.output for r in outputs)
    assert mask_ric(PERSON) in text
    for number in ("211382198001010014", "211382198512120020", "211382199003150031", "211382200107060044"):
        assert number not in text and number[6:14] not in text


def test_validating_codes_leaves_no_garbage_for_the_collector() -> None:
    """A bulk import validates every code; an error kept with its traceback made a reference cycle per code.

    The collector's garbage is kept (``DEBUG_SAVEALL``) and searched for frames of lycredit or
    python-stdnum: other threads of the test process (xdist's) may leave garbage of their own
    meanwhile, so a bare count of what the collector freed is not a sign of ours.
    """
    import gc
    import types

    from lycredit.errors import DataError
    from lycredit.subjects import validate_subject_code
    from tests.conftest import valid_uscc

    code = valid_uscc("91211382MA0Y7K2R1")
    # Shaped like a resident ID number (all digits, 18 long) but not one: the number's error is
    # caught and kept before the code is found to be a valid USCC.
    digits = next(c for n in range(10_000) if (c := valid_uscc(f"9121138200000{n:04d}"))[-1].isdigit())
    cases = [(code, code), (digits, digits), (code[:-1] + ("0" if code[-1] != "0" else "1"), None)]

    import stdnum

    import lycredit

    packages = tuple(str(Path(package.__file__).parent) for package in (lycredit, stdnum))

    def ours(thing: object) -> bool:
        frame = thing.tb_frame if isinstance(thing, types.TracebackType) else thing
        if isinstance(frame, types.FrameType):
            return frame.f_code.co_filename.startswith(packages)
        return isinstance(thing, DataError)

    for submitted, _ in cases:  # first calls may import or compile what later calls reuse
        with contextlib.suppress(DataError):
            validate_subject_code(submitted)
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    gc.disable()
    try:
        for _ in range(200):
            for submitted, expected in cases:
                if expected is None:
                    with pytest.raises(DataError):
                        validate_subject_code(submitted)
                else:
                    assert validate_subject_code(submitted)[1] == expected
        gc.collect()
        leaked = [thing for thing in gc.garbage if ours(thing)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert not leaked, f"{len(leaked)} frames, tracebacks or errors of lycredit in reference cycles: {leaked[:5]}"


# --- bulk row hashes ------------------------------------------------------------------------------

_TIMES = st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2100, 1, 1),
                      timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=8))]))


@settings(max_examples=80, deadline=None)
@given(rows=st.lists(st.fixed_dictionaries({
    "id": st.integers(1, 2**53), "kind": st.sampled_from(["legal_person", "natural_person"]),
    "name": st.text(st.characters(codec="utf-8"), max_size=12) | st.just('"%s%d\\'),
    "name_enc": st.none() | st.binary(max_size=40), "uscc": st.none() | st.text(max_size=18),
    "ric_enc": st.none() | st.binary(max_size=40), "ric_index": st.none() | st.text("0123456789abcdef", max_size=64),
    "checksum_override": st.booleans(), "created_at": _TIMES | st.just(dt.datetime(2026, 11, 29, 3, 4, 5, 6, dt.UTC))}),
    max_size=6))
def test_bulk_subject_hashes_are_the_generic_row_hashes(rows) -> None:
    """What ``subject import`` and ``record import`` log for the subjects they register in bulk."""
    from lycredit.models.base import row_key, row_values
    from lycredit.oplog.log import insert_hashes, row_hash
    from lycredit.subjects import T_SUBJECT

    assert insert_hashes(T_SUBJECT, rows) == [
        (row_key(T_SUBJECT, row), row_hash("subject", row_values(T_SUBJECT, row))) for row in rows]


def test_show_as_csv_for_excel_starts_with_one_bom_and_guards_formulas_in_the_links_too(platform) -> None:
    """subject show writes two tables (the subject, its links); with --bom each began with a BOM, so the second
    sat inside the file and Excel showed it as part of the cell 'link_id'. --bom starts the CSV with one, and a
    linked organisation's name that starts like a formula is still shown, not run."""
    assert add(platform, ORG, "=HYPERLINK(1)凌源").exit_code == 0
    assert add(platform, PERSON, PERSON_NAME).exit_code == 0
    assert platform.run("subject", "link", ORG, PERSON, "--as", "legal_representative").exit_code == 0
    for code in (ORG, PERSON):
        r = platform.run("--format", "csv", "--bom", "subject", "show", code, key=None)
        assert r.exit_code == 0, r.output
        assert r.stdout.startswith("\ufeff") and r.stdout.count("\ufeff") == 1, code
        lines = r.stdout[1:].splitlines()
        assert lines[0] == "field,value" and "link_id,relation,relation_zh,party,code,name,ended_at" in lines
        assert "'=HYPERLINK(1)凌源" in r.stdout and ",=HYPERLINK" not in r.stdout and PERSON not in r.stdout
    plain = platform.run("--format", "csv", "subject", "show", PERSON, key=None)
    assert "\ufeff" not in plain.stdout and ",=HYPERLINK(1)凌源," in plain.stdout
