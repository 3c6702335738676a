"""Credit-subject identifiers and personal-data protection (Art. 3, 4, 8, 12, 13, 28).

* Art. 3 and 8: credit subjects (信用主体) are natural persons, legal persons and
  unincorporated organisations. Organisations are identified by the unified social
  credit code (统一社会信用代码, GB 32100-2015), natural persons by the citizen identity
  number (公民身份号码, GB 11643-1999): :func:`validate_uscc`, :func:`validate_ric`,
  :func:`classify_code`, :func:`subject_kind_from_uscc`.
* Art. 4, 13 and 28: a resident ID number is sensitive personal information. It is
  stored encrypted with a key kept outside the database, found through a keyed lookup
  hash (blind index), and printed masked: :class:`PiiProtector`, :func:`mask_ric`,
  :func:`mask_name`, :func:`mask_phone`.
* Art. 12: the personal information that may never be collected, and the information
  that needs the subject's recorded authorisation: :data:`FORBIDDEN_FIELDS`,
  :data:`CONSENT_FIELDS`, :func:`classify_field`.

Both identifiers go through python-stdnum (``stdnum.cn.uscc``, ``stdnum.cn.ric``) for
their check characters, the date of birth and the GB/T 2260 division codes, but not
through its ``validate()``, for two reasons. ``uscc.validate`` requires positions 1-8 to
be digits, which rejects the letter department codes that amendments to GB 32100 added
(A military, N rural collective economic organisations, Y other). ``ric.validate``
requires the county code to have existed in the year of birth, which rejects genuine
numbers assigned after a county was renamed (e.g. 110112 Tongzhou, created in 1997, for
anyone born before 1997); here the address code must only be a known division code of
any year. Doing the steps one by one also lets every error say which rule failed.

Error messages about a resident ID number never repeat the number: they end up in
logs and rejects files, which are not protected like the database.
"""

from __future__ import annotations

import base64
import operator
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Literal, NamedTuple

from lycredit import digest
from lycredit.errors import ConfigError, DataError
from lycredit.i18n import _


class SubjectKind(StrEnum):
    """The kinds of credit subject (信用主体) of Art. 3 and Art. 8."""

    natural_person = "natural_person"
    legal_person = "legal_person"
    unincorporated = "unincorporated"
    individual_business = "individual_business"

    @property
    def label_zh(self) -> str:
        return _SUBJECT_KIND_LABELS_ZH[self]


_SUBJECT_KIND_LABELS_ZH = {
    SubjectKind.natural_person: "自然人",
    SubjectKind.legal_person: "法人",
    SubjectKind.unincorporated: "非法人组织",
    SubjectKind.individual_business: "个体工商户",
}


class ChecksumMismatch(DataError):
    """The check character is wrong; the only USCC failure an explicit override may admit."""


class PiiError(DataError):
    """A protected value cannot be opened: altered, moved to another field, or another key."""


INVISIBLE_CHARACTERS = "\u200b\u200c\u200d\u2060\ufeff"
"""Zero-width space, non-joiner, joiner, word joiner and byte order mark: they show as nothing, and text copied
from a web page or a chat carries them."""
_DROPPED = re.compile(f"[\\s\\-{INVISIBLE_CHARACTERS}]+")
"""Spaces, hyphens and the invisible characters: none is part of a code."""
_EDGES = re.compile(f"^[\\s{INVISIBLE_CHARACTERS}]+|[\\s{INVISIBLE_CHARACTERS}]+$")


def strip_invisible(text: str) -> str:
    """``text`` without the white space and the invisible characters (:data:`INVISIBLE_CHARACTERS`) at either end.

    A name of only such characters shows as nothing: it is an empty name.
    """
    return _EDGES.sub("", text)


def _compact(value: str) -> str:
    """Full-width characters folded (NFKC), spaces, hyphens and zero-width characters dropped, upper case."""
    if value.isascii() and value.isalnum():  # what codes mostly are: nothing to fold or drop
        return value.upper()
    return _DROPPED.sub("", unicodedata.normalize("NFKC", value)).upper()


# --- Unified social credit code (GB 32100-2015) -------------------------------------------

# Positions 1-2: registration management department (登记管理部门代码) and organisation
# category (机构类别代码), as GB 32100 and its amendments list them, with the kind of
# subject each one is. Civil Code Art. 96-102 decide the kind: organs, public
# institutions, social organisations, foundations, trade unions, cooperatives and
# collective economic organisations are legal persons; resident offices of foreign
# bodies and law firms (partnerships or sole practices: "professional service bodies
# without legal personality", Art. 102) are unincorporated. "Other" categories, and any
# category that mixes kinds, default to legal_person. 91 (enterprise) is the largest such
# mix: partnerships, sole proprietorships and branches are unincorporated, but the code
# does not tell them apart, so the registration data must.
USCC_REGISTRATION_CATEGORIES: Mapping[str, tuple[str, SubjectKind]] = {
    "11": ("机构编制 机关", SubjectKind.legal_person),
    "12": ("机构编制 事业单位", SubjectKind.legal_person),
    "13": ("机构编制 中央编办直接管理机构编制的群众团体", SubjectKind.legal_person),
    "19": ("机构编制 其他", SubjectKind.legal_person),
    "21": ("外交 外国常驻新闻机构", SubjectKind.unincorporated),
    "29": ("外交 其他", SubjectKind.legal_person),
    "31": ("司法行政 律师执业机构", SubjectKind.unincorporated),
    "32": ("司法行政 公证处", SubjectKind.legal_person),
    "33": ("司法行政 基层法律服务所", SubjectKind.legal_person),
    "34": ("司法行政 司法鉴定机构", SubjectKind.legal_person),
    "35": ("司法行政 仲裁委员会", SubjectKind.legal_person),
    "39": ("司法行政 其他", SubjectKind.legal_person),
    "41": ("文化 外国在华文化中心", SubjectKind.unincorporated),
    "49": ("文化 其他", SubjectKind.legal_person),
    "51": ("民政 社会团体", SubjectKind.legal_person),
    "52": ("民政 民办非企业单位", SubjectKind.legal_person),
    "53": ("民政 基金会", SubjectKind.legal_person),
    "59": ("民政 其他", SubjectKind.legal_person),
    "61": ("旅游 外国旅游部门常驻代表机构", SubjectKind.unincorporated),
    "62": ("旅游 港澳台地区旅游部门常驻内地（大陆）代表机构", SubjectKind.unincorporated),
    "69": ("旅游 其他", SubjectKind.legal_person),
    "71": ("宗教 宗教活动场所", SubjectKind.legal_person),
    "72": ("宗教 宗教院校", SubjectKind.legal_person),
    "79": ("宗教 其他", SubjectKind.legal_person),
    "81": ("工会 基层工会", SubjectKind.legal_person),
    "89": ("工会 其他", SubjectKind.legal_person),
    "91": ("工商 企业", SubjectKind.legal_person),
    "92": ("工商 个体工商户", SubjectKind.individual_business),
    "93": ("工商 农民专业合作社", SubjectKind.legal_person),
    "A1": ("中央军委改革和编制办公室 军队事业单位", SubjectKind.legal_person),
    "A9": ("中央军委改革和编制办公室 其他", SubjectKind.legal_person),
    "N1": ("农业 组级集体经济组织", SubjectKind.legal_person),
    "N2": ("农业 村级集体经济组织", SubjectKind.legal_person),
    "N3": ("农业 乡镇级集体经济组织", SubjectKind.legal_person),
    "N9": ("农业 其他", SubjectKind.legal_person),
    "Y1": ("其他", SubjectKind.legal_person),
}

_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_SHAPE = re.compile(r"[0-9A-HJ-NP-RTUW-Y]{2}[0-9]{6}[0-9A-HJ-NP-RTUW-Y]{10}")
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


_USCC_TABLE = bytes.maketrans(_USCC_ALPHABET.encode(), bytes(range(len(_USCC_ALPHABET))))


def _uscc_check_character(body: str) -> str:
    """GB 32100's check character of the first 17 characters (as stdnum's ``calc_check_digit``), which are of
    its alphabet (:data:`_USCC_SHAPE`): each character's value by one translation, the weighted sum in C (an
    import checks each new subject's code, a million in a file of a million companies)."""
    return _USCC_ALPHABET[-sum(map(operator.mul, body.encode("ascii").translate(_USCC_TABLE), _USCC_WEIGHTS)) % 31]


def validate_uscc(code: str, *, allow_bad_checksum: bool = False) -> str:
    """Return the compact upper-case code, or raise DataError naming the GB 32100 rule broken.

    ``allow_bad_checksum`` admits a code whose only fault is its check character (some
    genuine codes issued before 2016 have one); the caller must log that override.
    A wrong check character raises :class:`ChecksumMismatch`, so a caller can tell it apart.
    """
    compact = _compact(code)
    if _USCC_SHAPE.fullmatch(compact) and compact[:2] in USCC_REGISTRATION_CATEGORIES and (
            allow_bad_checksum or compact[17] == _uscc_check_character(compact[:17])):
        return compact  # the common case, checked at once; any fault is named by the checks below
    if len(compact) != 18:
        raise DataError(
            _("Unified social credit code has {length} characters; GB 32100 requires 18.").format(
                length=len(compact)
            )
        )
    for position, char in enumerate(compact, start=1):
        if char not in _USCC_ALPHABET:
            raise DataError(
                _(
                    "Unified social credit code: character {char!r} at position {position} is not "
                    "allowed; GB 32100 uses digits and upper-case letters except I, O, S, V and Z."
                ).format(char=char, position=position)
            )
    if not compact[2:8].isdigit():
        raise DataError(
            _(
                "Unified social credit code: positions 3-8 (administrative division code of the "
                "registration authority) must be digits, found {part}."
            ).format(part=compact[2:8])
        )
    if compact[:2] not in USCC_REGISTRATION_CATEGORIES:
        raise DataError(
            _(
                "Unified social credit code: registration department and organisation category "
                "{pair} (positions 1-2) are not in the GB 32100 code table."
            ).format(pair=compact[:2])
        )
    if allow_bad_checksum:
        return compact
    from stdnum.cn import uscc

    expected = uscc.calc_check_digit(compact[:17])
    if compact[17] != expected:
        raise ChecksumMismatch(
            _(
                "Unified social credit code: check character {found} does not match the GB 32100 "
                "checksum (expected {expected}); a genuine code issued before 2016 can be admitted "
                "only through an explicit override."
            ).format(found=compact[17], expected=expected)
        )
    return compact


def subject_kind_from_uscc(code: str) -> SubjectKind:
    """The kind of subject that positions 1-2 of a USCC name (see USCC_REGISTRATION_CATEGORIES).

    The check character is not needed for this, so a code admitted by override has a kind too.
    """
    return USCC_REGISTRATION_CATEGORIES[validate_uscc(code, allow_bad_checksum=True)[:2]][1]


# --- Citizen identity number (GB 11643-1999) ----------------------------------------------

_RIC_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
_OLD_RIC_SHAPE = re.compile(r"[0-9]{15}")
# Residence permits of Taiwan residents use the GB 11643 layout with this address code,
# which GB/T 2260 does not list.
_TAIWAN_RESIDENCE_PERMIT_CODE = "830000"


def _shanghai_today() -> date:
    """Today in Asia/Shanghai, the platform's day boundary whatever the server's zone."""
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


def _known_address_code(code: str) -> bool:
    """A GB/T 2260 county-level code in use in any year, as stdnum's database lists them."""
    if code == _TAIWAN_RESIDENCE_PERMIT_CODE:
        return True
    from stdnum import numdb

    found = {key for _part, props in numdb.get("cn/loc").info(code) for key in props}
    return "county" in found


EARLIEST_BIRTH_YEAR = 1880
"""No holder of a citizen identity number (issued from 1984, 18 digits from 1999) was born before this year."""

_BIRTH_DATE_SHAPE = re.compile(r"(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])")


def birth_date_shaped(number: str) -> bool:
    """Positions 7-14 of an 18-character number read as YYYYMMDD, whether or not that day exists.

    A year of the 1800s, 1900s or 2000s, a month 01-12 and a day 01-31: a date of birth as a
    person would write one, including one mistyped into a day that does not exist (19900230)
    or has not come yet. A resident ID number with such a date is still a person's number.
    """
    return _BIRTH_DATE_SHAPE.fullmatch(number, 6, 14) is not None


def birth_date_error(number: str, *, today: date | None = None) -> DataError | None:
    """Why positions 7-14 of a compact 18-digit number are not its holder's date of birth, or None.

    The date must exist, be from :data:`EARLIEST_BIRTH_YEAR` and not be after ``today``
    (Asia/Shanghai by default). The message names the date of birth, never its digits.
    """
    from stdnum.cn import ric
    from stdnum.exceptions import InvalidComponent

    try:
        born = ric.get_birth_date(number)
        if born.year < EARLIEST_BIRTH_YEAR:
            raise InvalidComponent()
    except InvalidComponent:
        return DataError(_("Resident ID number: positions 7-14 are not a valid date of birth (YYYYMMDD)."))
    as_of = today or _shanghai_today()
    if born > as_of:
        return DataError(_("Resident ID number: the date of birth is after today ({today}).").format(today=as_of))
    return None


def province_prefix(code: str) -> bool:
    """Positions 1-2 are a province-level code of GB/T 2260 (python-stdnum's table), as a resident ID number's are.

    Of the GB 32100 categories only 11-13, 21, 31-35, 41, 51-53, 61, 62, 71 and 81 are also
    province codes: a unified social credit code of any other category (91 enterprises, 92
    individual businesses, 93 cooperatives, ...) cannot be mistaken for a person's number.
    """
    from stdnum import numdb

    return any("province" in props for _part, props in numdb.get("cn/loc").info(code[:2]))


def validate_ric(number: str, *, today: date | None = None) -> str:
    """Return the compact 18-digit number (a lower-case x made upper), or raise DataError.

    Checks, in order: not an old 15-digit number, 18 characters, 17 digits and a digit or
    X, the GB 11643 check digit, a real date of birth from :data:`EARLIEST_BIRTH_YEAR` and not after
    ``today`` (Asia/Shanghai by default), and an address code that is a known GB/T 2260 division code.
    """
    from stdnum.cn import ric

    compact = _compact(number)
    if _OLD_RIC_SHAPE.fullmatch(compact):
        raise DataError(
            _(
                "Resident ID number has 15 digits: this is an old number from before 1999; "
                "use the 18-digit citizen identity number (GB 11643-1999) instead."
            )
        )
    if len(compact) != 18:
        raise DataError(
            _("Resident ID number has {length} characters; GB 11643 requires 18.").format(length=len(compact))
        )
    if not _RIC_SHAPE.fullmatch(compact):
        raise DataError(_("Resident ID number: positions 1-17 must be digits and position 18 a digit or X."))
    if compact[17] != ric.calc_check_digit(compact):
        if compact.endswith("000"):  # Excel keeps 15 significant digits of a number: 18 digits end in 000
            raise ChecksumMismatch(_("Resident ID number: the check digit does not match (GB 11643). If it comes "
                                     "from a spreadsheet cell that holds a number, the cell kept only its first 15 "
                                     "digits and the last three became 0: format the column as text (文本) and "
                                     "enter the numbers again."))
        raise ChecksumMismatch(_("Resident ID number: the check digit does not match (GB 11643)."))
    error = birth_date_error(compact, today=today)
    if error is not None:
        raise error
    if not _known_address_code(compact[:6]):
        raise DataError(
            _("Resident ID number: positions 1-6 are not a known administrative division code (GB/T 2260).")
        )
    return compact


def classify_code(code: str, *, today: date | None = None) -> Literal["uscc", "ric"]:
    """Which identifier ``code`` is: the one it is valid as, else DataError giving both reasons.

    An 18-digit string can rarely be valid as both; it is then taken as a resident ID
    number, so that it is protected rather than published.
    """
    try:
        validate_ric(code, today=today)
        return "ric"
    except DataError as error:
        ric_reason = error.message
    try:
        validate_uscc(code)
        return "uscc"
    except DataError as error:
        uscc_reason = error.message
    raise DataError(
        _(
            "Identifier is neither a valid resident ID number nor a valid unified social "
            "credit code. {ric_reason} {uscc_reason}"
        ).format(ric_reason=ric_reason, uscc_reason=uscc_reason)
    )


# --- Masking for display (Art. 4, 13) ------------------------------------------------------

_NAME_SEPARATORS = frozenset(" ·•・")


def mask_ric(number: str) -> str:
    """Keep the address code (first 6) and the last 4; mask the 8 digits of the birth date.

    ``110101199001010015`` becomes ``110101********0015``. Anything that is not 18
    characters long is masked entirely, so a malformed value never leaks either.
    """
    compact = _compact(number)
    if len(compact) != 18:
        return "*" * len(compact)
    return compact[:6] + "*" * 8 + compact[14:]


def mask_name(name: str) -> str:
    """Keep the first character of a natural person's name and mask each of the others.

    张三 becomes 张*, 欧阳娜娜 欧***; separators stay (买买提·艾力 becomes 买**·**).
    A one-character name is masked entirely.
    """
    stripped = name.strip()
    if len(stripped) <= 1:
        return "*" * len(stripped)
    return stripped[0] + "".join(c if c in _NAME_SEPARATORS else "*" for c in stripped[1:])


def mask_phone(phone: str) -> str:
    """Mask a telephone number: 13812345678 becomes 138****5678.

    Spaces, hyphens, dots and brackets are dropped first. Numbers of 11 or more characters
    keep the first 3 and the last 4 (a mobile number's network prefix, or a landline's
    area code), shorter ones only the last 4, and 4 characters or fewer nothing.
    """
    compact = re.sub(r"[\s\-.()（）]+", "", unicodedata.normalize("NFKC", phone))
    length = len(compact)
    if length >= 11:
        return compact[:3] + "*" * (length - 7) + compact[-4:]
    if length > 4:
        return "*" * (length - 4) + compact[-4:]
    return "*" * length


# --- Resident ID numbers at rest (Art. 4, 28) ----------------------------------------------

KEY_ENV = "LYCREDIT_PII_KEY"
KEY_FILE_ENV = "LYCREDIT_PII_KEY_FILE"
KEY_BYTES = 32
TOKEN_PREFIX = "v1:"
_ENCRYPTION_LABEL = b"lycredit pii enc v1"
_INDEX_LABEL = b"lycredit pii index v1"
_NONCE_BYTES = 12
_TAG_BYTES = 16
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


def _aesgcm() -> type:
    """``cryptography``'s AESGCM, which is its Rust binding's, without importing the cipher modules.

    ``cryptography.hazmat.primitives.ciphers.aead`` pulls in every cipher and mode (~2 ms), which a
    query that opens one protected name does not need; a test holds the two names equal.
    """
    try:
        from cryptography.hazmat.bindings._rust import openssl as rust_openssl

        return rust_openssl.aead.AESGCM
    except (ImportError, AttributeError):  # pragma: no cover - another cryptography layout
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        return AESGCM


def _subkey(master_key: bytes, label: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=label).derive(master_key)


def _decode_key(text: str | bytes, *, source: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except ValueError:
        raise ConfigError(
            _(
                "The PII key in {source} is not valid base64; create a key with `lycredit key pii-generate`."
            ).format(source=source)
        ) from None
    if len(key) != KEY_BYTES:
        raise ConfigError(
            _(
                "The PII key in {source} is {length} bytes long; it must be 32 bytes "
                "(create one with `lycredit key pii-generate`)."
            ).format(source=source, length=len(key))
        )
    return key


def _read_key_file(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            if mode & 0o077:
                raise ConfigError(
                    _(
                        "PII key file {path} is accessible by group or others (mode {mode}); "
                        "restrict it with: chmod 600 {path}"
                    ).format(path=path, mode=oct(mode & 0o777))
                )
            return handle.read(4096)
    except OSError as error:
        raise ConfigError(
            _("Cannot read PII key file {path}: {reason}.").format(path=path, reason=error.strerror)
        ) from None


class PiiProtector:
    """Encrypts resident ID numbers and computes their lookup hash, from a key held outside the DB.

    Two independent subkeys come from the 32-byte master key by HKDF-SHA256: one for
    AES-256-GCM encryption, one for the HMAC-SHA256 blind index. A copy of the database
    alone reveals neither the numbers nor, by guessing, which number a row holds.
    """

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != KEY_BYTES:
            raise ConfigError(
                _("The PII master key must be 32 bytes, not {length}.").format(length=len(master_key))
            )
        self._aead = _aesgcm()(_subkey(master_key, _ENCRYPTION_LABEL))
        self._index_key = _subkey(master_key, _INDEX_LABEL)

    @staticmethod
    def generate_key() -> str:
        """A new random master key, base64-encoded, for LYCREDIT_PII_KEY or its key file."""
        return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PiiProtector:
        """Build from LYCREDIT_PII_KEY (base64) or LYCREDIT_PII_KEY_FILE (a chmod 600 file)."""
        env = os.environ if environ is None else environ
        inline, key_file = env.get(KEY_ENV), env.get(KEY_FILE_ENV)
        if inline and key_file:
            raise ConfigError(
                _("Both {env} and {file_env} are set; set only one of them.").format(
                    env=KEY_ENV, file_env=KEY_FILE_ENV
                )
            )
        if inline:
            return cls(_decode_key(inline, source=KEY_ENV))
        if key_file:
            return cls(_decode_key(_read_key_file(Path(key_file)), source=key_file))
        raise ConfigError(
            _(
                "No key for protecting personal data is configured. Create one with "
                "`lycredit key pii-generate` and put it in {env} (base64), or in a file named by "
                "{file_env} (chmod 600). Keep it outside the database: without it, stored resident "
                "ID numbers cannot be read."
            ).format(env=KEY_ENV, file_env=KEY_FILE_ENV)
        )

    def encrypt(self, plaintext: str, *, context: str) -> str:
        """Seal ``plaintext`` for one place (``context``, e.g. table, column and row id).

        Returns ``v1:`` + base64url(96-bit random nonce + AES-256-GCM ciphertext and tag).
        """
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode("utf-8"), _associated_data(context))
        return TOKEN_PREFIX + base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode("ascii")

    def decrypt(self, token: str, *, context: str) -> str:
        """Open a token made by :meth:`encrypt` for the same ``context``; PiiError otherwise."""
        if not token.startswith(TOKEN_PREFIX):
            raise PiiError(_("Protected value does not start with {prefix}.").format(prefix=TOKEN_PREFIX))
        body = token[len(TOKEN_PREFIX) :]
        if not _BASE64URL.fullmatch(body) or len(body) % 4 == 1:
            raise PiiError(
                _("Protected value is not valid base64url after {prefix}.").format(prefix=TOKEN_PREFIX)
            )
        from cryptography.exceptions import InvalidTag

        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        if len(raw) < _NONCE_BYTES + _TAG_BYTES:
            raise PiiError(_("Protected value is too short to hold a nonce and a tag."))
        try:
            plaintext = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _associated_data(context))
        except InvalidTag:
            raise PiiError(
                _(
                    "Protected value failed authentication: it was altered, belongs to another "
                    "record or field, or was made with another key."
                )
            ) from None
        return plaintext.decode("utf-8")

    def blind_index(self, value: str) -> str:
        """HMAC-SHA256 (hex) of the compacted value: look a number up without decrypting."""
        compact = _compact(value)
        if not compact:
            raise ValueError("blind_index needs a non-empty value")
        return digest.hmac_sha256(self._index_key, compact.encode("utf-8")).hex()


def _associated_data(context: str) -> bytes:
    if not context:
        raise ValueError("a non-empty context binds a protected value to its place")
    return context.encode("utf-8")


# --- Art. 12 field rules --------------------------------------------------------------------

FieldClass = Literal["forbidden", "consent"]


class FieldRule(NamedTuple):  # not a dataclass: this module loads with every query (issue #5)
    """One kind of personal information Art. 12 names, and the column names that carry it.

    An alias with Chinese characters matches anywhere in a column name (after full-width
    folding and removing spaces and punctuation); an English alias matches as a run of
    whole words (``blood_type``, ``Blood Type``, ``BloodType``, ``bloodtype``, and with an
    ``s`` added to a word).
    """

    category: FieldClass
    topic: str
    topic_zh: str
    aliases: tuple[str, ...]


# Art. 12 para. 1: never collected. Para. 2: only with the subject's authorisation,
# after telling the subject what providing it may lead to.
FORBIDDEN_FIELDS: tuple[FieldRule, ...] = (
    FieldRule("forbidden", "religion", "宗教信仰", ("宗教", "信仰", "religion", "religious")),
    FieldRule("forbidden", "genes", "基因", ("基因", "gene", "genetic", "genome", "genomic", "dna")),
    FieldRule("forbidden", "fingerprints", "指纹", ("指纹", "fingerprint", "finger print")),
    FieldRule("forbidden", "blood type", "血型", ("血型", "blood type", "blood group")),
    FieldRule("forbidden", "disease", "疾病", ("疾病", "患病", "disease", "illness", "diagnosis")),
    FieldRule(
        "forbidden",
        "medical history",
        "病史",
        ("病史", "病历", "既往史", "medical history", "medical record", "health history", "case history"),
    ),
)
CONSENT_FIELDS: tuple[FieldRule, ...] = (
    FieldRule(
        "consent",
        "income",
        "收入",
        ("收入", "工资", "薪资", "薪酬", "薪金", "薪水", "年薪", "月薪", "income", "salary", "salaries", "wage",
         "earnings"),
    ),
    FieldRule("consent", "deposits", "存款", ("存款", "储蓄", "deposit", "savings", "bank balance")),
    FieldRule("consent", "securities", "有价证券", ("证券", "股票", "债券", "securities", "stocks", "bonds")),
    FieldRule(
        "consent",
        "commercial insurance",
        "商业保险",
        ("商业保险", "商业险", "保单", "保险单", "commercial insurance", "insurance policy", "life insurance"),
    ),
    FieldRule(
        "consent",
        "real estate",
        "不动产",
        ("不动产", "房产", "real estate", "real property", "realty", "immovable property"),
    ),
    FieldRule(
        "consent",
        "tax amount",
        "纳税数额",
        (
            "纳税数额",
            "纳税额",
            "纳税金额",
            "缴税金额",
            "缴税数额",
            "tax amount",
            "tax paid",
            "taxes paid",
            "amount of tax",
            "tax payment",
        ),
    ),
)


def _words(text: str) -> tuple[str, ...]:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", text)
    return tuple(re.findall(r"[a-z0-9]+", spaced.casefold()))


def _alias_matches(alias: str, words: tuple[str, ...], squeezed: str) -> bool:
    if not alias.isascii():
        return alias in squeezed
    wanted = _words(alias)
    if "".join(wanted) in words:
        return True
    return any(
        all(word in (want, want + "s") for word, want in zip(words[start:], wanted, strict=False))
        for start in range(len(words) - len(wanted) + 1)
    )


_SIMPLIFIED = str.maketrans("紋歷曆資儲證債業險單動產納稅數額繳" "証険歴産収単",
                            "纹历历资储证债业险单动产纳税数额缴" "证险历产收单")
"""The traditional forms of the characters in the Chinese aliases above, and the Japanese forms of some, to
their simplified ones: a header written so (指紋, 病歷, 不動產, 納稅額, 商業保險; 証券, 病歴, 不動産) carries the
same information."""


_NOT_ALIASES = re.compile("担保|确保")
"""Words that hold an alias's characters without its meaning: 担保单位 (the guarantor) is no 保单 (insurance
policy)."""


def _rules_of(name: str, rules: tuple[FieldRule, ...]) -> Iterator[FieldRule]:
    """The rules among ``rules`` a column name falls under, in their order. Traditional characters count as
    their simplified forms."""
    folded = unicodedata.normalize("NFKC", name).translate(_SIMPLIFIED)
    words = _words(folded)
    squeezed = _NOT_ALIASES.sub("", re.sub(r"[\W_]+", "", folded.casefold()))
    return (rule for rule in rules if any(_alias_matches(alias, words, squeezed) for alias in rule.aliases))


def field_rule(name: str) -> FieldRule | None:
    """The Art. 12 rule a column name falls under (forbidden ones first), or None."""
    return next(_rules_of(name, FORBIDDEN_FIELDS + CONSENT_FIELDS), None)


def consent_rules(name: str) -> tuple[FieldRule, ...]:
    """Every Art. 12 para. 2 rule a column name falls under (``房产税纳税额``: real estate and tax amount), each
    needing its own consent; none for a name that a forbidden rule claims, or that no rule does."""
    rules = tuple(_rules_of(name, FORBIDDEN_FIELDS + CONSENT_FIELDS))  # forbidden ones first
    return rules if rules and rules[0].category == "consent" else ()


def classify_field(name: str) -> FieldClass | None:
    """``"forbidden"`` (Art. 12 para. 1), ``"consent"`` (para. 2) or None for a column name."""
    rule = field_rule(name)
    return None if rule is None else rule.category


def forbidden_fields_in(columns: Iterable[str]) -> list[str]:
    """The column names, as given, that carry information Art. 12 forbids collecting."""
    return [column for column in columns if classify_field(column) == "forbidden"]


def consent_fields_in(columns: Iterable[str]) -> list[str]:
    """The column names, as given, that need the subject's authorisation under Art. 12."""
    return [column for column in columns if classify_field(column) == "consent"]
