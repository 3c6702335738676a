"""Alembic environment: always called by ``lycredit.schema`` with a live connection."""

from alembic import context
from sqlmodel import SQLModel

import lycredit.models  # noqa: F401  (registers every table)

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
