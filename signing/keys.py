"""Ed25519 signers, the file-based master key, sealed (encrypted) signing keys and the key provider seam.

Storage format of the master key file: exactly 32 raw random bytes, no encoding and no newline, mode 0600.

Sealed key format (version 1)::

    0x01 || nonce (24 bytes) || XChaCha20-Poly1305(seal_key, nonce, aad = 0x01 || utf-8(key_ref), secret)

``seal_key`` is derived from the master key with keyed BLAKE2b under its own personalisation, so it can
never coincide with a :meth:`MasterKey.derive` output handed to other code (e.g. JWT signing).
"""

from __future__ import annotations

import errno
import hmac
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol, runtime_checkable

import nacl.bindings
import nacl.encoding
import nacl.exceptions
import nacl.hash
import nacl.signing
import nacl.utils

from signing.errors import KeyFormatError, ProofError, SealError, SigningError
from signing.multikey import public_key_to_multikey

__all__ = [
    "Ed25519Signer",
    "GeneratedKey",
    "KeyProvider",
    "MasterKey",
    "SealedKeyProvider",
    "Signer",
    "fsync_path",
    "seal",
    "unseal",
    "verify_ed25519",
]

SEED_LENGTH = 32
PUBLIC_KEY_LENGTH = 32
SIGNATURE_LENGTH = 64
MASTER_KEY_LENGTH = 32

SEAL_VERSION = b"\x01"
_NONCE_LENGTH = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
_TAG_LENGTH = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_ABYTES
# BLAKE2b personalisations are exactly 16 bytes; distinct ones keep derived keys independent.
_PERSON_DERIVE = b"registry-derive1"
_PERSON_SEAL = b"registry-seal-v1"


@runtime_checkable
class Signer(Protocol):
    """Something that signs with an Ed25519 key; a KMS/HSM-backed signer only needs these three members.

    ``add_proof`` verifies every signature before it issues anything, unless the signer has a true class
    attribute ``self_checking`` (it guarantees its own signatures, as :class:`Ed25519Signer` does)."""

    @property
    def verification_method(self) -> str:
        """The verification method URL that proofs made by this signer name."""
        ...

    @property
    def public_key(self) -> bytes:
        """The 32-byte Ed25519 public key."""
        ...

    def sign(self, message: bytes) -> bytes:
        """Return the 64-byte Ed25519 signature of ``message``."""
        ...


class Ed25519Signer:
    """An in-process Ed25519 signer; the seed stays inside the wrapped ``nacl.signing.SigningKey``."""

    __slots__ = ("_public_key", "_signing_key", "_verification_method")

    # add_proof verifies each signature of a signer it cannot trust to check itself (a KMS, say). This one
    # checks itself more cheaply: Ed25519 is deterministic, so signing twice and comparing catches a transient
    # fault -- the case where a faulty signature could leak the key -- at a third of a verification's cost.
    self_checking: ClassVar[bool] = True

    def __init__(self, seed: bytes, verification_method: str) -> None:
        if not isinstance(seed, bytes) or len(seed) != SEED_LENGTH:
            raise KeyFormatError(f"an Ed25519 seed must be {SEED_LENGTH} bytes")
        if not isinstance(verification_method, str) or not verification_method:
            raise SigningError("verification_method must be a non-empty string")
        self._signing_key = nacl.signing.SigningKey(seed)
        self._public_key = bytes(self._signing_key.verify_key)
        self._verification_method = verification_method

    @classmethod
    def generate(cls, verification_method: str) -> Ed25519Signer:
        """Return a signer with a fresh random seed."""
        return cls(nacl.utils.random(SEED_LENGTH), verification_method)

    @property
    def verification_method(self) -> str:
        return self._verification_method

    @property
    def public_key(self) -> bytes:
        return self._public_key

    def sign(self, message: bytes) -> bytes:
        signature = self._signing_key.sign(message).signature
        if self._signing_key.sign(message).signature != signature:
            raise SigningError("Ed25519 signing is not repeatable (a hardware fault?): nothing was signed")
        return signature

    def __repr__(self) -> str:
        # Public material only: the seed must never reach logs or tracebacks.
        return (
            f"Ed25519Signer(verification_method={self._verification_method!r}, "
            f"public_key={public_key_to_multikey(self._public_key)!r})"
        )


def verify_ed25519(public_key: bytes, message: bytes, signature: bytes) -> None:
    """Check an Ed25519 signature; return ``None`` or raise :class:`ProofError` saying why it failed."""
    if not isinstance(public_key, bytes) or len(public_key) != PUBLIC_KEY_LENGTH:
        raise ProofError(f"Ed25519 public key must be {PUBLIC_KEY_LENGTH} bytes")
    if not isinstance(signature, bytes) or len(signature) != SIGNATURE_LENGTH:
        raise ProofError(f"Ed25519 signature must be {SIGNATURE_LENGTH} bytes")
    try:
        nacl.signing.VerifyKey(public_key).verify(message, signature)
    except nacl.exceptions.BadSignatureError as exc:
        raise ProofError("Ed25519 signature does not verify") from exc
    except nacl.exceptions.CryptoError as exc:  # e.g. a public key libsodium refuses outright
        raise ProofError(f"Ed25519 verification failed: {exc}") from exc


class MasterKey:
    """The registry's 32-byte master secret: seals signing keys and derives other purpose-bound keys."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) != MASTER_KEY_LENGTH:
            raise KeyFormatError(f"a master key must be {MASTER_KEY_LENGTH} bytes")
        self._key = key

    @classmethod
    def generate(cls) -> MasterKey:
        """Return a new random master key (not persisted)."""
        return cls(nacl.utils.random(MASTER_KEY_LENGTH))

    @classmethod
    def load_or_create(cls, path: Path) -> MasterKey:
        """Load the key file at ``path``, creating it (and its folder) with a new random key if absent.

        Creation is atomic: the key is written and fsynced to a private temporary file, then hard-linked
        into place, so no process ever sees a partial file; if another process wins the race its key is
        loaded instead. An existing file must be a regular file of exactly 32 bytes that neither group nor
        others can access, otherwise :class:`SigningError` is raised.
        """
        path = Path(path)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if path.exists():
            return cls._load(path)
        key = nacl.utils.random(MASTER_KEY_LENGTH)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{nacl.utils.random(8).hex()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            try:
                os.fchmod(fd, 0o600)  # exact mode whatever the umask
                if os.write(fd, key) != MASTER_KEY_LENGTH:
                    raise SigningError(f"short write while creating master key file {path}")
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                os.link(tmp, path)  # fails if the name exists: an atomic create-if-absent
            except FileExistsError:
                return cls._load(path)  # another process created it first; use that one
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
                    raise
                # No hard links on this filesystem: fall back to O_EXCL on the final name.
                return cls._create_in_place(path, key)
        finally:
            tmp.unlink(missing_ok=True)
        fsync_path(path.parent)
        return cls(key)

    @classmethod
    def _create_in_place(cls, path: Path, key: bytes) -> MasterKey:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
        except FileExistsError:
            return cls._load(path)
        try:
            os.fchmod(fd, 0o600)
            if os.write(fd, key) != MASTER_KEY_LENGTH:
                raise SigningError(f"short write while creating master key file {path}")
            os.fsync(fd)
        finally:
            os.close(fd)
        return cls(key)

    @classmethod
    def _load(cls, path: Path) -> MasterKey:
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            raise SigningError(f"cannot open master key file {path}: {exc.strerror}") from exc
        try:
            # fstat on the open descriptor: the checked file is the file that is read.
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise SigningError(f"master key file {path} is not a regular file")
            if st.st_mode & 0o077:
                raise SigningError(
                    f"master key file {path} is accessible by group or others "
                    f"(mode {stat.S_IMODE(st.st_mode):04o}); run 'chmod 600 {path}'"
                )
            if st.st_size != MASTER_KEY_LENGTH:
                raise SigningError(
                    f"master key file {path} must hold exactly {MASTER_KEY_LENGTH} raw bytes, found {st.st_size}"
                )
            key = os.read(fd, MASTER_KEY_LENGTH + 1)
        finally:
            os.close(fd)
        if len(key) != MASTER_KEY_LENGTH:
            raise SigningError(f"master key file {path} changed size while being read")
        return cls(key)

    def derive(self, purpose: bytes) -> bytes:
        """Return a 32-byte subkey bound to ``purpose`` (e.g. ``b"jwt-hs256"``).

        Keyed BLAKE2b is a PRF, so subkeys for different purposes are independent and reveal nothing
        about the master key or each other.
        """
        if not isinstance(purpose, bytes) or not purpose:
            raise SigningError("derive() needs a non-empty bytes purpose")
        return nacl.hash.blake2b(
            purpose, digest_size=32, key=self._key, person=_PERSON_DERIVE, encoder=nacl.encoding.RawEncoder
        )

    def _seal_key(self) -> bytes:
        return nacl.hash.blake2b(
            b"xchacha20poly1305",
            digest_size=32,
            key=self._key,
            person=_PERSON_SEAL,
            encoder=nacl.encoding.RawEncoder,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MasterKey):
            return NotImplemented
        return hmac.compare_digest(self._key, other._key)

    def __repr__(self) -> str:
        return "MasterKey(<redacted>)"


def fsync_path(path: Path) -> None:
    """Make a file, or a directory's new entries, durable; not every platform lets a directory be opened."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _aad(key_ref: str) -> bytes:
    # The version byte is authenticated too, so a blob cannot be relabelled as another format.
    if not isinstance(key_ref, str) or not key_ref:
        raise SigningError("key_ref must be a non-empty string")
    try:
        return SEAL_VERSION + key_ref.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise SigningError("key_ref is not encodable as UTF-8") from exc


def seal(master: MasterKey, secret: bytes, key_ref: str) -> bytes:
    """Encrypt ``secret`` under ``master``, bound to ``key_ref`` (the record it belongs to)."""
    aad = _aad(key_ref)
    nonce = nacl.utils.random(_NONCE_LENGTH)  # 192-bit random nonces: collisions are not a concern
    ciphertext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(bytes(secret), aad, nonce, master._seal_key())
    return SEAL_VERSION + nonce + ciphertext


def unseal(master: MasterKey, sealed: bytes, key_ref: str) -> bytes:
    """Decrypt a blob made by :func:`seal`; raise :class:`SealError` if it cannot be opened."""
    try:
        aad = _aad(key_ref)
    except SigningError as exc:
        raise SealError(str(exc)) from exc
    if isinstance(sealed, (bytearray, memoryview)):  # some database drivers return these
        sealed = bytes(sealed)
    if not isinstance(sealed, bytes):
        raise SealError(f"sealed key must be bytes, not {type(sealed).__name__}")
    if len(sealed) < 1 + _NONCE_LENGTH + _TAG_LENGTH:
        raise SealError("sealed key is too short")
    if sealed[:1] != SEAL_VERSION:
        raise SealError(f"unsupported sealed key format version {sealed[0]}")
    nonce = sealed[1 : 1 + _NONCE_LENGTH]
    try:
        return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            sealed[1 + _NONCE_LENGTH :], aad, nonce, master._seal_key()
        )
    except nacl.exceptions.CryptoError as exc:
        raise SealError("sealed key cannot be opened: wrong master key, tampered data or wrong key reference") from exc


@dataclass(frozen=True, slots=True)
class GeneratedKey:
    """A new signing key as the registry stores it: the public key and the provider's sealed blob."""

    public_key: bytes
    sealed: bytes


# --- KMS/HSM seam ------------------------------------------------------------------------------------------
#
# The registry never handles a key itself: it asks its ``KeyProvider`` (``Registry.key_provider``) to
# ``generate`` a key for a record and stores the returned ``GeneratedKey``: the public key in the clear, and
# ``sealed``, opaque bytes it hands back to ``load`` on every later use (after a restart, in another worker).
# What ``sealed`` holds is the provider's business:
#
# - ``SealedKeyProvider`` (the default): the Ed25519 seed itself, encrypted under the master key file and bound
#   to ``key_ref`` (the format at the top of this module). The database, or a backup of it, holds nothing usable
#   without the master key file.
# - a KMS/HSM provider: only a reference to a key that never leaves the device (a KMS key id, a PKCS#11 object
#   label, with whatever else it needs to find the key again). ``generate`` has the device create an Ed25519 key
#   (PKCS#11 3.0: ``CKM_EC_EDWARDS_KEY_PAIR_GEN``) and returns its raw 32-byte public key with the reference;
#   ``load`` checks that the reference belongs to ``key_ref`` -- a reference copied onto another key record
#   must not open: raise ``SealError``, as a failed unseal does -- and returns a ``Signer`` holding only the
#   reference.
#
# ``Signer.sign`` is the only operation that needs the secret. A device-backed signer sends the message (for
# eddsa-jcs-2022 the 64 bytes of ``data_integrity.hash_data``, signed as they are with pure Ed25519 --
# PKCS#11 ``CKM_EDDSA`` -- never pre-hashed again) and returns the 64-byte signature. Nothing else needs key
# material: public keys come from the database, and verification is local. Such a signer leaves
# ``self_checking`` unset, so ``add_proof`` verifies every signature the device returns before a credential,
# status list, trust list or checkpoint goes out: a glitch or a wrong key fails loudly instead of publishing
# something that does not verify. (``Ed25519Signer`` sets it: it checks itself more cheaply, by signing twice.)
#
# Plugging one in: the provider is chosen where the ``Registry`` is built. ``Registry.from_settings`` (the
# server and the CLI) builds a ``SealedKeyProvider`` today; a KMS deployment constructs
# ``Registry(key_provider=..., ...)`` there instead, and every path that signs (the API, the pages, batch jobs,
# status lists, the trust list, the log) goes through it. ``registry issue-batch`` signs in its own process, not
# in its worker pool, when the provider is not a ``SealedKeyProvider``. A provider must never log, ``repr`` or
# put in an exception any secret material. ``tests/unit/signing/test_key_providers.py`` holds a provider of this
# kind (``InMemoryHsm``), checks it and ``SealedKeyProvider`` against this interface, and issues through it.


@runtime_checkable
class KeyProvider(Protocol):
    """Where signing keys live (see "KMS/HSM seam" above): a KMS/HSM provider returns a key handle as
    ``sealed``; the file-based :class:`SealedKeyProvider` returns the seed sealed under the master key."""

    def generate(self, key_ref: str, verification_method: str) -> GeneratedKey:
        """Create a key for the record ``key_ref``; the caller stores the returned ``sealed`` bytes."""
        ...

    def load(self, key_ref: str, verification_method: str, sealed: bytes) -> Signer:
        """Return a signer for the stored ``sealed`` bytes of record ``key_ref``."""
        ...


class SealedKeyProvider:
    """Keeps Ed25519 seeds sealed under a :class:`MasterKey`; the sealed bytes go in the database."""

    __slots__ = ("_master",)

    def __init__(self, master: MasterKey) -> None:
        self._master = master

    def generate(self, key_ref: str, verification_method: str) -> GeneratedKey:
        seed = nacl.utils.random(SEED_LENGTH)
        signer = Ed25519Signer(seed, verification_method)
        return GeneratedKey(public_key=signer.public_key, sealed=seal(self._master, seed, key_ref))

    def load(self, key_ref: str, verification_method: str, sealed: bytes) -> Signer:
        seed = unseal(self._master, sealed, key_ref)
        if len(seed) != SEED_LENGTH:
            raise SealError(f"sealed key for {key_ref!r} does not hold a {SEED_LENGTH}-byte Ed25519 seed")
        return Ed25519Signer(seed, verification_method)

    def __repr__(self) -> str:
        return "SealedKeyProvider(master=<redacted>)"
