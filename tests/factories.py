"""Test data that looks like the real thing: check-valid codes and IDs, made fresh for each test."""

from __future__ import annotations

import random
from datetime import date, timedelta

from verification.identifiers import resident_id_check, uscc_check

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def new_uscc(prefix: str = "11") -> str:
    """A government organ's (11…) or a company's (91…) unified social credit code with a valid check."""
    body = prefix + "440300" + "".join(random.choice(USCC_ALPHABET[:10] + "ABCDEFGH") for _ in range(9))
    return body + uscc_check(body)


def new_resident_id(region: str = "440304", born: date | None = None, male: bool = True) -> str:
    born = born or date(1960, 1, 1) + timedelta(days=random.randrange(20000))
    seq = random.randrange(0, 500) * 2 + (1 if male else 0)
    body = f"{region}{born:%Y%m%d}{seq:03d}"
    return body + resident_id_check(body)


def corrupt_check(code: str) -> str:
    """The same code with a different (wrong) last character."""
    last = code[-1]
    return code[:-1] + ("1" if last != "1" else "2")
