"""The one renderer of tabular results: ``--format table|json|ndjson|csv``.

Tables (tabulate) are for people; json, ndjson and csv are for scripts and
Excel: stable keys, one row per line in ndjson, and csv optionally with a
UTF-8 BOM (``--bom``) so that Excel on Chinese Windows opens it correctly.
Data goes to stdout; messages go to stderr (:func:`message`).
"""

from __future__ import annotations

import datetime as dt
import json
import numbers
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any

from lycredit.inputs import for_terminal

FORMATS = ("table", "json", "ndjson", "csv")


def _decimal() -> type:
    """``decimal.Decimal`` once something imported it; until then no value can be one (saves its import)."""
    module = sys.modules.get("decimal")
    return module.Decimal if module is not None else _NoDecimal


class _NoDecimal:
    pass


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, _decimal()):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    return value


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet take a cell for a formula (or its start)."""


def spreadsheet_text(text: str) -> str:
    """A text cell of a CSV file meant for Excel (one with a BOM): with an apostrophe before it when it starts
    like a formula. A value a data provider sent, such as ``=HYPERLINK(...)`` in a subject's name, would
    otherwise run as a formula on the operator's machine when the file is opened (CSV injection)."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def spreadsheet_row(values: Iterable[Any]) -> list[Any]:
    """:func:`spreadsheet_text` of each text value of a row (numbers stay numbers)."""
    return [spreadsheet_text(value) if isinstance(value, str) else value for value in values]


def _excel_cell(value: Any) -> str:
    """:func:`_cell` for a CSV meant for Excel: :func:`spreadsheet_text` of a text, a number as it is."""
    text = _cell(value)
    return text if isinstance(value, numbers.Number) else spreadsheet_text(text)


def _cell(value: Any) -> str:
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _table_cell(value: Any) -> str:
    """:func:`_cell` for a table, which goes to a terminal: a control character (ESC, BEL, a carriage return, a
    tab ..., but not a line break, which the table lays out) is written as its escape (``\\x1b``), so that a value
    a provider sent, or a --reason, cannot recolour, retitle, move the cursor or hide text on an operator's
    terminal (terminal escape injection). Every other format keeps the value as sent."""
    return for_terminal(_cell(value), keep_tabs=False)


def render_rows(
    rows: Iterable[Mapping[str, Any]],
    fmt: str = "table",
    *,
    columns: Sequence[str] | None = None,
    headers: Mapping[str, str] | None = None,
    stream: IO[str] | None = None,
    bom: bool = False,
    excel: bool | None = None,
) -> None:
    """Write rows in ``fmt``. ``columns`` fixes the order; ``headers`` gives table/csv labels.

    ``bom`` starts a CSV with a UTF-8 BOM and makes it a CSV for Excel; ``excel`` (default: ``bom``) makes it one
    without the BOM, for a table that follows another in the same output, which has its BOM already."""
    stream = stream or sys.stdout
    rows = [dict(r) for r in rows]
    if columns is None:
        columns = list(rows[0].keys()) if rows else []
    if fmt == "json":
        json.dump([{c: _plain(r.get(c)) for c in columns} for r in rows], stream, ensure_ascii=False, indent=2)
        stream.write("\n")
    elif fmt == "ndjson":
        for r in rows:
            stream.write(json.dumps({c: _plain(r.get(c)) for c in columns}, ensure_ascii=False) + "\n")
    elif fmt == "csv":
        if bom:
            stream.write("\ufeff")
        import csv

        writer = csv.writer(stream, lineterminator="\r\n")
        # with a BOM the file is for Excel: a text that starts like a formula gets an apostrophe (a number,
        # such as -1.5, is no formula and stays a number)
        cell = _excel_cell if (bom if excel is None else excel) else _cell
        writer.writerow([cell((headers or {}).get(c, c)) for c in columns])
        for r in rows:
            writer.writerow([cell(r.get(c)) for c in columns])
    elif fmt == "table":
        from tabulate import tabulate

        if not rows:
            return
        table = [[_table_cell(r.get(c)) for c in columns] for r in rows]
        stream.write(tabulate(table, headers=[_table_cell((headers or {}).get(c, c)) for c in columns],
                              disable_numparse=True))
        stream.write("\n")
    else:
        raise ValueError(fmt)


def render_object(obj: Mapping[str, Any], fmt: str = "table", *, stream: IO[str] | None = None,
                  labels: Mapping[str, str] | None = None, bom: bool = False) -> None:
    """One object: a two-column table for people, one JSON object for scripts."""
    stream = stream or sys.stdout
    if fmt in ("json", "ndjson"):
        stream.write(json.dumps(_plain(dict(obj)), ensure_ascii=False, indent=2 if fmt == "json" else None) + "\n")
        return
    rows = [{"field": (labels or {}).get(k, k), "value": _cell(v)} for k, v in obj.items()]
    if fmt == "csv":
        render_rows(rows, "csv", columns=["field", "value"], stream=stream, bom=bom)
        return
    from tabulate import tabulate

    stream.write(tabulate([[_table_cell(r["field"]), _table_cell(r["value"])] for r in rows], tablefmt="plain",
                          disable_numparse=True) + "\n")


def message(text: str, *, quiet: bool = False, stream: IO[str] | None = None) -> None:
    """A message for people, on stderr."""
    if not quiet:
        (stream or sys.stderr).write(text.rstrip("\n") + "\n")
