"""Where the database URL comes from: --db, then the environment, then the config file, then the default."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lycredit.config import (
    DEFAULT_URL,
    Config,
    find_config_file,
    hide_password,
    load_config,
    normalize_url,
    resolve_database_url,
)
from lycredit.errors import ConfigError
from tests.conftest import invoke


def _toml(path: Path, url: str) -> Path:
    path.write_text(f'[database]\nurl = "{url}"\n', encoding="utf-8")
    return path


def test_option_beats_environment_beats_file_beats_default(tmp_path: Path) -> None:
    cfg = load_config(_toml(tmp_path / "c.toml", "sqlite:///from-file.db"))
    env = {"LYCREDIT_DATABASE_URL": "sqlite:///from-env.db"}
    assert resolve_database_url("sqlite:///opt.db", cfg, env) .url == "sqlite:///opt.db"
    assert resolve_database_url(None, cfg, env).source == "LYCREDIT_DATABASE_URL"
    from_file = resolve_database_url(None, cfg, {})
    assert from_file.url == "sqlite:///from-file.db" and "c.toml" in from_file.source
    assert resolve_database_url(None, Config(), {}).url == DEFAULT_URL


def test_config_file_search_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert find_config_file(None, {}) is None
    local = _toml(tmp_path / "lycredit.toml", "sqlite:///local.db")
    assert find_config_file(None, {}) == Path("lycredit.toml")
    named = _toml(tmp_path / "named.toml", "sqlite:///named.db")
    assert find_config_file(None, {"LYCREDIT_CONFIG": str(named)}) == named
    assert find_config_file(str(local), {"LYCREDIT_CONFIG": str(named)}) == local


def test_named_config_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        find_config_file(str(tmp_path / "missing.toml"), {})


def test_bad_toml_is_a_configuration_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[database\nurl=", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_postgres_urls_use_psycopg3_and_others_are_refused() -> None:
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    with pytest.raises(ConfigError, match="Unsupported"):
        normalize_url("mysql://root@localhost/test")
    with pytest.raises(ConfigError, match="Not a database URL"):
        normalize_url("lycredit.db")


def test_password_is_hidden() -> None:
    assert hide_password("postgresql+psycopg://u:s3cr3t@h:5432/db") == "postgresql+psycopg://u:***@h:5432/db"


def test_db_status_says_where_the_url_came_from(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    r = invoke(["--format", "json", "db", "status"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["source"] == "default"
    _toml(tmp_path / "lycredit.toml", "sqlite:///cfg.db")
    assert "lycredit.toml" in json.loads(invoke(["--format", "json", "db", "status"]).stdout)["source"]
    monkeypatch.setenv("LYCREDIT_DATABASE_URL", "sqlite:///env.db")
    assert json.loads(invoke(["--format", "json", "db", "status"]).stdout)["source"] == "LYCREDIT_DATABASE_URL"
    r = invoke(["--format", "json", "--db", "postgresql://u:pw@127.0.0.1:1/x", "db", "status"])
    assert r.exit_code == 69
    out = invoke(["--format", "json", "--db", "sqlite:///opt.db", "db", "status"]).stdout
    assert json.loads(out)["source"] == "--db"
    assert not (tmp_path / "opt.db").exists(), "status must not create a database file"
