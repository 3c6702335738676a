"""The signed operation log (design: shared/design/oplog.md), which makes Art. 28 and Art. 47 checkable.

Every change lycredit makes and every query of non-public information becomes
a log entry, signed by its operator and appended to an RFC 6962 / RFC 9162
Merkle tree whose checkpoints are C2SP signed notes, so that an auditor who
trusts neither the database nor its administrator can check, offline, that
nothing was altered, deleted, inserted, moved or cut back.

The pure building blocks use only the standard library and ``cryptography``:
:mod:`~lycredit.oplog.canonical` (RFC 8785 entry bytes),
:mod:`~lycredit.oplog.merkle` (tree hashes, proofs, the compact frontier) and
:mod:`~lycredit.oplog.note` (signed notes, verifier keys, checkpoints).
"""
