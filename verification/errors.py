"""The verifier's error tree and its verdict codes (DESIGN §6 "Verifying").

One framework-free family, modelled on sigstore-python's ``sigstore/errors.py``: every failed check raises a
:class:`VerificationError` subclass that carries the :class:`Verdict` it maps to and the name of the check
that failed; the edge (``Verifier.check_payload`` / ``check_credential``, the HTTP layer) turns it into a
verdict code. Messages are Chinese first with the English beside ("已撤销 / revoked").

:class:`StatusListError` and :class:`TrustListError` are not verdicts: they say that a status list or a
trust list document is unusable, which the caller reports in its own way (a stale or missing source).
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

__all__ = [
    "VERDICT_MESSAGES",
    "BadSignature",
    "Expired",
    "KeyRevoked",
    "Malformed",
    "NotYetValid",
    "Revoked",
    "StatusListError",
    "Suspended",
    "TrustListError",
    "UnknownIssuer",
    "Unsupported",
    "Verdict",
    "VerificationError",
]


class Verdict(StrEnum):
    """The one reason code a verification ends with (DESIGN §6)."""

    valid = "valid"
    revoked = "revoked"
    suspended = "suspended"
    expired = "expired"
    not_yet_valid = "not_yet_valid"
    bad_signature = "bad_signature"
    unknown_issuer = "unknown_issuer"
    key_revoked = "key_revoked"
    malformed = "malformed"
    unsupported = "unsupported"


VERDICT_MESSAGES: dict[Verdict, str] = {
    Verdict.valid: "有效 / valid",
    Verdict.revoked: "已撤销 / revoked",
    Verdict.suspended: "已暂扣 / suspended",
    Verdict.expired: "已过期 / expired",
    Verdict.not_yet_valid: "尚未生效 / not yet valid",
    Verdict.bad_signature: "签名无效 / bad signature",
    Verdict.unknown_issuer: "签发机构不受信任 / unknown issuer",
    Verdict.key_revoked: "签发密钥已失效 / signing key revoked",
    Verdict.malformed: "凭证格式错误 / malformed",
    Verdict.unsupported: "不支持的凭证格式 / unsupported",
}


class VerificationError(Exception):
    """A credential failed a check. ``verdict`` is the reason code, ``check`` the name of the failed check
    (``decode``, ``format``, ``issuer``, ``signature``, ``key``, ``validity``, ``status``,
    ``full_credential``); the message is bilingual. Raise a subclass, never this class itself."""

    verdict: ClassVar[Verdict] = Verdict.malformed

    def __init__(self, message: str, *, check: str) -> None:
        self.check = check
        self.message = message
        super().__init__(message)


class Malformed(VerificationError):
    """Not decodable, not a credential, or a member is missing or of the wrong type."""

    verdict = Verdict.malformed


class Unsupported(VerificationError):
    """A well-formed credential in a form this verifier does not handle (other cryptosuite, proof sets…)."""

    verdict = Verdict.unsupported


class BadSignature(VerificationError):
    """The proof does not verify, or the compact form does not match its full credential."""

    verdict = Verdict.bad_signature


class UnknownIssuer(VerificationError):
    """The signing key is not trusted, or it does not belong to the credential's issuer."""

    verdict = Verdict.unknown_issuer


class KeyRevoked(VerificationError):
    """The signing key was compromised, or it was not valid when the credential was issued."""

    verdict = Verdict.key_revoked


class Expired(VerificationError):
    """``validUntil`` has passed."""

    verdict = Verdict.expired


class NotYetValid(VerificationError):
    """``validFrom`` is in the future."""

    verdict = Verdict.not_yet_valid


class Revoked(VerificationError):
    """The revocation bit is set."""

    verdict = Verdict.revoked


class Suspended(VerificationError):
    """The suspension bit is set."""

    verdict = Verdict.suspended


class StatusListError(ValueError):
    """A Bitstring Status List (encoded list or credential) is malformed. ``reason`` is a machine word:
    ``shape``, ``multibase``, ``gzip``, ``too_large``, ``length``, ``range``, ``unsupported``."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


class TrustListError(ValueError):
    """A trust list is unusable. ``reason`` is a machine word: ``shape`` (a member is missing or ill-typed),
    ``untrusted_key`` (signed by a key whose fingerprint is not pinned), ``bad_signature``."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)
