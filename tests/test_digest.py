"""lycredit.digest: the same SHA-256 and HMAC-SHA-256 bytes from hashlib and from cryptography."""

from __future__ import annotations

import hashlib
import hmac
import subprocess
import sys
import textwrap

from hypothesis import given, settings
from hypothesis import strategies as st

from lycredit import digest


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=3000), key=st.binary(min_size=1, max_size=64), more=st.binary(max_size=100))
def test_both_libraries_give_the_same_digests(data: bytes, key: bytes, more: bytes) -> None:
    ours = digest._CryptographySHA256(data)
    assert ours.digest() == hashlib.sha256(data).digest()
    ours.update(more)
    assert ours.hexdigest() == hashlib.sha256(data + more).hexdigest()
    assert digest.sha256(data).digest() == hashlib.sha256(data).digest()
    assert digest.hmac_sha256(key, data) == hmac.new(key, data, hashlib.sha256).digest()


def test_a_process_with_cryptography_and_without_hashlib_uses_cryptography_and_agrees() -> None:
    script = textwrap.dedent("""
        import sys
        import cryptography.hazmat.primitives.asymmetric.ed25519  # what a logged query loads to sign
        from lycredit import digest
        from lycredit.oplog.merkle import leaf_hash, root_from_leaf_hashes
        leaves = [leaf_hash(bytes([i]) * i) for i in range(7)]
        print(root_from_leaf_hashes(leaves).hex(), digest.hmac_sha256(b"k", b"v").hex())
        print(digest._impl is digest._CryptographySHA256, "hashlib" in sys.modules)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    root, mac = done.stdout.splitlines()[0].split()
    from lycredit.oplog.merkle import leaf_hash, root_from_leaf_hashes

    digest.reset()
    assert root == root_from_leaf_hashes([leaf_hash(bytes([i]) * i) for i in range(7)]).hex()
    assert mac == hmac.new(b"k", b"v", hashlib.sha256).hexdigest()
    assert done.stdout.splitlines()[1] == "True False"
