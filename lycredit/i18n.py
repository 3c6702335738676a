"""Translations through the standard gettext machinery.

English is the source language. The Simplified Chinese catalog is chosen by
``LANGUAGE``/``LC_ALL``/``LC_MESSAGES``/``LANG`` (``zh_CN.*``) or ``--lang zh``.

Mark strings with ``_()`` where they are used at run time, and with ``N_()``
where they are defined at import time (help texts): the CLI translates those
when it renders them, so the language can still be chosen by ``--lang``.

The catalog sources are ``lycredit/po/*.po`` (one fragment per area, so that
work on different areas does not collide); ``python -m lycredit.i18n`` compiles
them into ``lycredit/locale/zh_CN/LC_MESSAGES/lycredit.mo``, which ships.
A test fails when a marked string has no translation or the .mo is stale.
"""

from __future__ import annotations

import gettext as _gettext
import os
from pathlib import Path

DOMAIN = "lycredit"
LOCALEDIR = str(Path(__file__).parent / "locale")
PO_DIR = Path(__file__).parent / "po"

_translation: _gettext.NullTranslations = _gettext.NullTranslations()

_ALIASES = {"zh": "zh_CN", "zh_cn": "zh_CN", "zh-cn": "zh_CN", "zh_hans": "zh_CN", "en": "en"}


def _from_env() -> list[str] | None:
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var)
        if value:
            return [v.split(".")[0] for v in value.split(":") if v]
    return None


def set_language(lang: str | None = None) -> str:
    """Choose the message language: ``zh``/``en``, or None for the environment.

    Also binds the domain for click's own strings (``Usage:``, ``Options``...),
    which click looks up through ``gettext.gettext``.
    """
    global _translation
    if lang:
        languages = [_ALIASES.get(lang.lower(), lang)]
        os.environ["LANGUAGE"] = languages[0]
    else:
        languages = _from_env()
    _gettext.bindtextdomain(DOMAIN, LOCALEDIR)
    _gettext.textdomain(DOMAIN)
    _translation = _gettext.translation(DOMAIN, LOCALEDIR, languages=languages, fallback=True)
    return current_language()


def current_language() -> str:
    return "zh" if isinstance(_translation, _gettext.GNUTranslations) else "en"


def _(message: str) -> str:
    """Translate ``message`` into the current language."""
    return _translation.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _translation.ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark ``message`` for translation without translating it yet."""
    return message


set_language()
