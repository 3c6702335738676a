"""The signed operation log (see ../shared/design/oplog.md and the README).

Every change lycredit makes is a leaf of an RFC 6962 Merkle tree, signed per
operation with the operator's Ed25519 key and checkpointed as a C2SP signed
note: ``canonical`` (RFC 8785 entry bytes), ``merkle`` (tree, proofs),
``note`` (signed notes, checkpoints), ``log`` (the unit of work through which
all writes pass), ``verify`` (``audit verify``), ``anchor``.
"""
