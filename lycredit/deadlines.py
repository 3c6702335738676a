"""Deadline checks: Art. 10 (records within 7 working days) and Art. 46 (providers that do not provide).

A small rule framework for ``lycredit deadline check``. A rule
(:class:`DeadlineRule`) has a name, the article(s) it enforces, the policy
keys it reads with their defaults, and ``findings(conn, as_of, policy,
since)``, which reads the database as of a day and returns one
:class:`Finding` per thing that is overdue. Rules are
registered in :data:`RULES` with :func:`register`; :func:`check` runs them
all, or the ones named. A further deadline (objections answered in time,
publicity periods ended, ratings expired) is one more rule class registered
the same way.

Two rules now:

- ``late_submissions`` (Art. 10, 46): records submitted after their Art. 10
  deadline, per provider, with the count and the total and largest number of
  working days late (``late_days``, counted at intake on the official
  working-day calendar). Every submission counts, including records later
  withdrawn: withdrawing a record does not undo its lateness. ``since``
  limits it to submissions on or after that day.
- ``silent_items`` (Art. 9, 10, 46): items of the catalog in force whose
  provider has submitted nothing in the last ``deadline.silent_item_days``
  days (policy, default 90), counting only items in force for that whole
  window, so that a new catalog item is not reported on its first day.

The policy (:class:`Policy`) is the ``[policy]`` table of the TOML config
file, read as dotted keys, so these are the same::

    [policy]
    "deadline.silent_item_days" = 60

    [policy.deadline]
    silent_item_days = 60

A ``deadline.*`` key that no rule reads is an error (a misspelt key would
otherwise be ignored without a word). Days are Asia/Shanghai days.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Protocol

import sqlalchemy as sa

from lycredit.config import Config
from lycredit.errors import ConfigError, UsageError
from lycredit.i18n import _
from lycredit.models import CatalogItem, CatalogVersion, Record

R = Record.__table__
C = CatalogItem.__table__
V = CatalogVersion.__table__

POLICY_PREFIX = "deadline."
MAX_WINDOW_DAYS = 3660
_CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")  # no daylight saving since 1991


def day_start(day: date) -> datetime:
    """The instant an Asia/Shanghai day begins (submission times are stored in UTC)."""
    return datetime.combine(day, time(0), tzinfo=_CHINA_STANDARD_TIME)


def submitted_from(day: date) -> sa.ColumnElement[bool]:
    """Submitted on or after the Asia/Shanghai ``day``; the calendar's first day begins before the year 1 in UTC,
    which no bound parameter holds, and bounds nothing."""
    return sa.true() if day == date.min else R.c.submitted_at >= day_start(day)


def submitted_through(day: date) -> sa.ColumnElement[bool]:
    """Submitted on or before the Asia/Shanghai ``day``; the calendar's last day has no next day and bounds nothing."""
    return sa.true() if day == date.max else R.c.submitted_at < day_start(day + timedelta(days=1))


@dataclass(frozen=True)
class Policy:
    """Policy values as dotted keys (``deadline.silent_item_days``), and where they came from."""

    values: Mapping[str, Any] = field(default_factory=dict)
    source: str = "defaults"

    @classmethod
    def from_config(cls, config: Config) -> Policy:
        """The ``[policy]`` table of the config file, nested tables flattened to dotted keys."""
        table = config.data.get("policy", {})
        if not isinstance(table, Mapping):
            raise ConfigError(_("{path}: [{section}] must be a table").format(path=config.path, section="policy"))
        return cls(dict(_flatten(table)), str(config.path) if config.path else "defaults")

    def days(self, key: str, default: int) -> int:
        """A number of days between 1 and :data:`MAX_WINDOW_DAYS`, or ``default`` when not set."""
        value = self.values.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_WINDOW_DAYS:
            raise ConfigError(
                _("{source}: policy {key} = {value!r} is not a number of days from 1 to {max}").format(
                    source=self.source, key=key, value=value, max=MAX_WINDOW_DAYS
                )
            )
        return value


def _flatten(table: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    for key, value in table.items():
        if isinstance(value, Mapping):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


@dataclass(frozen=True)
class Finding:
    """One overdue thing: which rule, which article, which provider (and item), in words and in figures."""

    rule: str
    article: str
    provider_uscc: str
    provider_name: str
    item_code: str | None
    summary: str
    data: Mapping[str, Any]

    def as_row(self) -> dict[str, Any]:
        return {"rule": self.rule, "article": self.article, "provider_uscc": self.provider_uscc,
                "provider_name": self.provider_name, "item_code": self.item_code, "summary": self.summary,
                "data": dict(self.data)}


class DeadlineRule(Protocol):
    name: str
    article: str
    policy_defaults: Mapping[str, int]

    def findings(self, conn: sa.Connection, as_of: date, policy: Policy, since: date | None = None) -> list[Finding]:
        """What is overdue on ``as_of``; ``since`` limits rules about past events to those on or after it."""
        ...


RULES: dict[str, DeadlineRule] = {}


def register(rule: DeadlineRule) -> DeadlineRule:
    """Add a rule to :data:`RULES` under its name (once)."""
    if rule.name in RULES:
        raise ValueError(f"a deadline rule named {rule.name!r} is already registered")
    RULES[rule.name] = rule
    return rule


def check(
    conn: sa.Connection,
    as_of: date,
    policy: Policy,
    rules: Iterable[str] | None = None,
    since: date | None = None,
) -> list[Finding]:
    """Run the named rules (default: all, in registration order) as of ``as_of``; their findings in order."""
    names = list(RULES) if rules is None else list(dict.fromkeys(rules))
    unknown = [name for name in names if name not in RULES]
    if unknown:
        raise UsageError(_("Unknown deadline rule {names} (known: {known})").format(
            names=", ".join(unknown), known=", ".join(RULES)))
    if since is not None and since > as_of:
        raise UsageError(_("--since {since} is after the as-of day {as_of}").format(since=since, as_of=as_of))
    known_keys = {key for rule in RULES.values() for key in rule.policy_defaults}
    stray = sorted(key for key in policy.values if key.startswith(POLICY_PREFIX) and key not in known_keys)
    if stray:
        raise ConfigError(_("{source}: unknown deadline policy {keys} (known: {known})").format(
            source=policy.source, keys=", ".join(stray), known=", ".join(sorted(known_keys))))
    found: list[Finding] = []
    for name in names:
        found.extend(RULES[name].findings(conn, as_of, policy, since))
    return found


class LateSubmissions:
    """Art. 10, 46: providers that submitted records after the 7-working-day deadline."""

    name = "late_submissions"
    article = "Art. 10, 46"
    policy_defaults: Mapping[str, int] = {}

    def findings(self, conn: sa.Connection, as_of: date, policy: Policy, since: date | None = None) -> list[Finding]:
        total = sa.func.sum(R.c.late_days)
        query = (
            sa.select(
                R.c.provider_uscc,
                sa.func.max(C.c.provider_name).label("provider_name"),
                sa.func.count().label("records"),
                total.label("total"),
                sa.func.max(R.c.late_days).label("most"),
                sa.func.sum(sa.case((R.c.due_guessed.is_(True), 1), else_=0)).label("guessed"),
                sa.func.max(R.c.submitted_at).label("last"),
            )
            .join(C, C.c.id == R.c.catalog_item_id)
            .where(R.c.late_days > 0, submitted_through(as_of))
            .group_by(R.c.provider_uscc)
            .order_by(total.desc(), R.c.provider_uscc)
        )
        if since is not None:
            query = query.where(submitted_from(since))
        found = []
        for row in conn.execute(query):
            text = _("{records} records submitted late, {total} working days late in all, at most {most}").format(
                records=row.records, total=row.total, most=row.most)
            if row.guessed:
                text += _(" ({guessed} of them against a guessed deadline)").format(guessed=row.guessed)
            found.append(Finding(
                self.name, self.article, row.provider_uscc, row.provider_name, None, text,
                {"records": row.records, "working_days_late_total": int(row.total),
                 "working_days_late_max": row.most, "guessed_deadlines": int(row.guessed),
                 "last_submitted_on": row.last.astimezone(_CHINA_STANDARD_TIME).date(),
                 "since": since},
            ))
        return found


class SilentItems:
    """Art. 9, 10, 46: catalog items in force with no record submitted within the policy window."""

    name = "silent_items"
    article = "Art. 9, 10, 46"
    policy_defaults: Mapping[str, int] = {"deadline.silent_item_days": 90}

    def findings(self, conn: sa.Connection, as_of: date, policy: Policy, since: date | None = None) -> list[Finding]:
        days = policy.days("deadline.silent_item_days", self.policy_defaults["deadline.silent_item_days"])
        if (as_of - date.min).days < days - 1:  # the window would begin before the calendar: nothing was in force
            return []
        window_start = as_of - timedelta(days=days - 1)
        in_force = conn.execute(
            sa.select(V.c.id).where(V.c.effective_from <= as_of).order_by(V.c.effective_from.desc()).limit(1)
        ).scalar()
        if in_force is None:
            return []
        since_when = {
            (row.provider_uscc, row.code): row.since
            for row in conn.execute(
                sa.select(C.c.provider_uscc, C.c.code, sa.func.min(V.c.effective_from).label("since"))
                .join(V, V.c.id == C.c.version_id)
                .where(V.c.effective_from <= as_of)
                .group_by(C.c.provider_uscc, C.c.code)
            )
        }
        items = conn.execute(
            sa.select(C.c.code, C.c.name, C.c.provider_uscc, C.c.provider_name)
            .where(C.c.version_id == in_force).order_by(C.c.provider_uscc, C.c.code)
        ).all()
        last = {
            (row.provider_uscc, row.item_code): row.last
            for row in conn.execute(
                sa.select(R.c.provider_uscc, R.c.item_code, sa.func.max(R.c.submitted_at).label("last"))
                .where(submitted_through(as_of), R.c.item_code.in_({item.code for item in items}))
                .group_by(R.c.provider_uscc, R.c.item_code)
            )
        }
        found = []
        for item in items:
            key = (item.provider_uscc, item.code)
            if since_when[key] > window_start:
                continue
            submitted = last.get(key)
            if submitted is not None and submitted >= day_start(window_start):
                continue
            last_day = submitted.astimezone(_CHINA_STANDARD_TIME).date() if submitted else None
            text = (_("Nothing submitted for {code} ({name}) in the {days} days to {as_of}; last record {last}")
                    if last_day else
                    _("Nothing submitted for {code} ({name}) in the {days} days to {as_of}; never submitted"))
            found.append(Finding(
                self.name, self.article, item.provider_uscc, item.provider_name, item.code,
                text.format(code=item.code, name=item.name, days=days, as_of=as_of, last=last_day),
                {"item_name": item.name, "window_days": days, "window_start": window_start,
                 "in_force_since": since_when[key], "last_submitted_on": last_day},
            ))
        return found


register(LateSubmissions())
register(SilentItems())
