"""``registry verify``: check a scanned licence with only files (a trust list, status lists, explicit keys),
or ask a registry online. No database, no server.

The trust list must be pinned by its key's fingerprint (``--fingerprint``); without one the CLI uses the
list's own key and says, in every answer, that the list was not pinned.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from verification.status_list import StatusListError, StatusListSnapshot
from verification.trust_list import TrustList, TrustListError, fingerprint, trust_list_key_from_proof, verify_trust_list
from verification.verifier import (
    AnyOf,
    NoStatus,
    SnapshotStatus,
    StaticKeys,
    StatusSource,
    TrustListSource,
    TrustSource,
    Verifier,
    load_status_list,
)

MAX_INPUT_BYTES = 20 * 1024 * 1024
_IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM", b"RIFF")


class UsageError(Exception):
    """Bad arguments or unreadable files: exit code 2."""


@dataclass
class Inputs:
    payload: str | None = None
    credential: Any = None
    warnings: list[str] = field(default_factory=list)


def read_subject(arg: str) -> Inputs:
    """PAYLOAD|FILE: a path to an image (decoded for its QR code), a JSON credential, or a text payload;
    anything else is the scanned text itself."""
    path = Path(arg)
    try:
        is_file = len(arg) < 4096 and path.is_file()
    except OSError:
        is_file = False
    if not is_file:
        return Inputs(payload=arg)
    if path.stat().st_size > MAX_INPUT_BYTES:
        raise UsageError(f"文件过大 / File too large: {arg}")
    data = path.read_bytes()
    if data.startswith(_IMAGE_MAGIC):
        from registry.rendering.qr import decode_qr_image

        try:
            texts = decode_qr_image(data)
        except ValueError as exc:
            raise UsageError(f"无法读取图片 / Cannot read the image: {exc}") from exc
        if not texts:
            return Inputs(payload="", warnings=["图片中未找到二维码 / No QR code found in the image"])
        return Inputs(payload=next((t for t in texts if t.startswith("LC1:")), texts[0]))
    text = data.decode("utf-8", errors="replace").strip()
    if text.startswith("{"):
        try:
            return Inputs(credential=json.loads(text))
        except json.JSONDecodeError:
            return Inputs(credential=text)  # the verifier answers it as malformed
    return Inputs(payload=text)


def load_trust(
    trust_list_file: str | None, fingerprints: list[str], trust_keys: list[str]
) -> tuple[TrustSource, TrustList | None, list[str]]:
    warnings: list[str] = []
    sources: list[TrustSource] = []
    trust_list: TrustList | None = None
    if trust_list_file:
        try:
            doc = json.loads(Path(trust_list_file).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise UsageError(f"无法读取信任列表 / Cannot read the trust list: {exc}") from exc
        pins = fingerprints
        if not pins:
            try:
                pins = [fingerprint(trust_list_key_from_proof(doc))]
            except TrustListError as exc:
                raise UsageError(f"信任列表无效 / Invalid trust list: {exc}") from exc
            warnings.append(
                "信任列表未经指纹固定，仅校验其完整性 / The trust list was not pinned (--fingerprint): "
                f"its own key {pins[0]} was used"
            )
        try:
            trust_list = verify_trust_list(doc, trusted=pins)
        except (TrustListError, ValueError) as exc:
            raise UsageError(f"信任列表未通过校验 / The trust list does not verify: {exc}") from exc
        sources.append(TrustListSource(trust_list))
    if trust_keys:
        try:
            sources.append(StaticKeys.from_multikeys(trust_keys))
        except ValueError as exc:
            raise UsageError(f"--trust-key 无效 / Invalid --trust-key: {exc}") from exc
    if not sources:
        raise UsageError("须提供 --trust-list 或 --trust-key / Give --trust-list or --trust-key (or --online URL)")
    return (sources[0] if len(sources) == 1 else AnyOf(*sources)), trust_list, warnings


def load_status(
    directory: str | None, trust: TrustSource, trust_list: TrustList | None
) -> tuple[StatusSource, list[str]]:
    if not directory:
        return NoStatus(), ["未提供状态列表，吊销与暂扣状态未知 / No status lists: revocation and suspension unknown"]
    folder = Path(directory)
    if not folder.is_dir():
        raise UsageError(f"不是目录 / Not a directory: {directory}")
    snapshots: list[StatusListSnapshot] = []
    warnings: list[str] = []
    for file in sorted(folder.glob("*.json")):
        try:
            snapshots.append(load_status_list(json.loads(file.read_text(encoding="utf-8")), trust))
        except (OSError, json.JSONDecodeError, StatusListError) as exc:
            warnings.append(f"已忽略状态列表 {file.name} / Ignored status list {file.name}: {exc}")
    # Explicit keys carry no freshness policy: then the registry's default window applies.
    max_age = trust_list.status_list_max_age if trust_list is not None else timedelta(seconds=300)
    return SnapshotStatus(snapshots, max_age), warnings


def verify_offline(
    subject: Inputs,
    *,
    trust_list_file: str | None,
    fingerprints: list[str],
    trust_keys: list[str],
    status_dir: str | None,
) -> dict[str, Any]:
    trust, trust_list, warnings = load_trust(trust_list_file, fingerprints, trust_keys)
    status, status_warnings = load_status(status_dir, trust, trust_list)
    verifier = Verifier(trust, status)
    result = (
        verifier.check_payload(subject.payload)
        if subject.payload is not None
        else verifier.check_credential(subject.credential)
    )
    out = result.to_dict()
    out.pop("full_credential", None)
    out["mode"] = "offline"
    out["warnings"] = subject.warnings + warnings + status_warnings
    return out


def verify_online(subject: Inputs, url: str) -> dict[str, Any]:
    body = {"payload": subject.payload} if subject.payload is not None else {"credential": subject.credential}
    try:
        resp = httpx.post(f"{url.rstrip('/')}/api/v1/verifications", json=body, timeout=30)
    except httpx.HTTPError as exc:
        raise UsageError(f"无法连接 {url} / Cannot reach {url}: {exc}") from exc
    if resp.status_code != 200:
        raise UsageError(f"{url} 返回 {resp.status_code} / {url} answered {resp.status_code}: {resp.text[:300]}")
    out: dict[str, Any] = resp.json()
    out.setdefault("warnings", subject.warnings)
    return out
