"""oplog_entry: no index on op_seq

Nothing reads log entries by operation: verification, export and the history read
them in order of position, and an operation's entries are the run first_idx ..
first_idx + leaf_count - 1 of oplog_operation. The index cost every appended leaf an
insert into a second B-tree (a tenth of the log's time in a million-row import).

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_oplog_entry_op_seq", table_name="oplog_entry")


def downgrade() -> None:
    op.create_index("ix_oplog_entry_op_seq", "oplog_entry", ["op_seq"], unique=False)
