"""Streaming readers for every tabular file lycredit imports.

Catalogs (Art. 9), record submissions and the 双公示 layouts (Art. 10, 11), subjects and holiday
schedules arrive as CSV/TSV, Excel, JSON, NDJSON or Parquet. This module turns any of them into
one shape: ``Table.columns`` and batches of ``Row`` whose values are all strings, so that the
rules downstream never see a float, an Excel serial date or an encoding. Bad input is reported
as a ``DataError`` naming the file, the row (or line) and the rule it breaks.

Formats and their limits:

* CSV/TSV are streamed line by line in bounded memory, as Excel writes them (UTF-8, UTF-8 with
  BOM, or GB18030/GBK on Chinese Windows; quoted cells may hold commas and newlines).
* XLSX (also XLS/XLSM) is read by calamine, which holds the sheet in memory (Excel itself caps
  a sheet at 1,048,576 rows); cells become Python objects one row at a time. A formula cell with
  no saved value (written by a program that does not calculate formulas) or a cell holding an
  error value (``#DIV/0!``, ``#N/A``) refuses the file: calamine would read it as empty
  (:func:`_scan_sheet`; XLSX and XLSM only, an XLS workbook is not searched). So does a sheet whose rectangle
  of values calamine could not hold (:func:`_far_cell`: a stray value in XFD1048576). Both are looked for in
  one pass over the sheet's XML (:func:`_sheet_problems`).
* JSON (a top-level array of flat objects) and NDJSON (one object per line) are streamed, but
  read twice: a first pass collects the columns (the union of the keys, in order of first
  appearance), so a key that only later objects carry is never silently dropped.
* Parquet is read in record batches.

Numbers become their canonical decimal text: no exponent, no trailing fractional zeros, no
float artefacts (Excel numbers as Excel shows them, to 15 significant digits; Parquet floats
by their shortest round-trip form). Dates become ``YYYY-MM-DD``, date-times ``YYYY-MM-DDTHH:MM:SS``
(a date-time at midnight is a date), a date-time with a time zone Asia/Shanghai time with its offset
(``2026-03-01T04:00:00+08:00``), booleans ``true``/``false``.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import itertools
import json
import math
import re
import struct
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from lycredit.errors import DataError
from lycredit.i18n import _
from lycredit.inputs import SURROGATE, check_input_file, escaped, unreadable
from lycredit.periods import in_shanghai

FORMATS = ("csv", "tsv", "xlsx", "json", "ndjson", "parquet")
DEFAULT_BATCH_SIZE = 10_000
DEFAULT_MAX_CELL_CHARS = 10_000

_SUFFIXES = {
    ".csv": "csv", ".tsv": "tsv", ".xlsx": "xlsx", ".xlsm": "xlsx", ".xls": "xlsx",
    ".json": "json", ".ndjson": "ndjson", ".jsonl": "ndjson", ".parquet": "parquet",
}
_FORMAT_ALIASES = {"jsonl": "ndjson"}
_MAX_NUMBER_DIGITS = 1_000
_SAMPLE_BYTES = 64 * 1024
_MAX_LINE_BYTES = 16 * 1024 * 1024
_BLOCK_BYTES = 1024 * 1024
_JSON_CHUNK_BYTES = 1024 * 1024
_MAX_JSON_ELEMENT_CHARS = 16 * 1024 * 1024
_JSON_WHITESPACE = re.compile(r"[ \t\n\r]*")


class Row(NamedTuple):
    """One data row: where it is, its values as text (None when empty) and its source text."""

    row_number: int
    values: dict[str, str | None]
    raw: str


class _CellError(Exception):
    """A value that cannot become text; the reader adds the file, row and column."""


# --- header helpers ------------------------------------------------------------------------

_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_SPACES = re.compile(r"\s+")
_SPACE_NOT_BETWEEN_WORDS = re.compile(r"(?<![0-9a-z_]) | (?![0-9a-z_])")


def normalize_header(name: str) -> str:
    """The comparison key of a column name: full-width ASCII folded, spaces collapsed, casefolded.

    ``罚款金额（万元）``, ``罚款金额(万元)`` and ``罚款金额 (万元)`` share one key; a space is kept
    only between two ASCII word characters (``Decision Date`` -> ``decision date``).
    """
    text = name.replace("\ufeff", "").replace("\u200b", "").translate(_FULL_WIDTH).casefold()
    text = _SPACES.sub(" ", text).strip()
    return _SPACE_NOT_BETWEEN_WORDS.sub("", text)


class HeaderMap(dict[str, str]):
    """Canonical field name -> actual column, plus what did not match, for the caller to judge."""

    def __init__(self, mapping: Mapping[str, str], unknown: list[str], missing: list[str]):
        super().__init__(mapping)
        self.unknown = unknown
        self.missing = missing


def map_headers(
    columns: Sequence[str], aliases: Mapping[str, Sequence[str]], *, source: str | Path = ""
) -> HeaderMap:
    """Map each canonical field to the column that names it (its own name or one of its aliases).

    ``.unknown`` lists the columns that name no field, ``.missing`` the fields no column names.
    Two columns naming one field, or an alias shared by two fields, is a ``DataError`` (naming
    ``source``, the file, when given).
    """
    lookup: dict[str, str] = {}
    for field, names in aliases.items():
        for name in (field, *names):
            other = lookup.setdefault(normalize_header(name), field)
            if other != field:
                raise DataError(_("column alias {alias} names both field {first} and field {second}").format(
                    alias=name, first=other, second=field))
    mapping: dict[str, str] = {}
    unknown: list[str] = []
    for column in columns:
        field = lookup.get(normalize_header(column))
        if field is None:
            unknown.append(column)
        elif field in mapping:
            problem = _("columns {first} and {second} both name field {field}").format(
                first=mapping[field], second=column, field=field)
            raise DataError(_("{file}: {problem}").format(file=source, problem=problem) if source
                            else problem)
        else:
            mapping[field] = column
    return HeaderMap(mapping, unknown, [field for field in aliases if field not in mapping])


# --- value conversion ----------------------------------------------------------------------

def _decimal_text(value: Decimal) -> str:
    if not value.is_finite():
        raise _CellError(_("{value} is not a finite number").format(value=value))
    if abs(value.adjusted()) > _MAX_NUMBER_DIGITS:
        raise _CellError(_("{value} has too many digits to write out in full").format(value=value))
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _float_text(value: float, significant: int | None = None) -> str:
    """Shortest round-trip decimal (``repr``), or ``significant`` digits as Excel shows them."""
    if not math.isfinite(value):
        raise _CellError(_("{value} is not a finite number").format(value=value))
    return _decimal_text(Decimal(repr(value) if significant is None else format(value, f".{significant}g")))


def _float32_text(value: float) -> str:
    """Shortest decimal that reads back as the same float32 (nine significant digits always do)."""
    if not math.isfinite(value):
        raise _CellError(_("{value} is not a finite number").format(value=value))
    texts = (format(value, f".{digits}g") for digits in range(1, 10))
    return _decimal_text(Decimal(next(text for text in texts
                                      if struct.unpack("f", struct.pack("f", float(text)))[0] == value)))


def _temporal_text(value: dt.date | dt.time) -> str:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            if value.time() == dt.time():
                return value.date().isoformat()
        else:  # an instant (a Parquet timestamp with a time zone): written in Asia/Shanghai time, with its offset
            with contextlib.suppress(OverflowError):  # past 9999 there: as it is (no date field takes it)
                value = in_shanghai(value)
    return value.isoformat()


def _bool_text(value: bool) -> str:
    return "true" if value else "false"


def _excel_text(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return _bool_text(value)
    if isinstance(value, float):
        return _float_text(value, 15)
    if isinstance(value, (dt.date, dt.time)):
        return _temporal_text(value)
    return str(value)


def _json_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return _bool_text(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if isinstance(value, list):
        raise _CellError(_("the value is a nested array; only text, numbers, true/false and null are "
                           "accepted"))
    raise _CellError(_("the value is a nested object; only text, numbers, true/false and null are accepted"))


_CLEAN_JSON_KEYS: set[str] = set()


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object whose keys are stripped, non-empty and distinct (keys seen clean before: fast path)."""
    obj = dict(pairs)
    if len(obj) == len(pairs) and obj.keys() <= _CLEAN_JSON_KEYS:
        return obj
    obj = {}
    for key, value in pairs:
        name = key.strip()
        if not name:
            raise _CellError(_("a field has an empty name"))
        if name in obj:
            raise _CellError(_("field {name} appears twice").format(name=name))
        obj[name] = value
    if len(_CLEAN_JSON_KEYS) < 10_000:
        _CLEAN_JSON_KEYS.update(key for key, _value in pairs if key == key.strip())
    return obj


def _json_constant(name: str) -> Any:
    raise _CellError(_("{value} is not valid JSON").format(value=name))


_JSON_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_json_constant,
                                 object_pairs_hook=_json_object)


def _compact_json(values: Mapping[str, Any]) -> str:
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


# --- detection -----------------------------------------------------------------------------

def detect_format(path: str | Path) -> str:
    """The format named by the file's suffix: one of ``FORMATS``."""
    fmt = _SUFFIXES.get(Path(path).suffix.lower())
    if fmt is None:
        raise DataError(_("{file}: unsupported file type {suffix}; the file type is read from the suffix, one "
                          "of {formats}: save the file in one of these formats, or rename it if it is one (a "
                          "tab-separated .txt from Excel is a .tsv)").format(
            file=path, suffix=Path(path).suffix or "''", formats=", ".join(sorted(_SUFFIXES))))
    return fmt


def detect_encoding(sample: bytes, *, complete: bool = True) -> str:
    """``utf-8-sig`` when a UTF-8 BOM starts the sample, ``utf-8`` when it decodes, else ``gb18030``.

    ``complete`` says the sample is the whole file; otherwise a character cut at its end is fine.
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=complete)
    except UnicodeDecodeError as not_utf8:
        try:
            codecs.getincrementaldecoder("gb18030")().decode(sample, final=complete)
        except UnicodeDecodeError as not_gb18030:
            # neither: UTF-8 text with a bad byte reads further as UTF-8, and its error then names that byte's line
            return "utf-8" if not_utf8.start >= not_gb18030.start else "gb18030"
        return "gb18030"
    return "utf-8"


def _check_text(path: Path, sample: bytes, fmt: str) -> None:
    """A text format must not be given a spreadsheet, a Parquet file, UTF-16 or other binary data."""
    for signature, kind in ((b"PK\x03\x04", "xlsx"), (b"\xd0\xcf\x11\xe0", "xls"), (b"PAR1", "parquet")):
        if sample.startswith(signature):
            raise DataError(_("{file} is a {kind} file, not {format} text; rename it with the suffix "
                              ".{kind}").format(file=path, kind=kind, format=fmt))
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise DataError(_("{file} is UTF-16 text, which is not supported; save it as UTF-8 "
                          "(Excel: CSV UTF-8)").format(file=path))
    if fmt in ("csv", "tsv") and b"\n" not in sample and b"\r" in sample.rstrip(b"\r"):
        # csv would say 'new-line character seen in unquoted field - do you need to open the file in
        # universal-newline mode?', which tells an operator nothing they can do
        raise DataError(_("{file} ends its lines with a carriage return alone (Excel's 'Macintosh Comma "
                          "Separated' format), which is not supported; save it as CSV UTF-8").format(file=path))
    if b"\x00" in sample:
        line = sample.count(b"\n", 0, sample.index(b"\x00")) + 1
        where = _("{file}, line {line}").format(file=path, line=line)
        raise DataError(_("{where}: binary data (a NUL byte); this is not a {format} text file").format(
            where=where, format=fmt.upper()))


def _text_codec(path: Path, sample: bytes, encoding: str | None) -> tuple[str, str, int]:
    """(reported encoding, codec for decoding, bytes of BOM to skip) for a text file."""
    reported = encoding or detect_encoding(sample, complete=len(sample) < _SAMPLE_BYTES)
    try:
        codec = codecs.lookup(reported).name
    except LookupError:
        raise DataError(_("{file}: unknown encoding {encoding}").format(
            file=path, encoding=reported)) from None
    if codec in ("utf-8", "utf-8-sig"):
        return reported, "utf-8", len(codecs.BOM_UTF8) if sample.startswith(codecs.BOM_UTF8) else 0
    if "a,\n".encode(codec) != b"a,\n":
        raise DataError(_("{file}: encoding {encoding} is not supported; use UTF-8 or GB18030").format(
            file=path, encoding=reported))
    return reported, codec, 0


# --- tables --------------------------------------------------------------------------------

class Table:
    """An opened input file: its columns, and its rows in batches (``batches()`` can be rerun).

    ``bytes_read`` grows towards ``bytes_total`` while ``batches()`` runs (for a progress bar).
    """

    format = ""
    encoding: str | None = None

    def __init__(self, path: Path, batch_size: int, max_cell_chars: int):
        self.path = path
        self.batch_size = batch_size
        self.max_cell_chars = max_cell_chars
        self.columns: list[str] = []
        self.bytes_total = path.stat().st_size
        self.bytes_read = 0

    def batches(self) -> Iterator[list[Row]]:
        self.bytes_read = 0
        rows = self._rows()
        while batch := list(itertools.islice(rows, self.batch_size)):
            yield batch

    def _rows(self) -> Iterator[Row]:
        raise NotImplementedError

    def _where(self, row_number: int) -> str:
        return _("{file}, row {row}").format(file=self.path, row=row_number)

    def _column_label(self, index: int) -> str:
        return str(index + 1)

    def _check_header(self, row_number: int, names: list[str]) -> list[str]:
        where = self._where(row_number)
        if not names:
            raise DataError(_("{where}: the header row has no column names").format(where=where))
        seen: dict[str, int] = {}
        for index, name in enumerate(names):
            if not name:
                raise DataError(_("{where}: column {column} of the header has no name").format(
                    where=where, column=self._column_label(index)))
            if name in seen:
                raise DataError(_("{where}: the header names column {name} twice (columns {first} and "
                                  "{second})").format(where=where, name=name,
                                                      first=self._column_label(seen[name]),
                                                      second=self._column_label(index)))
            seen[name] = index
        return names

    def _spreadsheet_header(self, row_number: int, cells: list[str]) -> list[str]:
        """Header names of a CSV or sheet row; trailing empty cells (Excel pads rows) are ignored."""
        names = [cell.replace("\ufeff", "").strip() for cell in cells]
        while names and not names[-1]:
            names.pop()
        return self._check_header(row_number, names)

    def _fit(self, row_number: int, cells: list[str]) -> list[str] | None:
        """Cells of a spreadsheet row cut to the header; None for a row with no value at all."""
        width = len(self.columns)
        if len(cells) > width:
            extra = next((i for i in range(width, len(cells)) if cells[i]), None)
            if extra is not None:
                raise DataError(_("{where}: the row has a value in column {column}, beyond the {count} "
                                  "columns of the header").format(
                    where=self._where(row_number), column=self._column_label(extra), count=width))
            del cells[width:]
        elif len(cells) < width:
            cells.extend([""] * (width - len(cells)))
        return cells if any(cells) else None

    def _values(self, row_number: int, cells: list[str], source_chars: int | None = None) -> dict[str, str | None]:
        """The row's values by column; the cells are stripped text aligned with the columns.

        ``source_chars``: the length of the text the cells were cut from, if known; when it is within
        the cell limit no cell can pass it, and the cells are not measured one by one.
        """
        if (source_chars is None or source_chars > self.max_cell_chars) and cells and \
                max(map(len, cells)) > self.max_cell_chars:
            index = next(i for i, cell in enumerate(cells) if len(cell) > self.max_cell_chars)
            raise _too_long(self._where(row_number), self.columns[index], len(cells[index]), self.max_cell_chars)
        return dict(zip(self.columns, [cell or None for cell in cells], strict=True))

    def _cell_error(self, row_number: int, column: str, error: _CellError) -> DataError:
        return DataError(_("{where}, column {column}: {problem}").format(
            where=self._where(row_number), column=column, problem=error))


class _TextTable(Table):
    """A text file (CSV, TSV, JSON, NDJSON): encoding detected from a sample, decoded line by line."""

    def __init__(self, path: Path, fmt: str, encoding: str | None, batch_size: int, max_cell_chars: int):
        super().__init__(path, batch_size, max_cell_chars)
        self.format = fmt
        with path.open("rb") as binary:
            sample = binary.read(_SAMPLE_BYTES)
        _check_text(path, sample, fmt)
        self.encoding, self._codec, self._skip = _text_codec(path, sample, encoding)

    def _where_line(self, line: int) -> str:
        return _("{file}, line {line}").format(file=self.path, line=line)

    def _decode_line(self, line_number: int, chunk: bytes) -> str:
        if len(chunk) == _MAX_LINE_BYTES and not chunk.endswith(b"\n"):
            raise DataError(_("{where}: the line is longer than {limit} bytes").format(
                where=self._where_line(line_number), limit=_MAX_LINE_BYTES))
        if b"\x00" in chunk:
            raise DataError(_("{where}: binary data (a NUL byte); this is not a {format} text file").format(
                where=self._where_line(line_number), format=self.format.upper()))
        try:
            return chunk.decode(self._codec)
        except UnicodeDecodeError as exc:
            raise DataError(_("{where}: the text is not valid {encoding} (byte {byte} at position "
                              "{position}); save the file as UTF-8").format(
                where=self._where_line(line_number), encoding=self.encoding, byte=f"0x{chunk[exc.start]:02X}",
                position=exc.start + 1)) from None


class _CsvTable(_TextTable):
    def __init__(self, path: Path, fmt: str, encoding: str | None, batch_size: int, max_cell_chars: int):
        super().__init__(path, fmt, encoding, batch_size, max_cell_chars)
        self._delimiter = "\t" if fmt == "tsv" else ","
        if max_cell_chars >= csv.field_size_limit():
            csv.field_size_limit(max_cell_chars + 1)
        with contextlib.closing(self._records()) as records:
            header = next(records, None)
        if header is None:
            raise DataError(_("{file} is empty").format(file=path))
        self.columns = self._spreadsheet_header(header[0], header[1])

    def _where(self, row_number: int) -> str:
        return self._where_line(row_number)

    def _records(self) -> Iterator[tuple[int, list[str], str]]:
        """(first line, fields, source text) of each non-blank record, header included.

        A block of lines with no quote character and no carriage return but those ending lines (what
        most exports are) is split on the delimiter directly, which is what the csv module would
        make of it, at a quarter of the time; any other block goes through the csv module, and so
        do the blocks after it while a quoted value it opened runs on.
        """
        with self.path.open("rb") as binary:
            binary.seek(self._skip)
            self.bytes_read = self._skip
            pending: list[str] = []
            self._line = 0
            blocks = self._blocks(binary)

            def lines(first: Iterable[str]) -> Iterator[str]:
                """A block's lines, then the next blocks' while the record they end in is open."""
                block = first
                while True:
                    for line in block:
                        self._line += 1
                        pending.append(line)
                        yield line
                    if not pending:
                        return
                    block, plain = next(blocks, (None, False))
                    if block is None:
                        return
                    if plain:  # inside the quoted value: its lines as the csv module takes them
                        block = _lines_of(block)

            delimiter = self._delimiter
            for block, plain in blocks:
                if plain:  # the block's text: each line's carriage return is before its line feed
                    bodies = block.replace("\r", "").split("\n")
                    if not bodies[-1]:
                        bodies.pop()  # after the last line feed
                    first = self._line + 1
                    for number, body in enumerate(bodies, first):
                        if body:
                            self._line = number
                            yield number, body.split(delimiter), body
                    self._line = first + len(bodies) - 1
                    continue
                start = self._line + 1
                reader = csv.reader(lines(block), delimiter=delimiter, strict=True)
                try:
                    for fields in reader:
                        raw = "".join(pending)
                        pending.clear()
                        if fields:
                            yield start, fields, raw
                        start = self._line + 1
                except csv.Error as exc:
                    if "field larger than field limit" in str(exc):
                        raise DataError(_("{where}: a value has more than the limit of {limit} "
                                          "characters").format(where=self._where(start),
                                                               limit=self.max_cell_chars)) from None
                    raise DataError(_("{where}: malformed {format} ({detail})").format(
                        where=self._where(start), format=self.format.upper(), detail=exc)) from None

    def _blocks(self, binary: BinaryIO) -> Iterator[tuple[str | Iterable[str], bool]]:
        """The file's lines, decoded, each with its line break, a block of about :data:`_BLOCK_BYTES` at a time;
        a plain block (no quote character, no carriage return but before a line feed) as its whole text.

        A line ends at ``\n`` only (as ``readline`` ends it; every supported encoding writes that
        byte for nothing else). A block that holds a NUL byte or does not decode is decoded again
        line by line, so that the error names its line.
        """
        carry, line_number, offset = b"", 0, self._skip
        while True:
            chunk = binary.read(_BLOCK_BYTES)
            data = carry + chunk if carry else chunk
            cut = data.rfind(b"\n") + 1 if chunk else len(data)
            block, carry = data[:cut], data[cut:]
            if len(carry) >= _MAX_LINE_BYTES:
                self._decode_line(line_number + block.count(b"\n") + 1, carry[:_MAX_LINE_BYTES])  # raises
            if block:
                count = block.count(b"\n") + (not block.endswith(b"\n"))
                self._block = (offset, len(block), line_number, count)
                yield self._block_lines(line_number, block)
                line_number += count
                offset += len(block)
            if not chunk:
                self.bytes_read = offset
                return

    @property
    def bytes_read(self) -> int:
        """The bytes read: those of the blocks before, and the current block's share of the lines taken."""
        start, size, first, count = self._block
        return start + size * min(max(self._line - first, 0), count) // count if count else start + size

    @bytes_read.setter
    def bytes_read(self, value: int) -> None:
        self._block = (value, 0, 0, 0)

    def _block_lines(self, line_number: int, block: bytes) -> tuple[str | Iterable[str], bool]:
        """A block of whole lines (the file's last may have no line break): its text if it is plain, else its
        lines, each with its break; and whether it is plain."""
        if b"\x00" not in block:
            try:
                text = block.decode(self._codec)
            except UnicodeDecodeError:
                pass
            else:
                if '"' not in text and text.count("\r") == text.count("\r\n"):
                    return text, True
                return _lines_of(text), False
        return self._decoded_lines(line_number, block), False

    def _decoded_lines(self, line_number: int, block: bytes) -> Iterator[str]:
        """A block's lines decoded one by one: the lines before a bad one are read before its error."""
        pieces = block.split(b"\n")
        last = pieces.pop()  # after the last line break: nothing, or the file's last line without one
        for number, piece in enumerate(pieces, line_number + 1):
            yield self._decode_line(number, piece + b"\n")
        if last:
            yield self._decode_line(line_number + len(pieces) + 1, last)

    def _rows(self) -> Iterator[Row]:
        records = self._records()
        next(records)
        columns, width, limit = self.columns, len(self.columns), self.max_cell_chars
        for line, fields, raw in records:
            if len(fields) == width and len(raw) <= limit:  # what most rows are: the steps below in one
                cells = [field.strip() or None for field in fields]
                if any(cells):
                    yield Row(line, dict(zip(columns, cells, strict=True)),
                              raw if raw[-1:] not in ("\n", "\r") else _chomp(raw))
                continue
            cells = self._fit(line, [field.strip() for field in fields])
            if cells is not None:
                yield Row(line, self._values(line, cells, len(raw)), _chomp(raw))


def _lines_of(text: str) -> list[str]:
    """A text's lines, each with its line feed (the last as it ends)."""
    lines = [line + "\n" for line in text.split("\n")]
    last = lines.pop()
    if last != "\n":
        lines.append(last[:-1])
    return lines


def _chomp(text: str) -> str:
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith(("\n", "\r")) else text


class _XlsxTable(Table):
    format = "xlsx"

    def __init__(self, path: Path, batch_size: int, max_cell_chars: int, sheet: str | None):
        import python_calamine

        super().__init__(path, batch_size, max_cell_chars)
        names: list[str] = []
        inflated = _inflated_part(path)
        if inflated is not None:  # calamine would hold it in memory, and abort the process when it cannot
            part, packed, size = inflated
            raise DataError(_("{file}: its part {part} inflates from {packed} to {size} bytes ({ratio} times), far "
                              "more than a workbook Excel writes (a zip bomb?); the file is refused").format(
                file=path, part=part, packed=f"{packed:,}", size=f"{size:,}", ratio=f"{size // max(packed, 1):,}"))
        problems = None  # the sheet's far cell and bad cell, searched for before calamine reads the sheet
        try:
            with python_calamine.CalamineWorkbook.from_path(str(path)) as workbook:
                names = workbook.sheet_names
                name = names[0] if sheet is None and names else sheet
                if name in names:
                    problems = _sheet_problems(path, name)
                    if problems.far is not None:  # calamine would abort the process (see _far_cell), not raise
                        raise self._far_cell_error(name, problems.far)
                self._sheet = (workbook.get_sheet_by_index(0) if sheet is None
                               else workbook.get_sheet_by_name(sheet))
        except python_calamine.WorksheetNotFound:
            raise DataError(_("{file}: there is no sheet named {sheet}; the sheets are: {sheets}").format(
                file=path, sheet=sheet, sheets=", ".join(names))) from None
        except python_calamine.CalamineError as exc:
            # calamine refuses a whole sheet for an error value it does not know (#SPILL!, #CALC!): say which cell
            self.sheet = sheet if sheet is not None else names[0] if names else ""
            if problems is None and self.sheet:  # calamine failed before the sheet was searched
                problems = _sheet_problems(path, self.sheet)
            bad = problems.bad if problems is not None else None
            if bad is not None and bad.error is not None:
                raise self._bad_cell_error(bad, None) from None
            raise DataError(_("{file} cannot be read as an Excel workbook ({detail})").format(
                file=path, detail=exc)) from None
        self.sheet = self._sheet.name
        self._first_column = self._sheet.start[1] if self._sheet.start else 0
        self._last_row = self._sheet.end[0] + 1 if self._sheet.end else 0
        header = next(self._cell_rows(), None)
        bad = (problems if problems is not None else _sheet_problems(path, self.sheet)).bad
        if bad is not None:
            raise self._bad_cell_error(bad, header)
        if header is None:
            raise DataError(_("{file}: sheet {sheet} is empty (no header row)").format(
                file=path, sheet=self.sheet))
        self._header_row = header[0]
        self.columns = self._spreadsheet_header(*header)

    def _where(self, row_number: int) -> str:
        return _("{file}, sheet {sheet}, row {row}").format(file=self.path, sheet=self.sheet, row=row_number)

    def _far_cell_error(self, sheet: str, far: _FarCell) -> DataError:
        where = _("{file}, sheet {sheet}, cell {cell}").format(file=self.path, sheet=sheet, cell=far.cell)
        if far.rows > _MAX_SHEET_ROWS:
            problem = _("the cell holds a value beyond row {limit}, the last row of an Excel sheet; the file was "
                        "not written by Excel").format(limit=f"{_MAX_SHEET_ROWS:,}")
        else:
            problem = _("with a value this far out the sheet spans {rows} rows by {columns} columns ({cells} cells), "
                        "more than the {limit} cells a sheet may span ({max_rows} rows of {max_columns} columns); "
                        "delete the values beyond the table and save the file, or save the table as CSV").format(
                rows=f"{far.rows:,}", columns=f"{far.columns:,}", cells=f"{far.rows * far.columns:,}",
                limit=f"{_MAX_SHEET_CELLS:,}", max_rows=f"{_MAX_SHEET_ROWS:,}",
                max_columns=_MAX_SHEET_CELLS // _MAX_SHEET_ROWS)
        return DataError(_("{file}: {problem}").format(file=where, problem=problem))

    def _column_label(self, index: int) -> str:
        number, label = self._first_column + index + 1, ""
        while number:
            number, rest = divmod(number - 1, 26)
            label = chr(ord("A") + rest) + label
        return label

    def _bad_cell_error(self, bad: _BadCell, header: tuple[int, list[str]] | None) -> DataError:
        """The file is refused: ``bad.cell`` (``C5``, or '' when the file does not say) holds a formula with no saved
        value or an error value. Named by its column's header when it is below the header row."""
        if bad.error is None:
            problem = _("the cell holds a formula with no saved value (the program that wrote the file does not "
                        "calculate formulas), so its value is unknown; open the file in Excel and save it, or type "
                        "the value instead of the formula")
        elif bad.error:
            problem = _("the cell holds the error value {error} (what Excel shows when a formula cannot be "
                        "calculated), not a value that can be imported; correct the cell, or the formula or the data "
                        "it uses, in the file and import it again").format(error=bad.error[:50])
        else:
            problem = _("the cell holds an error value (what Excel shows when a formula cannot be calculated), not a "
                        "value that can be imported; correct the cell, or the formula or the data it uses, in the "
                        "file and import it again")
        cell = bad.cell
        if not cell:
            return DataError(_("{file}: {problem}").format(
                file=_("{file}, sheet {sheet}").format(file=self.path, sheet=self.sheet), problem=problem))
        where = _("{file}, sheet {sheet}, cell {cell}").format(file=self.path, sheet=self.sheet, cell=cell)
        column = None
        shape = re.fullmatch(r"([A-Z]{1,3})([0-9]+)", cell)
        if shape and header is not None and int(shape[2]) > header[0]:
            number = 0
            for letter in shape[1]:
                number = number * 26 + ord(letter) - ord("A") + 1
            index = number - 1 - self._first_column
            names = [name.replace("\ufeff", "").strip() for name in header[1]]
            column = names[index] if 0 <= index < len(names) and names[index] else None
        if column is None:
            return DataError(_("{file}: {problem}").format(file=where, problem=problem))
        return DataError(_("{where}, column {column}: {problem}").format(where=where, column=column, problem=problem))

    def _cell_rows(self) -> Iterator[tuple[int, list[str]]]:
        """(Excel row number, cell texts) of each non-empty row.

        calamine's ``iter_rows`` starts at row 1 and at the first used column.
        """
        for index, cells in enumerate(self._sheet.iter_rows()):
            row_number = index + 1
            self.bytes_read = self.bytes_total * row_number // max(self._last_row, 1)
            texts = []
            for column, cell in enumerate(cells):
                try:
                    texts.append(_excel_text(cell))
                except _CellError as exc:  # a hand-made sheet can hold <v>inf</v>
                    raise self._cell_error(row_number, self._column_label(column), exc) from None
            if any(texts):
                yield row_number, texts

    def _rows(self) -> Iterator[Row]:
        for row_number, texts in self._cell_rows():
            if row_number > self._header_row:
                cells = self._fit(row_number, texts)
                if cells is not None:
                    values = self._values(row_number, cells)
                    yield Row(row_number, values, _compact_json(values))


# An XLSX cell that holds a formula keeps the formula's result beside it, as Excel saved it; a program that writes
# formulas without calculating them (openpyxl, most scripts) leaves that value out, and calamine then reads the
# cell as empty. A cell that holds an error value (<c t="e"><v>#N/A</v></c>: a formula that failed, or typed in)
# is read as empty too: python-calamine turns calamine's Data::Error into '' and says nothing (and refuses the whole
# sheet for the error values calamine does not know, such as #SPILL!). Nothing else tells such cells from truly
# empty ones, so the sheet's XML is searched for them.

_SHEET_ROOT = re.compile(rb"<(?:([A-Za-z_][\w.-]*):)?worksheet[\s>/]")
_XML_ATTRIBUTE = re.compile(rb"""\s([A-Za-z_][\w.:-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_SCAN_BYTES = 1024 * 1024
_SCAN_TAIL = 4096


class _BadCell(NamedTuple):
    """A cell that calamine would read as empty though it is not: its reference (``C5``; '' when the cell does not
    say), and the error value it holds (``#DIV/0!``; '' when the file does not say which), or None for a formula
    with no saved value."""

    cell: str
    error: str | None


class _SheetProblems(NamedTuple):
    """What calamine cannot be trusted with in a sheet: a cell whose value makes it too large to hold
    (:func:`_far_cell`), which calamine would abort the process for, and the first cell it would read as empty
    though it is not (:func:`_scan_sheet`); None where there is none."""

    far: _FarCell | None
    bad: _BadCell | None


def _sheet_problems(path: Path, sheet: str) -> _SheetProblems:
    """The far cell and the bad cell of ``sheet`` (an XLSX/XLSM workbook's), found in one pass over its XML: the
    search for bad cells reads it through a :class:`_FarSearch`, which searches the same blocks for far cells,
    and the rest of the XML, after the first bad cell, is read for the far cells alone.

    Neither is found when the file is not a zip package (an XLS workbook holds at most 65,536 rows of 256 columns
    and saves every formula's value; its error values are not looked for) or has no such sheet; no far cell when
    the sheet's XML cannot be read to its end, and no bad cell when it cannot be read as far as the first one:
    calamine says what it finds."""
    import zipfile
    import zlib

    bad = None
    try:
        with zipfile.ZipFile(path) as package:
            part = _sheet_part(package, sheet)
            if part is None:
                return _SheetProblems(None, None)
            with package.open(part) as stream:
                xml = _FarSearch(stream)
                bad = _scan_sheet(xml)
                xml.read_rest()
            return _SheetProblems(_far_cell(package, part, xml.far), bad)
    except (zipfile.BadZipFile, zlib.error, KeyError, OSError, SyntaxError, ValueError):
        return _SheetProblems(None, bad)


# calamine reads a workbook's parts (a sheet's XML, the shared strings) whole into memory: a part that inflates
# far beyond what a spreadsheet's XML does (Excel's compresses about 10 times) is a zip bomb, a few megabytes
# that ask for gigabytes, and a process that cannot allocate them is aborted. Like Apache POI (at most 100 times),
# such a part is refused before calamine opens the workbook; up to 256 MiB any ratio is let through.
_MAX_INFLATED_BYTES = 256 * 1024 * 1024
_MAX_INFLATE_RATIO = 100


def _inflated_part(path: Path) -> tuple[str, int, int] | None:
    """(name, compressed size, size) of the first part of the workbook that inflates more than
    :data:`_MAX_INFLATE_RATIO` times to more than :data:`_MAX_INFLATED_BYTES` bytes, or None (also for a file that
    is not a zip package: calamine then says what it is)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as package:
            for info in package.infolist():
                if info.file_size > _MAX_INFLATED_BYTES and \
                        info.file_size > _MAX_INFLATE_RATIO * max(info.compress_size, 1):
                    return info.filename, info.compress_size, info.file_size
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    return None


# calamine holds a sheet as the rectangle from its first to its last cell with a value, about 35 bytes a cell,
# allocated at once: a workbook of a few kilobytes with one value in cell XFD1048576 (or in row 99999999, which
# no Excel writes) asks for gigabytes, and a process whose allocation fails is aborted by Rust, with no error to
# catch. So before calamine reads a sheet, its XML is searched for the cells far out, and a sheet whose
# rectangle would be too large is refused, naming the cell. 1,048,576 rows (Excel's most) of 64 columns fit.
_MAX_SHEET_ROWS = 1_048_576
_MAX_SHEET_CELLS = _MAX_SHEET_ROWS * 64
_NEAR_COLUMNS = 64  # BL: a cell up to here and below row 1,000,000 is not searched for
_FAR_REFERENCE = re.compile(rb'r="(?:(?:[A-Z]{3,}|B[M-Z]|[C-Z][A-Z])[0-9]|[A-Z]+[0-9]{7})')
_REFERENCE = re.compile(rb'\br="([A-Z]+)([0-9]+)"')
_LONG_REFERENCE = re.compile(rb'r="([A-Z]{1,3})([0-9]{12})[0-9]')
_CELL_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c[\s>]")
_NO_VALUE = re.compile(rb">\s*</")


class _FarCell(NamedTuple):
    """A cell with a value that makes its sheet too large for calamine, and the rows and columns it would span."""

    cell: str
    rows: int
    columns: int


def _row_number(digits: bytes) -> int:
    """A reference's row; past 12 digits 10**12, as far out as it matters (int() refuses over 4300 digits)."""
    return int(digits) if len(digits) <= 12 else 10**12


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + letter - 64
    return number


def _far_cell(package: Any, part: str, far: list[tuple[str, int, int]]) -> _FarCell | None:
    """The first of the cells ``far`` (:func:`_far_references`) of the sheet ``part`` of ``package`` whose value
    makes the sheet span more than :data:`_MAX_SHEET_CELLS` cells or more than :data:`_MAX_SHEET_ROWS` rows, or
    None.

    Cheap for a usual sheet, which has no such cell; only when one holds a value within Excel's rows is the
    sheet's last row looked for (a second pass over its XML), to size its rectangle."""
    if not far:
        return None
    columns = max(_NEAR_COLUMNS, *(column for _cell, _row, column in far))
    for cell, row, _column in far:
        if row > _MAX_SHEET_ROWS:
            return _FarCell(cell, row, columns)
    with package.open(part) as stream:
        rows = _last_row(stream)
    for cell, row, column in far:
        if max(rows, row) * column > _MAX_SHEET_CELLS:
            return _FarCell(cell, max(rows, row), column)
    return None


def _blocks(stream: BinaryIO) -> Iterator[tuple[bytes, bool]]:
    """The stream in blocks of :data:`_SCAN_BYTES`, each with the last :data:`_SCAN_TAIL` bytes before it in front
    (a start tag cut by a block's end is whole in the next), and whether it is the last."""
    tail, block = b"", stream.read(_SCAN_BYTES)
    while block:
        following = stream.read(_SCAN_BYTES)
        buffer = tail + block
        yield buffer, not following
        tail, block = buffer[-_SCAN_TAIL:], following


class _FarSearch:
    """A sheet's XML stream that searches what is read from it for far cells, as :func:`_blocks` gives it to
    :func:`_far_references`: the search for bad cells (:func:`_scan_sheet`) reads it, :meth:`read_rest` reads what
    that search did not need, and the XML is inflated and read once for both. ``far``: the far cells found."""

    def __init__(self, stream: BinaryIO):
        self.stream = stream
        self.far: list[tuple[str, int, int]] = []
        self._tail = self._block = b""

    def read(self, size: int) -> bytes:
        """The next ``size`` bytes (b"" at the end). The block read before is searched now, when it is known
        whether it was the last."""
        block = self.stream.read(size)
        if self._block:
            buffer = self._tail + self._block
            self.far += _far_references(buffer, not block)
            self._tail = buffer[-_SCAN_TAIL:]
        self._block = block
        return block

    def read_rest(self) -> None:
        while self.read(_SCAN_BYTES):
            pass


def _far_references(buffer: bytes, last: bool) -> list[tuple[str, int, int]]:
    """(reference, row, column) of each cell with a value past column BL or row 999,999 in a block of
    :func:`_blocks` (one may come twice, in the tail of the next); a reference of more than 12 digits (no Excel
    writes one, and it may not end in this block) whether or not the cell holds a value."""
    found = []
    for hit in _FAR_REFERENCE.finditer(buffer):
        if not buffer[hit.start() - 1:hit.start()].isspace():
            continue  # xr="...": another attribute
        tag = buffer.rfind(b"<", 0, hit.start())
        if tag < 0 or not _CELL_TAG.match(buffer, tag):
            continue  # a row's or another element's r attribute
        long = _LONG_REFERENCE.match(buffer, hit.start())
        if long is not None:
            found.append(((long[1] + long[2]).decode("ascii") + "...", 10**12, _column_number(long[1])))
            continue
        reference = _REFERENCE.match(buffer, hit.start())
        end = buffer.find(b">", hit.end())
        if reference is None or end < 0 or end + 64 > len(buffer) and not last:
            continue  # cut by the block's end: whole in the next block
        if buffer[end - 1:end] == b"/" or _NO_VALUE.match(buffer, end):
            continue  # an empty cell (a format only): calamine leaves it out
        found.append((reference[0][3:-1].decode("ascii"), _row_number(reference[2]), _column_number(reference[1])))
    return found


def _last_row(stream: BinaryIO) -> int:
    """The largest row number a cell reference of the sheet names."""
    rows = 0
    for buffer, _last in _blocks(stream):
        for reference in _REFERENCE.finditer(buffer):
            rows = max(rows, _row_number(reference[2]))
    return rows


def _sheet_part(package: Any, sheet: str) -> str | None:
    """The zip member of the sheet named ``sheet``: the workbook part (the package's officeDocument
    relationship), its ``<sheet name=... r:id=...>``, and the workbook's relationship of that id."""
    import posixpath
    import xml.etree.ElementTree as ET

    def local(name: str) -> str:
        return name.rpartition("}")[2]

    def relationships(part: str) -> list[tuple[str, str, str]]:
        """(id, type's last word, member) of each relationship of ``part`` ('' for the package's own)."""
        folder, name = posixpath.split(part)
        found = []
        for rel in ET.fromstring(package.read(posixpath.join(folder, "_rels", name + ".rels"))):
            target = rel.get("Target", "")
            member = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
            found.append((rel.get("Id", ""), rel.get("Type", "").rpartition("/")[2], member))
        return found

    workbook = next((member for _id, kind, member in relationships("") if kind == "officeDocument"), "xl/workbook.xml")
    for element in ET.fromstring(package.read(workbook)).iter():
        if local(element.tag) == "sheet" and element.get("name") == sheet:
            ids = [value for key, value in element.attrib.items() if local(key) == "id"]
            return next((member for rel_id, _kind, member in relationships(workbook) if ids and rel_id == ids[0]),
                        None)
    return None


def _attributes(tag: bytes) -> dict[bytes, bytes]:
    """A start tag's attributes by local name."""
    return {name.rpartition(b":")[2]: double or single for name, double, single in _XML_ATTRIBUTE.findall(tag)}


def _scan_sheet(stream: BinaryIO | _FarSearch) -> _BadCell | None:
    """The first cell of a sheet (its XML read from ``stream``) that holds a formula with no saved value or an
    error value, or None.

    Cheap: the XML is searched as bytes, in blocks, for formula elements and for ``#``; only the cell around a
    hit is looked at, and the search stops at the first bad cell.

    Formula cells are found by their ``<f`` element; error values by their ``#`` (every error value starts with
    it; a single byte is found at memchr speed, where a search for ``t="e"`` would cost as much as the formula
    search again): a ``#`` that starts the value of a ``<v>`` in a cell of type ``e`` is one, and a ``#`` in text
    costs one look back. A formula cell's error value is found with its formula."""
    from xml.sax.saxutils import unescape

    buffer = stream.read(_SCAN_BYTES)
    while len(buffer) < 4096 and (block := stream.read(_SCAN_BYTES)):
        buffer += block
    root = _SHEET_ROOT.search(buffer, 0, 4096)  # the root element, after the XML declaration
    if root is None:
        return None
    prefix = root[1] + b":" if root[1] else b""
    formula, cell_end = b"<" + prefix + b"f", b"</" + prefix + b"c>"
    cell_start = re.compile(rb"<" + re.escape(prefix) + rb"c[\s>]")
    value_start = re.compile(rb"<" + re.escape(prefix) + rb"v(?:\s[^<>]*)?>\s*")
    value = re.compile(rb"<" + re.escape(prefix) + rb"v(?:\s[^>]*)?(?:/>|>([^<]*)<)")
    inline = b"<" + prefix + b"is"

    def error_value(text: bytes) -> str:
        return unescape(text.decode("utf-8", "replace")).strip()

    pos, done = 0, False
    # the next formula and the next # at or after pos (len(buffer): none in the buffer): each is searched for again
    # only once pos has passed it, so that a block with a formula in every row is not searched to its end each time
    formula_at = error_at = -1
    while True:
        if formula_at < pos:
            formula_at = buffer.find(formula, pos)
            formula_at = formula_at if formula_at >= 0 else len(buffer)
        if error_at < pos:
            error_at = buffer.find(b"#", pos)
            error_at = error_at if error_at >= 0 else len(buffer)
        if error_at < formula_at:  # <c r="C5" t="e"><v>#DIV/0!</v></c>?
            hit = error_at
            tag = buffer.rfind(b"<", 0, hit)
            cell = buffer.rfind(b"<" + prefix + b"c", 0, tag) if tag >= 0 and value_start.fullmatch(
                buffer, tag, hit) else -1
            if cell < 0 or not cell_start.match(buffer, cell):
                pos = hit + 1
                continue
            attributes = _attributes(buffer[cell:buffer.index(b">", cell) + 1])
            if attributes.get(b"t") != b"e":  # a formula's text result (t="str") may start with #
                pos = hit + 1
                continue
            end = buffer.find(b"<", hit)
            if end >= 0:
                return _BadCell(attributes.get(b"r", b"").decode("ascii", "replace"), error_value(buffer[hit:end]))
            keep = cell  # the value goes on in the next block
        elif formula_at < len(buffer):
            hit = formula_at
            after = buffer[hit + len(formula):hit + len(formula) + 1]
            if after and after not in b" \t\r\n/>":  # <formula1>, <filterColumn>: not a formula cell
                pos = hit + 1
                continue
            end = buffer.find(cell_end, hit) if after else -1
            if end >= 0:  # a whole formula cell: <c r="C5" ...><f>...</f><v>...</v></c> (f is c's first child)
                start = buffer.rfind(b"<", 0, hit)
                attributes = _attributes(buffer[start:buffer.index(b">", start) + 1] if start >= 0 else b"")
                found = value.search(buffer, hit, end)
                reference = attributes.get(b"r", b"").decode("ascii", "replace")
                if attributes.get(b"t") == b"e":
                    return _BadCell(reference, error_value(found[1]) if found and found[1] else "")
                if not (found and (found[1] or attributes.get(b"t") == b"str")) and inline not in buffer[hit:end]:
                    return _BadCell(reference, None)
                pos = end + len(cell_end)
                continue
            keep = buffer.rfind(b"<", pos, hit)  # the unfinished cell, from its start tag
            keep = keep if keep >= 0 else hit
        else:  # nothing in the rest of the block: keep a tail that may hold the start of the next
            keep = max(pos, len(buffer) - _SCAN_TAIL)
        if done:
            return None
        block = stream.read(_SCAN_BYTES)
        done = not block
        buffer, pos = buffer[keep:] + block, 0
        formula_at = error_at = -1


class _JsonText:
    """A window over a decoded JSON text stream, refilled on demand, knowing each position's line."""

    def __init__(self, table: _JsonTable, binary: BinaryIO):
        self.table = table
        self.binary = binary
        self.decoder = codecs.getincrementaldecoder(table._codec)()
        self.buffer = ""
        self.pos = 0
        self.line_base = 1
        self.eof = False

    def fill(self, at_least: int = 0) -> None:
        """Drop the consumed text and read at least ``at_least`` more bytes."""
        self.line_base += self.buffer.count("\n", 0, self.pos)
        self.buffer, self.pos = self.buffer[self.pos:], 0
        chunk = self.binary.read(max(at_least, _JSON_CHUNK_BYTES))
        self.table.bytes_read += len(chunk)
        self.eof = not chunk
        pending = len(self.decoder.getstate()[0])
        try:
            self.buffer += self.decoder.decode(chunk, final=self.eof)
        except UnicodeDecodeError as exc:
            line = self.line(len(self.buffer)) + chunk.count(b"\n", 0, max(exc.start - pending, 0))
            raise DataError(_("{where}: the text is not valid {encoding}; save the file as UTF-8").format(
                where=self.table._where_line(line), encoding=self.table.encoding)) from None

    def peek(self) -> str:
        """The next character that is not whitespace ('' at the end), without consuming it."""
        while True:
            self.pos = _JSON_WHITESPACE.match(self.buffer, self.pos).end()
            if self.pos < len(self.buffer) or self.eof:
                return self.buffer[self.pos:self.pos + 1]
            self.fill()

    def line(self, pos: int | None = None) -> int:
        return self.line_base + self.buffer.count("\n", 0, self.pos if pos is None else pos)


class _JsonTable(_TextTable):
    """JSON (row = array index + 1) and NDJSON (row = line number); columns are the union of the keys."""

    def __init__(self, path: Path, fmt: str, encoding: str | None, batch_size: int, max_cell_chars: int):
        super().__init__(path, fmt, encoding, batch_size, max_cell_chars)
        keys: dict[str, None] = {}
        for _row_number, obj, _raw in self._objects():
            keys.update(dict.fromkeys(obj))
        self.columns = list(keys)
        for column in self.columns:
            if SURROGATE.search(column):
                raise DataError(_("{file}: the field name {name} holds half of a surrogate pair, which is not a "
                                  "character (the JSON was written wrongly)").format(
                    file=path, name=escaped(column)))

    def _where(self, row_number: int) -> str:
        return self._where_line(row_number) if self.format == "ndjson" else super()._where(row_number)

    def _objects(self) -> Iterator[tuple[int, dict[str, Any], str]]:
        """(row number, object, source text) of each element."""
        for row_number, obj, raw in self._lines() if self.format == "ndjson" else self._array():
            if not isinstance(obj, dict):
                raise DataError(_("{where}: the element is not an object ({{...}})").format(
                    where=self._where(row_number)))
            yield row_number, obj, raw

    def _decode(self, where: Callable[[], str], text: str, pos: int) -> tuple[Any, int]:
        try:
            return _JSON_DECODER.raw_decode(text, pos)
        except _CellError as exc:
            raise _malformed(where(), str(exc)) from None
        except RecursionError:
            raise _malformed(where(), _("nested too deeply")) from None
        except json.JSONDecodeError:
            raise
        except ValueError:  # an integer beyond Python's limit of digits for int(str)
            raise _malformed(where(), too_many_digits()) from None

    def _lines(self) -> Iterator[tuple[int, Any, str]]:
        with self.path.open("rb") as binary:
            binary.seek(self._skip)
            self.bytes_read = self._skip
            empty = True
            for line_number, chunk in enumerate(iter(lambda: binary.readline(_MAX_LINE_BYTES), b""), 1):
                self.bytes_read += len(chunk)
                text = self._decode_line(line_number, chunk).strip()
                if text:
                    empty = False
                    yield line_number, self._decode_ndjson(line_number, text), text
        if empty:
            raise DataError(_("{file} is empty").format(file=self.path))

    def _decode_ndjson(self, line_number: int, text: str) -> Any:
        where = self._where_line(line_number)
        try:
            obj, end = self._decode(lambda: where, text, 0)
        except json.JSONDecodeError as exc:
            raise _malformed(where, _("{message} at column {column}").format(
                message=exc.msg, column=exc.colno)) from None
        if end != len(text):
            raise _malformed(where, _("more than one value on the line, at column {column}").format(
                column=_JSON_WHITESPACE.match(text, end).end() + 1))
        return obj

    def _array(self) -> Iterator[tuple[int, Any, str]]:
        with self.path.open("rb") as binary:
            binary.seek(self._skip)
            self.bytes_read = self._skip
            text = _JsonText(self, binary)
            first = text.peek()
            if not first:
                raise DataError(_("{file} is empty").format(file=self.path))
            if first != "[":
                raise DataError(_("{where}: the top level must be an array of objects ([{{...}}, ...]); "
                                  "for one object per line use NDJSON").format(
                    where=self._where_line(text.line())))
            text.pos += 1
            if text.peek() == "]":
                text.pos += 1
            else:
                for row_number in itertools.count(1):
                    yield row_number, *self._element(text, row_number)
                    separator = text.peek()
                    text.pos += 1
                    if separator == "]":
                        break
                    if separator != ",":
                        raise _malformed(self._where_line(text.line(text.pos - 1)),
                                         _("expected ',' or ']' after row {row}").format(row=row_number))
            if text.peek():
                raise _malformed(self._where_line(text.line()), _("extra data after the array"))

    def _element(self, text: _JsonText, row_number: int) -> tuple[Any, str]:
        """The next array element and its source text, reading more of the file while it is incomplete."""
        while True:
            text.peek()
            try:
                obj, end = self._decode(lambda: self._where(row_number), text.buffer, text.pos)
            except json.JSONDecodeError as exc:
                incomplete = exc.pos >= len(text.buffer) - 8 or exc.msg.startswith("Unterminated string")
                if text.eof or not incomplete:
                    raise _malformed(_("{file}, line {line}, row {row}").format(
                        file=self.path, line=text.line(exc.pos), row=row_number), exc.msg) from None
                if len(text.buffer) - text.pos > _MAX_JSON_ELEMENT_CHARS:
                    raise DataError(_("{where}: the element is longer than {limit} characters").format(
                        where=self._where(row_number), limit=_MAX_JSON_ELEMENT_CHARS)) from None
                text.fill(len(text.buffer) - text.pos)
            else:
                source = text.buffer[text.pos:end]
                text.pos = end
                return obj, source

    def _rows(self) -> Iterator[Row]:
        for row_number, obj, source in self._objects():
            try:
                cells = [_json_text(obj.get(column)) for column in self.columns]
            except _CellError:
                for column in self.columns:
                    try:
                        _json_text(obj.get(column))
                    except _CellError as exc:
                        raise self._cell_error(row_number, column, exc) from None
                raise
            if "\\u" in source and _SURROGATE_ESCAPE.search(source):  # \ud800 decodes to a lone surrogate
                for column, cell in zip(self.columns, cells, strict=True):
                    if SURROGATE.search(cell):
                        raise self._cell_error(row_number, column, _CellError(_(
                            "the value {value} holds half of a surrogate pair, which is not a character (the "
                            "JSON was written wrongly)").format(value=escaped(cell[:50]))))
            yield Row(row_number, self._values(row_number, cells), _one_line(source))


def too_many_digits() -> str:
    """Why Python refused a JSON integer: more digits than ``int(str)`` takes (a plain ValueError)."""
    return _("a number has more than {limit} digits").format(limit=sys.get_int_max_str_digits())


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _one_line(source: str) -> str:
    """JSON source text on one line: raw line breaks cannot occur inside JSON strings."""
    if "\n" not in source and "\r" not in source:
        return source
    return "".join(part.lstrip(" \t") for part in source.splitlines())


def _malformed(where: str, detail: str) -> DataError:
    return DataError(_("{where}: malformed JSON ({detail})").format(where=where, detail=detail))


def _arrow_converter(arrow_type: Any) -> Callable[[Any], str] | None:
    """How to turn one Python value of an Arrow column into text; None for unsupported types."""
    import pyarrow as pa

    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) \
            or pa.types.is_string_view(arrow_type):
        return str.strip
    if pa.types.is_integer(arrow_type):
        return str
    if pa.types.is_boolean(arrow_type):
        return _bool_text
    if pa.types.is_float64(arrow_type):
        return _float_text
    if pa.types.is_float32(arrow_type):
        return _float32_text
    if pa.types.is_decimal(arrow_type):
        return _decimal_text
    if pa.types.is_temporal(arrow_type) and not pa.types.is_duration(arrow_type) \
            and not pa.types.is_interval(arrow_type):
        return _temporal_text
    if pa.types.is_null(arrow_type):
        return str
    return None


class _ParquetTable(Table):
    format = "parquet"

    def __init__(self, path: Path, batch_size: int, max_cell_chars: int):
        import pyarrow.parquet as pq

        super().__init__(path, batch_size, max_cell_chars)
        try:
            schema = pq.read_schema(path)
        except Exception as exc:  # pyarrow raises ArrowInvalid, OSError... for a file that is not Parquet
            raise DataError(_("{file} cannot be read as a Parquet file ({detail})").format(
                file=path, detail=exc)) from None
        self.columns = self._check_header(1, [name.strip() for name in schema.names])
        self._converters = []
        for column, field in zip(self.columns, schema, strict=True):
            converter = _arrow_converter(field.type)
            if converter is None:
                raise DataError(_("{file}: column {column} has type {type}, which cannot be imported; only "
                                  "text, numbers, booleans, dates and times can").format(
                    file=path, column=column, type=field.type))
            self._converters.append(converter)

    def _rows(self) -> Iterator[Row]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        row_number = 0
        with pq.ParquetFile(self.path) as parquet:
            rows_total = max(parquet.metadata.num_rows, 1)
            batches = parquet.iter_batches(batch_size=self.batch_size)
            while True:
                try:
                    batch = next(batches, None)
                except (OSError, pa.ArrowException) as exc:  # a corrupt data page, found only when read
                    raise DataError(_("{file} cannot be read as a Parquet file after row {row} ({detail})").format(
                        file=self.path, row=row_number, detail=exc)) from None
                if batch is None:
                    break
                self.bytes_read = self.bytes_total * (row_number + batch.num_rows) // rows_total
                lists = [self._pylist(name, column, row_number) for name, column in zip(self.columns, batch.columns,
                                                                                         strict=True)]
                for record in zip(*lists, strict=True):
                    row_number += 1
                    cells = []
                    for column, converter, value in zip(self.columns, self._converters, record, strict=True):
                        try:
                            cells.append("" if _is_missing(value) else converter(value))
                        except _CellError as exc:
                            raise self._cell_error(row_number, column, exc) from None
                    values = self._values(row_number, cells)
                    yield Row(row_number, values, _compact_json(values))

    def _pylist(self, name: str, column: Any, rows_before: int) -> list[Any]:
        """The column's Python values; a value Python cannot hold (nanoseconds, a year past 9999) names its row."""
        try:
            return column.to_pylist()
        except (ValueError, OverflowError):
            for index in range(len(column)):
                try:
                    column[index].as_py()
                except (ValueError, OverflowError) as exc:
                    problem = (_("the {type} value has nanoseconds; only times to the microsecond can be "
                                 "imported").format(type=column.type) if "Nanosecond" in str(exc)
                               else _("the {type} value cannot be read ({detail})").format(type=column.type, detail=exc))
                    raise self._cell_error(rows_before + index + 1, name, _CellError(problem)) from None
            raise


def _is_missing(value: Any) -> bool:
    """Null, or NaN (which pandas writes for a missing number)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def read_json_object(path: str | Path) -> dict[str, str | None]:
    """A small JSON file of one object (``record submit --json``): its fields as text, by the rules of a JSON
    table's rows (numbers as canonical decimals, null as None; NaN, a repeated or empty field name, a nested
    value or a lone surrogate refused). The encoding is detected as for a JSON table."""
    path = check_input_file(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise unreadable(path, exc) from None
    _check_text(path, data[:_SAMPLE_BYTES], "json")
    encoding = detect_encoding(data)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise DataError(_("{where}: the text is not valid {encoding} (byte {byte} at position "
                          "{position}); save the file as UTF-8").format(
            where=path, encoding=encoding, byte=f"0x{data[exc.start]:02X}", position=exc.start + 1)) from None
    start = _JSON_WHITESPACE.match(text).end()
    try:
        obj, end = _JSON_DECODER.raw_decode(text, start)
        if _JSON_WHITESPACE.match(text, end).end() != len(text):
            raise json.JSONDecodeError("Extra data", text, end)
    except _CellError as exc:
        raise DataError(_("{file}: not valid JSON ({detail})").format(file=path, detail=exc)) from None
    except RecursionError:
        raise DataError(_("{file}: not valid JSON ({detail})").format(file=path, detail=_("nested too deeply"))) \
            from None
    except ValueError as exc:  # JSONDecodeError, or an integer beyond Python's limit of digits
        detail = exc if isinstance(exc, json.JSONDecodeError) else too_many_digits()
        raise DataError(_("{file}: not valid JSON ({detail})").format(file=path, detail=detail)) from None
    if not isinstance(obj, dict):
        raise DataError(_("{file}: the JSON must be one object of field names and values").format(file=path))
    out: dict[str, str | None] = {}
    for name, value in obj.items():
        try:
            text = _json_text(value)
        except _CellError:
            raise DataError(_("{file}: field {field} holds a nested value; give text, a number or null").format(
                file=path, field=name)) from None
        if SURROGATE.search(name) or SURROGATE.search(text):
            raise DataError(_("{file}: field {field} holds half of a surrogate pair, which is not a character (the "
                              "JSON was written wrongly)").format(file=path, field=escaped(name)))
        out[name] = text or None
    check_value_lengths(out, str(path))
    return out


def check_value_lengths(values: Mapping[str, str | None], where: str,
                        limit: int = DEFAULT_MAX_CELL_CHARS) -> None:
    """DataError for a value longer than ``limit`` characters once stripped, as a table's cell is refused
    (``record submit`` and ``record correct`` take no more than an import does)."""
    for name, value in values.items():
        if value is not None and len(value) > limit and len(value.strip()) > limit:
            raise _too_long(where, escaped(name), len(value.strip()), limit)


def _too_long(where: str, column: str, length: int, limit: int) -> DataError:
    """A value over the cell limit, in a file's row (:meth:`Table._values`) or a command's values."""
    return DataError(_("{where}: the value of column {column} has {length} characters, more than the limit of "
                       "{limit}").format(where=where, column=column, length=length, limit=limit))


def open_table(
    path: str | Path,
    fmt: str | None = None,
    encoding: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    *,
    sheet: str | None = None,
    max_cell_chars: int = DEFAULT_MAX_CELL_CHARS,
) -> Table:
    """Open ``path`` as a table; its header (or schema) is read and checked now.

    ``fmt`` overrides the suffix; ``encoding`` overrides detection for CSV/TSV/JSON/NDJSON;
    ``sheet`` picks an Excel sheet by name (default: the first).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    path = check_input_file(path)
    fmt = detect_format(path) if fmt is None else _FORMAT_ALIASES.get(fmt.lower(), fmt.lower())
    if fmt not in FORMATS:
        raise DataError(_("{file}: unsupported format {format}; use one of {formats}").format(
            file=path, format=fmt, formats=", ".join(FORMATS)))
    try:
        if path.stat().st_size == 0:
            raise DataError(_("{file} is empty").format(file=path))
        if fmt in ("csv", "tsv"):
            return _CsvTable(path, fmt, encoding, batch_size, max_cell_chars)
        if fmt in ("json", "ndjson"):
            return _JsonTable(path, fmt, encoding, batch_size, max_cell_chars)
        if fmt == "xlsx":
            return _XlsxTable(path, batch_size, max_cell_chars, sheet)
        return _ParquetTable(path, batch_size, max_cell_chars)
    except OSError as exc:
        raise unreadable(path, exc) from None
