"""Test fixtures: every database test runs on a real SQLite file and on the real PostgreSQL server.

A test that takes ``db_url`` (or a fixture built on it) runs twice, once per
backend. PostgreSQL comes from ``LYCREDIT_TEST_PG_URL`` (default: the local
server, database ``test``, user ``postgres``); each test gets a database of
its own. Without a server the PostgreSQL half is skipped, saying so, unless
``LYCREDIT_REQUIRE_POSTGRES=1`` (set by CI), which makes it fail instead.
"""

from __future__ import annotations

import base64
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import settings

# No per-example deadline: the suite runs two workers on a shared two-core machine, where a first example that
# imports a module or opens a database can take longer than Hypothesis's 200 ms without anything being wrong
# (a property failing is still a failure; only the timing check goes).
settings.register_profile("lycredit", deadline=None)
settings.load_profile("lycredit")

PASSPHRASE = "correct horse battery staple"
PG_URL = os.environ.get("LYCREDIT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("LYCREDIT_REQUIRE_POSTGRES") == "1"
ADMIN_UNIT = "91210000MA0TEST01X"  # replaced at import by a valid code, see valid_uscc()
TEST_ENV = {
    "LYCREDIT_KEY_PASSPHRASE": PASSPHRASE,
    "LYCREDIT_PII_KEY": base64.b64encode(b"k" * 32).decode(),
    "LANG": "C.UTF-8",
    "LANGUAGE": "",
    "LC_ALL": "",
    "LYCREDIT_DATABASE_URL": "",
    "LYCREDIT_CONFIG": "",
    "LYCREDIT_KEY_FILE": "",
}

_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def valid_uscc(body17: str) -> str:
    """Complete a 17-character unified social credit code body with its GB 32100 check character."""
    weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(body17, weights, strict=True))
    return body17 + _USCC_ALPHABET[(31 - total % 31) % 31]


ADMIN_UNIT = valid_uscc("11211382MB1234567")
PROVIDER_UNIT = valid_uscc("11211382MB7654321")


@pytest.fixture(autouse=True)
def _test_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in TEST_ENV.items():
        if value:
            monkeypatch.setenv(key, value)
        else:
            monkeypatch.delenv(key, raising=False)
    from lycredit.i18n import set_language

    set_language()


_pg_state: dict[str, object] = {}


def _pg_admin_engine():
    import sqlalchemy as sa

    if "engine" not in _pg_state:
        try:
            engine = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            _pg_state["engine"] = engine
        except Exception as exc:  # noqa: BLE001 - reported as the skip/fail reason
            _pg_state["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
            _pg_state["engine"] = None
    return _pg_state["engine"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
                             indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    name = request.param
    if name == "postgresql" and _pg_admin_engine() is None:
        reason = f"PostgreSQL not reachable at {PG_URL} ({_pg_state.get('error')})"
        if REQUIRE_PG:
            pytest.fail(reason + "; LYCREDIT_REQUIRE_POSTGRES=1 requires it")
        pytest.skip(reason)
    return name


def new_pg_database() -> str:
    name = f"lyc_t_{uuid.uuid4().hex[:12]}"
    with _pg_admin_engine().connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    return name


def drop_pg_database(name: str) -> None:
    with _pg_admin_engine().connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def pg_url_for(name: str) -> str:
    import sqlalchemy as sa

    return sa.engine.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def db_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """The URL of a new, empty database on the backend under test."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'lycredit.db'}"
        return
    name = new_pg_database()
    try:
        yield pg_url_for(name)
    finally:
        from lycredit.database import make_engine  # noqa: F401  (engines are disposed by GC)

        drop_pg_database(name)


def invoke(args: list[str], *, input: str | None = None, env: dict[str, str] | None = None) -> Result:
    """Run the real CLI in-process, with stderr kept apart from stdout."""
    from lycredit.commands.main import cli

    runner = CliRunner()
    return runner.invoke(cli, args, input=input, env=env, catch_exceptions=False)


@dataclass
class Platform:
    """An initialised database with an administrator; makes operators of any role on demand."""

    url: str
    backend: str
    dir: Path
    admin_key: Path
    keys: dict[str, Path] = field(default_factory=dict)

    def run(self, *args: str, key: str | None = "admin", input: str | None = None,
            env: dict[str, str] | None = None) -> Result:
        base = ["--db", self.url]
        if key is not None:
            base += ["--key", str(self.keys[key] if key in self.keys else key)]
        return invoke([*base, *args], input=input, env=env)

    def engine(self):
        from lycredit.database import make_engine

        return make_engine(self.url)

    def add_operator(self, name: str, role: str, unit: str = PROVIDER_UNIT, unit_name: str = "市市场监督管理局") -> Path:
        key_path = self.dir / f"{name}.key"
        r = invoke(["key", "generate", "--out", str(key_path)])
        assert r.exit_code == 0, r.output
        public = r.stdout.strip().splitlines()[-1]
        r = self.run("operator", "add", name, "--role", role, "--unit-code", unit, "--unit-name", unit_name,
                     "--public-key", public)
        assert r.exit_code == 0, r.output
        self.keys[name] = key_path
        return key_path


_templates: dict[str, object] = {}


def _init_platform(url: str, directory: Path) -> Path:
    admin_key = directory / "admin.key"
    r = invoke(["--db", url, "db", "init", "--admin", "admin", "--admin-key", str(admin_key),
                "--unit-code", ADMIN_UNIT, "--unit-name", "凌源市发展和改革局", "--origin", "lycredit.test/log"])
    assert r.exit_code == 0, r.output
    return admin_key


@pytest.fixture
def platform(backend: str, tmp_path: Path) -> Iterator[Platform]:
    """A database at head with administrator ``admin`` (built once per backend, then copied)."""
    tmpl = _templates.get(backend)
    if tmpl is None:
        tdir = Path(os.environ.get("TMPDIR", "/tmp")) / f"lyc-tmpl-{uuid.uuid4().hex[:8]}"
        tdir.mkdir()
        if backend == "sqlite":
            url = f"sqlite:///{tdir / 'lycredit.db'}"
        else:
            url = pg_url_for(new_pg_database())
        admin_key = _init_platform(url, tdir)
        tmpl = _templates[backend] = (url, admin_key)
    url, admin_key = tmpl
    key_copy = tmp_path / "admin.key"
    shutil.copy(admin_key, key_copy)
    os.chmod(key_copy, 0o600)
    if backend == "sqlite":
        import sqlite3

        src = sqlite3.connect(url.removeprefix("sqlite:///"))
        dst = sqlite3.connect(tmp_path / "lycredit.db")
        src.backup(dst)
        src.close()
        dst.close()
        p = Platform(f"sqlite:///{tmp_path / 'lycredit.db'}", backend, tmp_path, key_copy, {"admin": key_copy})
        yield p
        return
    import sqlalchemy as sa

    name = f"lyc_t_{uuid.uuid4().hex[:12]}"
    tmpl_name = sa.engine.make_url(url).database
    with _pg_admin_engine().connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name} TEMPLATE {tmpl_name}")
    try:
        yield Platform(pg_url_for(name), backend, tmp_path, key_copy, {"admin": key_copy})
    finally:
        drop_pg_database(name)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    engine = _pg_state.get("engine")
    for backend, (url, _key) in list(_templates.items()):
        if backend == "postgresql" and engine is not None:
            import sqlalchemy as sa

            drop_pg_database(sa.engine.make_url(url).database)
