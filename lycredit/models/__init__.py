"""The SQLModel models: the one source of the schema.

Alembic migrations (``lycredit/migrations``) and the DDL in ``sql/`` are
derived from these and tested to agree with them. Importing this package
registers every table on ``SQLModel.metadata``.

A model whose class attribute ``__logged__`` is true holds data that only
changes through the signed operation log (``lycredit.oplog``); ``audit verify``
replays the log and compares it with every row of such a table, hashing the
columns named by :func:`lycredit.models.base.hashed_columns`.
"""

from lycredit.models.base import LOGGED_TABLES, hashed_columns, logged_models, row_key, row_values
from lycredit.models.intake import CalendarDay, CatalogItem, CatalogVersion
from lycredit.models.operators import Operator, OperatorKey, PlatformMeta, Unit
from lycredit.models.oplog import Checkpoint, LogEntry, LogOperation
from lycredit.models.records import (
    Authorization,
    ImportRun,
    Record,
    RecordHistory,
    Subject,
    SubjectLink,
)

__all__ = [
    "LOGGED_TABLES",
    "Authorization",
    "ImportRun",
    "Record",
    "RecordHistory",
    "Subject",
    "SubjectLink",
    "CalendarDay",
    "CatalogItem",
    "CatalogVersion",
    "Checkpoint",
    "LogEntry",
    "LogOperation",
    "Operator",
    "OperatorKey",
    "PlatformMeta",
    "Unit",
    "hashed_columns",
    "logged_models",
    "row_key",
    "row_values",
]
