"""RFC 8785 canonical JSON of log entries: agreement with the reference package, and what is refused."""

from __future__ import annotations

import decimal
import enum
import json

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from lycredit.oplog.canonical import MAX_SAFE_INTEGER, CanonicalJSONError, canonical_json, is_canonical

# Characters where the two key orders part ways (U+E000..U+FFFF sort after surrogate pairs in UTF-16,
# before them by code point), controls that need escapes, and the rest of the usual suspects.
TRICKY = ["\U0001f600", "\U00010000", "\U0010ffff", "\ufb33", "\ue000", "\uffff", "\u20ac", "\ud7ff",
          "\x00", "\x01", "\x08", "\t", "\n", "\x0c", "\r", "\x1f", "\x7f", "\u2028", "\u2029", '"', "\\",
          "/", "a", "B", "1", "\u0080", "\u00f6", "税"]
texts = st.text(st.sampled_from(TRICKY), max_size=6) | st.text(max_size=8)
scalars = st.none() | st.booleans() | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER) | texts
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=5),
    max_leaves=20,
)


@settings(max_examples=400)
@given(json_values)
def test_output_equals_the_rfc8785_reference_for_every_float_free_value(value) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


@given(json_values)
def test_canonical_output_is_recognised_as_canonical(value) -> None:
    assert is_canonical(canonical_json(value))


def test_keys_sort_by_utf16_code_units_as_in_rfc8785_section_3_2_3() -> None:
    obj = {"\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh",
           "1": "One", "\U0001f600": "Emoji: Grinning Face", "\u0080": "Control",
           "\u00f6": "Latin Small Letter O With Diaeresis"}
    keys = list(json.loads(canonical_json(obj)))
    assert keys == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


def test_astral_key_is_sorted_exactly_even_deep_inside_lists() -> None:
    obj = [{"x": [{"\ufb33": 1, "\U0001f600": 2}]}]
    assert canonical_json(obj) == '[{"x":[{"\U0001f600":2,"\ufb33":1}]}]'.encode()


def test_control_characters_use_the_short_escapes_and_lowercase_hex() -> None:
    assert canonical_json("\b\t\n\f\r\x00\x1f\x7f") == b'"\\b\\t\\n\\f\\r\\u0000\\u001f\x7f"'


def test_non_ascii_is_written_as_utf8_not_escaped() -> None:
    assert canonical_json({"主体": "失信信息"}) == '{"主体":"失信信息"}'.encode()


def test_tuples_are_arrays_and_enum_members_are_their_values() -> None:
    class Level(enum.IntEnum):
        SERIOUS = 2

    class Kind(enum.StrEnum):
        PENALTY = "penalty"

    assert canonical_json({"k": (Kind.PENALTY, Level.SERIOUS)}) == b'{"k":["penalty",2]}'


def test_integers_at_the_interoperable_limits_are_accepted() -> None:
    assert canonical_json([MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER]) == b"[9007199254740991,-9007199254740991]"


@pytest.mark.parametrize(("value", "path", "words"), [
    ({"row": {"amount": 12.5}}, '$["row"]["amount"]', "money, scores and decimals must be strings"),
    ({"score": [1, 2, 0.0]}, '$["score"][2]', "float 0.0"),
    ([float("nan")], "$[0]", "float nan"),
    ({"x": float("inf")}, '$["x"]', "float inf"),
    ({"ids": [2**53]}, '$["ids"][0]', "integer 9007199254740992 is outside"),
    ([-(2**53)], "$[0]", "outside ±(2**53 - 1)"),
    ({"a": {1: "one"}}, '$["a"]', "object key 1 is of type int, not a string"),
    ({"a": {None: 1}}, '$["a"]', "object key None"),
    ({"a": {True: 1}}, '$["a"]', "object key True is of type bool"),
    ({"blob": b"\x00"}, '$["blob"]', "type bytes is not a JSON type"),
    ({"s": {1, 2}}, '$["s"]', "type set is not a JSON type"),
    ({"d": decimal.Decimal("1.5")}, '$["d"]', "type Decimal is not a JSON type"),
    ({"k": "ok", "v": ["\ud800"]}, '$["v"][0]', "lone surrogate"),
    ({"ok": {"\udfff": 1}}, '$["ok"]["\\udfff"] (the key)', "lone surrogate"),
])
def test_values_an_entry_cannot_hold_are_refused_naming_their_path(value, path, words) -> None:
    with pytest.raises(CanonicalJSONError) as raised:
        canonical_json(value)
    message = str(raised.value)
    assert message.startswith(path + ": "), message
    assert words in message


def test_the_error_is_both_a_type_error_and_a_value_error() -> None:
    with pytest.raises(TypeError):
        canonical_json(1.0)
    with pytest.raises(ValueError):
        canonical_json(1.0)


def test_a_container_that_holds_itself_is_refused() -> None:
    loop: list = []
    loop.append(loop)
    with pytest.raises(CanonicalJSONError, match="Circular reference"):
        canonical_json(loop)


def test_huge_values_are_canonicalised_not_truncated() -> None:
    big = {f"k{i:06d}": "值" * 50 for i in range(20_000)}
    assert canonical_json(big) == rfc8785.dumps(big)


@pytest.mark.parametrize("data", [
    b'{"a":1}',
    b'[1,"x",null,true,false,{}]',
    '{"\u20ac":1,"\U0001f600":2,"\ufb33":3}'.encode(),
    b'"\\u001f"',
    b"-9007199254740991",
])
def test_canonical_bytes_are_recognised(data: bytes) -> None:
    assert is_canonical(data)


@pytest.mark.parametrize("data", [
    b'{"a": 1}',  # whitespace
    b'{"a":1}\n',  # trailing newline
    b'{"b":1,"a":2}',  # unsorted keys
    '{"\ufb33":3,"\U0001f600":2}'.encode(),  # code point order, not UTF-16 order
    b'{"a":1,"a":1}',  # duplicate key
    b"1.0",  # fraction
    b"1e2",  # exponent
    b"-0",
    b"NaN",
    b"Infinity",
    b"9007199254740992",  # beyond 2**53 - 1
    b'"\\u0041"',  # needless escape
    b'"\\/"',
    b'"\\ud800"',  # escaped lone surrogate
    b'"\xff"',  # invalid UTF-8
    b"\xef\xbb\xbf{}",  # byte order mark
    b"",
    b"[" * 100_000 + b"]" * 100_000,  # nested beyond the parser's depth
])
def test_bytes_that_do_not_recanonicalise_to_themselves_are_not_canonical(data: bytes) -> None:
    assert not is_canonical(data)


def test_is_canonical_accepts_memoryview_as_read_from_a_database() -> None:
    assert is_canonical(memoryview(b'{"a":[1]}'))


@given(
    st.dictionaries(st.from_regex(r"[a-z_]{1,12}", fullmatch=True),
                    st.one_of(st.none(), st.text(alphabet=st.characters(exclude_categories=("Cs",))))),
)
def test_the_fast_row_hash_is_the_canonical_json_row_hash(values) -> None:
    import hashlib

    from lycredit.oplog.log import ROW_LABEL, row_hash

    expected = hashlib.sha256(ROW_LABEL + canonical_json({"table": "record", "row": values})).hexdigest()
    assert row_hash("record", values) == expected
