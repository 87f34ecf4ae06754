"""Idempotent writes: the digest stored with a write under an idempotency key, which tells a replay (the same
content: answer with the first result) from a conflicting reuse of the key (other content: 409)."""

import hashlib
import json


def body_hash(**content) -> str:
    """SHA-256 of the content as sorted JSON (values that JSON lacks, such as Decimal or datetime, as str)."""
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()
