"""Alembic migrations, shipped inside the package.

``HEAD`` names the newest revision so that the schema check every command
makes does not have to load Alembic; a test keeps it equal to Alembic's head.
Add a revision with ``python -m lycredit.schema revision -m "what"`` (it
autogenerates from the models), then update ``HEAD`` and regenerate ``sql/``.
"""

HEAD = "0004"
FIRST = "0001"
