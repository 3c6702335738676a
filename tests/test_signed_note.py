"""C2SP signed notes and tlog checkpoints: the published known answer, and every way a note can be wrong."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given
from hypothesis import strategies as st

from lycredit.oplog.merkle import leaf_hash
from lycredit.oplog.note import (
    Checkpoint,
    NoteError,
    key_id,
    open_note,
    parse_private_key,
    parse_verifier_key,
    sign_note,
    verifier_key,
)

EM_DASH = "\u2014"


def load_vectors(name: str) -> dict:
    """A file of ../shared/testdata (or $LYCREDIT_TESTDATA); missing is a failure, never a skip."""
    places = [Path(__file__).resolve().parents[2] / "shared" / "testdata"]
    if os.environ.get("LYCREDIT_TESTDATA"):
        places.append(Path(os.environ["LYCREDIT_TESTDATA"]))
    for place in places:
        if (place / name).is_file():
            return json.loads((place / name).read_text(encoding="utf-8"))
    pytest.fail(f"test vectors {name} not found in {', '.join(map(str, places))}: CI checks out ../shared "
                "next to the clone; elsewhere set LYCREDIT_TESTDATA to the testdata directory")


@pytest.fixture(scope="module")
def kat() -> dict:
    return load_vectors("signed-note-kat.json")


def raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def new_signer(name: str) -> tuple[str, Ed25519PrivateKey, str]:
    key = Ed25519PrivateKey.generate()
    return name, key, verifier_key(name, raw(key))


# The known answer

def test_signing_the_published_text_reproduces_the_published_note_byte_for_byte(kat) -> None:
    name, key = parse_private_key(kat["private_key"])
    assert name == kat["key_name"]
    note = sign_note(kat["text"], [(name, key)])
    assert note == kat["signed_note"]
    assert note.encode("utf-8") == kat["signed_note"].encode("utf-8")


def test_the_published_note_opens_with_the_published_verifier_key(kat) -> None:
    assert open_note(kat["signed_note"], [kat["verifier_key"]]) == (kat["text"], [kat["key_name"]])


def test_key_strings_and_key_id_match_the_published_vector(kat) -> None:
    name, key = parse_private_key(kat["private_key"])
    assert key_id(name, raw(key)).hex() == kat["key_id_hex"]
    assert verifier_key(name, raw(key)) == kat["verifier_key"]
    assert parse_verifier_key(kat["verifier_key"]) == (name, bytes.fromhex(kat["key_id_hex"]), raw(key))


def test_key_id_is_sha256_of_name_newline_type_byte_and_key() -> None:
    public = bytes(range(32))
    assert key_id("log.example/a", public) == hashlib.sha256(b"log.example/a\n\x01" + public).digest()[:4]


def test_verifiers_may_be_a_dict_keyed_by_verifier_key(kat) -> None:
    assert open_note(kat["signed_note"], {kat["verifier_key"]: object()})[1] == [kat["key_name"]]


# Who signed

def test_signatures_by_unknown_keys_are_ignored(kat) -> None:
    name, key = parse_private_key(kat["private_key"])
    stranger, stranger_key, _ = new_signer("witness.example/w1")
    note = sign_note(kat["text"], [(stranger, stranger_key), (name, key)])
    assert open_note(note, [kat["verifier_key"]]) == (kat["text"], [name])


def test_every_known_signer_is_reported_in_signature_order() -> None:
    a, a_key, a_vk = new_signer("a.example")
    b, b_key, b_vk = new_signer("b.example")
    note = sign_note("text\n", [(b, b_key), (a, a_key)])
    assert open_note(note, [a_vk, b_vk]) == ("text\n", ["b.example", "a.example"])


def test_a_note_no_known_key_signed_is_rejected(kat) -> None:
    _, _, other_vk = new_signer("PeterNeumann")  # same name, other key, so another key id
    with pytest.raises(NoteError, match="no signature by a known key"):
        open_note(kat["signed_note"], [other_vk])
    with pytest.raises(NoteError, match="no signature by a known key"):
        open_note(kat["signed_note"], [])


def test_altered_text_is_rejected(kat) -> None:
    altered = kat["signed_note"].replace("answer", "Answer", 1)
    with pytest.raises(NoteError, match="signature 1 by PeterNeumann \\(key id c74f20a3\\) does not verify"):
        open_note(altered, [kat["verifier_key"]])


def test_a_blank_line_inserted_into_the_text_is_rejected(kat) -> None:
    altered = kat["signed_note"].replace("problem,\n", "problem,\n\n", 1)
    with pytest.raises(NoteError, match="does not verify"):
        open_note(altered, [kat["verifier_key"]])


@pytest.mark.parametrize("position", [4, 10, 67])
def test_altered_signature_is_rejected(kat, position: int) -> None:
    text, sig_line = kat["signed_note"].rsplit("\n\n", 1)
    prefix, encoded = sig_line.rstrip("\n").rsplit(" ", 1)
    blob = bytearray(base64.b64decode(encoded))
    blob[position] ^= 0x01
    forged = f"{text}\n\n{prefix} {base64.b64encode(bytes(blob)).decode()}\n"
    with pytest.raises(NoteError, match="does not verify"):
        open_note(forged, [kat["verifier_key"]])


def test_a_signature_whose_key_id_was_altered_counts_as_an_unknown_key(kat) -> None:
    text, sig_line = kat["signed_note"].rsplit("\n\n", 1)
    prefix, encoded = sig_line.rstrip("\n").rsplit(" ", 1)
    blob = bytearray(base64.b64decode(encoded))
    blob[0] ^= 0x01
    forged = f"{text}\n\n{prefix} {base64.b64encode(bytes(blob)).decode()}\n"
    with pytest.raises(NoteError, match="no signature by a known key"):
        open_note(forged, [kat["verifier_key"]])


def test_a_bad_signature_by_a_known_key_rejects_the_note_even_beside_a_good_one() -> None:
    a, a_key, a_vk = new_signer("a.example")
    b, b_key, b_vk = new_signer("b.example")
    good = sign_note("text\n", [(a, a_key)])
    by_b_over_other_text = sign_note("other\n", [(b, b_key)]).split("\n\n", 1)[1]
    with pytest.raises(NoteError, match="signature 2 by b.example .* does not verify"):
        open_note(good + by_b_over_other_text, [a_vk, b_vk])


def test_text_may_hold_blank_lines_the_last_one_separates_the_signatures() -> None:
    name, key, vk = new_signer("a.example")
    text = "first\n\nsecond\n\n"
    assert open_note(sign_note(text, [(name, key)]), [vk]) == (text, [name])


# Malformed notes and keys

@pytest.mark.parametrize(("mangle", "words"), [
    (lambda n: n.replace("\n\n", "\n"), "no blank line separates the text from the signatures"),
    (lambda n: n[:-1], "the signature lines must end with a newline"),
    (lambda n: n.replace(EM_DASH, "-"), "signature line 1: does not start with an em dash and a space"),
    (lambda n: n.replace("PeterNeumann ", "PeterNeumann\u00a0"), "no space between key name and signature"),
    (lambda n: n.replace("PeterNeumann ", "Peter+Neumann "), "key name 'Peter\\+Neumann': contains a space or"),
    (lambda n: n.replace(f"{EM_DASH} PeterNeumann", f"{EM_DASH} "), "key name: empty"),
    (lambda n: n.replace("x08go", "x08g*"), "is not standard base64"),
    (lambda n: n.replace("nAM=", "nAN="), "is not canonical base64"),
    (lambda n: n.rsplit(" ", 1)[0] + " AAAA\n", "3 bytes, too short for a key id and a signature"),
    (lambda n: n.replace("problem,", "problem,\r"), "note: control character U\\+000D"),
    (lambda n: n.replace("If", "If\ud800"), "note: lone surrogate"),
    (lambda n: "", "note: empty"),
])
def test_malformed_notes_are_rejected_saying_why(kat, mangle, words: str) -> None:
    with pytest.raises(NoteError, match=words):
        open_note(mangle(kat["signed_note"]), [kat["verifier_key"]])


def test_a_note_with_more_than_100_signature_lines_is_rejected(kat) -> None:
    line = kat["signed_note"].split("\n\n")[1]
    with pytest.raises(NoteError, match="101 signature lines, more than the 100 accepted"):
        open_note(kat["signed_note"] + line * 100, [kat["verifier_key"]])


def test_sixteen_signatures_are_accepted() -> None:
    signers = [new_signer(f"w{i}.example") for i in range(16)]
    note = sign_note("text\n", [(n, k) for n, k, _ in signers])
    assert len(open_note(note, [vk for _, _, vk in signers])[1]) == 16


@pytest.mark.parametrize(("text", "words"), [
    ("", "note text: empty"),
    ("no newline", "note text: must end with a newline"),
    ("tab\there\n", "control character U\\+0009"),
    ("\ud83d\n", "lone surrogate"),
])
def test_sign_note_refuses_text_that_is_not_a_note(text: str, words: str) -> None:
    name, key, _ = new_signer("a.example")
    with pytest.raises(NoteError, match=words):
        sign_note(text, [(name, key)])


@pytest.mark.parametrize(("name", "words"), [
    ("", "key name: empty"),
    ("a b", "contains a space or '\\+'"),
    ("a+b", "contains a space or '\\+'"),
    ("a\u3000b", "contains a space or '\\+'"),
])
def test_sign_note_refuses_key_names_that_cannot_be_parsed_back(name: str, words: str) -> None:
    _, key, _ = new_signer("a.example")
    with pytest.raises(NoteError, match=words):
        sign_note("text\n", [(name, key)])


def test_sign_note_needs_a_signer() -> None:
    with pytest.raises(NoteError, match="no signers given"):
        sign_note("text\n", [])


@pytest.mark.parametrize(("mangle", "words"), [
    (lambda k: k.replace("+", "-"), "expected name\\+keyid\\+key"),
    (lambda k: k.replace("c74f20a3", "c74f20a4"), "key id c74f20a4 does not match the name and key"),
    (lambda k: k.replace("c74f20a3", "c74f20a"), "key id 'c74f20a' is not 8 hexadecimal digits"),
    (lambda k: k.replace("c74f20a3", "c74f20g3"), "is not 8 hexadecimal digits"),
    (lambda k: k.replace("PeterNeumann", "PeterNeumann2"), "does not match the name and key"),
    (lambda k: k.replace("+ARpc", "+Apc"), "not standard base64"),
    (lambda k: k[:-4], "30 key bytes, expected 33"),
    (lambda k: k.replace("+ARpc", "+AhpC"), "key type 0x02 is not Ed25519"),
])
def test_malformed_verifier_keys_are_rejected_saying_why(kat, mangle, words: str) -> None:
    with pytest.raises(NoteError, match=words):
        parse_verifier_key(mangle(kat["verifier_key"]))


def test_verifier_key_base64_may_hold_plus_signs() -> None:
    for seed in range(40):
        key = Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)
        vk = verifier_key("log.example", raw(key))
        assert parse_verifier_key(vk)[2] == raw(key)


def test_two_verifier_keys_with_one_name_and_key_id_are_ambiguous(kat) -> None:
    with pytest.raises(NoteError, match="two keys named PeterNeumann share key id c74f20a3"):
        open_note(kat["signed_note"], [kat["verifier_key"], kat["verifier_key"]])


@pytest.mark.parametrize(("mangle", "words"), [
    (lambda k: k.replace("PRIVATE+KEY+", "PUBLIC+KEY+"), "expected PRIVATE\\+KEY\\+name\\+keyid\\+key"),
    (lambda k: k.replace("PRIVATE+KEY+", ""), "expected PRIVATE\\+KEY"),
    (lambda k: k.replace("c74f20a3", "00000000"), "private key: key id 00000000 does not match"),
    (lambda k: k[:-2], "private key: .* is not standard base64"),
])
def test_malformed_private_keys_are_rejected_saying_why(kat, mangle, words: str) -> None:
    with pytest.raises(NoteError, match=words):
        parse_private_key(mangle(kat["private_key"]))


# Checkpoints

ROOT = leaf_hash(b"entry")
origins = st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=20)


@given(origins, st.integers(0, 2**64 - 1), st.binary(min_size=32, max_size=32),
       st.lists(origins, max_size=3).map(tuple))
def test_checkpoint_text_round_trips(origin: str, size: int, root: bytes, extensions: tuple[str, ...]) -> None:
    checkpoint = Checkpoint(origin, size, root, extensions)
    assert Checkpoint.parse(checkpoint.text()) == checkpoint


def test_checkpoint_text_is_origin_size_and_base64_root_each_on_a_line() -> None:
    text = Checkpoint("lycredit.example/log", 20852163, ROOT).text()
    assert text == f"lycredit.example/log\n20852163\n{base64.b64encode(ROOT).decode()}\n"


def test_a_signed_checkpoint_opens_and_parses_back() -> None:
    name, key, vk = new_signer("lycredit.example/log")
    checkpoint = Checkpoint("lycredit.example/log", 7, ROOT)
    text, names = open_note(sign_note(checkpoint.text(), [(name, key)]), [vk])
    assert (Checkpoint.parse(text), names) == (checkpoint, [name])


def test_extension_lines_are_kept() -> None:
    text = Checkpoint("o", 1, ROOT).text() + "ext one\next two\n"
    assert Checkpoint.parse(text).extensions == ("ext one", "ext two")
    assert Checkpoint.parse(text).text() == text


B64_ROOT = base64.b64encode(ROOT).decode()


@pytest.mark.parametrize(("text", "words"), [
    (f"o\n01\n{B64_ROOT}\n", "size: '01' is not a decimal number without leading zeros"),
    (f"o\n00\n{B64_ROOT}\n", "'00' is not a decimal number"),
    (f"o\n-1\n{B64_ROOT}\n", "'-1' is not a decimal number"),
    (f"o\n+1\n{B64_ROOT}\n", "'\\+1' is not a decimal number"),
    (f"o\n 1\n{B64_ROOT}\n", "' 1' is not a decimal number"),
    (f"o\n1.0\n{B64_ROOT}\n", "'1.0' is not a decimal number"),
    (f"o\n\u0661\n{B64_ROOT}\n", "is not a decimal number"),  # ARABIC-INDIC DIGIT ONE
    (f"o\n\n{B64_ROOT}\n", "'' is not a decimal number"),
    (f"o\n{2**64}\n{B64_ROOT}\n", "checkpoint size: 18446744073709551616 is not an integer from 0 to 2\\*\\*64 - 1"),
    (f"o\n{'9' * 5000}\n{B64_ROOT}\n", "5000 digits, too large for a tree size"),
    ("o\n1\nnot base64!\n", "checkpoint root: 'not base64!' is not standard base64"),
    (f"o\n1\n{B64_ROOT.rstrip('=')}\n", "is not standard base64"),
    (f"o\n1\n{base64.b64encode(ROOT[:31]).decode()}\n", "checkpoint root: 31 bytes, expected 32 bytes"),
    (f"o\n1\n{base64.b64encode(ROOT + b'x').decode()}\n", "checkpoint root: 33 bytes"),
    (f"\n1\n{B64_ROOT}\n", "checkpoint origin: empty"),
    (f"o\n1\n{B64_ROOT}", "the text must end with a newline"),
    ("o\n1\n", "2 lines, expected origin, size and root hash"),
    (f"o\n1\n{B64_ROOT}\n\n", "checkpoint extension line 1: empty"),
    (f"o\n1\n{B64_ROOT}\next\n\nmore\n", "checkpoint extension line 2: empty"),
    (f"o\r\n1\n{B64_ROOT}\n", "control character U\\+000D"),
    ("", "checkpoint: empty"),
])
def test_checkpoint_parsing_is_strict(text: str, words: str) -> None:
    with pytest.raises(NoteError, match=words):
        Checkpoint.parse(text)


@pytest.mark.parametrize(("args", "words"), [
    (("", 1, ROOT), "checkpoint origin: empty"),
    (("a\nb", 1, ROOT), "checkpoint origin: contains a newline"),
    (("o", -1, ROOT), "checkpoint size: -1 is not an integer"),
    (("o", True, ROOT), "checkpoint size: True is not an integer"),
    (("o", "1", ROOT), "checkpoint size: '1' is not an integer"),
    (("o", 1, ROOT.hex()), "checkpoint root: a str, expected 32 bytes"),
    (("o", 1, ROOT, ("",)), "checkpoint extension line 1: empty"),
])
def test_checkpoint_refuses_values_it_cannot_write(args, words: str) -> None:
    with pytest.raises(NoteError, match=words):
        Checkpoint(*args)
