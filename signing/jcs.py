"""RFC 8785 JSON Canonicalization Scheme (JCS).

Credentials are canonicalized several times per issuance and per scan, and the pure-Python ``rfc8785``
package spends ~150 µs on one. For the values the registry actually signs -- objects with BMP keys, lists,
strings, safe integers, booleans and null -- the standard library's C JSON encoder with sorted keys and
compact separators writes exactly the JCS bytes, about 6× faster: its key order (code points) equals JCS's
(UTF-16 code units) for keys below U+D800, and it escapes strings as ECMAScript does (``\\b \\f \\n \\r \\t``,
``\\"``, ``\\\\``, other controls as lowercase ``\\u00xx``). Anything else -- floats, keys with surrogates or
astral characters, other mapping or sequence types, integers beyond ±(2**53 - 1), lone surrogates -- goes to
``rfc8785``, which stays the reference (the tests compare the two on generated values).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import rfc8785

_INT_LIMIT = 2**53 - 1  # rfc8785's safe-integer domain
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False).encode


def _plain(value: object) -> bool:
    """Whether the C encoder writes ``value`` exactly as JCS does (see the module docstring). Iterative, with
    the common leaves checked inline: this walk is most of what the fast path costs."""
    stack = [value]
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is dict:
            items: Iterable[object] = node.values()  # type: ignore[attr-defined]
            for key in node:  # type: ignore[attr-defined]
                if type(key) is not str or (not key.isascii() and max(key, default="") >= "\ud800"):
                    return False
        elif kind is list:
            items = node  # type: ignore[assignment]
        else:
            items = (node,)
        for item in items:
            kind = type(item)
            if kind is str or item is None or kind is bool:
                continue
            if kind is int:
                if not -_INT_LIMIT <= item <= _INT_LIMIT:  # type: ignore[operator]
                    return False
            elif kind is dict or kind is list:
                stack.append(item)
            else:
                return False
    return True


def canonicalize(value: object) -> bytes:
    """Return the JCS bytes of a JSON value; raises ``rfc8785.CanonicalizationError`` subclasses on
    values JSON cannot carry (NaN, non-string keys, integers beyond IEEE-754 doubles, lone surrogates)."""
    if _plain(value):
        try:
            return _encode(value).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: let rfc8785 refuse it with its own error
            pass
    # rfc8785 types its input as its private JSON alias; callers pass arbitrary decoded JSON.
    return rfc8785.dumps(value)  # type: ignore[arg-type]
