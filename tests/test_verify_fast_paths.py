"""audit verify's fast paths must agree exactly with the general ones they shortcut."""

from __future__ import annotations

import json

import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from lycredit.models import LOGGED_TABLES
from lycredit.models.base import hashed_columns, row_values
from lycredit.oplog.canonical import canonical_json
from lycredit.oplog.verify import _change_leaf, _row_texts

hashes = st.one_of(st.none(), st.text("0123456789abcdef", min_size=64, max_size=64))
keys = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40)


@given(keys, hashes, hashes, st.from_regex(r"[a-z_]{1,20}", fullmatch=True))
def test_a_canonical_change_leaf_parses_the_same_on_the_fast_path(key, before, after, table) -> None:
    leaf = {"type": "change", "table": table, "key": key, "before": before, "after": after, "v": 1}
    data = canonical_json(leaf)
    assert _change_leaf(data) == json.loads(data)


@given(keys)
def test_a_non_canonical_change_leaf_never_takes_the_fast_path(key) -> None:
    leaf = {"type": "change", "table": "record", "key": key, "before": None, "after": "a" * 64, "v": 1}
    ascii_escaped = json.dumps(leaf, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
    if ascii_escaped != canonical_json(leaf):
        assert _change_leaf(ascii_escaped) is None
    spaced = json.dumps(leaf, sort_keys=True, ensure_ascii=False).encode()
    assert _change_leaf(spaced) is None
    assert _change_leaf(canonical_json(leaf).replace(b'"key":', b'"key" :')) is None
    assert _change_leaf(canonical_json({**leaf, "after": "A" * 64})) is None
    assert _change_leaf(canonical_json(leaf).replace(b'"v":1', b'"v":1.0')) is None


def test_the_raw_sqlite_rows_are_the_typed_rows(platform) -> None:
    platform.add_operator("fast-1", "operator")
    engine = platform.engine()
    with engine.connect() as conn:
        for table in (m.__table__ for m in LOGGED_TABLES.values()):
            cols = hashed_columns(table)
            typed = [row_values(table, dict(zip(cols, r, strict=True)))
                     for r in conn.execute(sa.select(*(table.c[c] for c in cols)).order_by(*table.primary_key))]
            fast = sorted(_row_texts(conn, table, cols), key=lambda v: [int(v[c.name]) if v[c.name].isdigit()
                                                                          else v[c.name]
                                                                          for c in table.primary_key.columns])
            assert fast == typed, table.name


def test_hashing_rows_in_a_second_process_finds_exactly_what_one_process_finds(platform) -> None:
    from lycredit.oplog.verify import verify_database

    platform.add_operator("par-1", "operator")
    engine = platform.engine()

    def problems(parallel: bool) -> list:
        with engine.connect() as conn:
            report = verify_database(conn, parallel=parallel)
        return [(p.where, p.what) for p in report.problems], report.rows

    assert problems(True) == problems(False) == ([], problems(False)[1])
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE unit SET name = 'tampered' WHERE id = 1"))
    found, _rows = problems(True)
    assert found == problems(False)[0]
    assert len(found) == 1 and found[0][0] == "table unit key 1" and "changed outside lycredit" in found[0][1]
