"""Maintain the Chinese message catalog: extract marked strings, compile ``po/*.po`` into the shipped .mo.

    python -m lycredit.catalog_tools missing   # marked strings with no Chinese translation
    python -m lycredit.catalog_tools compile   # write locale/zh_CN/LC_MESSAGES/lycredit.mo

Not imported at run time. The tests use :func:`extract`, :func:`load_po` and
:func:`compile_mo` to keep the catalog complete and the .mo current.
"""

from __future__ import annotations

import ast
import re
import struct
import sys
from pathlib import Path

from lycredit.i18n import DOMAIN, LOCALEDIR, PO_DIR

PACKAGE_DIR = Path(__file__).parent
COMMANDS_DIR = PACKAGE_DIR.parent / "commands"
MO_PATH = Path(LOCALEDIR) / "zh_CN" / "LC_MESSAGES" / f"{DOMAIN}.mo"

#: click's own strings that lycredit's output shows; translated through the same domain.
CLICK_STRINGS = [
    "Usage:",
    "Options",
    "Show this message and exit.",
    "Show the version and exit.",
    "Error",
    "Try {command!r} for help.",
    "Try '{command} {option}' for help.",
    "Missing argument",
    "Missing option",
    "Missing parameter",
    "Missing argument {param_hint}.",
    "Missing option {param_hint}.",
    "Missing parameter: {param_name}",
    "Invalid value",
    "Invalid value: {message}",
    "Invalid value for {param_hint}: {message}",
    "No such command {name!r}.",
    "No such option: {name}",
    "Option {name!r} requires an argument.",
    "Got unexpected extra argument ({args})",
    "Got unexpected extra arguments ({args})",
    "{value!r} is not one of {choices}.",
    "{value!r} is not {choice}.",
    "{value!r} is not a valid integer.",
    "{value!r} is not a valid integer range.",
    "{value!r} is not in the range {range}.",
    "default:",
    "required",
    "{name} {filename!r} does not exist.",
    "File",
    "Directory",
    "Path",
    "Aborted!",
    "Repeat for confirmation",
    "Error: The two entered values do not match.",
]


def _unescape(s: str) -> str:
    return ast.literal_eval('"' + s + '"') if "\\" in s else s


def load_po(path: Path) -> dict[str, str]:
    """msgid -> msgstr of one .po file (singular entries; header excluded)."""
    entries: dict[str, str] = {}
    msgid: list[str] | None = None
    msgstr: list[str] | None = None
    current: list[str] | None = None

    def flush() -> None:
        if msgid is not None and msgstr is not None:
            key = "".join(msgid)
            if key:
                entries[key] = "".join(msgstr)

    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^(msgid|msgstr)\s+"(.*)"$', line)
        if m:
            if m.group(1) == "msgid":
                flush()
                msgid, msgstr = [_unescape(m.group(2))], None
                current = msgid
            else:
                msgstr = [_unescape(m.group(2))]
                current = msgstr
            continue
        m = re.match(r'^"(.*)"$', line)
        if m and current is not None:
            current.append(_unescape(m.group(1)))
            continue
        raise ValueError(f"{path}:{lineno}: cannot parse {raw!r}")
    flush()
    return entries


def load_all(po_dir: Path = PO_DIR) -> dict[str, str]:
    merged: dict[str, str] = {}
    for path in sorted(po_dir.glob("*.po")):
        for k, v in load_po(path).items():
            if k in merged and merged[k] != v and v:
                raise ValueError(f"{path.name}: {k!r} is translated differently in another fragment")
            if v or k not in merged:
                merged[k] = v
    return merged


def compile_mo(entries: dict[str, str]) -> bytes:
    """GNU .mo bytes for ``entries`` (plus the UTF-8 header), as msgfmt writes them."""
    catalog = {"": "Content-Type: text/plain; charset=UTF-8\nLanguage: zh_CN\n"}
    catalog.update({k: v for k, v in entries.items() if v})
    keys = sorted(catalog)
    ids = b""
    strs = b""
    offsets = []
    for k in keys:
        kb, vb = k.encode("utf-8"), catalog[k].encode("utf-8")
        offsets.append((len(ids), len(kb), len(strs), len(vb)))
        ids += kb + b"\0"
        strs += vb + b"\0"
    n = len(keys)
    keystart = 7 * 4 + 16 * n
    valuestart = keystart + len(ids)
    koffsets: list[int] = []
    voffsets: list[int] = []
    for o1, l1, o2, l2 in offsets:
        koffsets += [l1, o1 + keystart]
        voffsets += [l2, o2 + valuestart]
    header = struct.pack("Iiiiiii", 0x950412DE, 0, n, 7 * 4, 7 * 4 + n * 8, 0, 0)
    return header + struct.pack(f"{len(koffsets)}i", *koffsets) + struct.pack(f"{len(voffsets)}i", *voffsets) + ids + strs


def extract(dirs: tuple[Path, ...] = (PACKAGE_DIR, COMMANDS_DIR)) -> dict[str, list[str]]:
    """Every literal passed to ``_()`` or ``N_()`` -> where it is (file:line)."""
    found: dict[str, list[str]] = {}
    for base in dirs:
        for path in sorted(base.rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id in ("_", "N_")
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)
                ):
                    import inspect

                    text = node.args[0].value
                    text = inspect.cleandoc(text) if "\n" in text else text
                    found.setdefault(text, []).append(f"{path.name}:{node.lineno}")
    for s in CLICK_STRINGS:
        found.setdefault(s, []).append("click")
    return found


def missing() -> dict[str, list[str]]:
    entries = load_all()
    return {k: v for k, v in extract().items() if not entries.get(k)}


def placeholder_mismatches() -> list[str]:
    out = []
    for k, v in load_all().items():
        if v and set(re.findall(r"\{[^{}]*\}", k)) != set(re.findall(r"\{[^{}]*\}", v)):
            out.append(k)
    return out


def main(argv: list[str]) -> int:
    if argv[:1] == ["compile"]:
        MO_PATH.parent.mkdir(parents=True, exist_ok=True)
        MO_PATH.write_bytes(compile_mo(load_all()))
        return 0
    if argv[:1] == ["missing"]:
        for text, where in missing().items():
            print(f"# {', '.join(where)}\nmsgid {_po_quote(text)}\nmsgstr \"\"\n")
        return 0
    print(__doc__)
    return 2


def _po_quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
