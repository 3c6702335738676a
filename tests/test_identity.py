"""Specification of credit-subject identifiers and personal-data protection (Art. 3, 4, 8, 12, 13, 28).

The GB 32100 and GB 11643 check characters are computed here from the standards, independently
of python-stdnum, so that the module is checked against the standards and not against itself.
"""

from __future__ import annotations

import base64
import gettext
import hashlib
import hmac
import os
from datetime import date, timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from lycredit import i18n
from lycredit.errors import ConfigError, DataError, ExitCode
from lycredit.identity import (
    CONSENT_FIELDS,
    FORBIDDEN_FIELDS,
    USCC_REGISTRATION_CATEGORIES,
    ChecksumMismatch,
    PiiError,
    PiiProtector,
    SubjectKind,
    classify_code,
    classify_field,
    consent_fields_in,
    field_rule,
    forbidden_fields_in,
    mask_name,
    mask_phone,
    mask_ric,
    subject_kind_from_uscc,
    validate_ric,
    validate_uscc,
)


@pytest.fixture(autouse=True)
def english_messages(monkeypatch):
    monkeypatch.setattr(i18n, "_translation", gettext.NullTranslations())


# --- GB 32100: unified social credit code ---------------------------------------------------

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # digits and letters without I, O, S, V, Z

# Registration department (position 1) and organisation category (position 2), GB 32100
# with its amendments (A military, N agriculture, Y other).
GB_32100_PAIRS = {
    "1": "1239",
    "2": "19",
    "3": "123459",
    "4": "19",
    "5": "1239",
    "6": "129",
    "7": "129",
    "8": "19",
    "9": "123",
    "A": "19",
    "N": "1239",
    "Y": "1",
}
PAIRS = sorted(
    department + category for department, categories in GB_32100_PAIRS.items() for category in categories
)


def uscc_check(first17: str) -> str:
    """GB 32100: weights 3^i mod 31; the check character makes the weighted sum 0 mod 31."""
    total = sum(USCC_ALPHABET.index(char) * pow(3, i, 31) for i, char in enumerate(first17))
    return USCC_ALPHABET[-total % 31]


def make_uscc(pair: str, region: str = "110000", organisation: str = "600037341") -> str:
    return pair + region + organisation + uscc_check(pair + region + organisation)


usccs = st.builds(
    lambda pair, region, organisation: make_uscc(pair, region, organisation),
    st.sampled_from(PAIRS),
    st.text(alphabet="0123456789", min_size=6, max_size=6),
    st.text(alphabet=USCC_ALPHABET, min_size=9, max_size=9),
)


def test_known_genuine_code_validates():
    assert validate_uscc("91110000600037341L") == "91110000600037341L"


def test_registration_table_is_exactly_the_gb_32100_table():
    assert sorted(USCC_REGISTRATION_CATEGORIES) == PAIRS


@given(usccs)
def test_every_well_formed_code_validates_and_round_trips(code):
    assert validate_uscc(code) == code
    assert validate_uscc(validate_uscc(code)) == code


@given(usccs)
def test_code_is_compacted_from_lower_case_spaced_hyphenated_and_full_width_input(code):
    spaced = f" {code[:2]} {code[2:8]}-{code[8:].lower()} "
    full_width = "".join(chr(ord(char) + 0xFEE0) for char in code)
    assert validate_uscc(spaced) == code
    assert validate_uscc(full_width) == code


@given(usccs, st.integers(min_value=0, max_value=17), st.sampled_from(USCC_ALPHABET + "IOSVZ!*中a"))
def test_any_single_changed_character_is_rejected(code, position, replacement):
    changed = code[:position] + replacement + code[position + 1 :]
    if changed.upper() == code:
        return
    with pytest.raises(DataError):
        validate_uscc(changed)


@given(usccs, st.integers(min_value=8, max_value=17), st.sampled_from(USCC_ALPHABET))
def test_override_admits_a_code_whose_only_fault_is_its_checksum(code, position, replacement):
    changed = code[:position] + replacement + code[position + 1 :]
    assert validate_uscc(changed, allow_bad_checksum=True) == changed
    if changed != code:
        with pytest.raises(ChecksumMismatch):
            validate_uscc(changed)


def test_checksum_failure_names_the_expected_check_character():
    with pytest.raises(ChecksumMismatch) as raised:
        validate_uscc("91110000600037341X")
    assert "check character X" in raised.value.message
    assert "expected L" in raised.value.message
    assert raised.value.exit_code == ExitCode.DATA_ERROR


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        ("", "has 0 characters"),
        ("9111000060003734", "has 16 characters"),
        ("91110000600037341LL", "has 19 characters"),
        ("91110000600037341I", "character 'I' at position 18"),
        ("9111000060O037341L", "character 'O' at position 11"),
        ("91110000600037341.", "character '.' at position 18"),
        ("9111A000600037341L", "positions 3-8"),
        ("90110000600037341L", "90 (positions 1-2)"),
        ("B1110000600037341L", "B1 (positions 1-2)"),
        ("Y2110000600037341L", "Y2 (positions 1-2)"),
    ],
)
@pytest.mark.parametrize("override", [False, True])
def test_override_never_admits_a_structural_fault(code, rule, override):
    with pytest.raises(DataError) as raised:
        validate_uscc(code, allow_bad_checksum=override)
    assert not isinstance(raised.value, ChecksumMismatch)
    assert rule in raised.value.message


def test_huge_code_is_rejected_with_a_short_message():
    with pytest.raises(DataError) as raised:
        validate_uscc("9" * 100_000)
    assert "100000 characters" in raised.value.message
    assert len(raised.value.message) < 200


def test_letter_department_codes_from_the_amendments_are_accepted():
    for pair in ("A1", "N2", "Y1"):
        code = make_uscc(pair)
        assert validate_uscc(code) == code


@pytest.mark.parametrize(
    ("pair", "kind"),
    [
        ("92", SubjectKind.individual_business),
        ("91", SubjectKind.legal_person),
        ("93", SubjectKind.legal_person),
        ("11", SubjectKind.legal_person),
        ("12", SubjectKind.legal_person),
        ("51", SubjectKind.legal_person),
        ("52", SubjectKind.legal_person),
        ("53", SubjectKind.legal_person),
        ("81", SubjectKind.legal_person),
        ("N2", SubjectKind.legal_person),
        ("Y1", SubjectKind.legal_person),
        ("21", SubjectKind.unincorporated),
        ("31", SubjectKind.unincorporated),
        ("61", SubjectKind.unincorporated),
    ],
)
def test_subject_kind_follows_department_and_category(pair, kind):
    assert subject_kind_from_uscc(make_uscc(pair)) is kind


def test_subject_kind_is_known_for_a_code_admitted_by_checksum_override():
    assert subject_kind_from_uscc("92110000600037341X") is SubjectKind.individual_business


def test_subject_kind_of_a_code_outside_the_table_is_an_error():
    with pytest.raises(DataError, match="positions 1-2"):
        subject_kind_from_uscc("96110000600037341L")


def test_subject_kinds_carry_the_regulation_chinese_labels():
    assert [kind.label_zh for kind in SubjectKind] == ["自然人", "法人", "非法人组织", "个体工商户"]
    assert SubjectKind("individual_business") is SubjectKind.individual_business
    assert isinstance(SubjectKind.legal_person, str)


# --- GB 11643: citizen identity number ------------------------------------------------------

TODAY = date(2026, 1, 15)
ADDRESS_CODES = ["110101", "110105", "310115", "330106", "440305", "510107", "650102", "820000"]


def ric_check(first17: str) -> str:
    """GB 11643 (ISO 7064 MOD 11-2): weights 2^(17-i) mod 11; the sum with the check digit is 1 mod 11."""
    total = sum(int(digit) * pow(2, 17 - i, 11) for i, digit in enumerate(first17))
    value = (1 - total) % 11
    return "X" if value == 10 else str(value)


def make_ric(address: str = "110101", born: date = date(1990, 1, 1), sequence: int = 1) -> str:
    first17 = f"{address}{born:%Y%m%d}{sequence:03d}"
    return first17 + ric_check(first17)


rics = st.builds(
    make_ric,
    st.sampled_from(ADDRESS_CODES),
    st.dates(min_value=date(1900, 1, 1), max_value=TODAY),
    st.integers(min_value=0, max_value=999),
)


def test_known_valid_number_validates():
    assert validate_ric("110101199001010015", today=TODAY) == "110101199001010015"


@given(rics)
def test_every_well_formed_number_validates(number):
    assert validate_ric(number, today=TODAY) == number


@given(rics)
def test_lower_case_x_and_separators_are_accepted(number):
    assert validate_ric(f" {number[:6]} {number[6:14]}-{number[14:].lower()} ", today=TODAY) == number


def test_number_ending_in_x_validates_in_lower_case():
    number = next(make_ric(sequence=seq) for seq in range(1000) if make_ric(sequence=seq).endswith("X"))
    assert validate_ric(number.lower(), today=TODAY) == number


@given(rics, st.integers(min_value=0, max_value=17), st.sampled_from("0123456789X"))
def test_any_single_changed_digit_is_rejected(number, position, replacement):
    changed = number[:position] + replacement + number[position + 1 :]
    if changed == number:
        return
    with pytest.raises(DataError):
        validate_ric(changed, today=TODAY)


@given(st.dates(min_value=TODAY + timedelta(days=1), max_value=date(2999, 12, 31)))
def test_date_of_birth_in_the_future_is_rejected(born):
    with pytest.raises(DataError, match="after today"):
        validate_ric(make_ric(born=born), today=TODAY)


def test_born_today_is_accepted():
    assert validate_ric(make_ric(born=TODAY), today=TODAY)


def test_old_fifteen_digit_number_is_rejected_with_a_clear_message():
    with pytest.raises(DataError) as raised:
        validate_ric("110101900101001", today=TODAY)
    assert "15 digits" in raised.value.message
    assert "18-digit" in raised.value.message


@pytest.mark.parametrize(
    ("number", "rule"),
    [
        ("", "has 0 characters"),
        ("11010119900101001", "has 17 characters"),
        ("1101011990010100155", "has 19 characters"),
        ("11010119900101A015", "positions 1-17 must be digits"),
        ("11010119900101001Y", "position 18 a digit or X"),
        ("110101199001010016", "check digit does not match"),
    ],
)
def test_malformed_numbers_are_rejected_naming_the_rule(number, rule):
    with pytest.raises(DataError, match=rule):
        validate_ric(number, today=TODAY)


def test_impossible_date_of_birth_is_rejected():
    first17 = "11010119900230001"
    with pytest.raises(DataError, match="positions 7-14 are not a valid date of birth"):
        validate_ric(first17 + ric_check(first17), today=TODAY)


@pytest.mark.parametrize("born", [date(1000, 1, 1), date(1800, 1, 1), date(1879, 12, 31)])
def test_a_date_of_birth_before_1880_is_rejected(born):
    # 18000101 is a real date, but no holder of a citizen identity number was born then; it was accepted.
    with pytest.raises(DataError, match="positions 7-14 are not a valid date of birth"):
        validate_ric(make_ric(born=born), today=TODAY)


def test_a_date_of_birth_in_1880_is_accepted():
    assert validate_ric(make_ric(born=date(1880, 1, 1)), today=TODAY)


def test_unknown_address_code_is_rejected():
    with pytest.raises(DataError, match="positions 1-6 are not a known administrative division code"):
        validate_ric(make_ric(address="999999"), today=TODAY)


def test_county_code_created_after_the_birth_year_is_accepted():
    """110112 (Tongzhou) dates from 1997, but people born earlier were given it when they registered."""
    number = make_ric(address="110112", born=date(1985, 6, 1))
    assert validate_ric(number, today=TODAY) == number


def test_taiwan_residence_permit_address_code_is_accepted():
    number = make_ric(address="830000", born=date(1985, 6, 1))
    assert validate_ric(number, today=TODAY) == number


def test_huge_number_is_rejected_with_a_short_message():
    with pytest.raises(DataError) as raised:
        validate_ric("1" * 100_000, today=TODAY)
    assert len(raised.value.message) < 200


@given(rics, st.integers(min_value=0, max_value=17))
def test_error_messages_never_repeat_the_resident_id_number(number, position):
    broken = number[:position] + ("1" if number[position] != "1" else "2") + number[position + 1 :]
    with pytest.raises(DataError) as raised:
        validate_ric(broken, today=TODAY)
    assert broken not in raised.value.message
    assert broken[:14] not in raised.value.message


def test_without_today_the_current_date_is_used():
    assert validate_ric("110101199001010015") == "110101199001010015"
    with pytest.raises(DataError, match="after today"):
        validate_ric(make_ric(born=date(2999, 1, 1)))


# --- classify_code ------------------------------------------------------------------------


@given(rics)
def test_valid_resident_id_is_classified_as_ric(number):
    assert classify_code(number, today=TODAY) == "ric"


@given(usccs)
def test_valid_uscc_that_is_not_all_digits_is_classified_as_uscc(code):
    assume(not code[:17].isdigit())
    assert classify_code(code, today=TODAY) == "uscc"


def test_code_valid_as_both_is_taken_as_resident_id():
    number = next(
        candidate
        for sequence in range(1000)
        if (candidate := make_ric(address="110101", born=date(1990, 1, 1), sequence=sequence))[17]
        == uscc_check(candidate[:17])
    )
    assert validate_uscc(number) == number
    assert classify_code(number, today=TODAY) == "ric"


def test_code_valid_as_neither_gives_both_reasons():
    with pytest.raises(DataError) as raised:
        classify_code("12345", today=TODAY)
    message = raised.value.message
    assert "Resident ID number has 5 characters" in message
    assert "Unified social credit code has 5 characters" in message


# --- Masking --------------------------------------------------------------------------------


def test_resident_id_is_masked_over_the_date_of_birth():
    assert mask_ric("110101199001010015") == "110101********0015"
    assert mask_ric("11010119900101001x") == "110101********001X"


@given(rics)
def test_masked_resident_id_keeps_address_code_and_last_four_only(number):
    masked = mask_ric(number)
    assert masked == number[:6] + "********" + number[14:]
    assert number[6:14] not in masked[6:]


@pytest.mark.parametrize("value", ["", "12345", "110101900101001", "1" * 40])
def test_malformed_resident_id_is_masked_entirely(value):
    assert mask_ric(value) == "*" * len(value)


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三", "张*"),
        ("李小明", "李**"),
        ("欧阳娜娜", "欧***"),
        (" 张三 ", "张*"),
        ("买买提·艾力", "买**·**"),
        ("John Smith", "J*** *****"),
        ("张", "*"),
        ("", ""),
    ],
)
def test_name_keeps_only_its_first_character(name, masked):
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),
        ("138 1234 5678", "138****5678"),
        ("138-1234-5678", "138****5678"),
        ("010-12345678", "010****5678"),
        ("(0571) 8765-4321", "057*****4321"),
        ("87654321", "****4321"),
        ("12345", "*2345"),
        ("110", "***"),
        ("", ""),
    ],
)
def test_phone_keeps_at_most_prefix_and_last_four(phone, masked):
    assert mask_phone(phone) == masked


# --- PiiProtector: resident ID numbers at rest ---------------------------------------------

MASTER = bytes(range(32))
OTHER = bytes(range(1, 33))
NUMBER = "110101199001010015"


@pytest.fixture
def protector():
    return PiiProtector(MASTER)


def subkey(label: bytes, master: bytes = MASTER) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(master)


def token_bytes(token: str) -> bytes:
    body = token.removeprefix("v1:")
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))


def as_token(raw: bytes) -> str:
    return "v1:" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@settings(max_examples=50)
@given(st.text(), st.text(min_size=1))
def test_encryption_round_trips(plaintext, context):
    protector = PiiProtector(MASTER)
    assert protector.decrypt(protector.encrypt(plaintext, context=context), context=context) == plaintext


def test_token_is_versioned_base64url_and_hides_the_number(protector):
    token = protector.encrypt(NUMBER, context="subject:1:id_number")
    assert token.startswith("v1:")
    assert set(token[3:]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert len(token_bytes(token)) == 12 + len(NUMBER) + 16
    assert NUMBER not in token


def test_token_format_is_aes_256_gcm_under_the_hkdf_encryption_subkey(protector):
    nonce = bytes(12)
    sealed = AESGCM(subkey(b"lycredit pii enc v1")).encrypt(nonce, NUMBER.encode(), b"subject:7:id_number")
    assert protector.decrypt(as_token(nonce + sealed), context="subject:7:id_number") == NUMBER


def test_each_encryption_uses_a_fresh_random_nonce(protector):
    tokens = [protector.encrypt(NUMBER, context="c") for _ in range(200)]
    assert len({token_bytes(token)[:12] for token in tokens}) == 200


@settings(max_examples=100)
@given(st.data())
def test_any_flipped_bit_is_detected(data):
    protector = PiiProtector(MASTER)
    raw = bytearray(token_bytes(protector.encrypt(NUMBER, context="subject:1:id_number")))
    index = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    raw[index] ^= 1 << data.draw(st.integers(min_value=0, max_value=7))
    with pytest.raises(PiiError, match="failed authentication"):
        protector.decrypt(as_token(bytes(raw)), context="subject:1:id_number")


def test_value_moved_to_another_row_or_column_is_detected(protector):
    token = protector.encrypt(NUMBER, context="subject:1:id_number")
    for context in ("subject:2:id_number", "subject:1:representative_id", "subject:1:id_number "):
        with pytest.raises(PiiError, match="belongs to another record or field"):
            protector.decrypt(token, context=context)


def test_value_made_with_another_key_is_detected(protector):
    token = PiiProtector(OTHER).encrypt(NUMBER, context="c")
    with pytest.raises(PiiError, match="another key"):
        protector.decrypt(token, context="c")


@pytest.mark.parametrize(
    ("token", "rule"),
    [
        ("", "does not start with v1:"),
        ("v2:AAAA", "does not start with v1:"),
        ("110101199001010015", "does not start with v1:"),
        ("v1:", "not valid base64url"),
        ("v1:AAAA=", "not valid base64url"),
        ("v1:AA+/", "not valid base64url"),
        ("v1:AAAAA", "not valid base64url"),
        ("v1:AAAA", "too short"),
        ("v1:" + "A" * 36, "too short"),
    ],
)
def test_malformed_token_is_rejected_naming_the_problem(protector, token, rule):
    with pytest.raises(PiiError, match=rule) as raised:
        protector.decrypt(token, context="c")
    assert raised.value.exit_code == ExitCode.DATA_ERROR


def test_empty_context_is_refused(protector):
    with pytest.raises(ValueError, match="context"):
        protector.encrypt(NUMBER, context="")


def test_blind_index_is_hmac_sha256_of_the_compact_value_under_the_index_subkey(protector):
    expected = hmac.new(subkey(b"lycredit pii index v1"), NUMBER.encode(), hashlib.sha256).hexdigest()
    assert protector.blind_index(NUMBER) == expected


def test_blind_index_is_stable_across_instances_and_spellings(protector):
    number = next(make_ric(sequence=seq) for seq in range(1000) if make_ric(sequence=seq).endswith("X"))
    spellings = [
        number,
        number.lower(),
        f"{number[:6]} {number[6:14]}-{number[14:]}",
        "".join(chr(ord(char) + 0xFEE0) for char in number),
    ]
    indexes = {PiiProtector(MASTER).blind_index(spelling) for spelling in spellings}
    assert indexes == {protector.blind_index(number)}


@given(rics, rics)
def test_blind_index_separates_numbers_and_keys(first, second):
    protector, other = PiiProtector(MASTER), PiiProtector(OTHER)
    assert protector.blind_index(first) != other.blind_index(first)
    assert (protector.blind_index(first) == protector.blind_index(second)) == (first == second)
    assert len(protector.blind_index(first)) == 64


def test_blind_index_of_an_empty_value_is_refused(protector):
    with pytest.raises(ValueError):
        protector.blind_index(" ")


def test_master_key_of_the_wrong_length_is_a_configuration_error():
    with pytest.raises(ConfigError, match="32 bytes, not 16"):
        PiiProtector(bytes(16))


# --- PiiProtector.from_env: the key lives outside the database ------------------------------


def test_generated_keys_are_random_32_byte_base64():
    keys = {PiiProtector.generate_key() for _ in range(20)}
    assert len(keys) == 20
    assert all(len(base64.b64decode(key, validate=True)) == 32 for key in keys)


def test_key_from_environment_variable(protector):
    built = PiiProtector.from_env({"LYCREDIT_PII_KEY": base64.b64encode(MASTER).decode()})
    assert built.blind_index(NUMBER) == protector.blind_index(NUMBER)


def test_key_from_process_environment_by_default(monkeypatch, protector):
    monkeypatch.delenv("LYCREDIT_PII_KEY_FILE", raising=False)
    monkeypatch.setenv("LYCREDIT_PII_KEY", base64.b64encode(MASTER).decode())
    assert PiiProtector.from_env().blind_index(NUMBER) == protector.blind_index(NUMBER)


def write_key_file(tmp_path, mode: int, content: bytes | None = None):
    path = tmp_path / "pii.key"
    path.write_bytes(content if content is not None else base64.b64encode(MASTER) + b"\n")
    os.chmod(path, mode)
    return path


def test_key_from_owner_only_file(tmp_path, protector):
    path = write_key_file(tmp_path, 0o600)
    built = PiiProtector.from_env({"LYCREDIT_PII_KEY_FILE": str(path)})
    assert built.blind_index(NUMBER) == protector.blind_index(NUMBER)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o666])
def test_key_file_accessible_to_group_or_others_is_refused(tmp_path, mode):
    path = write_key_file(tmp_path, mode)
    with pytest.raises(ConfigError) as raised:
        PiiProtector.from_env({"LYCREDIT_PII_KEY_FILE": str(path)})
    assert str(path) in raised.value.message
    assert "chmod 600" in raised.value.message
    assert raised.value.exit_code == ExitCode.CONFIG


def test_missing_key_file_is_a_configuration_error_naming_it(tmp_path):
    path = tmp_path / "absent.key"
    with pytest.raises(ConfigError, match="absent.key"):
        PiiProtector.from_env({"LYCREDIT_PII_KEY_FILE": str(path)})


@pytest.mark.parametrize(
    ("content", "rule"),
    [
        (b"", "0 bytes long"),
        (b"not base64!!\n", "not valid base64"),
        (base64.b64encode(bytes(16)), "16 bytes long"),
        (base64.b64encode(bytes(64)), "64 bytes long"),
        (b"\xff\xfe" * 5000, "not valid base64"),
    ],
)
def test_bad_key_file_content_is_a_configuration_error(tmp_path, content, rule):
    path = write_key_file(tmp_path, 0o600, content)
    with pytest.raises(ConfigError, match=rule) as raised:
        PiiProtector.from_env({"LYCREDIT_PII_KEY_FILE": str(path)})
    assert str(path) in raised.value.message


def test_bad_key_in_environment_variable_names_the_variable():
    with pytest.raises(ConfigError, match="LYCREDIT_PII_KEY is not valid base64"):
        PiiProtector.from_env({"LYCREDIT_PII_KEY": "%%%"})


def test_missing_key_explains_how_to_create_one():
    with pytest.raises(ConfigError) as raised:
        PiiProtector.from_env({"LYCREDIT_PII_KEY": ""})
    message = raised.value.message
    assert raised.value.exit_code == ExitCode.CONFIG == 78
    assert "lycredit key pii-generate" in message
    assert "LYCREDIT_PII_KEY " in message
    assert "LYCREDIT_PII_KEY_FILE" in message


def test_key_in_both_variable_and_file_is_ambiguous(tmp_path):
    path = write_key_file(tmp_path, 0o600)
    key = base64.b64encode(MASTER).decode()
    with pytest.raises(ConfigError, match="set only one"):
        PiiProtector.from_env({"LYCREDIT_PII_KEY": key, "LYCREDIT_PII_KEY_FILE": str(path)})


# --- Art. 12: forbidden and consent fields ----------------------------------------------------

FORBIDDEN_NAMES = [
    "宗教信仰",
    "宗教",
    "信仰",
    "申请人宗教信仰",
    "religion",
    "Religious Belief",
    "基因",
    "基因检测结果",
    "DNA",
    "genetic_data",
    "指纹",
    "指纹信息",
    "fingerprint",
    "Fingerprints",
    "血型",
    "血 型",
    "血型（ABO）",
    "blood_type",
    "Blood Type",
    "BloodType",
    "bloodtype",
    "BLOOD-GROUP",
    "ＢＬＯＯＤ　ＴＹＰＥ",
    "疾病",
    "所患疾病",
    "disease",
    "chronic_diseases",
    "病史",
    "既往病史",
    "medical_history",
    "MedicalHistory",
    "medicalHistory",
]
CONSENT_NAMES = [
    "保险单号",
    "商业保险担保",
    "收入",
    "年收入",
    "工资",
    "年薪",
    "月薪（元）",
    "薪水",
    "income",
    "Monthly Income",
    "salary",
    "salaries",
    "annual_salaries",
    "存款",
    "存款余额",
    "bank_deposits",
    "有价证券",
    "证券账户",
    "securities",
    "商业保险",
    "commercial_insurance",
    "CommercialInsurance",
    "不动产",
    "房产",
    "不动产权证号",
    "real_estate",
    "Real Estate",
    "纳税数额",
    "纳税额",
    "应纳税额",
    "tax_amount",
    "TaxAmount",
    "ＴＡＸ　ＡＭＯＵＮＴ",
]
ORDINARY_NAMES = [
    "行政相对人名称",
    "统一社会信用代码",
    "行政处罚决定书文号",
    "处罚类别",
    "罚款金额（万元）",
    "处罚决定日期",
    "公示截止期",
    "数据来源单位",
    "法定代表人",
    "证件号码",
    "社会保险",
    "欠税金额",
    "房地产开发资质",
    "姓名",
    "担保单位",
    "确保单位",
    "担保单号",
    "name",
    "general_manager",
    "outcome",
    "genealogy",
    "licence_number",
    "good_faith_rating",
    "",
]


@pytest.mark.parametrize("name", FORBIDDEN_NAMES)
def test_forbidden_information_is_detected_in_chinese_and_english(name):
    assert classify_field(name) == "forbidden"


@pytest.mark.parametrize("name", CONSENT_NAMES)
def test_information_needing_authorisation_is_detected_in_chinese_and_english(name):
    assert classify_field(name) == "consent"


@pytest.mark.parametrize("name", ORDINARY_NAMES)
def test_ordinary_credit_fields_are_not_flagged(name):
    assert classify_field(name) is None


@pytest.mark.parametrize(("name", "topic"), [
    ("指紋", "fingerprints"), ("病歷", "medical history"), ("病歷號", "medical history"),
    ("儲蓄存款", "deposits"), ("證券賬戶", "securities"), ("債券", "securities"), ("商業保險", "commercial insurance"),
    ("保單號", "commercial insurance"), ("不動產", "real estate"), ("納稅數額", "tax amount"), ("納稅額", "tax amount"),
    ("繳稅金額", "tax amount"), ("薪資", "income"), ("工資收入", "income"),
    ("証券", "securities"), ("保険単", "commercial insurance"), ("病歴", "medical history"),
    ("不動産", "real estate"), ("年収入", "income"),
])
def test_a_header_in_traditional_characters_is_recognised_as_its_simplified_form(name, topic):
    assert field_rule(name).topic == topic


def test_forbidden_wins_over_consent():
    assert classify_field("disease_insurance_income") == "forbidden"


def test_a_name_carrying_several_consent_topics_names_each():
    from lycredit.identity import consent_rules

    assert [rule.topic for rule in consent_rules("房产税纳税额")] == ["real estate", "tax amount"]
    assert [rule.topic for rule in consent_rules("deposit_interest_income")] == ["income", "deposits"]
    assert [rule.topic for rule in consent_rules("年收入")] == ["income"]
    assert [rule.topic for rule in consent_rules("房產稅納稅額")] == ["real estate", "tax amount"]  # traditional
    assert [rule.topic for rule in consent_rules("不動產")] == ["real estate"]
    assert consent_rules("disease_insurance_income") == () and consent_rules("姓名") == ()


def test_rules_name_the_article_12_topics():
    assert [rule.topic_zh for rule in FORBIDDEN_FIELDS] == [
        "宗教信仰",
        "基因",
        "指纹",
        "血型",
        "疾病",
        "病史",
    ]
    assert [rule.topic_zh for rule in CONSENT_FIELDS] == [
        "收入",
        "存款",
        "有价证券",
        "商业保险",
        "不动产",
        "纳税数额",
    ]
    assert field_rule("Blood Type").topic_zh == "血型"
    assert field_rule("姓名") is None


@pytest.mark.parametrize("rule", FORBIDDEN_FIELDS + CONSENT_FIELDS, ids=lambda rule: rule.topic)
def test_every_rule_matches_its_own_names(rule):
    assert field_rule(rule.topic) is rule
    assert field_rule(rule.topic_zh) is rule
    for alias in rule.aliases:
        assert classify_field(alias) == rule.category


AFFIXES = st.text(alphabet="申请人本信息况状_ -（）()123", max_size=6)


@given(
    st.sampled_from([alias for rule in FORBIDDEN_FIELDS for alias in rule.aliases if not alias.isascii()]),
    AFFIXES,
    AFFIXES,
    st.sampled_from(["", " ", "_", "\u3000", "-"]),
)
def test_chinese_forbidden_term_is_found_inside_any_column_name(term, prefix, suffix, gap):
    spaced = gap.join(term)
    assert classify_field(prefix + spaced + suffix) == "forbidden"


STYLES = {
    "lower": lambda words: [word.lower() for word in words],
    "upper": lambda words: [word.upper() for word in words],
    "title": lambda words: [word.title() for word in words],
    "camel": lambda words: [words[0].lower()] + [word.title() for word in words[1:]],
}


@given(
    st.sampled_from(FORBIDDEN_FIELDS + CONSENT_FIELDS),
    st.data(),
    st.sampled_from(sorted(STYLES)),
    st.sampled_from([" ", "_", "-", ".", ""]),
    st.booleans(),
)
def test_english_names_match_in_any_common_spelling(rule, data, style, separator, full_width):
    alias = data.draw(st.sampled_from([alias for alias in rule.aliases if alias.isascii()]))
    name = separator.join(STYLES[style](alias.split()))
    if full_width:
        name = "".join(chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else "\u3000" for char in name)
    assert classify_field(f"applicant {name}") == rule.category
    assert classify_field(name) == rule.category


def test_offending_columns_are_returned_as_given_in_order():
    columns = ["姓名", "Blood Type", "年收入", "公民身份号码", "宗教", "tax_amount", "血型"]
    assert forbidden_fields_in(columns) == ["Blood Type", "宗教", "血型"]
    assert consent_fields_in(columns) == ["年收入", "tax_amount"]
    assert forbidden_fields_in(ORDINARY_NAMES) == []
    assert consent_fields_in(iter(ORDINARY_NAMES)) == []


@given(st.text(alphabet="0123456789ABCDEFGHJKLMNPQRTUWXY", min_size=17, max_size=17))
def test_the_quick_uscc_check_character_is_stdnums(body: str) -> None:
    from stdnum.cn import uscc

    from lycredit.identity import _uscc_check_character

    assert _uscc_check_character(body) == uscc.calc_check_digit(body)
