r"""RFC 8785 (JSON Canonicalization Scheme) bytes for log entries (oplog.md, "Entry bytes").

An entry is hashed and signed as the UTF-8 bytes of its canonical JSON form:
no whitespace, object keys sorted by their UTF-16 code units, strings with
the minimal JSON escapes (RFC 8785 §3.2.2.2), integers in decimal. Entries
hold no floats at all: money, scores and decimals are written as strings, so
the ECMAScript number formatting of RFC 8785 §3.2.2.3 is never needed and a
float anywhere is an error. Integers must lie within ±(2**53 − 1) (I-JSON,
RFC 7493 §2.2), where every JCS implementation agrees on them.

:func:`canonical_json` is built on the C encoder of :func:`json.dumps`, whose
output is already RFC 8785 for these values except for one case: Python
sorts keys by code point, which differs from UTF-16 order only when a key
holds a character outside the Basic Multilingual Plane, so the slower exact
sort runs only for output that holds such a character.

>>> canonical_json({"b": [1, True, None], "a": "税\n"})
b'{"a":"\xe7\xa8\x8e\\n","b":[1,true,null]}'
>>> is_canonical(b'{"a": 1}')
False
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

MAX_SAFE_INTEGER = 2**53 - 1

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode
_ASTRAL_UTF8 = re.compile(rb"[\xf0-\xf4]")


class CanonicalJSONError(TypeError, ValueError):
    """A value cannot be written as a log entry; the message starts with its path (``$["row"][2]``).

    It is both a :class:`TypeError` (wrong kind of value) and a :class:`ValueError`
    (right kind, unusable value), like the errors of :func:`json.dumps`.
    """


class _Rejected(Exception):
    """Internal: carries the reason out of the validator, collecting the path on the way."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path: list[str | int] = []


def canonical_json(obj: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of ``obj`` (dicts with str keys, lists, tuples, str, int, bool, None)."""
    try:
        text = _dumps(obj)
    except TypeError as exc:  # a type json cannot write: the validator names it and where it is
        _validate(obj)
        raise CanonicalJSONError(f"$: {exc}") from exc
    except ValueError as exc:  # with NaN allowed, the encoder's only ValueError: a container inside itself
        raise CanonicalJSONError(f"$: {exc}") from exc
    except RecursionError as exc:
        raise CanonicalJSONError("$: nested too deeply") from exc
    _validate(obj)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        path = next(p for p, s in _strings(obj, "$") if not _encodable(s))
        raise CanonicalJSONError(f"{path}: string holds a lone surrogate (not Unicode text)") from exc
    if not text.isascii() and _ASTRAL_UTF8.search(data):
        return _utf16_ordered(obj).encode("utf-8")
    return data


def is_canonical(data: bytes) -> bool:
    """True if ``data`` is exactly the canonical form of the JSON value it holds.

    False for anything else: invalid UTF-8, malformed JSON, duplicate keys,
    numbers with a fraction or exponent, NaN or Infinity, integers out of range,
    escaped lone surrogates, whitespace, unsorted keys, or escapes RFC 8785 does not use.
    """
    data = bytes(data)
    try:
        value = json.loads(data.decode("utf-8"), object_pairs_hook=_object_without_duplicates,
                           parse_float=_no_fractions, parse_constant=_no_fractions)
        return canonical_json(value) == data
    except (ValueError, RecursionError):  # UnicodeDecodeError, JSONDecodeError, CanonicalJSONError
        return False


def _validate(obj: Any) -> None:
    try:
        _check(obj)
    except _Rejected as rejected:
        raise CanonicalJSONError(f"{_format_path(reversed(rejected.path))}: {rejected.reason}") from None
    except RecursionError:
        raise CanonicalJSONError("$: nested too deeply, or a container holds itself") from None


def _check(value: Any) -> None:
    """Raise :class:`_Rejected` at the first value that canonical JSON of an entry cannot hold."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise _Rejected(f"object key {key!r} is of type {type(key).__name__}, not a string")
            kind = type(item)
            if kind is str or item is None or kind is bool:
                continue
            try:
                _check(item)
            except _Rejected as rejected:
                rejected.path.append(key)
                raise
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            try:
                _check(item)
            except _Rejected as rejected:
                rejected.path.append(index)
                raise
    elif isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise _Rejected(f"integer {value} is outside ±(2**53 - 1); write it as a string")
    elif isinstance(value, float):
        raise _Rejected(f"float {value!r} is not allowed: money, scores and decimals must be strings")
    elif not isinstance(value, str) and value is not None:
        raise _Rejected(f"type {type(value).__name__} is not a JSON type")


def _format_path(parts: Iterator[str | int]) -> str:
    return "$" + "".join(f"[{json.dumps(p, ensure_ascii=True)}]" for p in parts)


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every string in an already validated value, keys included, with its path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            key_path = f"{path}[{json.dumps(key, ensure_ascii=True)}]"
            yield key_path + " (the key)", key
            yield from _strings(item, key_path)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _utf16_ordered(value: Any) -> str:
    """Canonical text with every object's keys sorted by UTF-16 code units (RFC 8785 §3.2.3)."""
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda item: item[0].encode("utf-16-be"))
        return "{" + ",".join(_dumps(k) + ":" + _utf16_ordered(v) for k, v in items) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_utf16_ordered(v) for v in value) + "]"
    return _dumps(value)


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate object key")
    return obj


def _no_fractions(token: str) -> Any:
    raise ValueError(f"number {token} is not an integer")
