"""RFC 8785 (JCS) canonical JSON for log entries: no floats, keys sorted by UTF-16 code units."""

from __future__ import annotations

import json
from typing import Any


class CanonicalJSONError(TypeError):
    pass


def _check(obj: Any, path: str) -> bool:
    """Validate types; return True if some key is outside the BMP (needs the exact sort)."""
    astral = False
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, str):
                raise CanonicalJSONError(f"{path}: object key {k!r} is not a string")
            if any(ord(c) > 0xFFFF for c in k):
                astral = True
            astral |= _check(v, f"{path}.{k}")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            astral |= _check(v, f"{path}[{i}]")
    elif isinstance(obj, bool) or obj is None:
        pass
    elif isinstance(obj, int):
        if abs(obj) > 2**53 - 1:
            raise CanonicalJSONError(f"{path}: integer outside the interoperable range")
    elif isinstance(obj, str):
        if any(0xD800 <= ord(c) <= 0xDFFF for c in obj):
            raise CanonicalJSONError(f"{path}: lone surrogate in string")
    elif isinstance(obj, float):
        raise CanonicalJSONError(f"{path}: floats are not allowed in entries; write money and scores as strings")
    else:
        raise CanonicalJSONError(f"{path}: {type(obj).__name__} is not a JSON type")
    return astral


def _utf16_sorted(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _utf16_sorted(obj[k]) for k in sorted(obj, key=lambda s: s.encode("utf-16-be"))}
    if isinstance(obj, (list, tuple)):
        return [_utf16_sorted(v) for v in obj]
    return obj


def canonical_json(obj: Any) -> bytes:
    if _check(obj, "$"):
        return json.dumps(_utf16_sorted(obj), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def _no_dupes(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        raise ValueError("duplicate key")
    return d


def is_canonical(data: bytes) -> bool:
    try:
        obj = json.loads(data.decode("utf-8"), object_pairs_hook=_no_dupes,
                         parse_float=lambda s: (_ for _ in ()).throw(ValueError("float")))
        return canonical_json(obj) == data
    except (ValueError, CanonicalJSONError, UnicodeDecodeError):
        return False
