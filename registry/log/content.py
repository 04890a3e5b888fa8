"""A log entry's bytes and leaf hash, as plain functions: no database here, so bulk issuance's signing workers
build each licence's ``issued`` entry beside its signature and the single writer only inserts it."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Any, NamedTuple

from signing.jcs import canonicalize
from verification.merkle import leaf_hash
from verification.status_list import format_timestamp


class Entry(NamedTuple):
    kind: str
    ref: str
    content: bytes
    at: datetime
    leaf: bytes  # RFC 9162 leaf hash of ``content``


def sha256_b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")


def entry(kind: str, ref: str, at: datetime, **members: Any) -> Entry:
    content = canonicalize({"kind": kind, **members, "at": format_timestamp(at)})
    return Entry(kind, ref, content, at, leaf_hash(content))


def issued(
    *,
    identifier: str,
    issuer_code: str,
    license_type: str,
    version: int,
    previous: str | None,
    credential_jcs: str,
    at: datetime,
) -> Entry:
    return entry(
        "issued",
        identifier,
        at,
        identifier=identifier,
        issuer=issuer_code,
        type=license_type,
        version=version,
        previous=previous,
        credential_sha256=sha256_b64(credential_jcs.encode()),
    )
