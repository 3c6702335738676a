"""Help and messages in Simplified Chinese; the catalog is complete and the shipped .mo current."""

from __future__ import annotations

import subprocess
import sys

from lycredit import catalog_tools
from tests.conftest import invoke


def test_every_marked_message_has_a_chinese_translation() -> None:
    missing = catalog_tools.missing()
    assert not missing, "untranslated (run python -m lycredit.catalog_tools missing):\n" + "\n".join(
        f"{k!r} at {', '.join(v)}" for k, v in missing.items()
    )


def test_translations_keep_every_placeholder() -> None:
    assert catalog_tools.placeholder_mismatches() == []


def test_the_shipped_mo_file_is_compiled_from_the_po_files() -> None:
    import hashlib

    shipped = hashlib.sha256(catalog_tools.MO_PATH.read_bytes()).hexdigest()
    fresh = hashlib.sha256(catalog_tools.compile_mo(catalog_tools.load_all())).hexdigest()
    assert shipped == fresh, "the .mo is stale: run python -m lycredit.catalog_tools compile"


def test_help_is_in_chinese_under_a_chinese_locale(monkeypatch) -> None:
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    from lycredit.i18n import set_language

    set_language()
    r = invoke(["--help"])
    assert "用法" in r.stdout and "选项" in r.stdout and "操作员" in r.stdout
    sub = invoke(["operator", "add", "--help"])
    assert "角色" in sub.stdout


def test_lang_option_switches_to_chinese() -> None:
    r = invoke(["--lang", "zh", "db", "--help"])
    assert "数据库" in r.stdout


def test_messages_are_in_chinese_in_a_real_process(tmp_path) -> None:
    env = {"LANG": "zh_CN.UTF-8", "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-m", "lycredit", "--db", f"sqlite:///{tmp_path / 'none.db'}",
                        "operator", "list"], capture_output=True, text=True, env=env)
    assert r.returncode == 78
    assert "数据库" in r.stderr and "lycredit db init" in r.stderr


def test_english_remains_the_default(tmp_path) -> None:
    r = invoke(["--help"])
    assert "Usage:" in r.stdout and "用法" not in r.stdout
