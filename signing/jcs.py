"""RFC 8785 JSON Canonicalization Scheme (JCS)."""

from __future__ import annotations

import rfc8785


def canonicalize(value: object) -> bytes:
    """Return the JCS bytes of a JSON value; raises ``rfc8785.CanonicalizationError`` subclasses on
    values JSON cannot carry (NaN, non-string keys, integers beyond IEEE-754 doubles)."""
    # rfc8785 types its input as its private JSON alias; callers pass arbitrary decoded JSON.
    return rfc8785.dumps(value)  # type: ignore[arg-type]
