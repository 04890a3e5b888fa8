"""The framework-free verifier of DESIGN §3 flow 2 ("verify by scan"), modelled on sigstore-python's
``Verifier``: :meth:`Verifier.verify` returns ``None`` or raises a :class:`VerificationError` naming the
verdict and the failed check; :meth:`Verifier.check_payload` / :meth:`Verifier.check_credential` are the
edge that never raises and reports every check.

What the verifier trusts and consults is composed from small sources (sigstore ``policy.py`` style):

* :class:`TrustSource` — who may sign: :class:`TrustListSource` (a verified trust list, offline),
  :class:`StaticKeys` (keys the caller pins explicitly), :class:`AnyOf` (the first that knows the key), or
  the registry's own database (in ``registry``).
* :class:`StatusSource` — revocation and suspension bits: :class:`SnapshotStatus` (status lists loaded from
  files, judged stale past ``max_age``) or :class:`NoStatus` (loudly: no status is known).
* :class:`IssuanceRecords` — online only: when the registry really signed a credential. Only this can save
  credentials of a compromised key: offline, a forger holding the stolen key can backdate ``proof.created``,
  so offline every credential of a revoked key is ``key_revoked``.
* :class:`FullCredentialSource` — online only: the full credential behind a compact QR credential.

The checklist, in order (each step is a numbered comment in :meth:`Verifier._pipeline`): decode, format,
issuer, signature, key, validity, status, and full_credential for the compact form. The first failing step
decides the verdict; a status that cannot be learnt is *unknown* (the check's ``ok`` is ``None``) and leaves
the verdict ``valid`` — the result's ``status_freshness`` says how much to rely on it.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

from signing.data_integrity import CRYPTOSUITE, PROOF_TYPE, verify_proof
from signing.errors import KeyFormatError, ProofError, SigningError
from signing.jcs import canonicalize
from signing.multikey import did_key, multikey_to_public_key, public_key_from_did_key
from verification.errors import (
    VERDICT_MESSAGES,
    BadSignature,
    Expired,
    KeyRevoked,
    Malformed,
    NotYetValid,
    Revoked,
    StatusListError,
    Suspended,
    UnknownIssuer,
    Unsupported,
    Verdict,
    VerificationError,
)
from verification.identifiers import IdentifierError, LicenseIdentifier
from verification.payload import PayloadError, decode_payload
from verification.status_list import (
    VC_CONTEXT,
    StatusListSnapshot,
    bit_at,
    format_timestamp,
    parse_status_list_credential,
    parse_timestamp,
)
from verification.trust_list import KeyInfo, TrustList

__all__ = [
    "CHECKS",
    "AnyOf",
    "Check",
    "Freshness",
    "FullCredentialSource",
    "IssuanceRecords",
    "KeyInfo",
    "LicenseSummary",
    "NoStatus",
    "SnapshotStatus",
    "StaticKeys",
    "StatusAnswer",
    "StatusSource",
    "TrustListSource",
    "TrustSource",
    "Verdict",
    "VerificationError",
    "VerificationResult",
    "Verifier",
    "load_status_list",
]

CHECKS: Final = ("decode", "format", "issuer", "signature", "key", "validity", "status", "full_credential")
"""Every check a result may list, in order; ``full_credential`` only for the compact form."""

COMPACT_TYPE: Final = "ElectronicLicenseCompact"
STATUS_ENTRY_TYPE: Final = "BitstringStatusListEntry"
# Bounds on a credential handed over as JSON (a decoded payload is already bounded by decode_payload):
# generous for any real licence, small enough that a hostile document costs milliseconds.
MAX_DEPTH: Final = 32
MAX_NODES: Final = 5_000
MAX_CHARS: Final = 262_144
MAX_STATUS_ENTRIES: Final = 16
_MAX_SAFE_INTEGER: Final = 2**53 - 1  # JCS serialises numbers as IEEE-754 doubles
_STATUS_INDEX: Final = re.compile(r"0|[1-9][0-9]{0,17}")
_STATUS_ORDER: Final = {"revocation": 0, "suspension": 1}
_NOT_CHECKED: Final = "未检查 / not checked"
_TOO_MANY: Final = f"凭证过大 / credential has more than {MAX_NODES} JSON values"
_TOO_DEEP: Final = f"凭证嵌套层级过深 / credential nested deeper than {MAX_DEPTH}"


# --- what sources answer ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Freshness:
    """How current a trust list or status list is: issued ``as_of``, ``age_seconds`` old, ``stale`` once past
    its freshness window. ``source`` names where it came from."""

    as_of: datetime
    age_seconds: float
    stale: bool
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": format_timestamp(self.as_of),
            "age_seconds": round(self.age_seconds, 3),
            "stale": self.stale,
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class StatusAnswer:
    """One status bit: ``set`` True/False, or ``None`` when unknown (no list, index out of range, lookup
    failed); ``as_of`` when the list was published; ``stale`` once past its freshness window. ``issuer_id``,
    when given, is who signed the list: the verifier ignores a bit from anyone but the credential's issuer."""

    set: bool | None
    as_of: datetime | None
    stale: bool = False
    issuer_id: str | None = None


class TrustSource(Protocol):
    """Who may sign: the key behind a verification method, or ``None`` if it is not trusted."""

    def key(self, verification_method: str) -> KeyInfo | None: ...

    def freshness(self, now: datetime) -> Freshness | None: ...


class StatusSource(Protocol):
    """The bit at ``index`` of the ``purpose`` list published at ``list_url``."""

    def status(self, list_url: str, index: int, purpose: str, now: datetime) -> StatusAnswer: ...


class IssuanceRecords(Protocol):
    """Online only: when the registry itself signed the credential ``credential_id``, or ``None``."""

    def issued_at(self, credential_id: str) -> datetime | None: ...


class FullCredentialSource(Protocol):
    """Online only: the signed full credential behind a compact one, or ``None``."""

    def full(self, credential_id: str) -> Mapping[str, Any] | None: ...


# --- trust sources ---------------------------------------------------------------------------------------


class TrustListSource:
    """Trust exactly the keys of a verified :class:`TrustList` (offline verification)."""

    def __init__(self, trust_list: TrustList) -> None:
        if not isinstance(trust_list, TrustList):
            raise TypeError("TrustListSource needs a TrustList from verify_trust_list()")
        self.trust_list = trust_list

    def key(self, verification_method: str) -> KeyInfo | None:
        return self.trust_list.keys.get(verification_method)

    def freshness(self, now: datetime) -> Freshness | None:
        tl = self.trust_list
        return Freshness(
            as_of=tl.issued,
            age_seconds=tl.age(now).total_seconds(),
            stale=tl.is_stale(now),
            source=f"trust-list:{tl.registry_id}",
        )


class StaticKeys:
    """Keys the caller trusts explicitly (``registry verify --trust-key``).

    :meth:`from_multikeys` takes Ed25519 Multikeys (``z6Mk…``) or did:keys (``did:key:z6Mk…`` with or
    without the ``#z6Mk…`` fragment); a credential whose verificationMethod is that did:key, with or without
    its fragment, resolves, with no issuer name. The constructor also takes ready :class:`KeyInfo` values,
    e.g. to pin a did:web verification method to a key obtained out of band.
    """

    def __init__(self, keys: Iterable[KeyInfo]) -> None:
        self._by_method: dict[str, KeyInfo] = {}
        self._did_keys: dict[bytes, KeyInfo] = {}
        for info in keys:
            if not isinstance(info, KeyInfo):
                raise TypeError("StaticKeys takes KeyInfo values; use StaticKeys.from_multikeys for Multikeys")
            self._by_method[info.verification_method] = info
            if info.verification_method.startswith("did:key:"):
                self._did_keys[info.public_key] = info
        # An empty set of keys would reject everything silently: refuse it (STYLE item 6).
        if not self._by_method:
            raise ValueError("StaticKeys needs at least one key")

    @classmethod
    def from_multikeys(cls, multikeys: Iterable[str]) -> StaticKeys:
        """Pin each Multikey / did:key; raises ``ValueError`` on anything that is not an Ed25519 public key."""
        infos: list[KeyInfo] = []
        for text in multikeys:
            try:
                if not isinstance(text, str):
                    raise KeyFormatError("not a string")
                public_key = (
                    public_key_from_did_key(text) if text.startswith("did:key:") else multikey_to_public_key(text)
                )
            except KeyFormatError as exc:
                raise ValueError(
                    f"不是 Ed25519 公钥 / not an Ed25519 Multikey or did:key: {str(text)[:80]!r}: {exc}"
                ) from None
            did = did_key(public_key)
            infos.append(
                KeyInfo(
                    verification_method=f"{did}#{did.removeprefix('did:key:')}",
                    public_key=public_key,
                    issuer_id=did,
                    issuer_code=None,
                    issuer_name=None,
                    state="active",
                    valid_from=None,
                    valid_until=None,
                    compromised_at=None,
                    registry_id=None,
                    registry_name=None,
                    pinned=True,
                )
            )
        return cls(infos)

    def key(self, verification_method: str) -> KeyInfo | None:
        info = self._by_method.get(verification_method)
        if info is not None or not verification_method.startswith("did:key:"):
            return info
        try:
            public_key = public_key_from_did_key(verification_method)
        except KeyFormatError:
            return None
        info = self._did_keys.get(public_key)
        if info is None:
            return None
        # Report the method as the credential spelled it (bare did:key or with its fragment).
        return KeyInfo(
            verification_method=verification_method,
            public_key=info.public_key,
            issuer_id=info.issuer_id,
            issuer_code=info.issuer_code,
            issuer_name=info.issuer_name,
            state=info.state,
            valid_from=info.valid_from,
            valid_until=info.valid_until,
            compromised_at=info.compromised_at,
            registry_id=info.registry_id,
            registry_name=info.registry_name,
            pinned=info.pinned,
        )

    def freshness(self, now: datetime) -> Freshness | None:
        return None  # pinned keys have no publication date to age


class AnyOf:
    """Trust a key if any source knows it; the first source that knows it answers."""

    def __init__(self, *sources: TrustSource) -> None:
        # An empty AnyOf would trust nothing and look like a configured verifier: refuse it (STYLE item 6).
        if not sources:
            raise ValueError("AnyOf needs at least one trust source")
        self.sources = sources

    def key(self, verification_method: str) -> KeyInfo | None:
        for source in self.sources:
            info = source.key(verification_method)
            if info is not None:
                return info
        return None

    def freshness(self, now: datetime) -> Freshness | None:
        # The least fresh member is what the whole can be relied on for.
        answers = [f for f in (s.freshness(now) for s in self.sources) if f is not None]
        if not answers:
            return None
        return max(answers, key=lambda f: (f.stale, f.age_seconds))


# --- status sources --------------------------------------------------------------------------------------


class NoStatus:
    """No status information at all: every status is unknown. For offline checks without status lists; the
    result then says "状态未知 / status unknown" on every credential."""

    def status(self, list_url: str, index: int, purpose: str, now: datetime) -> StatusAnswer:
        return StatusAnswer(set=None, as_of=None, stale=False)


class SnapshotStatus:
    """Status lists loaded ahead of time (files next to the offline verifier). A list not loaded, a purpose
    mismatch or an index outside the list is unknown; a list older than ``max_age`` or past its own
    ``validUntil`` answers, marked stale. Several copies of one list: the newest wins; copies of one URL
    signed by different issuers are refused (one trusted department must not shadow another's list)."""

    def __init__(self, snapshots: Iterable[StatusListSnapshot], max_age: timedelta) -> None:
        if not isinstance(max_age, timedelta) or max_age <= timedelta(0):
            raise ValueError("max_age must be a positive timedelta")
        self.max_age = max_age
        self._lists: dict[str, StatusListSnapshot] = {}
        for snapshot in snapshots:
            if not isinstance(snapshot, StatusListSnapshot):
                raise TypeError("SnapshotStatus takes StatusListSnapshot values")
            current = self._lists.get(snapshot.url)
            if current is not None and current.issuer_id != snapshot.issuer_id:
                raise ValueError(f"status list {snapshot.url} is signed by two issuers")
            if current is None or snapshot.valid_from > current.valid_from:
                self._lists[snapshot.url] = snapshot

    def status(self, list_url: str, index: int, purpose: str, now: datetime) -> StatusAnswer:
        snapshot = self._lists.get(list_url)
        if snapshot is None or snapshot.purpose != purpose or not 0 <= index < len(snapshot.bits) * 8:
            return StatusAnswer(set=None, as_of=None, stale=False)
        stale = now - snapshot.valid_from > self.max_age or (
            snapshot.valid_until is not None and now >= snapshot.valid_until
        )
        return StatusAnswer(
            set=bit_at(snapshot.bits, index), as_of=snapshot.valid_from, stale=stale, issuer_id=snapshot.issuer_id
        )


def load_status_list(doc: Mapping[str, Any], trust: TrustSource) -> StatusListSnapshot:
    """Parse a status list credential and verify its proof with a key ``trust`` knows for the list's issuer.

    Raises :class:`StatusListError` (``reason`` ``shape``/…, ``unknown_issuer``, ``key_revoked`` or
    ``bad_signature``). A revoked key's lists are refused outright: offline nothing tells a list signed
    before the compromise from a forged one.
    """
    snapshot = parse_status_list_credential(doc)
    proof = doc.get("proof")
    method = proof.get("verificationMethod") if isinstance(proof, Mapping) else None
    if not isinstance(method, str) or not method:
        raise StatusListError("shape", "状态列表凭证缺少签名 / status list credential has no single proof")
    key = trust.key(method)
    if key is None or method.partition("#")[0] != key.issuer_id or key.issuer_id != snapshot.issuer_id:
        raise StatusListError(
            "unknown_issuer", f"状态列表签发密钥不受信任 / status list signed by an untrusted key {method[:120]}"
        )
    if key.state == "revoked":
        raise StatusListError("key_revoked", f"状态列表签发密钥已撤销 / status list signed by revoked key {method}")
    try:
        verify_proof(doc, key.public_key)
    except ProofError as exc:
        raise StatusListError(
            "bad_signature", f"状态列表签名无效 / status list signature does not verify: {exc}"
        ) from None
    return snapshot


# --- results ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Check:
    """One check: ``ok`` True (passed), False (failed: decided the verdict) or None (not reached / unknown)."""

    name: str
    ok: bool | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class LicenseSummary:
    """What the credential says about the licence, for display. ``issuer_code``/``issuer_name`` come from
    the trust source once the issuer check bound the issuer to the key; before that check passes (a failed
    verdict) they are the credential's own claim; for a pinned key not bound to the claimed issuer, None.
    ``status`` is ``active``, ``revoked``, ``suspended`` or ``unknown``."""

    identifier: str | None
    type: str | None
    holder_name: str | None
    issuer_code: str | None
    issuer_name: str | None
    valid_from: datetime | None
    valid_until: datetime | None
    status: str
    registry_id: str | None = None
    registry_name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "identifier": self.identifier,
            "type": self.type,
            "holder_name": self.holder_name,
            "issuer_code": self.issuer_code,
            "issuer_name": self.issuer_name,
            "valid_from": _ts(self.valid_from),
            "valid_until": _ts(self.valid_until),
            "status": self.status,
            "registry_id": self.registry_id,
            "registry_name": self.registry_name,
        }


@dataclass(frozen=True, slots=True)
class VerificationResult:
    """The answer to one scan. ``valid`` is ``verdict == valid``; ``message`` is the verdict in words plus,
    on failure, why. ``credential`` is the decoded credential (None if it did not decode);
    ``full_credential`` the matched full credential behind a compact one, when fetched."""

    verdict: Verdict
    checks: tuple[Check, ...]
    license: LicenseSummary | None
    compact: bool
    credential: dict[str, Any] | None
    trust_freshness: Freshness | None
    status_freshness: Freshness | None
    checked_at: datetime
    message: str
    full_credential: dict[str, Any] | None = None

    @property
    def valid(self) -> bool:
        return self.verdict is Verdict.valid

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data: enums as strings, datetimes as RFC 3339 ``Z`` strings."""
        return {
            "verdict": self.verdict.value,
            "valid": self.valid,
            "message": self.message,
            "checks": [c.to_dict() for c in self.checks],
            "license": self.license.to_dict() if self.license is not None else None,
            "compact": self.compact,
            "checked_at": format_timestamp(self.checked_at),
            "trust_freshness": self.trust_freshness.to_dict() if self.trust_freshness is not None else None,
            "status_freshness": self.status_freshness.to_dict() if self.status_freshness is not None else None,
            "credential": self.credential,
            "full_credential": self.full_credential,
        }


def _ts(value: datetime | None) -> str | None:
    return format_timestamp(value) if value is not None else None


# --- the parsed credential -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _StatusEntry:
    purpose: str
    index: int
    list_url: str


@dataclass(frozen=True, slots=True)
class _Credential:
    """A credential that passed the format check: every member later steps use, typed."""

    doc: Mapping[str, Any]
    id: str | None
    issuer_id: str
    issuer_name: str | None
    compact: bool
    valid_from: datetime | None
    valid_until: datetime | None
    verification_method: str
    created: datetime | None
    status: tuple[_StatusEntry, ...]
    status_notes: tuple[str, ...]
    full_digest: str | None
    license_type: str | None
    holder_name: str | None


@dataclass
class _Run:
    """The state of one verification, filled in as the checks pass."""

    now: datetime
    step: str = "decode"
    checks: list[Check] = field(default_factory=list)
    credential: dict[str, Any] | None = None
    parsed: _Credential | None = None
    key: KeyInfo | None = None  # set once the issuer check passed
    issuer_bound: bool = False  # the credential's issuer is the key's controller (not merely a pinned key)
    status: str = "unknown"
    trust_freshness: Freshness | None = None
    status_freshness: Freshness | None = None
    full_credential: dict[str, Any] | None = None

    def passed(self, detail: str) -> None:
        self.checks.append(Check(self.step, True, detail))

    def unknown(self, detail: str) -> None:
        self.checks.append(Check(self.step, None, detail))


# --- the verifier ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Decoded:
    """A payload the caller already decoded (see :meth:`Verifier.check_payload`)."""

    doc: dict[str, Any]


class Verifier:
    """Verify electronic licence credentials against a trust source and (optionally) a status source.

    ``status=None`` means :class:`NoStatus` (every status unknown). ``issuance`` and ``full`` are the online
    sources (see the module docstring); ``clock`` returns the current time (aware; naive means UTC).
    """

    def __init__(
        self,
        trust: TrustSource,
        status: StatusSource | None = None,
        *,
        issuance: IssuanceRecords | None = None,
        full: FullCredentialSource | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if trust is None:
            raise ValueError("a Verifier needs a trust source")
        self._trust = trust
        self._status: StatusSource = status if status is not None else NoStatus()
        self._issuance = issuance
        self._full = full
        self._clock = clock if clock is not None else _utcnow

    @classmethod
    def offline(
        cls,
        trust_list: TrustList,
        status_lists: Iterable[StatusListSnapshot] = (),
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> Verifier:
        """A verifier with only a verified trust list and status lists loaded from files; the lists are
        stale past the trust list's ``statusListMaxAge``."""
        snapshots = list(status_lists)
        status: StatusSource = SnapshotStatus(snapshots, trust_list.status_list_max_age) if snapshots else NoStatus()
        return cls(TrustListSource(trust_list), status, clock=clock)

    # --- the raising API ---

    def verify(self, credential: Mapping[str, Any]) -> None:
        """Return ``None`` if ``credential`` is valid; raise a :class:`VerificationError` subclass otherwise.

        An unknown status does not raise (see :meth:`check_credential` for the full report). Anything else
        that goes wrong inside (a hostile value, a broken source) raises :class:`Malformed` chained to its cause.
        """
        self._pipeline(_Run(now=self._now()), credential, from_payload=False)

    # --- the edge: never raises ---

    def check_payload(self, text: str, *, decoded: dict[str, Any] | None = None) -> VerificationResult:
        """Decode a scanned ``LC1:`` payload and verify the credential in it. Never raises.

        ``decoded``: what :func:`~verification.payload.decode_payload` returned for this very ``text``, when
        the caller had to look inside first (the online registry does, to fetch the records it needs); the
        payload is then not decoded twice. Passing anything else is the caller's bug.
        """
        return self._check(text if decoded is None else _Decoded(decoded), payload=True)

    def check_credential(self, doc: object) -> VerificationResult:
        """Verify a credential given as decoded JSON (any value). Never raises."""
        return self._check(doc, payload=False)

    # --- internals ---

    def _now(self) -> datetime:
        now = self._clock()
        return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)

    def _check(self, value: object, *, payload: bool) -> VerificationResult:
        try:
            run = _Run(now=self._now())
        except Exception:  # a broken clock must not break the edge
            run = _Run(now=datetime.now(UTC))
        failed: Check | None = None
        verdict = Verdict.valid
        try:
            self._pipeline(run, value, from_payload=payload)
        except VerificationError as exc:
            verdict, failed = exc.verdict, Check(exc.check, False, exc.message)
        except Exception as exc:  # _pipeline already maps these; this is the last line of defence
            verdict, failed = Verdict.malformed, Check(run.step, False, _internal(exc))
        try:
            return self._result(run, verdict, failed)
        except Exception as exc:
            return VerificationResult(
                verdict=Verdict.malformed,
                checks=(Check(run.step, False, _internal(exc)),),
                license=None,
                compact=False,
                credential=None,
                trust_freshness=None,
                status_freshness=None,
                checked_at=run.now,
                message=VERDICT_MESSAGES[Verdict.malformed],
            )

    def _result(self, run: _Run, verdict: Verdict, failed: Check | None) -> VerificationResult:
        parsed = run.parsed
        compact = parsed.compact if parsed is not None else _looks_compact(run.credential)
        checks = list(run.checks)
        if failed is not None:
            checks.append(failed)
        done = {c.name for c in checks}
        names = CHECKS if compact else CHECKS[:-1]
        checks.extend(Check(name, None, _NOT_CHECKED) for name in names if name not in done)
        if verdict is Verdict.revoked:
            run.status = "revoked"
        elif verdict is Verdict.suspended:
            run.status = "suspended"
        message = VERDICT_MESSAGES[verdict]
        if failed is not None:
            message = f"{message}: {failed.detail}"
        return VerificationResult(
            verdict=verdict,
            checks=tuple(checks),
            license=self._summary(run, parsed) if parsed is not None else None,
            compact=compact,
            credential=run.credential,
            trust_freshness=run.trust_freshness,
            status_freshness=run.status_freshness,
            checked_at=run.now,
            message=message,
            full_credential=run.full_credential,
        )

    def _summary(self, run: _Run, parsed: _Credential) -> LicenseSummary:
        key = run.key
        identifier: str | None = None
        if parsed.id is not None:
            try:
                identifier = str(LicenseIdentifier.parse(parsed.id.rsplit("/", 1)[-1]))
            except IdentifierError:
                identifier = None
        if key is None:
            # Not (yet) trusted: show the credential's own claim; the verdict says it is not verified.
            issuer_code, issuer_name = _department_code(parsed.issuer_id), parsed.issuer_name
        elif run.issuer_bound:
            issuer_code, issuer_name = key.issuer_code, key.issuer_name or parsed.issuer_name
        else:
            # A pinned key vouching for an issuer claim it is not bound to: name no department.
            issuer_code = issuer_name = None
        return LicenseSummary(
            identifier=identifier,
            type=parsed.license_type,
            holder_name=parsed.holder_name,
            issuer_code=issuer_code,
            issuer_name=issuer_name,
            valid_from=parsed.valid_from,
            valid_until=parsed.valid_until,
            status=run.status,
            registry_id=key.registry_id if key is not None else None,
            registry_name=key.registry_name if key is not None else None,
        )

    def _pipeline(self, run: _Run, value: object, *, from_payload: bool) -> None:
        try:
            self._steps(run, value, from_payload=from_payload)
        except VerificationError:
            raise
        except Exception as exc:
            # Whatever a hostile input or a broken source provokes is a verdict, never a crash.
            raise Malformed(_internal(exc), check=run.step) from exc

    def _steps(self, run: _Run, value: object, *, from_payload: bool) -> None:
        try:
            run.trust_freshness = self._trust.freshness(run.now)
        except Exception:
            run.trust_freshness = None

        # 1. decode: the LC1 payload (bounded: 4,096 characters, 64 KiB inflated, depth 32), or the JSON
        #    handed over directly (bounded here: depth, node count, characters, JSON types only).
        run.step = "decode"
        if isinstance(value, _Decoded):
            value = value.doc
            detail = "已解码二维码内容 / QR payload decoded"
        elif from_payload:
            if not isinstance(value, str):
                raise Malformed("二维码内容应为文本 / the scanned payload must be text", check="decode")
            try:
                value = decode_payload(value)
            except PayloadError as exc:
                raise Malformed(str(exc), check="decode") from None
            detail = "已解码二维码内容 / QR payload decoded"
        else:
            detail = "已接收凭证 JSON / credential JSON received"
        _check_json(value)
        if isinstance(value, dict):
            run.credential = value
        run.passed(detail)

        # 2. format: a VC 2.0 credential with one eddsa-jcs-2022 DataIntegrityProof, members well typed.
        run.step = "format"
        parsed = _parse_credential(value)
        run.parsed = parsed
        run.passed(
            "W3C VC 2.0，eddsa-jcs-2022 签名"
            + ("，简版凭证" if parsed.compact else "")
            + " / W3C VC 2.0 with an eddsa-jcs-2022 proof"
            + (", compact form" if parsed.compact else "")
        )

        # 3. issuer: the verification method resolves in the trust source and belongs to the issuer.
        run.step = "issuer"
        key = self._issuer(parsed, run)

        # 4. signature: the proof verifies under that key.
        run.step = "signature"
        try:
            verify_proof(parsed.doc, key.public_key)
        except ProofError as exc:
            raise BadSignature(f"签名验证失败 / signature does not verify: {exc}", check="signature") from None
        run.passed("签名有效 / signature verifies")

        # 5. key: a revoked key passes only on the registry's own issuance record before the compromise; a
        #    retired key only for credentials issued while it was in use.
        run.step = "key"
        run.passed(self._key_state(parsed, key))

        # 6. validity: validFrom <= now < validUntil.
        run.step = "validity"
        if parsed.valid_from is not None and run.now < parsed.valid_from:
            start = format_timestamp(parsed.valid_from)
            raise NotYetValid(f"凭证自 {start} 起生效 / not valid before {start}", check="validity")
        if parsed.valid_until is not None and run.now >= parsed.valid_until:
            end = format_timestamp(parsed.valid_until)
            raise Expired(f"凭证已于 {end} 到期 / expired at {end}", check="validity")
        run.passed("在有效期内 / within its validity period")

        # 7. status: revocation first, then suspension; an unknown bit leaves the verdict valid, marked unknown.
        run.step = "status"
        self._status_check(parsed, run)

        # 8. full_credential (compact form only): online, the full credential must hash to
        #    fullCredentialDigest, verify under the same key and describe the same licence.
        if parsed.compact:
            run.step = "full_credential"
            self._full_check(parsed, key, run)

    def _issuer(self, parsed: _Credential, run: _Run) -> KeyInfo:
        method = parsed.verification_method
        key = self._trust.key(method)
        if key is None:
            raise UnknownIssuer(f"签发密钥不在信任列表中 / signing key is not trusted: {method[:200]}", check="issuer")
        method_did = method.partition("#")[0]
        if key.pinned and method_did.startswith("did:key:"):
            # The caller pinned this very key: its issuer claim is the key's own assertion (the W3C vector
            # names an https issuer), reported as such rather than trusted as a department.
            run.issuer_bound = parsed.issuer_id == method_did
            if run.issuer_bound:
                detail = "签发者即显式信任的 did:key / issuer is the explicitly trusted did:key"
            else:
                detail = (
                    f"显式信任的密钥；签发者声明 {parsed.issuer_id[:200]} 未与密钥绑定 / "
                    "explicitly trusted key; the issuer claim is not bound to it"
                )
        else:
            if method_did != key.issuer_id or parsed.issuer_id != key.issuer_id:
                raise UnknownIssuer(
                    f"凭证声明的签发机构 {parsed.issuer_id[:200]} 与签名密钥的持有者 {key.issuer_id} 不符 / "
                    "the credential's issuer does not own the signing key",
                    check="issuer",
                )
            run.issuer_bound = True
            name = key.issuer_name or key.issuer_id
            detail = f"签发机构 {name}（{key.issuer_code or key.issuer_id}） / issuer {key.issuer_id}"
            if key.registry_name:
                detail += f"，{key.registry_name} / registry {key.registry_id}"
        run.key = key
        run.passed(detail)
        return key

    def _issued_record(self, parsed: _Credential) -> datetime | None:
        if self._issuance is None or parsed.id is None:
            return None
        try:
            record = self._issuance.issued_at(parsed.id)
        except Exception:
            return None  # a failing source is no record: a revoked key then stays revoked
        if record is None:
            return None
        return record.replace(tzinfo=UTC) if record.tzinfo is None else record.astimezone(UTC)

    def _key_state(self, parsed: _Credential, key: KeyInfo) -> str:
        record = self._issued_record(parsed)
        if key.state == "revoked":
            if self._issuance is None:
                raise KeyRevoked(
                    "签发密钥已撤销；离线无法区分泄露后倒签的凭证 / signing key revoked; offline a credential "
                    "backdated after the compromise cannot be told apart, so none is accepted",
                    check="key",
                )
            if record is None:
                raise KeyRevoked(
                    "签发密钥已撤销，登记库无此凭证的签发记录 / signing key revoked and the registry holds no "
                    "issuance record for this credential",
                    check="key",
                )
            if key.compromised_at is None or record >= key.compromised_at:
                raise KeyRevoked(
                    f"签发密钥已撤销，凭证签发于泄露之后（{format_timestamp(record)}） / signing key revoked; "
                    "the credential was issued after the compromise",
                    check="key",
                )
            self._within_window(record, key)
            return (
                f"签发密钥已撤销，但登记记录显示凭证签发于 {format_timestamp(record)}，早于泄露时间 "
                f"{format_timestamp(key.compromised_at)} / key revoked, but the registry recorded issuance "
                "before the compromise"
            )
        issued = record if record is not None else parsed.created
        if issued is None:
            if key.state == "retired":
                raise KeyRevoked(
                    "签发密钥已停用，且无法确定凭证签发时间 / key retired and the issuance time is unknown",
                    check="key",
                )
        else:
            self._within_window(issued, key)
        if key.state == "retired":
            return (
                "签发密钥已轮换停用，凭证签发于其使用期内 / key retired; the credential was issued while it was in use"
            )
        return "签发密钥有效 / signing key active"

    @staticmethod
    def _within_window(issued: datetime, key: KeyInfo) -> None:
        # proof.created has whole seconds: compare with the key's start rounded down to the second.
        start = key.valid_from.replace(microsecond=0) if key.valid_from is not None else None
        if (start is not None and issued < start) or (key.valid_until is not None and issued >= key.valid_until):
            window = f"[{_ts(key.valid_from) or '…'}, {_ts(key.valid_until) or '…'})"
            raise KeyRevoked(
                f"凭证签发时间 {format_timestamp(issued)} 不在密钥使用期 {window} 内 / issued outside the key's "
                "validity window",
                check="key",
            )

    def _status_check(self, parsed: _Credential, run: _Run) -> None:
        notes = list(parsed.status_notes)
        if not parsed.status:
            run.status = "active" if not notes else "unknown"
            if notes:
                run.unknown("；".join(notes))
            else:
                run.passed("凭证不含状态条目 / the credential carries no status entries")
            return
        unknown = stale = False
        oldest: tuple[datetime, str] | None = None
        for entry in sorted(parsed.status, key=lambda e: _STATUS_ORDER[e.purpose]):
            answer = self._answer(entry, run.now)
            if answer.issuer_id is not None and answer.issuer_id != parsed.issuer_id:
                # Another (trusted) issuer's list at this URL says nothing about this credential.
                notes.append("状态列表签发者与凭证不符 / status list signed by another issuer")
                answer = StatusAnswer(set=None, as_of=None, stale=False)
            changed = answer.stale and not stale
            if answer.as_of is not None:
                as_of = answer.as_of if answer.as_of.tzinfo else answer.as_of.replace(tzinfo=UTC)
                if oldest is None or as_of < oldest[0]:
                    oldest = (as_of, entry.list_url)
                    changed = True
            stale = stale or answer.stale
            if oldest is not None and changed:
                run.status_freshness = Freshness(
                    as_of=oldest[0],
                    age_seconds=(run.now - oldest[0]).total_seconds(),
                    stale=stale,
                    source=oldest[1],
                )
            if answer.set is True:
                if entry.purpose == "revocation":
                    raise Revoked("凭证已撤销 / the credential has been revoked", check="status")
                raise Suspended("凭证已暂扣 / the credential is suspended", check="status")
            if answer.set is None:
                unknown = True
                notes.append(f"{entry.purpose} 状态未知 / {entry.purpose} status unknown")
        stale_note = "（状态列表已过期 / status list stale）" if stale else ""
        if unknown:
            run.status = "unknown"
            run.unknown("状态未知 / status unknown" + stale_note + ("；" + "；".join(notes) if notes else ""))
        else:
            run.status = "active"
            run.passed("未撤销、未暂扣 / not revoked, not suspended" + stale_note + "".join(f"；{n}" for n in notes))

    def _answer(self, entry: _StatusEntry, now: datetime) -> StatusAnswer:
        try:
            answer = self._status.status(entry.list_url, entry.index, entry.purpose, now)
        except Exception:
            return StatusAnswer(set=None, as_of=None, stale=False)  # a failed lookup is an unknown status
        if not isinstance(answer, StatusAnswer) or answer.set not in (True, False, None):
            return StatusAnswer(set=None, as_of=None, stale=False)
        return answer

    def _full_check(self, parsed: _Credential, key: KeyInfo, run: _Run) -> None:
        if self._full is None or parsed.id is None:
            run.unknown("简版凭证，未在线比对完整内容 / compact form; full credential not fetched")
            return
        try:
            full = self._full.full(parsed.id)
        except Exception:
            full = None
        if full is None:
            run.unknown("简版凭证，无法获取完整凭证 / compact form; the full credential is not available")
            return
        mismatch = _full_mismatch(parsed, key, full)
        if mismatch is not None:
            raise BadSignature(
                f"完整凭证与简版凭证不符 / full credential does not match: {mismatch}", check="full_credential"
            )
        run.full_credential = dict(full)
        run.passed("已在线获取并比对完整凭证 / full credential fetched and matched")


# --- helpers ---------------------------------------------------------------------------------------------


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _internal(exc: BaseException) -> str:
    return f"无法处理的输入 / input could not be processed ({type(exc).__name__})"


def _looks_compact(doc: object) -> bool:
    types = doc.get("type") if isinstance(doc, dict) else None
    return isinstance(types, list) and COMPACT_TYPE in types


def _department_code(issuer_id: str) -> str | None:
    head, sep, code = issuer_id.rpartition(":departments:")
    return code if sep and head and code and ":" not in code else None


def _digest(document: Mapping[str, Any]) -> str:
    return "u" + base64.urlsafe_b64encode(hashlib.sha256(canonicalize(dict(document))).digest()).rstrip(b"=").decode()


def _full_mismatch(parsed: _Credential, key: KeyInfo, full: object) -> str | None:
    """Why ``full`` is not the full credential the compact one commits to, or None if it is."""
    if not isinstance(full, Mapping):
        return "not a JSON object"
    try:
        _check_json(full)
        if _digest(full) != parsed.full_digest:
            return "digest differs from fullCredentialDigest"
        full_parsed = _parse_credential(full)
    except (VerificationError, SigningError, ValueError, TypeError) as exc:
        return str(exc)[:200]
    if full_parsed.compact:
        return "the full credential is itself compact"
    if full_parsed.verification_method != parsed.verification_method:
        return "signed by another verification method"
    try:
        verify_proof(full, key.public_key)
    except ProofError as exc:
        return f"signature: {exc}"
    doc, compact = full_parsed.doc, parsed.doc
    for member in ("id", "issuer", "validFrom", "validUntil", "credentialStatus"):
        if doc.get(member) != compact.get(member):
            return f"{member} differs"
    full_subject, compact_subject = doc.get("credentialSubject"), compact.get("credentialSubject")
    if not isinstance(full_subject, Mapping) or not isinstance(compact_subject, Mapping):
        return "credentialSubject differs"
    for member in ("holder", "licenseType"):
        if full_subject.get(member) != compact_subject.get(member):
            return f"credentialSubject.{member} differs"
    return None


def _check_json(value: object) -> None:
    """Bound a JSON value iteratively (no recursion), a level at a time: depth, node count, characters, and
    JSON types only. Exact-type dispatch first: it runs on every scan."""
    nodes = chars = 0
    level: list[object] = [value]
    depth = 1
    while level:
        nodes += len(level)
        below: list[object] = []
        for item in level:
            kind = type(item)
            if kind is str:
                chars += len(item)  # type: ignore[arg-type]
                continue
            if kind is bool or item is None:
                continue
            if isinstance(item, dict | list):
                if depth > MAX_DEPTH:
                    raise Malformed(_TOO_DEEP, check="decode")
                # Count a container's members before taking them, so a huge one is refused in O(1).
                if nodes + len(below) + len(item) > MAX_NODES:
                    raise Malformed(_TOO_MANY, check="decode")
                if isinstance(item, dict):
                    for k in item:
                        if type(k) is not str and not isinstance(k, str):
                            raise Malformed("凭证的键必须是字符串 / object keys must be strings", check="decode")
                        chars += len(k)
                    below.extend(item.values())
                else:
                    below.extend(item)
            elif isinstance(item, str):
                chars += len(item)
            elif isinstance(item, bool):
                pass
            elif isinstance(item, int):
                if abs(item) > _MAX_SAFE_INTEGER:
                    raise Malformed("整数超出 JSON 安全范围 / integer beyond ±(2^53−1)", check="decode")
            elif isinstance(item, float):
                if not math.isfinite(item):
                    raise Malformed("数值不是有限数 / number is not finite", check="decode")
            else:
                raise Malformed(f"不是 JSON 值 / not a JSON value: {type(item).__name__}", check="decode")
        if chars > MAX_CHARS:
            raise Malformed(f"凭证过大 / credential text longer than {MAX_CHARS} characters", check="decode")
        level = below
        depth += 1


def _malformed(message: str) -> Malformed:
    return Malformed(f"凭证格式错误 / malformed credential: {message}", check="format")


def _unsupported(message: str) -> Unsupported:
    return Unsupported(f"不支持的凭证 / unsupported credential: {message}", check="format")


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _time_member(doc: Mapping[str, Any], member: str) -> datetime | None:
    if member not in doc:
        return None
    try:
        return parse_timestamp(doc[member])
    except ValueError:
        raise _malformed(f"{member} must be an RFC 3339 date-time with a time zone") from None


def _parse_credential(doc: object) -> _Credential:
    """Step 2: a typed view of the credential, or Malformed / Unsupported saying which member is wrong.

    Runs after :func:`_check_json`, so every container is a plain ``dict`` or ``list``: exact ``dict`` checks
    here, not ``Mapping``'s slower ABC ones (this runs on every scan)."""
    if not isinstance(doc, dict):
        raise Malformed("凭证不是 JSON 对象 / the credential is not a JSON object", check="format")
    context = doc.get("@context")
    if not isinstance(context, list) or not context or not all(isinstance(c, str | dict) for c in context):
        raise _malformed("@context must be a non-empty list")
    if context[0] != VC_CONTEXT:
        raise _unsupported(f"@context must start with {VC_CONTEXT} (VC Data Model 2.0)")
    types = doc.get("type")
    type_list = [types] if isinstance(types, str) else types
    if not isinstance(type_list, list) or not all(isinstance(t, str) for t in type_list):
        raise _malformed("type must be a string or a list of strings")
    if "VerifiableCredential" not in type_list:
        raise _malformed("type must include VerifiableCredential")
    compact = COMPACT_TYPE in type_list

    credential_id = doc.get("id")
    if credential_id is not None and not _opt_str(credential_id):
        raise _malformed("id must be a non-empty string")
    issuer = doc.get("issuer")
    issuer_name: str | None = None
    if isinstance(issuer, dict):
        issuer_id = issuer.get("id")
        issuer_name = _opt_str(issuer.get("name"))
    else:
        issuer_id = issuer
    if not isinstance(issuer_id, str) or not issuer_id:
        raise _malformed("issuer must be a URL or an object with an id")

    subject = doc.get("credentialSubject")
    if isinstance(subject, list):
        if not subject or not all(isinstance(s, dict) for s in subject):
            raise _malformed("credentialSubject must be an object or a list of objects")
    elif not isinstance(subject, dict):
        raise _malformed("credentialSubject must be an object")
    valid_from = _time_member(doc, "validFrom")
    valid_until = _time_member(doc, "validUntil")

    # The proof: a single DataIntegrityProof with eddsa-jcs-2022; other securing mechanisms are unsupported.
    if "proof" not in doc:
        raise _malformed("no proof: the credential is not signed")
    proof = doc["proof"]
    if isinstance(proof, list):
        raise _unsupported("proof sets are not supported (one proof object expected)")
    if not isinstance(proof, dict):
        raise _malformed("proof must be an object")
    proof_type = proof.get("type")
    if not isinstance(proof_type, str):
        raise _malformed("proof type must be a string")
    if proof_type != PROOF_TYPE:
        raise _unsupported(f"proof type {proof_type[:60]!r}; only {PROOF_TYPE} is supported")
    suite = proof.get("cryptosuite")
    if not isinstance(suite, str):
        raise _malformed("proof cryptosuite must be a string")
    if suite != CRYPTOSUITE:
        raise _unsupported(f"cryptosuite {suite[:60]!r}; only {CRYPTOSUITE} is supported")
    method = _opt_str(proof.get("verificationMethod"))
    if method is None:
        raise _malformed("proof verificationMethod must be a non-empty string")
    for member in ("proofPurpose", "proofValue"):
        if not isinstance(proof.get(member), str):
            raise _malformed(f"proof {member} must be a string")
    created = _time_member(proof, "created")

    status, notes = _parse_status(doc.get("credentialStatus"))

    license_type = holder_name = full_digest = None
    if isinstance(subject, dict):
        license_type = _opt_str(subject.get("licenseType"))
        holder = subject.get("holder")
        if isinstance(holder, dict):
            holder_name = _opt_str(holder.get("name"))
        if compact:
            full_digest = _opt_str(subject.get("fullCredentialDigest"))
    if compact and (full_digest is None or not full_digest.startswith("u") or credential_id is None):
        raise _malformed("a compact credential needs an id and a credentialSubject.fullCredentialDigest ('u…')")

    return _Credential(
        doc=doc,
        id=credential_id,
        issuer_id=issuer_id,
        issuer_name=issuer_name,
        compact=compact,
        valid_from=valid_from,
        valid_until=valid_until,
        verification_method=method,
        created=created,
        status=status,
        status_notes=notes,
        full_digest=full_digest,
        license_type=license_type,
        holder_name=holder_name,
    )


def _parse_status(raw: object) -> tuple[tuple[_StatusEntry, ...], tuple[str, ...]]:
    if raw is None:
        return (), ()
    entries = [raw] if isinstance(raw, dict) else raw
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise _malformed("credentialStatus must be an object or a list of objects")
    if len(entries) > MAX_STATUS_ENTRIES:
        raise _malformed(f"more than {MAX_STATUS_ENTRIES} credentialStatus entries")
    status: list[_StatusEntry] = []
    notes: list[str] = []
    for entry in entries:
        entry_type = entry.get("type")
        if not isinstance(entry_type, str):
            raise _malformed("credentialStatus type must be a string")
        if entry_type != STATUS_ENTRY_TYPE:
            notes.append(f"忽略不支持的状态类型 / ignored status entry of type {entry_type[:60]!r}")
            continue
        purpose = entry.get("statusPurpose")
        index = entry.get("statusListIndex")
        url = entry.get("statusListCredential")
        if not isinstance(purpose, str) or not isinstance(url, str) or not url:
            raise _malformed("a BitstringStatusListEntry needs statusPurpose and statusListCredential strings")
        if not isinstance(index, str) or _STATUS_INDEX.fullmatch(index) is None:
            raise _malformed("statusListIndex must be a decimal string")
        size = entry.get("statusSize", 1)
        if type(size) is not int or size != 1:
            raise _unsupported("only one-bit status entries (statusSize 1) are supported")
        if purpose not in _STATUS_ORDER:
            notes.append(f"忽略状态用途 / ignored statusPurpose {purpose[:60]!r}")
            continue
        status.append(_StatusEntry(purpose=purpose, index=int(index), list_url=url))
    return tuple(status), tuple(notes)
