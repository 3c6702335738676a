"""drop three indexes nothing reads

Every bulk import paid an insert into each of them for every row, and no query
uses them:

- ``oplog_entry.op_seq``: entries are read by position (verification, export,
  history); an operation's entries are ``first_idx`` .. ``first_idx + leaf_count - 1``
  of ``oplog_operation``.
- ``record.catalog_item_id``: records are joined to their item through the item's
  key, never looked up by item; catalog items are never deleted (so the foreign key
  needs no index on this side); the expiry sweep deliberately reads the table.
- ``record.import_run_id``: an import finds its records by natural key.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_DROPPED = (
    ("ix_oplog_entry_op_seq", "oplog_entry", "op_seq"),
    ("ix_record_catalog_item_id", "record", "catalog_item_id"),
    ("ix_record_import_run_id", "record", "import_run_id"),
)


def upgrade() -> None:
    for name, table, _column in _DROPPED:
        op.drop_index(name, table_name=table)


def downgrade() -> None:
    for name, table, column in _DROPPED:
        op.create_index(name, table, [column], unique=False)
