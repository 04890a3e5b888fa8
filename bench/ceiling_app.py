"""The ceiling for verify-by-scan: a bare Litestar app that only decodes the ``LC1:`` payload and checks its
Data Integrity proof with the department's key — no database, no trust list, no status, no rate limit.

    BENCH_PUBLIC_KEY=<multibase Ed25519 Multikey> uvicorn bench.ceiling_app:app

bench/verify.py runs it beside ``registry serve``, under the same load, so their ratio is the share of the
machine's ceiling the registry reaches.
"""

from __future__ import annotations

import os
from typing import Any

from litestar import Litestar, post
from pydantic import BaseModel

from signing.data_integrity import verify_proof
from signing.errors import SigningError
from signing.multikey import multikey_to_public_key
from verification.payload import PayloadError, decode_payload

PUBLIC_KEY = multikey_to_public_key(os.environ["BENCH_PUBLIC_KEY"])


class Scan(BaseModel):
    payload: str


@post("/api/v1/verifications", status_code=200)
async def verify(data: Scan) -> dict[str, Any]:
    try:
        doc = decode_payload(data.payload)
        verify_proof(doc, PUBLIC_KEY)
    except (PayloadError, SigningError) as exc:
        return {"verdict": "bad", "valid": False, "detail": str(exc)}
    return {"verdict": "valid", "valid": True, "id": doc.get("id")}


app = Litestar(route_handlers=[verify], debug=False, logging_config=None)
