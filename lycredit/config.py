"""Where lycredit finds its database and its policy.

The database URL comes from, in order: ``--db``, ``LYCREDIT_DATABASE_URL``, the
TOML config file (``--config``, ``LYCREDIT_CONFIG``, ``./lycredit.toml``,
``/etc/lycredit/lycredit.toml``; key ``database.url``), and finally
``sqlite:///lycredit.db``. :func:`resolve_database_url` says which one won, so
that ``lycredit db status`` can tell the operator.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from lycredit.errors import ConfigError
from lycredit.i18n import _

DEFAULT_URL = "sqlite:///lycredit.db"
SYSTEM_CONFIG = Path("/etc/lycredit/lycredit.toml")
LOCAL_CONFIG = Path("lycredit.toml")


# NamedTuples, not dataclasses: every command loads this module, and a dataclass costs ~0.5 ms
# to create (issue #5: a query within 1.5x 'lycredit --help').
class Config(NamedTuple):
    """The configuration file's contents and where it was read from."""

    path: Path | None = None
    data: Mapping[str, Any] = MappingProxyType({})

    def get(self, section: str, key: str, default: Any = None) -> Any:
        value = self.data.get(section, {})
        if not isinstance(value, Mapping):
            raise ConfigError(_("{path}: [{section}] must be a table").format(path=self.path, section=section))
        return value.get(key, default)


class ResolvedURL(NamedTuple):
    url: str
    source: str  # "--db", "LYCREDIT_DATABASE_URL", "config file PATH", "default"


def find_config_file(explicit: str | os.PathLike[str] | None, env: Mapping[str, str] | None = None) -> Path | None:
    """The config file to read: ``--config``, ``LYCREDIT_CONFIG``, ./lycredit.toml, /etc/lycredit/lycredit.toml.

    A file named explicitly (option or variable) must exist; the two default
    places are optional.
    """
    env = os.environ if env is None else env
    for named in (explicit, env.get("LYCREDIT_CONFIG")):
        if named:
            path = Path(named)
            if path.is_dir():
                raise ConfigError(_("Config file {path} is a directory, not a file").format(path=path))
            if not path.is_file():
                raise ConfigError(_("Config file {path} does not exist").format(path=path))
            return path
    for candidate in (LOCAL_CONFIG, SYSTEM_CONFIG):
        if candidate.is_file():
            return candidate
    return None


def load_config(path: Path | None) -> Config:
    if path is None:
        return Config()
    import tomllib  # only when there is a file: its regular expressions take milliseconds to compile

    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_("{path}: not valid TOML: {error}").format(path=path, error=exc)) from exc
    except OSError as exc:
        raise ConfigError(_("{path}: cannot be read: {error}").format(path=path, error=exc.strerror)) from exc
    return Config(path=path, data=data)


def resolve_database_url(
    option: str | None, config: Config, env: Mapping[str, str] | None = None
) -> ResolvedURL:
    env = os.environ if env is None else env
    if option:
        return ResolvedURL(normalize_url(option), "--db")
    if env.get("LYCREDIT_DATABASE_URL"):
        return ResolvedURL(normalize_url(env["LYCREDIT_DATABASE_URL"]), "LYCREDIT_DATABASE_URL")
    from_file = config.get("database", "url")
    if from_file:
        if not isinstance(from_file, str):
            raise ConfigError(_("{path}: database.url must be a string").format(path=config.path))
        return ResolvedURL(normalize_url(from_file), _("config file {path}").format(path=config.path))
    return ResolvedURL(DEFAULT_URL, _("default"))


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use psycopg 3 for them."""
    url = url.strip()
    if not re.match(r"^[a-z][a-z0-9+]*://", url):
        raise ConfigError(
            _("Not a database URL: {url} (expected e.g. sqlite:///lycredit.db or postgresql://user@host/db)").format(
                url=url
            )
        )
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    if not (url.startswith("sqlite://") or url.startswith("postgresql+psycopg://")):
        raise ConfigError(_("Unsupported database {url}: lycredit runs on SQLite and PostgreSQL").format(url=url))
    return url


def hide_password(url: str) -> str:
    """``postgresql+psycopg://u:secret@h/db`` → ``postgresql+psycopg://u:***@h/db``."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)
