"""The subject's own credit report (信用报告): records, sources, changes and who looked (Art. 14, 30).

Art. 14 para. 1 gives a subject the right to query its own credit information, and
Art. 30 the right to know how it was collected, disclosed and managed, where each
item came from and why it changed. :func:`report` gathers, for one subject:

* every record about it, whatever its status: the providing unit (信息提供单位), the
  catalog item, its disclosure method (披露方式) and disclosure end (Art. 15), and its
  state: ``disclosed``; ``expired`` (period over, not yet archived by the sweep);
  ``archived`` (转档保存, Art. 15); ``repaired`` (no longer provided for query,
  Art. 33); ``withdrawn``. The subject sees its archive: nothing is hidden from it;
* each record's objection mark (``objection``, Art. 32). Objections are not recorded
  by lycredit yet, so the mark is always empty; the field is there so that the
  report's shape does not change when they are;
* the history of each record (``record_history``): every change (submission,
  correction, withdrawal, archive, repair) with its reason, when and by whom, which
  fields or dates it changed, and the content before it;
* who queried its non-public information, when and why: the ``query`` and
  ``query.gov_share`` operations of the signed log whose subject is this subject,
  with the querier's unit, the purpose, the mode, the authorisation and the outcome
  (refused attempts included). Public queries need no operator and are not logged.

The report is for the subject: a person's name is shown in clear, the resident ID
number masked (the subject knows it; the printed copy need not carry it). It renders
as a table, as JSON, or as a self-contained printable HTML page (:func:`render_html`)
with Chinese labels and print CSS; print it to PDF from any browser. Running a report
is itself logged (:func:`record_report`, action ``report``).
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from lycredit.disclosure import (
    DISCLOSURE_LABELS_ZH,
    MODE_LABELS_ZH,
    QUERY_ACTIONS,
    STATE_LABELS_ZH,
    lookup_subject,
    mask_fields,
    mask_text,
    record_state,
    ric_fields,
    show_subject,
    subject_records,
)

if TYPE_CHECKING:
    from lycredit.identity import PiiProtector
    from lycredit.oplog.log import UnitOfWork

_SHANGHAI = ZoneInfo("Asia/Shanghai")
CHANGE_LABELS_ZH = {
    "submit": "报送",
    "correct": "更正",
    "withdraw": "撤回",
    "archive": "期满转档",
    "repair": "信用修复",
    "revoke_repair": "撤销信用修复",
}
OUTCOME_LABELS_ZH = {"disclosed": "已提供", "refused": "已拒绝"}

def _tables() -> tuple[sa.Table, sa.Table]:
    """``record_history`` and ``oplog_operation`` as the models declare them."""
    from lycredit.models.oplog import LogOperation
    from lycredit.records import T_HISTORY

    return T_HISTORY, LogOperation.__table__


@dataclass(frozen=True)
class SubjectReport:
    """A subject's report as of a day: the subject, its records with their histories, the queries of it."""

    subject: dict[str, Any]
    as_of: dt.date
    records: list[dict[str, Any]]
    queries: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "as_of": self.as_of,
            "records": self.records,
            "queries": self.queries,
        }


def _shanghai(value: dt.datetime) -> dt.datetime:
    """A stored UTC timestamp (naive on SQLite) in Asia/Shanghai time."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(_SHANGHAI)


def _flat(state: Any) -> dict[str, Any]:
    """A state as one level of names: the dates and subject of ``lycredit.records.snapshot`` and the fields.

    The revision number itself is not a change.
    """
    if not isinstance(state, dict):
        return {"": state}
    outer = {k: v for k, v in state.items() if k not in ("revision", "fields")}
    inner = state.get("fields")
    return {**outer, **inner} if isinstance(inner, dict) else {**outer, "fields": inner}


def _changed_fields(before: Any, after: Any) -> list[str]:
    """The names whose values differ between two states (a date, the subject or a field of the record)."""
    old, new = _flat(before), _flat(after)
    return sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _current_state(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record as it is now, in the shape of a ``record_history`` state."""

    def day(value: dt.date | None) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "act_ended_on": day(record["act_ended_on"]),
        "concluded_on": day(record["concluded_on"]),
        "decision_date": day(record["decision_date"]),
        "fields": _loads(record["fields"]),
        "publicity_until": day(record["publicity_until"]),
        "subject_id": record["subject_id"],
    }


def _masked_state(state: Any, ric_names: frozenset[str]) -> Any:
    """A state with its fields masked as a query masks them; None for "nothing before" (a submission)."""
    if state == {}:
        return None
    if isinstance(state, dict) and isinstance(state.get("fields"), dict):
        fields = mask_fields(json.dumps(state["fields"], ensure_ascii=False), ric_names, {})
        return {**state, "fields": fields}
    return mask_fields(json.dumps(state, ensure_ascii=False), ric_names, {})


def _histories(conn: sa.Connection, records: Sequence[Mapping[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    """Each record's changes, oldest first: what changed, why, when and by whom (Art. 30).

    A ``record_history`` row keeps the state *before* its change; the state after it is the
    next row's, or the record as it is now. The submission leads, from the record's own
    ``submitted_at`` and ``submitted_by`` (:func:`lycredit.records.with_submission`).
    """
    by_record: dict[int, list[dict[str, Any]]] = {r["id"]: [] for r in records}
    if not by_record:
        return by_record
    rows: dict[int, list[Mapping[str, Any]]] = {record_id: [] for record_id in by_record}
    history = _tables()[0]
    from lycredit.records import T_RECORD

    # by the subject, not by a list of record ids: a subject may have more records than a statement
    # takes parameters (65,535 on PostgreSQL)
    subject_ids = {r["subject_id"] for r in records}
    for row in conn.execute(
        sa.select(history)
        .join(T_RECORD, T_RECORD.c.id == history.c.record_id)
        .where(T_RECORD.c.subject_id.in_(subject_ids))
        .order_by(history.c.record_id, history.c.revision)
    ).mappings():
        rows[row["record_id"]].append(row)
    from lycredit.records import with_submission

    for record in records:
        changes = with_submission(record, rows[record["id"]])
        states = [_loads(row["fields"]) for row in changes] + [_current_state(record)]
        ric_names = ric_fields(record["data_standard"])
        for n, row in enumerate(changes):
            before, after = states[n], states[n + 1]
            by_record[record["id"]].append(
                {
                    "revision": row["revision"],
                    "change": row["change"],
                    "change_zh": CHANGE_LABELS_ZH.get(row["change"], row["change"]),
                    "reason": row["reason"] or "",
                    "changed_at": _shanghai(row["changed_at"]),
                    "changed_by": row["changed_by"],
                    "changed_fields": [] if before == {} else _changed_fields(before, after),
                    "before": _masked_state(before, ric_names),
                }
            )
    return by_record


def who_queried(conn: sa.Connection, subject_id: int) -> list[dict[str, Any]]:
    """Art. 30: the logged queries of the subject's non-public information, oldest first."""
    operation = _tables()[1]
    rows = conn.execute(
        sa.select(operation)
        .where(operation.c.subject == str(subject_id), operation.c.action.in_(QUERY_ACTIONS))
        .order_by(operation.c.seq)
    ).mappings()
    queries = []
    for row in rows:
        summary = json.loads(row["summary"] or "{}")
        mode = summary.get("mode") or ""
        outcome = summary.get("outcome") or ""
        queries.append(
            {
                "seq": row["seq"],
                "at": _shanghai(row["at"]),
                "operator": row["operator"],
                "querier_unit": summary.get("querier_unit") or "",
                "querier_unit_name": summary.get("querier_unit_name") or "",
                "purpose": summary.get("purpose") or "",
                "mode": mode,
                "mode_zh": MODE_LABELS_ZH.get(mode, mode),
                "authorization_id": summary.get("authorization_id"),
                "outcome": outcome,
                "outcome_zh": OUTCOME_LABELS_ZH.get(outcome, outcome),
                "rule": summary.get("rule") or "",
            }
        )
    return queries


def report(
    conn: sa.Connection, subject_code: str, as_of: dt.date, *, pii: PiiProtector | None = None
) -> SubjectReport:
    """The subject's full report as of ``as_of`` (Art. 14, 30); NotFound or DataError for a bad code."""
    row = lookup_subject(conn, subject_code, pii=pii)
    subject = show_subject(conn, row, name_in_clear=True, pii=pii)
    rows = subject_records(conn, row["id"])
    histories = _histories(conn, rows)
    records = []
    for r in rows:
        state = record_state(r["status"], r["end"], as_of)
        records.append(
            {
                "record_id": r["id"],
                "item_code": r["item_code"],
                "item_name": r["item_name"],
                "provider_name": r["provider_name"],
                "provider_uscc": r["provider_uscc"],
                "disclosure": r["disclosure"],
                "disclosure_zh": DISCLOSURE_LABELS_ZH.get(r["disclosure"], ""),
                "document_no": mask_text(r["document_no"], {}),
                "decision_date": r["decision_date"],
                "disclosure_until": r["end"],
                "dishonesty": r["dishonesty"],
                "status": r["status"],
                "state": state,
                "state_zh": STATE_LABELS_ZH.get(state, state),
                "archived_on": r["archived_on"],
                "objection": "",
                "fields": mask_fields(r["fields"], ric_fields(r["data_standard"]), {}),
                "history": histories[r["id"]],
            }
        )
    return SubjectReport(subject.as_dict(), as_of, records, who_queried(conn, row["id"]))


def record_report(uow: UnitOfWork, rep: SubjectReport) -> None:
    """Log that the report was made (Art. 28): the subject's id and how many records it showed."""
    uow.subject = str(rep.subject["id"])
    uow.event("report", subject_id=rep.subject["id"], records=len(rep.records), as_of=rep.as_of.isoformat())
    uow.summary.update(records=len(rep.records), as_of=rep.as_of.isoformat())


# --- printable HTML -------------------------------------------------------------------------------

_CSS = """
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", sans-serif;
       font-size: 10.5pt; color: #111; margin: 2em; }
h1 { font-size: 18pt; text-align: center; margin-bottom: 0.2em; }
h2 { font-size: 13pt; border-bottom: 2px solid #333; margin-top: 1.6em; }
.meta { text-align: center; color: #444; }
table { border-collapse: collapse; width: 100%; margin: 0.6em 0; }
th, td { border: 1px solid #888; padding: 3px 6px; vertical-align: top; text-align: left; }
th { background: #eee; }
.nowrap { white-space: nowrap; }
dl.fields { margin: 0; } dl.fields dt { font-weight: bold; display: inline; } dl.fields dd { display: inline;
  margin: 0 0.8em 0 0.2em; }
.state-disclosed { } .state-expired, .state-archived, .state-repaired, .state-withdrawn { color: #555; }
.note { font-size: 9pt; color: #444; }
@page { size: A4; margin: 15mm; }
@media print {
  body { margin: 0; }
  h2 { break-after: avoid; }
  tr { break-inside: avoid; }
  thead { display: table-header-group; }
}
"""


def _e(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return html.escape(value.strftime("%Y-%m-%d %H:%M"))
    if isinstance(value, dt.date):
        return html.escape(value.isoformat())
    if isinstance(value, bool):
        return "是" if value else "否"
    return html.escape(str(value))


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], empty: str, wrap: frozenset[int]) -> str:
    """A table of escaped cells that wrap only in the columns ``wrap``: codes and dates stay whole."""
    if not rows:
        return f'<p class="note">{html.escape(empty)}</p>'
    cls = ["" if i in wrap else ' class="nowrap"' for i in range(len(headers))]
    head = "".join(f"<th{cls[i]}>{html.escape(h)}</th>" for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f"<td{cls[i]}>{cell}</td>" for i, cell in enumerate(row)) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _value(value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value


def _fields_html(fields: Any) -> str:
    if not isinstance(fields, dict):
        return _e(_value(fields))
    parts = "".join(f"<dt>{_e(k)}</dt><dd>{_e(_value(v))}</dd>" for k, v in fields.items())
    return f'<dl class="fields">{parts}</dl>'


def render_html(rep: SubjectReport, *, generated_at: dt.datetime | None = None) -> str:
    """The report as one self-contained HTML page (nothing external), with Chinese labels and print CSS."""
    generated = _shanghai(generated_at or dt.datetime.now(dt.UTC))
    s = rep.subject
    subject_rows = [
        ("信用主体名称", s["name"]),
        ("主体类型", s["kind_zh"]),
        ("统一社会信用代码" if s["kind"] != "natural_person" else "公民身份号码", s["code"]),
        ("报告日期", rep.as_of),
        ("生成时间", generated),
    ]
    subject_html = (
        "<table>"
        + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in subject_rows)
        + "</table>"
    )
    record_rows = [
        [
            _e(r["record_id"]),
            _e(r["item_name"]) + "<br>" + _e(r["item_code"]),
            _e(r["provider_name"]) + "<br>" + _e(r["provider_uscc"]),
            _e(r["disclosure_zh"]),
            _e(r["decision_date"]),
            _e(r["disclosure_until"] or "长期"),
            f'<span class="state-{_e(r["state"])}">{_e(r["state_zh"])}</span>',
            _e(r["objection"]),
            _fields_html(r["fields"]),
        ]
        for r in rep.records
    ]
    history_rows = [
        [
            _e(r["record_id"]),
            _e(h["revision"]),
            _e(h["change_zh"]),
            _e(h["reason"]),
            _e("、".join(h["changed_fields"])),
            _e(h["changed_at"]),
            _e(h["changed_by"]),
        ]
        for r in rep.records
        for h in r["history"]
    ]
    query_rows = [
        [
            _e(q["at"]),
            _e(q["querier_unit_name"]) + "<br>" + _e(q["querier_unit"]),
            _e(q["operator"]),
            _e(q["mode_zh"]),
            _e(q["authorization_id"]),
            _e(q["purpose"]),
            _e(q["outcome_zh"]),
        ]
        for q in rep.queries
    ]
    body = "\n".join(
        [
            "<h1>信用主体信用信息报告</h1>",
            '<p class="meta">依据《凌源市社会信用管理办法》第十四条、第三十条出具'
            f" · 截至 {_e(rep.as_of)}</p>",
            "<h2>一、信用主体</h2>",
            subject_html,
            "<h2>二、信用信息</h2>",
            _table(
                [
                    "记录编号",
                    "信息事项",
                    "信息提供单位",
                    "披露方式",
                    "决定日期",
                    "披露截止日期",
                    "状态",
                    "异议标注",
                    "内容",
                ],
                record_rows,
                "无信用信息记录。",
                frozenset({1, 2, 6, 8}),
            ),
            "<h2>三、信息变动记录</h2>",
            _table(
                ["记录编号", "版本", "变动", "理由", "变动字段", "变动时间", "操作人"],
                history_rows,
                "无变动记录。",
                frozenset({3, 4}),
            ),
            "<h2>四、非公开信息查询记录</h2>",
            _table(
                ["查询时间", "查询单位", "操作人", "查询方式", "授权编号", "查询目的", "结果"],
                query_rows,
                "无查询记录。",
                frozenset({1, 5}),
            ),
            '<p class="note">说明：已转档（期满）、已信用修复、已撤回的信息不再对外提供查询，'
            "仅在本报告中向信用主体本人展示。公民身份号码已作脱敏处理。"
            "社会公开查询无需登记，不在查询记录中列出。</p>",
        ]
    )
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        f"<title>信用信息报告 {_e(s['name'])} {_e(rep.as_of)}</title>\n<style>{_CSS}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )
