"""Signed tree heads of the registry's transparency log, checkable by anyone holding the registry's trust key.

A checkpoint is a short text note in the shape of the C2SP tlog-checkpoint format: the log's origin (its
URL, which names the registry), the tree size, the root hash in base64, and the time it was signed, each on
its own line. The registry's trust-list key signs the UTF-8 bytes of the note with Ed25519. The origin line
keeps these signatures apart from the trust list's, which sign two SHA-256 hashes (eddsa-jcs-2022).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from signing.errors import SigningError
from signing.keys import verify_ed25519
from verification.merkle import HASH_SIZE
from verification.status_list import format_timestamp, parse_timestamp

__all__ = ["Checkpoint", "CheckpointError", "checkpoint_note", "parse_note", "verify_checkpoint"]


class CheckpointError(ValueError):
    """A checkpoint that is not well formed or whose signature does not verify."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    origin: str
    tree_size: int
    root_hash: bytes
    timestamp: datetime


def checkpoint_note(origin: str, tree_size: int, root_hash: bytes, timestamp: datetime) -> bytes:
    """The exact bytes that are signed."""
    if "\n" in origin or not origin:
        raise CheckpointError("origin must be one non-empty line")
    if tree_size < 0:
        raise CheckpointError("tree size must not be negative")
    if len(root_hash) != HASH_SIZE:
        raise CheckpointError(f"root hash must be {HASH_SIZE} bytes")
    root = base64.b64encode(root_hash).decode("ascii")
    return f"{origin}\n{tree_size}\n{root}\n{format_timestamp(timestamp)}\n".encode()


def parse_note(note: bytes) -> Checkpoint:
    """The checkpoint a note states (its signature is checked by :func:`verify_checkpoint`)."""
    try:
        text = note.decode("utf-8")
    except UnicodeDecodeError:
        raise CheckpointError("note is not UTF-8") from None
    lines = text.split("\n")
    if len(lines) != 5 or lines[4] != "":
        raise CheckpointError("a note has four lines, each ending in a newline")
    origin, size, root, stamp = lines[:4]
    if not size.isdigit() or (size != "0" and size.startswith("0")):
        raise CheckpointError("tree size must be a decimal number")
    try:
        root_hash = base64.b64decode(root, validate=True)
        timestamp = parse_timestamp(stamp)
    except (binascii.Error, ValueError) as exc:
        raise CheckpointError(f"malformed checkpoint: {exc}") from None
    checkpoint = Checkpoint(origin, int(size), root_hash, timestamp)
    if checkpoint_note(origin, checkpoint.tree_size, root_hash, timestamp) != note:
        raise CheckpointError("note is not in canonical form")
    return checkpoint


def verify_checkpoint(note: bytes, signature: bytes, public_key: bytes, *, origin: str | None = None) -> Checkpoint:
    """Return the checkpoint if ``signature`` is the key's over ``note`` (and its origin is ``origin``, when
    given); raise :class:`CheckpointError` otherwise."""
    checkpoint = parse_note(note)
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointError(f"checkpoint of another log: {checkpoint.origin!r}")
    try:
        verify_ed25519(public_key, note, signature)
    except SigningError as exc:
        raise CheckpointError(f"checkpoint signature does not verify: {exc}") from None
    return checkpoint
