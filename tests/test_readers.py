"""Specification of the input readers: every format, encoding and kind of bad file."""

from __future__ import annotations

import codecs
import datetime as dt
import json
import re
import struct
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lycredit import readers
from lycredit.errors import DataError, ExitCode, InputMissing
from lycredit.readers import detect_encoding, detect_format, map_headers, normalize_header, open_table

PENALTY_HEADER = "行政相对人名称,统一社会信用代码,行政处罚决定书文号,罚款金额（万元）,处罚决定日期"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def all_rows(table: readers.Table) -> list[readers.Row]:
    return [row for batch in table.batches() for row in batch]


def values(table: readers.Table) -> list[dict[str, str | None]]:
    return [row.values for row in all_rows(table)]


def data_error(match: str, *args, **kwargs) -> DataError:
    with pytest.raises(DataError, match=match) as caught:
        open_and_read(*args, **kwargs)
    assert caught.value.exit_code == ExitCode.DATA_ERROR
    return caught.value


def open_and_read(*args, **kwargs) -> list[readers.Row]:
    return all_rows(open_table(*args, **kwargs))


# --- formats -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, fmt",
    [
        ("a.csv", "csv"),
        ("A.CSV", "csv"),
        ("a.tsv", "tsv"),
        ("a.xlsx", "xlsx"),
        ("a.json", "json"),
        ("a.ndjson", "ndjson"),
        ("a.jsonl", "ndjson"),
        ("a.parquet", "parquet"),
    ],
)
def test_format_is_named_by_the_suffix(name, fmt):
    assert detect_format(name) == fmt


def test_unsupported_suffix_names_the_file_and_the_accepted_types(tmp_path):
    path = write(tmp_path / "records.txt", "a,b\n1,2\n")
    error = data_error(r"records\.txt: unsupported file type \.txt; the file type is read from the suffix, one of .*\.csv", path)
    assert ".parquet" in error.message
    assert "name the format" not in error.message  # no command can: only the Python API takes a format


def test_an_import_of_an_unsupported_suffix_says_to_rename_the_file_not_to_name_a_format(platform, tmp_path):
    """'(or name the format explicitly)' asked for an option no import command has."""
    path = write(tmp_path / "records.txt", "a\tb\n1\t2\n")
    r = platform.run("record", "import", str(path), "--layout", "penalty")
    assert r.exit_code == 65 and "rename it" in r.stderr and ".tsv" in r.stderr, r.output
    assert "name the format" not in r.stderr


def test_format_override_reads_a_file_whatever_its_suffix(tmp_path):
    path = write(tmp_path / "records.txt", "a,b\n1,2\n")
    assert values(open_table(path, fmt="csv")) == [{"a": "1", "b": "2"}]
    ndjson = write(tmp_path / "records.log", '{"a": 1}\n')
    assert values(open_table(ndjson, fmt="jsonl")) == [{"a": "1"}]


def test_unknown_format_override_is_refused(tmp_path):
    path = write(tmp_path / "records.csv", "a\n1\n")
    data_error(r"records\.csv: unsupported format yaml; use one of csv, tsv", path, fmt="yaml")


def test_missing_file_is_input_missing_with_exit_66(tmp_path):
    with pytest.raises(InputMissing, match=r"nowhere\.csv: no such file") as caught:
        open_table(tmp_path / "nowhere.csv")
    assert caught.value.exit_code == ExitCode.NO_INPUT == 66


def test_a_directory_is_not_an_input_file(tmp_path):
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(InputMissing, match=r"dir\.csv is a directory, not a file"):
        open_table(tmp_path / "dir.csv")


@pytest.mark.parametrize("name", ["a.csv", "a.xlsx", "a.json", "a.parquet"])
def test_an_unreadable_file_is_input_missing_in_every_format_not_bad_data(tmp_path, name):
    path = tmp_path / name
    if name.endswith(".xlsx"):
        openpyxl.Workbook().save(path)
    elif name.endswith(".parquet"):
        pq.write_table(pa.table({"a": [1]}), path)
    else:
        write(path, "[]" if name.endswith(".json") else "a\n1\n")
    path.chmod(0)
    try:
        path.open("rb").close()
        pytest.skip("this process reads a file of mode 000 (root)")
    except PermissionError:
        pass
    with pytest.raises(InputMissing, match=rf"{name.replace('.', '[.]')} cannot be read \(Permission denied\)") as caught:
        open_table(path)
    assert caught.value.exit_code == 66


@pytest.mark.parametrize("name", ["empty.csv", "empty.xlsx", "empty.json", "empty.ndjson", "empty.parquet"])
def test_an_empty_file_is_refused_in_every_format(tmp_path, name):
    data_error(rf"{name} is empty", write(tmp_path / name, ""))


@pytest.mark.parametrize(
    "name, text",
    [
        ("blank.csv", "\r\n\r\n"),
        ("bom.csv", "\ufeff"),
        ("blank.json", "  \n"),
        ("blank.ndjson", "\n\n"),
    ],
)
def test_a_file_of_blank_lines_is_empty(tmp_path, name, text):
    data_error(rf"{name} is empty", write(tmp_path / name, text))


# --- CSV -----------------------------------------------------------------------------------


def test_utf8_csv_values_are_stripped_strings_and_empty_cells_none(tmp_path):
    path = write(
        tmp_path / "p.csv", f"{PENALTY_HEADER}\n 甲公司 ,91350100M000100Y43,罚〔2024〕1号,,2024-03-01\n"
    )
    table = open_table(path)
    assert table.encoding == "utf-8"
    assert table.columns == PENALTY_HEADER.split(",")
    [row] = all_rows(table)
    assert row.row_number == 2
    assert row.values == {
        "行政相对人名称": "甲公司",
        "统一社会信用代码": "91350100M000100Y43",
        "行政处罚决定书文号": "罚〔2024〕1号",
        "罚款金额（万元）": None,
        "处罚决定日期": "2024-03-01",
    }
    assert row.raw == " 甲公司 ,91350100M000100Y43,罚〔2024〕1号,,2024-03-01"


def test_csv_utf8_with_bom_keeps_the_bom_out_of_the_first_column(tmp_path):
    path = write(tmp_path / "bom.csv", "\ufeff行政相对人名称,罚款金额（万元）\r\n甲公司,1.5\r\n")
    table = open_table(path)
    assert table.encoding == "utf-8-sig"
    assert table.columns == ["行政相对人名称", "罚款金额（万元）"]
    assert values(table) == [{"行政相对人名称": "甲公司", "罚款金额（万元）": "1.5"}]


def test_gb18030_csv_as_excel_writes_it_on_chinese_windows_is_detected(tmp_path):
    path = write(
        tmp_path / "excel.csv",
        f"{PENALTY_HEADER}\r\n乙商贸有限公司,92350100MA2Y00000X,闽罚〔2024〕7号,0.5,2024-05-06\r\n",
        "gb18030",
    )
    table = open_table(path)
    assert table.encoding == "gb18030"
    assert table.columns[3] == "罚款金额（万元）"
    assert values(table)[0]["行政相对人名称"] == "乙商贸有限公司"


def test_a_bom_is_skipped_even_when_utf8_is_given_explicitly(tmp_path):
    table = open_table(write(tmp_path / "bom.json", '\ufeff[{"名称": "甲"}]'), encoding="utf-8")
    assert values(table) == [{"名称": "甲"}]


def test_explicit_encoding_overrides_detection(tmp_path):
    path = write(tmp_path / "gbk.csv", "名称\r\n中\r\n", "gbk")
    table = open_table(path, encoding="gbk")
    assert (table.encoding, values(table)) == ("gbk", [{"名称": "中"}])


def test_quoted_cells_with_newlines_and_commas_keep_their_starting_line(tmp_path):
    text = (
        "名称,备注,金额\r\n"
        '甲,"第一行\n第二行, 含逗号",1\r\n'
        '乙,"他说""好""",2\r\n'
        "\r\n"
        '丙,"a\n\nb\nc",3\r\n'
        "丁,x,4\r\n"
    )
    rows = open_and_read(write(tmp_path / "multi.csv", text))
    assert [row.row_number for row in rows] == [2, 4, 6, 10]
    assert rows[0].values["备注"] == "第一行\n第二行, 含逗号"
    assert rows[1].values["备注"] == '他说"好"'
    assert rows[0].raw == '甲,"第一行\n第二行, 含逗号",1'
    assert rows[3].values == {"名称": "丁", "备注": "x", "金额": "4"}


def test_blank_and_all_empty_rows_are_skipped_but_still_counted(tmp_path):
    rows = open_and_read(write(tmp_path / "gaps.csv", "\r\na,b\r\n1,2\r\n,,\r\n \t, \r\n\r\n 3 ,\r\n"))
    assert [(row.row_number, row.values, row.raw) for row in rows] == [
        (3, {"a": "1", "b": "2"}, "1,2"), (7, {"a": "3", "b": None}, " 3 ,")]


def test_short_rows_get_none_and_excel_padding_columns_are_ignored(tmp_path):
    rows = open_and_read(write(tmp_path / "pad.csv", "a,b,c,,\r\n1\r\n1,2,3,,\r\n"))
    assert [row.values for row in rows] == [{"a": "1", "b": None, "c": None}, {"a": "1", "b": "2", "c": "3"}]


def test_tsv_splits_on_tabs(tmp_path):
    table = open_table(write(tmp_path / "t.tsv", "名称\t金额\n甲, 公司\t1\n"))
    assert values(table) == [{"名称": "甲, 公司", "金额": "1"}]


def test_csv_header_without_names_is_refused(tmp_path):
    data_error(
        r"noheader\.csv, line 1: the header row has no column names",
        write(tmp_path / "noheader.csv", ",,\n1,2,3\n"),
    )


def test_csv_header_with_an_unnamed_column_names_the_column(tmp_path):
    data_error(
        r"gap\.csv, line 1: column 2 of the header has no name", write(tmp_path / "gap.csv", "a,,c\n1,2,3\n")
    )


def test_duplicate_header_names_are_refused_naming_both_columns(tmp_path):
    path = write(tmp_path / "dup.csv", "名称,金额, 名称 \n1,2,3\n")
    data_error(r"dup\.csv, line 1: the header names column 名称 twice \(columns 1 and 3\)", path)


def test_row_with_more_fields_than_the_header_names_line_and_column(tmp_path):
    path = write(tmp_path / "wide.csv", "a,b\n1,2\n3,4,5\n")
    data_error(
        r"wide\.csv, line 3: the row has a value in column 3, beyond the 2 columns of the header", path
    )


def test_cell_longer_than_the_limit_names_line_column_and_limit(tmp_path):
    path = write(tmp_path / "long.csv", "名称,备注\n甲,短\n乙," + "长" * 10_001 + "\n")
    data_error(
        r"long\.csv, line 3: the value of column 备注 has 10001 characters, more than the limit of 10000",
        path,
    )


def test_cell_limit_can_be_lowered(tmp_path):
    path = write(tmp_path / "small.csv", "a\n12345\n")
    data_error(
        r"small\.csv, line 2: the value of column a has 5 characters, more than the limit of 4",
        path,
        max_cell_chars=4,
    )


@pytest.mark.parametrize("line, cell, fits", [
    ('1234,5', "1234", True),             # the line is longer than the limit, the cell is not
    ('"12""3"', '12"3', True),            # quoted: 7 characters of text, a cell of 4
    ('"12""34"', '12"34', False),         # a cell of 5
    (' 12345 ,', "12345", False),
    ('123', "123", True),                 # the whole line within the limit: no cell can pass it
])
def test_the_cell_limit_counts_the_cell_not_its_line(tmp_path, line, cell, fits):
    path = write(tmp_path / "edge.csv", f"a,b\n{line}\n")
    if fits:
        assert open_and_read(path, max_cell_chars=4)[0].values["a"] == cell
    else:
        data_error(r"edge\.csv, line 2: the value of column a has 5 characters, more than the limit of 4", path,
                   max_cell_chars=4)


def test_hostile_unterminated_quote_is_stopped_by_the_cell_limit(tmp_path):
    path = write(tmp_path / "hostile.csv", 'a,b\n1,"' + "x\n" * 100_000)
    data_error(r"hostile\.csv, line 2: a value has more than the limit of 10000 characters", path)


def test_unterminated_quote_at_the_end_is_malformed_csv_at_its_starting_line(tmp_path):
    path = write(tmp_path / "open.csv", 'a,b\n1,2\n3,"no end\nstill open\n')
    data_error(r"open\.csv, line 3: malformed CSV \(unexpected end of data\)", path)


def test_text_after_a_closing_quote_is_malformed_csv(tmp_path):
    data_error(r"junk\.csv, line 2: malformed CSV", write(tmp_path / "junk.csv", 'a,b\n"x"y,2\n'))


def test_binary_file_given_as_csv_is_refused(tmp_path):
    path = tmp_path / "image.csv"
    path.write_bytes(b"a,b\n\x89PNG\x00\x00\x01\xff\n")
    data_error(r"image\.csv, line 2: binary data \(a NUL byte\); this is not a CSV text file", path)


def test_spreadsheet_renamed_to_csv_is_refused_with_its_real_type(tmp_path):
    path = tmp_path / "sheet.xlsx"
    openpyxl.Workbook().save(path)
    renamed = path.rename(tmp_path / "sheet.csv")
    data_error(r"sheet\.csv is a xlsx file, not csv text", renamed)


def test_utf16_text_is_refused_with_advice(tmp_path):
    path = write(tmp_path / "u16.csv", "\ufeffa\tb\r\n1\t2\r\n", "utf-16-le")
    data_error(r"u16\.csv is UTF-16 text, which is not supported; save it as UTF-8", path)


@pytest.mark.parametrize("name", ["mac.csv", "mac.tsv"])
def test_text_whose_lines_end_with_a_carriage_return_alone_is_refused_with_advice(tmp_path, name):
    """Excel for Mac's 'Macintosh Comma Separated' ends lines with CR alone: the csv module's 'new-line character
    seen in unquoted field - do you need to open the file in universal-newline mode?' told an operator nothing.
    CR LF (Windows) and a CR inside a quoted cell are read as ever."""
    separator = "," if name.endswith(".csv") else "\t"
    path = write(tmp_path / name, separator.join(["代码", "名称"]) + "\r" + separator.join(["1", "甲"]) + "\r")
    data_error(rf"{name.replace('.', '[.]')} ends its lines with a carriage return alone \(Excel's 'Macintosh Comma "
               r"Separated' format\), which is not supported; save it as CSV UTF-8", path)
    windows = write(tmp_path / f"win-{name}", f"代码{separator}名称\r\n1{separator}\"甲\r乙\"\r\n")
    assert [row.values for row in open_and_read(windows)] == [{"代码": "1", "名称": "甲\r乙"}]


def test_undecodable_line_after_the_sample_names_line_and_encoding(tmp_path):
    ascii_part = "code,name\n" + "".join(f"{i},company {i}\n" for i in range(7_000))
    path = tmp_path / "late.csv"
    path.write_bytes(ascii_part.encode() + "9999,中文公司\n".encode("gbk"))
    assert len(ascii_part) > readers._SAMPLE_BYTES
    data_error(r"late\.csv, line 7002: the text is not valid utf-8 \(byte 0xD6 at position 6\)", path)


def test_hostile_line_without_end_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "_MAX_LINE_BYTES", 64)
    data_error(
        r"endless\.csv, line 2: the line is longer than 64 bytes",
        write(tmp_path / "endless.csv", "a\n" + "x" * 200),
    )


_AWKWARD = ("code,note\r\n1,plain\r\n2,\"two\nlines, quoted\"\n3,中文，全角\n\n4,\"a\r\nb\"\r\n5,last without a break")


@pytest.mark.parametrize("block", [1, 5, 16, 64, 1 << 20])
def test_rows_are_the_same_whatever_the_read_blocks_cut(tmp_path, monkeypatch, block):
    path = tmp_path / "awkward.csv"
    path.write_bytes(_AWKWARD.encode())
    monkeypatch.setattr(readers, "_BLOCK_BYTES", block)
    rows = open_and_read(path)
    assert [(r.row_number, r.values["code"], r.values["note"]) for r in rows] == [
        (2, "1", "plain"), (3, "2", "two\nlines, quoted"), (5, "3", "中文，全角"), (7, "4", "a\r\nb"),
        (9, "5", "last without a break")]
    assert [r.raw for r in rows][:2] == ["1,plain", '2,"two\nlines, quoted"']
    assert rows[3].raw == '4,"a\r\nb"'


def _csv_module_rows(text: str, delimiter: str) -> list[tuple[int, list[str], str]]:
    """What the csv module alone makes of a whole text: (first line, stripped cells, source without its
    line break) of each record that has a value, the header left out (the reader's own rules)."""
    import csv

    lines = text.split("\n")  # a line ends at a line feed only, as the reader counts lines
    lines = [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
    fed: list[str] = []

    def feed():
        for line in lines:
            fed.append(line)
            yield line

    reader = csv.reader(feed(), delimiter=delimiter, strict=True)
    out, start = [], 1
    for fields in reader:
        raw = "".join(fed)
        fed.clear()
        cells = [field.strip() for field in fields]
        if any(cells):
            out.append((start, cells, raw[:-2] if raw.endswith("\r\n") else raw.rstrip("\r\n")))
        start = reader.line_num + 1
    return out[1:]


_CELL = st.text(st.sampled_from(list('ab 中，,\t"\r\n')), max_size=6)


@given(rows=st.lists(st.lists(_CELL, min_size=2, max_size=2), max_size=8),
       quote_some=st.booleans(), crlf=st.booleans(), block=st.sampled_from([1, 7, 23, 1 << 20]),
       tsv=st.booleans())
def test_plain_blocks_read_as_the_csv_module_reads_them(tmp_path_factory, rows, quote_some, crlf, block, tsv):
    """Plain blocks are split directly, others go through the csv module; whatever the cut, the records,
    their line numbers and their source text are the csv module's."""
    delimiter, end = ("\t" if tsv else ","), ("\r\n" if crlf else "\n")

    def cell(text: str) -> str:  # quoted when it must be (or left out of a plain file)
        if not any(c in text for c in (delimiter, '"', "\r", "\n")):
            return text
        if quote_some:
            return '"' + text.replace('"', '""') + '"'
        return "".join(c for c in text if c not in (delimiter, '"', "\r", "\n"))

    text = "x" + delimiter + "y" + end + "".join(delimiter.join(map(cell, cells)) + end for cells in rows)
    path = tmp_path_factory.mktemp("plain") / ("t.tsv" if tsv else "t.csv")
    path.write_bytes(text.encode())
    saved = readers._BLOCK_BYTES
    readers._BLOCK_BYTES = block
    try:
        got = [(r.row_number, [r.values["x"] or "", r.values["y"] or ""], r.raw) for r in open_and_read(path)]
    finally:
        readers._BLOCK_BYTES = saved
    assert got == _csv_module_rows(text, delimiter)


def test_a_quoted_value_running_through_a_plain_block_is_read_whole(tmp_path, monkeypatch):
    """A block with no quote at all may lie inside a quoted value an earlier block opened."""
    path = write(tmp_path / "run.csv", 'k,v\r\n1,"opens\r\nplain line\r\nplain, too\r\ncloses"\r\n2,after\r\n')
    monkeypatch.setattr(readers, "_BLOCK_BYTES", 12)
    rows = open_and_read(path)
    assert [(r.row_number, r.values["v"]) for r in rows] == [
        (2, "opens\r\nplain line\r\nplain, too\r\ncloses"), (6, "after")]
    assert rows[0].raw == '1,"opens\r\nplain line\r\nplain, too\r\ncloses"'


def test_a_carriage_return_inside_a_line_is_the_csv_module_s_error(tmp_path):
    data_error(r"cr\.csv, line 2: malformed CSV \(new-line character seen in unquoted field",
               write(tmp_path / "cr.csv", "a,b\n1,x\ry\n"))


def test_rows_before_an_undecodable_line_in_the_same_block_are_read_first(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"n\n1\n2\n3\n" + "四\n".encode("gbk") + b"5\n")
    table = open_table(path, encoding="utf-8", batch_size=1)
    read = []
    with pytest.raises(DataError, match=r"bad\.csv, line 5: the text is not valid utf-8 \(byte 0xCB at position 1\)"):
        for batch in table.batches():
            read += [row.values["n"] for row in batch]
    assert read == ["1", "2", "3"]


def test_a_nul_byte_after_the_sample_names_its_line(tmp_path):
    path = tmp_path / "nul.csv"
    path.write_bytes(b"n\n" + b"".join(b"%d\n" % i for i in range(20_000)) + b"x\x00y\n")
    data_error(r"nul\.csv, line 20002: binary data \(a NUL byte\)", path)


def test_a_hostile_line_across_many_blocks_is_refused_naming_it(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "_MAX_LINE_BYTES", 64)
    monkeypatch.setattr(readers, "_BLOCK_BYTES", 10)
    data_error(r"long\.csv, line 3: the line is longer than 64 bytes", write(tmp_path / "long.csv",
                                                                               "a\n1\n" + "x" * 200 + "\n"))


def test_progress_reaches_the_total_with_a_last_line_without_a_break(tmp_path):
    table = open_table(write(tmp_path / "end.csv", "n\n1\n2"))
    assert values(table) == [{"n": "1"}, {"n": "2"}] and table.bytes_read == table.bytes_total


def test_unreadable_file_is_input_missing(tmp_path, monkeypatch):
    path = write(tmp_path / "locked.csv", "a\n1\n")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(InputMissing, match=r"locked\.csv cannot be read \(Permission denied\)"):
        open_table(path)


def test_unknown_encoding_is_refused(tmp_path):
    data_error(r"x\.csv: unknown encoding klingon", write(tmp_path / "x.csv", "a\n1\n"), encoding="klingon")


def test_encoding_that_is_not_ascii_compatible_is_refused(tmp_path):
    data_error(
        r"x\.csv: encoding utf-16 is not supported", write(tmp_path / "x.csv", "a\n1\n"), encoding="utf-16"
    )


@given(
    st.text(st.characters(blacklist_categories=["Cs"]), min_size=1).filter(
        lambda t: not t.startswith("\ufeff")
    )
)
def test_any_utf8_text_is_detected_as_utf8(text):
    assert detect_encoding(text.encode("utf-8")) == "utf-8"
    assert detect_encoding(codecs.BOM_UTF8 + text.encode("utf-8")) == "utf-8-sig"


def test_chinese_gb18030_text_is_detected_as_gb18030():
    assert detect_encoding(f"{PENALTY_HEADER}\r\n某某公司,罚款\r\n".encode("gb18030")) == "gb18030"


def test_a_utf8_character_cut_at_the_end_of_a_partial_sample_is_still_utf8():
    sample = "名称".encode()[:-1]
    assert detect_encoding(sample, complete=False) == "utf-8"
    assert detect_encoding(sample, complete=True) == "gb18030"


# --- batches and progress ------------------------------------------------------------------


def test_batches_are_bounded_and_cover_every_row_in_order(tmp_path):
    path = write(tmp_path / "many.csv", "n\n" + "".join(f"{i}\n" for i in range(50)))
    batches = list(open_table(path, batch_size=7).batches())
    assert [len(batch) for batch in batches] == [7] * 7 + [1]
    assert [row.values["n"] for batch in batches for row in batch] == [str(i) for i in range(50)]
    assert [row.row_number for batch in batches for row in batch] == list(range(2, 52))


def test_batches_can_be_read_again_and_progress_reaches_the_total(tmp_path):
    path = write(tmp_path / "again.csv", "\ufeffn\n1\n2\n")
    table = open_table(path)
    assert table.bytes_total == path.stat().st_size
    assert values(table) == values(table)
    assert table.bytes_read == table.bytes_total


def test_progress_grows_while_batches_are_read(tmp_path):
    path = write(tmp_path / "progress.csv", "n\n" + "".join(f"{i}\n" for i in range(100)))
    table = open_table(path, batch_size=10)
    seen = [table.bytes_read for _batch in table.batches()]
    assert seen == sorted(seen) and 0 < seen[0] < seen[-1] <= table.bytes_total


def test_batch_size_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="batch_size"):
        open_table(write(tmp_path / "a.csv", "a\n1\n"), batch_size=0)


# --- XLSX ----------------------------------------------------------------------------------


def penalty_workbook(path: Path) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "处罚"
    sheet["B3"], sheet["C3"], sheet["D3"], sheet["E3"] = (
        "统一社会信用代码",
        "罚款金额（万元）",
        "处罚决定日期",
        "备注",
    )
    sheet.append([None, "91350100M000100Y43", 100.0, dt.date(2024, 3, 1), " 首次 "])
    sheet.append([None, "123456789012345678", 0.1 + 0.2, dt.datetime(2024, 3, 2, 0, 0), True])
    sheet.append([])
    sheet.append([None, 350100000000000000, 1.5e-7, dt.datetime(2024, 3, 3, 14, 30), None])
    other = workbook.create_sheet("许可")
    other.append(["行政许可决定文书号"])
    other.append(["许〔2024〕1号"])
    workbook.save(path)
    return path


def test_xlsx_rows_are_excel_rows_and_values_are_as_excel_shows_them(tmp_path):
    table = open_table(penalty_workbook(tmp_path / "p.xlsx"))
    assert (table.format, table.encoding, table.sheet) == ("xlsx", None, "处罚")
    assert table.columns == ["统一社会信用代码", "罚款金额（万元）", "处罚决定日期", "备注"]
    rows = all_rows(table)
    assert [row.row_number for row in rows] == [4, 5, 7]
    assert rows[0].values == {
        "统一社会信用代码": "91350100M000100Y43",
        "罚款金额（万元）": "100",
        "处罚决定日期": "2024-03-01",
        "备注": "首次",
    }
    assert rows[1].values == {
        "统一社会信用代码": "123456789012345678",
        "罚款金额（万元）": "0.3",
        "处罚决定日期": "2024-03-02",
        "备注": "true",
    }
    assert rows[2].values == {
        "统一社会信用代码": "350100000000000000",
        "罚款金额（万元）": "0.00000015",
        "处罚决定日期": "2024-03-03T14:30:00",
        "备注": None,
    }
    assert json.loads(rows[0].raw) == rows[0].values
    assert "\n" not in rows[0].raw


def test_xlsx_sheet_option_reads_another_sheet(tmp_path):
    table = open_table(penalty_workbook(tmp_path / "p.xlsx"), sheet="许可")
    assert values(table) == [{"行政许可决定文书号": "许〔2024〕1号"}]


def test_xlsx_unknown_sheet_names_the_sheets_that_exist(tmp_path):
    data_error(
        r"p\.xlsx: there is no sheet named 汇总; the sheets are: 处罚, 许可",
        penalty_workbook(tmp_path / "p.xlsx"),
        sheet="汇总",
    )


def test_xlsx_value_beyond_the_header_names_sheet_row_and_column_letter(tmp_path):
    workbook = openpyxl.Workbook()
    workbook.active.append(["a", "b"])
    workbook.active.append([1, 2, "stray"])
    workbook.save(tmp_path / "wide.xlsx")
    data_error(
        r"wide\.xlsx, sheet Sheet, row 2: the row has a value in column C, beyond the 2 columns",
        tmp_path / "wide.xlsx",
    )


def test_xlsx_duplicate_header_names_columns_by_letter(tmp_path):
    workbook = openpyxl.Workbook()
    workbook.active["B1"], workbook.active["C1"], workbook.active["D1"] = "名称", "金额", "名称"
    workbook.save(tmp_path / "dup.xlsx")
    data_error(
        r"dup\.xlsx, sheet Sheet, row 1: the header names column 名称 twice \(columns B and D\)",
        tmp_path / "dup.xlsx",
    )


def test_xlsx_empty_sheet_has_no_header(tmp_path):
    openpyxl.Workbook().save(tmp_path / "blank.xlsx")
    data_error(r"blank\.xlsx: sheet Sheet is empty \(no header row\)", tmp_path / "blank.xlsx")


def test_text_file_named_xlsx_is_not_a_workbook(tmp_path):
    data_error(r"fake\.xlsx cannot be read as an Excel workbook", write(tmp_path / "fake.xlsx", "a,b\n1,2\n"))


def test_xlsx_with_a_non_finite_number_names_row_and_column(tmp_path):
    workbook = openpyxl.Workbook()
    workbook.active.append(["金额"])
    workbook.active.append([12345.5])
    workbook.save(tmp_path / "ok.xlsx")
    with zipfile.ZipFile(tmp_path / "ok.xlsx") as source:
        parts = {name: source.read(name) for name in source.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    parts[sheet] = parts[sheet].replace(b"<v>12345.5</v>", b"<v>inf</v>")
    with zipfile.ZipFile(tmp_path / "inf.xlsx", "w") as target:
        for name, data in parts.items():
            target.writestr(name, data)
    data_error(r"inf\.xlsx, sheet Sheet, row 2, column A: inf is not a finite number", tmp_path / "inf.xlsx")


def _edit_sheet(source: Path, target: Path, edit, sheet: str = "xl/worksheets/sheet1.xml") -> Path:
    """``source`` with its sheet's XML changed by ``edit`` (bytes -> bytes), every other part as it is."""
    with zipfile.ZipFile(source) as package:
        parts = {name: package.read(name) for name in package.namelist()}
    parts[sheet] = edit(parts[sheet])
    with zipfile.ZipFile(target, "w") as package:
        for name, data in parts.items():
            package.writestr(name, data)
    return target


def _saved(cells: dict[str, str]):
    """An edit giving formula cells a saved value as Excel writes it: {"B3": '<v>6</v>'} or {"B3": 't="str"|<v>x</v>'}."""
    def edit(xml: bytes) -> bytes:
        for ref, saved in cells.items():
            attributes, _bar, value = saved.rpartition("|")
            pattern = rb'<c r="' + ref.encode() + rb'"([^>]*)>(<f[^>]*?(?:/>|>[^<]*</f>))<v ?/>'
            extra = b" " + attributes.encode() if attributes else b""
            xml, count = re.subn(pattern, lambda m, ref=ref, extra=extra, value=value: b'<c r="' + ref.encode() + b'"' + m[1]
                                 + extra + b">" + m[2] + value.encode(), xml)
            assert count == 1, (ref, xml)
        return xml
    return edit


def _plain_and_prefixed(tmp_path: Path, saved: dict[str, str]) -> tuple[Path, Path]:
    """tmp_path/book.xlsx with its formulas' values saved as :func:`_saved` gives them, as Excel writes it; and the
    same with every element of the sheet behind a namespace prefix (``<x:c>``), as other tools write it."""
    plain = _edit_sheet(tmp_path / "book.xlsx", tmp_path / "plain.xlsx", _saved(saved))
    prefixed = _edit_sheet(plain, tmp_path / "prefixed.xlsx", lambda xml: re.sub(
        rb"<(/?)(?!\?)([A-Za-z])", rb"<\1x:\2", xml).replace(b"<x:worksheet xmlns=", b"<x:worksheet xmlns:x="))
    return plain, prefixed


def _refused_at_every_scan_block(monkeypatch, paths: tuple[Path, ...], problem: str) -> None:
    """Each file refused, naming its sheet Sheet and then ``problem``, however few bytes the sheet is scanned in."""
    for block in (1, 3, 7, 64, 4096):
        monkeypatch.setattr(readers, "_SCAN_BYTES", block)
        for path in paths:
            data_error(rf"{path.stem}\.xlsx, sheet Sheet, {problem}", path)


def test_xlsx_value_far_out_is_refused_before_calamine_reads_the_sheet_at_every_scan_block(tmp_path, monkeypatch):
    """A value in XFD1048576 (or past Excel's last row) would have calamine allocate its whole rectangle and the
    process abort; the sheet's XML is searched for such cells first. An empty cell there (a format only) is not
    a value and is let through; so is the same value with a namespace prefix found, at every block size."""
    from openpyxl.styles import Font

    workbook = openpyxl.Workbook()
    workbook.active.append(["名称", "金额"])
    workbook.active.append(["甲", 1])
    workbook.active["XFD1048576"].font = Font(bold=True)
    workbook.save(tmp_path / "book.xlsx")
    formatted = tmp_path / "book.xlsx"
    far = _edit_sheet(formatted, tmp_path / "far.xlsx", lambda xml: re.sub(
        rb'<c r="XFD1048576"([^>]*)/>', rb'<c r="XFD1048576"\1><v>7</v></c>', xml))
    low = _edit_sheet(far, tmp_path / "low.xlsx", lambda xml: xml.replace(b'r="XFD1048576"', b'r="B99999999"')
                      .replace(b'r="1048576"', b'r="99999999"'))
    endless = _edit_sheet(far, tmp_path / "endless.xlsx", lambda xml: xml.replace(
        b'r="XFD1048576"', b'r="B' + b"9" * 5000 + b'"').replace(b'r="1048576"', b'r="' + b"9" * 5000 + b'"'))
    prefixed = _edit_sheet(far, tmp_path / "prefixed.xlsx", lambda xml: re.sub(
        rb"<(/?)(?!\?)([A-Za-z])", rb"<\1x:\2", xml).replace(b"<x:worksheet xmlns=", b"<x:worksheet xmlns:x="))
    for block in (1, 7, 64, 4096, 1 << 20):
        monkeypatch.setattr(readers, "_SCAN_BYTES", block)
        for path in (far, prefixed):
            data_error(rf"{path.stem}\.xlsx, sheet Sheet, cell XFD1048576: with a value this far out the sheet "
                       r"spans 1,048,576 rows by 16,384 columns", path)
        data_error(r"low\.xlsx, sheet Sheet, cell B99999999: the cell holds a value beyond row 1,048,576", low)
        data_error(r"endless\.xlsx, sheet Sheet, cell B999999999999\.\.\.: the cell holds a value beyond row", endless)
        assert [row.values for row in open_and_read(formatted)] == [{"名称": "甲", "金额": "1"}]


def test_xlsx_value_far_out_is_refused_before_a_bad_cell_whichever_comes_first_at_every_scan_block(
        tmp_path, monkeypatch):
    """One pass over the sheet's XML looks for both; the far cell is named even when the search for bad cells stops
    at one long before it (the rest is read for far cells alone), or when sizing the sheet needs its last row (an
    empty cell in row 5,000); a far cell with a format only is not a value, and the bad cell is named."""
    from openpyxl.styles import Font

    def book(name: str, cells: dict[str, object]) -> Path:
        workbook = openpyxl.Workbook()
        workbook.active.append(["名称", "金额"])
        workbook.active.append(["甲", 1])
        workbook.active["B3"].value, workbook.active["B3"].data_type = "#N/A", "e"  # an error value
        for number in range(4, 200):  # the search for bad cells stops at B3, long before the sheet's end
            workbook.active.append([f"乙{number}", number])
        for ref, value in cells.items():
            if value is None:
                workbook.active[ref].font = Font(bold=True)  # a format, no value
            else:
                workbook.active[ref] = value
        workbook.save(tmp_path / name)
        return tmp_path / name

    after = book("after.xlsx", {"XFD1048576": 7})
    before = book("before.xlsx", {"XFD1": 7, "A5000": None})
    formatted = book("formatted.xlsx", {"XFD1048576": None})
    for block in (1, 7, 64, 4096, 1 << 20):
        monkeypatch.setattr(readers, "_SCAN_BYTES", block)
        data_error(r"after\.xlsx, sheet Sheet, cell XFD1048576: with a value this far out the sheet spans "
                   r"1,048,576 rows by 16,384 columns", after)
        data_error(r"before\.xlsx, sheet Sheet, cell XFD1: with a value this far out the sheet spans 5,000 rows by "
                   r"16,384 columns", before)
        data_error(rf"formatted\.xlsx, sheet Sheet, cell B3, column 金额: {ERROR_VALUE.format(error='#N/A')}",
                   formatted)


def _formula_book(path: Path, rows: list[list], *, origin: str = "A1", title: str = "处罚") -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = title
    first_row, first_column = openpyxl.utils.cell.coordinate_to_tuple(origin)
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is not None:
                sheet.cell(first_row + r, first_column + c, value)
    workbook.save(path)
    return path


UNSAVED = "the cell holds a formula with no saved value .*open the file in Excel and save it, or type the value"


def test_xlsx_formula_without_a_saved_value_refuses_the_file_naming_sheet_cell_and_column(tmp_path):
    rows = [["名称", "罚款金额（万元）", "处罚决定日期"], ["甲", 3, "2026-03-01"], ["乙", "=C3*2", "2026-03-02"]]
    path = _formula_book(tmp_path / "p.xlsx", rows, origin="B2")  # openpyxl saves no value for a formula
    data_error(rf"p\.xlsx, sheet 处罚, cell C4, column 罚款金额（万元）: {UNSAVED}", path)
    rows[0][2] = "=B1"
    data_error(rf"h\.xlsx, sheet 处罚, cell D2: {UNSAVED}", _formula_book(tmp_path / "h.xlsx", rows, origin="B2"))
    wide = [["名称", "罚款金额（万元）"], ["甲", 3, "=1+1"]]
    data_error(rf"w\.xlsx, sheet 处罚, cell C2: {UNSAVED}", _formula_book(tmp_path / "w.xlsx", wide))


def test_xlsx_formula_with_a_saved_value_reads_as_that_value(tmp_path):
    rows = [["金额", "名称", "是否", "备注", "共享"], ["=1+2", '=CONCAT("凌","源")', "=1=1", '=IF(1,"","x")', "=A2*2"],
            [4, None, None, None, 8]]
    book = _formula_book(tmp_path / "f.xlsx", rows)
    saved = _edit_sheet(book, tmp_path / "saved.xlsx", _saved(
        {"A2": "<v>3</v>", "B2": 't="str"|<v>凌源</v>', "C2": 't="b"|<v>1</v>', "D2": 't="str"|<v></v>',
         "E2": "<v>6</v>"}))
    assert values(open_table(saved)) == [{"金额": "3", "名称": "凌源", "是否": "true", "备注": None, "共享": "6"},
                                         {"金额": "4", "名称": None, "是否": None, "备注": None, "共享": "8"}]
    # as Excel writes a formula filled down: the cells after the first share it (<f t="shared" si="0"/>)
    shared = _edit_sheet(saved, tmp_path / "shared.xlsx", lambda xml: xml.replace(
        b'<c r="E3" t="n"><v>8</v>', b'<c r="E3"><f t="shared" si="0"/><v>8</v>').replace(
        b'<f>A2*2</f>', b'<f t="shared" ref="E2:E3" si="0">A2*2</f>'))
    assert [row["共享"] for row in values(open_table(shared))] == ["6", "8"]
    unsaved = _edit_sheet(shared, tmp_path / "unsaved.xlsx", lambda xml: xml.replace(b'si="0"/><v>8</v>', b'si="0"/>'))
    data_error(rf"unsaved\.xlsx, sheet 处罚, cell E3, column 共享: {UNSAVED}", unsaved)


def test_xlsx_unsaved_formula_found_whatever_the_namespace_prefix_and_the_blocks_read(tmp_path, monkeypatch):
    from openpyxl.worksheet.datavalidation import DataValidation

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["序号", "金额", "名称"])
    for row in range(2, 40):
        sheet.append([row, f"=A{row}*2", f"name {row}"])
    rule = DataValidation(type="list", formula1='"甲,乙"')  # <formula1> after the cells: not a formula cell
    sheet.add_data_validation(rule)
    rule.add("C2:C40")
    workbook.save(tmp_path / "book.xlsx")
    saved = {f"B{row}": f"<v>{row * 2}</v>" for row in range(2, 40) if row != 31}
    _refused_at_every_scan_block(monkeypatch, _plain_and_prefixed(tmp_path, saved),
                                 f"cell B31, column 金额: {UNSAVED}")
    whole = _edit_sheet(tmp_path / "book.xlsx", tmp_path / "whole.xlsx", _saved({**saved, "B31": "<v>62</v>"}))
    for block in (1, 5, 4096):
        monkeypatch.setattr(readers, "_SCAN_BYTES", block)
        assert [row["金额"] for row in values(open_table(whole))] == [str(row * 2) for row in range(2, 40)]


def test_xlsx_unsaved_formula_in_another_sheet_does_not_matter(tmp_path):
    book = _formula_book(tmp_path / "two.xlsx", [["名称"], ["甲"]])
    workbook = openpyxl.load_workbook(book)
    workbook.create_sheet("计算").append(["=1+1"])
    workbook.save(book)
    assert values(open_table(book)) == [{"名称": "甲"}]
    data_error(rf"two\.xlsx, sheet 计算, cell A1: {UNSAVED}", book, sheet="计算")


# --- error values (#DIV/0!, #N/A...) refuse the file -----------------------------------------------------------

ERROR_VALUE = ("the cell holds the error value {error} .*not a value that can be imported; correct the cell, or the "
               "formula or the data it uses, in the file and import it again")
EXCEL_ERRORS = ["#DIV/0!", "#N/A", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#NULL!"]


def _error_book(path: Path, rows: list[list], errors: dict[str, str], *, title: str = "处罚") -> Path:
    """A workbook of ``rows`` whose cells ``errors`` ({"B3": "#N/A"}) hold error values, as openpyxl writes them."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    for ref, error in errors.items():
        sheet[ref].value = error
        sheet[ref].data_type = "e"
    workbook.save(path)
    return path


@pytest.mark.parametrize("error", EXCEL_ERRORS)
def test_xlsx_error_value_refuses_the_file_naming_sheet_cell_column_and_value(tmp_path, error):
    rows = [["名称", "罚款金额（万元）", "处罚决定日期"], ["甲", 3, "2026-03-01"], ["乙", 4, "2026-03-02"]]
    path = _error_book(tmp_path / "p.xlsx", rows, {"B3": error})
    assert b'<c r="B3" t="e"><v>' + error.encode() + b"</v></c>" in zipfile.ZipFile(path).read(
        "xl/worksheets/sheet1.xml")
    data_error(rf"p\.xlsx, sheet 处罚, cell B3, column 罚款金额（万元）: {ERROR_VALUE.format(error=re.escape(error))}", path)


def test_xlsx_error_value_found_in_any_cell_of_the_sheet(tmp_path):
    rows = [["名称", "罚款金额（万元）"], ["甲", 3], [None, None], ["乙", 4]]
    # in the header, in a row with nothing else, beyond the header's columns: calamine would read each as empty
    for ref, named in (("B1", r"cell B1"), ("B3", r"cell B3, column 罚款金额（万元）"), ("D4", "cell D4")):
        path = _error_book(tmp_path / f"{ref}.xlsx", rows, {ref: "#N/A"})
        data_error(rf"{ref}\.xlsx, sheet 处罚, {named}: {ERROR_VALUE.format(error='#N/A')}", path)


def test_xlsx_formula_whose_saved_value_is_an_error_refuses_the_file(tmp_path):
    rows = [["名称", "罚款金额（万元）", "数量"], ["甲", "=C2/0", 3], ["乙", "=VLOOKUP(A3,E:F,2,0)", 4]]
    book = _formula_book(tmp_path / "f.xlsx", rows)
    # as Excel saves a formula that failed: the error beside the formula
    saved = _edit_sheet(book, tmp_path / "saved.xlsx", _saved({"B2": 't="e"|<v>#DIV/0!</v>', "B3": 't="e"|<v>#N/A</v>'}))
    data_error(rf"saved\.xlsx, sheet 处罚, cell B2, column 罚款金额（万元）: {ERROR_VALUE.format(error='#DIV/0!')}", saved)
    # an error value calamine does not know makes it refuse the whole sheet: the cell is named all the same
    spill = _edit_sheet(saved, tmp_path / "spill.xlsx", lambda xml: xml.replace(b"#DIV/0!", b"#SPILL!"))
    data_error(rf"spill\.xlsx, sheet 处罚, cell B2: {ERROR_VALUE.format(error='#SPILL!')}", spill)


def test_xlsx_text_starting_with_a_hash_is_not_an_error_value(tmp_path):
    rows = [["名称", "备注", "计算"], ["#1号楼", "#N/A", '="#"&A2']]
    book = _formula_book(tmp_path / "t.xlsx", rows)
    workbook = openpyxl.load_workbook(book)
    workbook.active["B2"].data_type = "s"  # openpyxl takes the text "#N/A" for an error value; keep it text
    workbook.save(book)
    saved = _edit_sheet(book, tmp_path / "saved.xlsx", _saved({"C2": 't="str"|<v>##1号楼</v>'}))
    assert values(open_table(saved)) == [{"名称": "#1号楼", "备注": "#N/A", "计算": "##1号楼"}]


def test_xlsx_error_value_found_whatever_the_namespace_prefix_and_the_blocks_read(tmp_path, monkeypatch):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["序号", "金额", "名称"])
    for row in range(2, 40):
        sheet.append([row, f"=A{row}*2", f"#{row}"])
    sheet["C31"].value, sheet["C31"].data_type = "#REF!", "e"
    workbook.save(tmp_path / "book.xlsx")
    _refused_at_every_scan_block(
        monkeypatch, _plain_and_prefixed(tmp_path, {f"B{row}": f"<v>{row * 2}</v>" for row in range(2, 40)}),
        f"cell C31, column 名称: {ERROR_VALUE.format(error='#REF!')}")


def test_xlsx_error_value_in_another_sheet_does_not_matter(tmp_path):
    book = _formula_book(tmp_path / "two.xlsx", [["名称"], ["甲"]])
    workbook = openpyxl.load_workbook(book)
    workbook.create_sheet("计算").append(["#DIV/0!"])  # openpyxl writes this text as an error value
    workbook.save(book)
    assert values(open_table(book)) == [{"名称": "甲"}]
    data_error(rf"two\.xlsx, sheet 计算, cell A1: {ERROR_VALUE.format(error='#DIV/0!')}", book, sheet="计算")


# --- JSON and NDJSON -----------------------------------------------------------------------


def test_json_array_numbers_are_canonical_decimals_and_columns_the_union_of_keys(tmp_path):
    text = (
        '[\n  {"名称": " 甲 ", "金额": 1.50, "次数": 3},\n'
        '  {"名称": "乙", "金额": 1e5, "公开": true, "备注": null},\n'
        '  {"金额": 0.1, "公开": false, "追加": "仅此行有"}\n]\n'
    )
    table = open_table(write(tmp_path / "r.json", text))
    assert table.columns == ["名称", "金额", "次数", "公开", "备注", "追加"]
    rows = all_rows(table)
    assert [row.row_number for row in rows] == [1, 2, 3]
    assert [row.values["金额"] for row in rows] == ["1.5", "100000", "0.1"]
    assert rows[0].values["名称"] == "甲"
    assert rows[1].values == {
        "名称": "乙",
        "金额": "100000",
        "次数": None,
        "公开": "true",
        "备注": None,
        "追加": None,
    }
    assert rows[2].values["追加"] == "仅此行有"
    assert rows[0].raw == '{"名称": " 甲 ", "金额": 1.50, "次数": 3}'


def test_json_array_is_streamed_across_read_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "_JSON_CHUNK_BYTES", 7)
    records = [{"名称": f"公司{i}", "金额": Decimal(i) / 4, "备注": "x" * (i % 13)} for i in range(40)]
    path = write(tmp_path / "chunks.json", json.dumps(records, ensure_ascii=False, indent=1, default=float))
    rows = open_and_read(path, batch_size=6)
    assert [row.values["名称"] for row in rows] == [f"公司{i}" for i in range(40)]
    assert [row.values["金额"] for row in rows][:6] == ["0", "0.25", "0.5", "0.75", "1", "1.25"]
    assert rows[5].raw == '{"名称": "公司5","金额": 1.25,"备注": "xxxxx"}'


def test_empty_json_array_has_no_rows(tmp_path):
    table = open_table(write(tmp_path / "none.json", " [ ] \n"))
    assert (table.columns, values(table)) == ([], [])


def test_json_top_level_object_is_refused_with_advice(tmp_path):
    data_error(
        r"obj\.json, line 1: the top level must be an array of objects .* use NDJSON",
        write(tmp_path / "obj.json", '{"a": 1}'),
    )


def test_json_element_that_is_not_an_object_names_the_row(tmp_path):
    data_error(
        r"mixed\.json, row 2: the element is not an object", write(tmp_path / "mixed.json", '[{"a": 1}, [1]]')
    )


def test_json_nested_value_names_row_and_field(tmp_path):
    path = write(tmp_path / "nested.json", '[{"a": 1}, {"a": {"b": 2}}]')
    data_error(r"nested\.json, row 2, column a: the value is a nested object", path)
    path = write(tmp_path / "list.json", '[{"a": [1, 2]}]')
    data_error(r"list\.json, row 1, column a: the value is a nested array", path)


@pytest.mark.parametrize("chunk_bytes", [readers._JSON_CHUNK_BYTES, 5])
def test_malformed_json_names_line_and_row(tmp_path, monkeypatch, chunk_bytes):
    monkeypatch.setattr(readers, "_JSON_CHUNK_BYTES", chunk_bytes)
    path = write(tmp_path / "bad.json", '[\n {"a": 1},\n {"a": 2\n  "b": 3},\n {"a": 4}\n]')
    data_error(r"bad\.json, line 4, row 2: malformed JSON \(Expecting ',' delimiter\)", path)


def test_hostile_json_element_longer_than_the_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "_JSON_CHUNK_BYTES", 64)
    monkeypatch.setattr(readers, "_MAX_JSON_ELEMENT_CHARS", 1_000)
    path = write(tmp_path / "huge.json", '[{"a": 1}, {"a": "' + "x" * 5_000 + '"}]')
    data_error(r"huge\.json, row 2: the element is longer than 1000 characters", path)


def test_undecodable_json_after_the_sample_names_line_and_encoding(tmp_path):
    ascii_part = "[\n" + "".join(f'{{"code": {i}}},\n' for i in range(7_000))
    path = tmp_path / "late.json"
    path.write_bytes(ascii_part.encode() + '{"name": "中文"}]\n'.encode("gbk"))
    data_error(r"late\.json, line 7002: the text is not valid utf-8", path)


def test_missing_separator_between_elements_is_malformed(tmp_path):
    data_error(
        r"sep\.json, line 2: malformed JSON \(expected ',' or '\]' after row 1\)",
        write(tmp_path / "sep.json", '[{"a": 1}\n{"a": 2}]'),
    )


def test_data_after_the_json_array_is_malformed(tmp_path):
    data_error(
        r"tail\.json, line 2: malformed JSON \(extra data after the array\)",
        write(tmp_path / "tail.json", '[{"a": 1}]\n{"a": 2}'),
    )


def test_truncated_json_array_is_malformed(tmp_path):
    data_error(
        r"cut\.json, line 1, row 2: malformed JSON", write(tmp_path / "cut.json", '[{"a": 1}, {"a": "x')
    )


def test_json_nan_and_duplicate_keys_are_malformed(tmp_path):
    data_error(
        r"nan\.json, row 1: malformed JSON \(NaN is not valid JSON\)",
        write(tmp_path / "nan.json", '[{"a": NaN}]'),
    )
    data_error(
        r"twice\.json, row 1: malformed JSON \(field a appears twice\)",
        write(tmp_path / "twice.json", '[{"a": 1, " a": 2}]'),
    )


def test_deeply_nested_json_is_refused_not_crashed(tmp_path):
    data_error(
        r"deep\.json, row 1: malformed JSON \(nested too deeply\)",
        write(tmp_path / "deep.json", "[" + "[" * 100_000 + "]" * 100_000 + "]"),
    )


def test_hostile_json_number_is_not_written_out(tmp_path):
    path = write(tmp_path / "big.json", '[{"a": 1, "b": 1e999999999}]')
    data_error(r"big\.json, row 1, column b: 1E\+999999999 has too many digits to write out in full", path)


def test_json_cell_longer_than_the_limit_is_refused(tmp_path):
    path = write(tmp_path / "long.json", json.dumps([{"备注": "长" * 10_001}]))
    data_error(r"long\.json, row 1: the value of column 备注 has 10001 characters", path)


def test_ndjson_row_numbers_are_line_numbers_and_raw_is_the_line(tmp_path):
    path = write(
        tmp_path / "r.ndjson",
        '{"名称": "甲", "金额": 2.50}\n\n{"名称": "乙", "编号": 12345678901234567890}\n',
    )
    rows = open_and_read(path)
    assert [(row.row_number, row.values) for row in rows] == [
        (1, {"名称": "甲", "金额": "2.5", "编号": None}),
        (3, {"名称": "乙", "金额": None, "编号": "12345678901234567890"}),
    ]
    assert rows[0].raw == '{"名称": "甲", "金额": 2.50}'


def test_ndjson_malformed_line_names_line_and_column(tmp_path):
    path = write(tmp_path / "bad.ndjson", '{"a": 1}\n{"a": 2,}\n')
    data_error(r"bad\.ndjson, line 2: malformed JSON \(Expecting property name .* at column 9\)", path)


def test_ndjson_line_with_two_values_or_a_non_object_is_refused(tmp_path):
    data_error(
        r"two\.ndjson, line 1: malformed JSON \(more than one value on the line, at column 10\)",
        write(tmp_path / "two.ndjson", '{"a": 1} {"a": 2}\n'),
    )
    data_error(
        r"scalar\.ndjson, line 2: the element is not an object",
        write(tmp_path / "scalar.ndjson", '{"a": 1}\n"text"\n'),
    )


def test_gb18030_ndjson_is_decoded(tmp_path):
    table = open_table(write(tmp_path / "gb.ndjson", '{"行政相对人名称": "某某公司"}\n', "gb18030"))
    assert (table.encoding, values(table)) == ("gb18030", [{"行政相对人名称": "某某公司"}])


# --- Parquet -------------------------------------------------------------------------------


def test_parquet_values_become_canonical_text(tmp_path):
    table = pa.table(
        {
            "统一社会信用代码": [" 91350100M000100Y43 ", None, "x"],
            "罚款金额（万元）": pa.array([Decimal("1.50"), Decimal("100"), None], pa.decimal128(10, 2)),
            "比例": [0.1, float("nan"), 1e-7],
            "比例32": pa.array([0.1, 2.5, None], pa.float32()),
            "次数": pa.array([100, None, -3], pa.int64()),
            "处罚决定日期": [dt.date(2024, 3, 1), None, dt.date(2020, 2, 29)],
            "登记时间": [dt.datetime(2024, 3, 1), dt.datetime(2024, 3, 1, 8, 5), None],
            "公开": [True, False, None],
        }
    )
    pq.write_table(table, tmp_path / "p.parquet")
    reader = open_table(tmp_path / "p.parquet", batch_size=2)
    assert reader.columns == table.column_names
    rows = all_rows(reader)
    assert [row.row_number for row in rows] == [1, 2, 3]
    assert rows[0].values == {
        "统一社会信用代码": "91350100M000100Y43",
        "罚款金额（万元）": "1.5",
        "比例": "0.1",
        "比例32": "0.1",
        "次数": "100",
        "处罚决定日期": "2024-03-01",
        "登记时间": "2024-03-01",
        "公开": "true",
    }
    assert rows[1].values == {
        "统一社会信用代码": None,
        "罚款金额（万元）": "100",
        "比例": None,
        "比例32": "2.5",
        "次数": None,
        "处罚决定日期": None,
        "登记时间": "2024-03-01T08:05:00",
        "公开": "false",
    }
    assert rows[2].values["比例"] == "0.0000001"
    assert json.loads(rows[0].raw) == rows[0].values


def test_a_parquet_timestamp_with_a_time_zone_is_written_in_shanghai_time_with_its_offset(tmp_path):
    instants = [dt.datetime(2026, 2, 28, 20, 0), dt.datetime(2026, 3, 1, 2, 0, 0, 500), None]
    table = pa.table({
        "utc": pa.array(instants, pa.timestamp("ms", tz="UTC")),
        "new_york": pa.array(instants[:1] * 3, pa.timestamp("s", tz="America/New_York")),
        "naive": pa.array(instants, pa.timestamp("us")),
    })
    pq.write_table(table, tmp_path / "tz.parquet")
    assert values(open_table(tmp_path / "tz.parquet")) == [
        {"utc": "2026-03-01T04:00:00+08:00", "new_york": "2026-03-01T04:00:00+08:00", "naive": "2026-02-28T20:00:00"},
        {"utc": "2026-03-01T10:00:00+08:00", "new_york": "2026-03-01T04:00:00+08:00",
         "naive": "2026-03-01T02:00:00.000500"},
        {"utc": None, "new_york": "2026-03-01T04:00:00+08:00", "naive": None},
    ]


def test_parquet_nested_column_is_refused_naming_it(tmp_path):
    pq.write_table(pa.table({"a": [1], "tags": [["x", "y"]]}), tmp_path / "nested.parquet")
    data_error(
        r"nested\.parquet: column tags has type list<.*>, which cannot be imported",
        tmp_path / "nested.parquet",
    )


def test_parquet_infinity_names_row_and_column(tmp_path):
    pq.write_table(pa.table({"比例": [1.0, float("inf")]}), tmp_path / "inf.parquet")
    data_error(r"inf\.parquet, row 2, column 比例: inf is not a finite number", tmp_path / "inf.parquet")


def test_text_named_parquet_is_refused(tmp_path):
    data_error(
        r"fake\.parquet cannot be read as a Parquet file", write(tmp_path / "fake.parquet", "a,b\n1,2\n")
    )


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_float_text_is_plain_decimal_that_reads_back_exactly(value):
    text = readers._float_text(value)
    assert float(text) == value and "e" not in text.lower()


@given(st.floats(width=32, allow_nan=False, allow_infinity=False))
def test_float32_text_is_the_shortest_plain_decimal_that_reads_back(value):
    text = readers._float32_text(value)
    assert struct.unpack("f", struct.pack("f", float(text)))[0] == value and "e" not in text.lower()
    assert len(text.lstrip("-").replace(".", "").strip("0")) <= 9


# --- header helpers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant", ["罚款金额（万元）", "罚款金额(万元)", " 罚款金额 (万元) ", "\ufeff罚款金额（ 万元 ）"]
)
def test_full_and_half_width_header_variants_share_one_key(variant):
    assert normalize_header(variant) == normalize_header("罚款金额(万元)") == "罚款金额(万元)"


def test_english_headers_are_casefolded_and_spaces_collapsed():
    assert (
        normalize_header("  Decision   Date ") == normalize_header("ＤＥＣＩＳＩＯＮ DATE") == "decision date"
    )


@given(st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E)))
def test_full_width_ascii_normalizes_like_ascii(text):
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in text)
    assert normalize_header(full_width) == normalize_header(text)


@given(st.text())
def test_normalize_header_is_idempotent(text):
    assert normalize_header(normalize_header(text)) == normalize_header(text)


PENALTY_ALIASES = {
    "subject_name": ["行政相对人名称", "Subject Name"],
    "credit_code": ["统一社会信用代码", "USCC"],
    "fine_amount": ["罚款金额（万元）", "Fine amount (10k yuan)"],
    "decision_date": ["处罚决定日期"],
}


def test_map_headers_finds_chinese_and_english_aliases_and_reports_the_rest():
    mapped = map_headers(["行政相对人名称", "uscc", "罚款金额(万元)", "备注"], PENALTY_ALIASES)
    assert mapped == {
        "subject_name": "行政相对人名称",
        "credit_code": "uscc",
        "fine_amount": "罚款金额(万元)",
    }
    assert mapped.unknown == ["备注"]
    assert mapped.missing == ["decision_date"]


def test_map_headers_accepts_the_canonical_name_itself():
    assert map_headers(["decision_date"], PENALTY_ALIASES)["decision_date"] == "decision_date"


def test_two_columns_for_one_field_are_refused_naming_the_file():
    with pytest.raises(
        DataError, match=r"p\.csv: columns 罚款金额（万元） and 罚款金额\(万元\) both name field fine_amount"
    ):
        map_headers(["罚款金额（万元）", "罚款金额(万元)"], PENALTY_ALIASES, source="p.csv")


def test_an_alias_shared_by_two_fields_is_refused():
    with pytest.raises(DataError, match="column alias 名称 names both field a and field b"):
        map_headers(["名称"], {"a": ["名称"], "b": ["名称"]})


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
def test_json_integer_with_more_digits_than_python_converts_is_malformed_not_crashed(tmp_path, fmt):
    obj = '{"a": 1, "b": ' + "1" * 5_000 + "}"
    path = write(tmp_path / f"huge.{fmt}", f"[{obj}]" if fmt == "json" else obj + "\n")
    where = "row 1" if fmt == "json" else "line 1"
    data_error(rf"huge\.{fmt}, {where}: malformed JSON \(a number has more than \d+ digits\)", path)


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
def test_a_lone_surrogate_escape_in_json_is_refused_naming_row_and_field(tmp_path, fmt):
    objects = ['{"a": "ok \\ud83d\\ude00", "b": "x"}', '{"a": "y", "b": "bad \\uDC80 half"}']
    path = write(tmp_path / f"half.{fmt}", f"[{','.join(objects)}]" if fmt == "json" else "\n".join(objects))
    where = "row 2" if fmt == "json" else "line 2"
    data_error(rf"half\.{fmt}, {where}, column b: the value bad \\udc80 half holds half of a surrogate pair", path)
    named = write(tmp_path / f"key.{fmt}", '[{"a\\ud800": 1}]' if fmt == "json" else '{"a\\ud800": 1}')
    data_error(rf"key\.{fmt}: the field name a\\ud800 holds half of a surrogate pair", named)
    whole = write(tmp_path / f"pair.{fmt}", objects[0] if fmt == "ndjson" else f"[{objects[0]}]")
    assert values(open_table(whole)) == [{"a": "ok \U0001f600", "b": "x"}]


def test_parquet_time_python_cannot_hold_names_row_and_column(tmp_path):
    ns = pa.array([0, 10**12 + 1], pa.int64()).cast(pa.timestamp("ns"))
    pq.write_table(pa.table({"a": ["x", "y"], "t": ns}), tmp_path / "ns.parquet")
    data_error(r"ns\.parquet, row 2, column t: the timestamp\[ns\] value has nanoseconds", tmp_path / "ns.parquet")
    far = pa.array([0, 2_000_000_000], pa.int32()).cast(pa.date32())
    pq.write_table(pa.table({"a": ["x", "y"], "d": far}), tmp_path / "far.parquet")
    data_error(r"far\.parquet, row 2, column d: the date32\[day\] value cannot be read", tmp_path / "far.parquet")


def test_parquet_with_a_corrupt_data_page_is_refused_not_crashed(tmp_path):
    path = tmp_path / "corrupt.parquet"
    pq.write_table(pa.table({"a": [f"value {i * 7919 % 10007}" for i in range(2_000)]}), path,
                   compression="snappy", use_dictionary=False)
    chunk = pq.ParquetFile(path).metadata.row_group(0).column(0)
    middle = chunk.data_page_offset + chunk.total_compressed_size // 2
    data = bytearray(path.read_bytes())
    data[middle:middle + 16] = b"\xff" * 16
    path.write_bytes(bytes(data))
    data_error(r"corrupt\.parquet cannot be read as a Parquet file after row 0", path)


def test_a_bad_byte_in_utf8_text_within_the_sample_names_its_own_line(tmp_path):
    path = write(tmp_path / "bad.csv", "名称,代码\n凌源市宏达建材有限责任公司,1\n")
    path.write_bytes(path.read_bytes() + b"\xff\xfe,2\n")
    data_error(r"bad\.csv, line 3: the text is not valid utf-8 \(byte 0xFF at position 1\)", path)
    assert detect_encoding("名称".encode("gb18030") + b"\xff") == "gb18030"
