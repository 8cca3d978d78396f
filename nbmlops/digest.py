"""SHA-256 of bytes in memory without loading OpenSSL when the input is small.

Importing hashlib loads OpenSSL (~4 ms, a good part of a trivial step's budget); CPython's built-in SHA-256
module gives the same digest at no import cost, but OpenSSL is faster on big inputs (SHA CPU extensions), so
those, and files, go through hashlib.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_builtin: Callable[[bytes], Any] | None
try:
    from _sha256 import sha256 as _builtin  # CPython 3.11
except ImportError:  # pragma: no cover - CPython 3.12+ names it _sha2; other interpreters have neither
    try:
        from _sha2 import sha256 as _builtin
    except ImportError:
        _builtin = None

SMALL = 1 << 20


def sha256_hex(data: bytes) -> str:
    if _builtin is not None and len(data) < SMALL:
        return _builtin(data).hexdigest()
    import hashlib

    return hashlib.sha256(data).hexdigest()
