"""Ed25519 signers, the master key file, sealing and the key provider interface."""

from __future__ import annotations

import dataclasses
import inspect
import os
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from signing.errors import KeyFormatError, ProofError, SealError, SigningError
from signing.keys import (
    Ed25519Signer,
    GeneratedKey,
    KeyProvider,
    MasterKey,
    SealedKeyProvider,
    Signer,
    seal,
    unseal,
    verify_ed25519,
)
from signing.multikey import did_key_verification_method, public_key_to_multikey, secret_seed_to_multikey

VM = "did:example:registry#key-1"


# --- Ed25519Signer ---------------------------------------------------------------------------------------


def test_signer_signs_and_verifies() -> None:
    signer = Ed25519Signer.generate(VM)
    assert isinstance(signer, Signer)
    assert signer.verification_method == VM
    assert len(signer.public_key) == 32
    signature = signer.sign(b"message")
    assert len(signature) == 64
    verify_ed25519(signer.public_key, b"message", signature)
    with pytest.raises(ProofError):
        verify_ed25519(signer.public_key, b"messagE", signature)


def test_generate_gives_distinct_keys() -> None:
    assert Ed25519Signer.generate(VM).public_key != Ed25519Signer.generate(VM).public_key


def test_signer_repr_hides_seed() -> None:
    seed = bytes(range(32))
    signer = Ed25519Signer(seed, VM)
    text = repr(signer) + str(signer)
    for secret in (seed.hex(), repr(seed), secret_seed_to_multikey(seed), seed.hex().upper()):
        assert secret not in text
    assert public_key_to_multikey(signer.public_key) in text
    assert VM in text


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_signer_rejects_bad_seed(size: int) -> None:
    with pytest.raises(KeyFormatError):
        Ed25519Signer(b"\x01" * size, VM)


def test_signer_rejects_empty_verification_method() -> None:
    with pytest.raises(SigningError):
        Ed25519Signer(b"\x01" * 32, "")


# --- MasterKey -------------------------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_master_key_created_with_mode_0600_and_reloaded(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "master.key"
    created = MasterKey.load_or_create(path)
    assert path.parent.is_dir()
    assert _mode(path) == 0o600
    assert path.stat().st_size == 32  # stored as 32 raw bytes
    assert MasterKey.load_or_create(path) == created
    assert MasterKey(path.read_bytes()) == created
    assert sorted(p.name for p in path.parent.iterdir()) == ["master.key"]  # no temporary files left


def test_master_key_mode_ignores_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        MasterKey.load_or_create(tmp_path / "master.key")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "master.key") == 0o600


def test_distinct_files_give_distinct_keys(tmp_path: Path) -> None:
    assert MasterKey.load_or_create(tmp_path / "a.key") != MasterKey.load_or_create(tmp_path / "b.key")


@pytest.mark.parametrize("size", [0, 31, 33, 64, 65])
def test_master_key_wrong_size_refused(tmp_path: Path, size: int) -> None:
    path = tmp_path / "master.key"
    path.write_bytes(b"\x01" * size)
    path.chmod(0o600)
    with pytest.raises(SigningError, match="exactly 32 raw bytes"):
        MasterKey.load_or_create(path)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o606, 0o610])
def test_master_key_loose_permissions_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "master.key"
    path.write_bytes(os.urandom(32))
    path.chmod(mode)
    with pytest.raises(SigningError, match="group or others"):
        MasterKey.load_or_create(path)


def test_master_key_read_only_owner_file_accepted(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    raw = os.urandom(32)
    path.write_bytes(raw)
    path.chmod(0o400)
    assert MasterKey.load_or_create(path) == MasterKey(raw)


def test_master_key_directory_refused(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    path.mkdir(mode=0o700)
    with pytest.raises(SigningError):
        MasterKey.load_or_create(path)


def test_master_key_race_loses_to_existing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Another process creates the file between our existence check and our link: we must load theirs.
    path = tmp_path / "master.key"
    theirs = os.urandom(32)
    real_link = os.link

    def racing_link(src: os.PathLike[str], dst: os.PathLike[str]) -> None:
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, theirs)
        os.close(fd)
        real_link(src, dst)

    monkeypatch.setattr(os, "link", racing_link)
    assert MasterKey.load_or_create(path) == MasterKey(theirs)
    assert path.read_bytes() == theirs
    assert sorted(p.name for p in tmp_path.iterdir()) == ["master.key"]


def test_master_key_without_hard_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_link(src: os.PathLike[str], dst: os.PathLike[str]) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_link)
    path = tmp_path / "master.key"
    created = MasterKey.load_or_create(path)
    assert _mode(path) == 0o600
    assert MasterKey(path.read_bytes()) == created
    assert sorted(p.name for p in tmp_path.iterdir()) == ["master.key"]


def test_master_key_concurrent_creation_agrees(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    barrier = threading.Barrier(16)

    def create() -> MasterKey:
        barrier.wait()
        return MasterKey.load_or_create(path)

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda _: create(), range(16)))
    on_disk = MasterKey(path.read_bytes())
    assert all(result == on_disk for result in results)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["master.key"]


def test_master_key_repr_hides_key() -> None:
    raw = bytes(range(32))
    master = MasterKey(raw)
    assert raw.hex() not in repr(master)
    assert repr(raw) not in repr(master)
    assert "redacted" in repr(master)


def test_master_key_rejects_bad_length() -> None:
    with pytest.raises(SigningError):
        MasterKey(b"\x00" * 31)


def test_derive_is_deterministic_and_purpose_separated() -> None:
    master = MasterKey(bytes(range(32)))
    jwt = master.derive(b"jwt-hs256")
    assert len(jwt) == 32
    assert master.derive(b"jwt-hs256") == jwt
    assert MasterKey(bytes(range(32))).derive(b"jwt-hs256") == jwt
    assert master.derive(b"jwt-hs512") != jwt
    assert master.derive(b"jwt-hs256\x00") != jwt
    assert MasterKey(bytes(range(1, 33))).derive(b"jwt-hs256") != jwt
    assert jwt != bytes(range(32))
    with pytest.raises(SigningError):
        master.derive(b"")


# --- seal / unseal ---------------------------------------------------------------------------------------


def test_seal_round_trip_and_format() -> None:
    master = MasterKey.generate()
    secret = os.urandom(32)
    sealed = seal(master, secret, "issuer-key:1")
    assert sealed[0] == 1  # format version
    assert len(sealed) == 1 + 24 + 32 + 16
    assert secret not in sealed
    assert unseal(master, sealed, "issuer-key:1") == secret
    assert seal(master, secret, "issuer-key:1") != sealed  # random nonce
    assert unseal(master, bytearray(sealed), "issuer-key:1") == secret  # type: ignore[arg-type]
    assert unseal(master, memoryview(sealed), "issuer-key:1") == secret  # type: ignore[arg-type]


def test_unseal_wrong_key_ref_fails() -> None:
    master = MasterKey.generate()
    sealed = seal(master, b"s" * 32, "issuer-key:1")
    for key_ref in ("issuer-key:2", "issuer-key:1 ", "Issuer-key:1", "x"):
        with pytest.raises(SealError, match="cannot be opened"):
            unseal(master, sealed, key_ref)


def test_unseal_every_tampered_byte_fails() -> None:
    master = MasterKey.generate()
    sealed = seal(master, b"s" * 32, "k")
    for index in range(len(sealed)):
        tampered = bytearray(sealed)
        tampered[index] ^= 0x01
        with pytest.raises(SealError):
            unseal(master, bytes(tampered), "k")


def test_unseal_other_master_fails() -> None:
    sealed = seal(MasterKey.generate(), b"s" * 32, "k")
    with pytest.raises(SealError, match="wrong master key"):
        unseal(MasterKey.generate(), sealed, "k")


@pytest.mark.parametrize("cut", [0, 1, 25, 40])
def test_unseal_truncated_fails(cut: int) -> None:
    master = MasterKey.generate()
    sealed = seal(master, b"s" * 32, "k")
    with pytest.raises(SealError):
        unseal(master, sealed[:cut], "k")


def test_unseal_unknown_version_fails() -> None:
    master = MasterKey.generate()
    sealed = seal(master, b"s" * 32, "k")
    with pytest.raises(SealError, match="version"):
        unseal(master, b"\x02" + sealed[1:], "k")


def test_seal_key_is_not_a_derive_output() -> None:
    # Sealing uses its own BLAKE2b personalisation, so no derive() purpose can hand out the sealing key.
    master = MasterKey(bytes(range(32)))
    assert master._seal_key() not in {master.derive(b"xchacha20poly1305"), bytes(range(32))}


def test_empty_key_ref_refused() -> None:
    master = MasterKey.generate()
    with pytest.raises(SigningError):
        seal(master, b"s" * 32, "")
    with pytest.raises(SealError):
        unseal(master, seal(master, b"s" * 32, "k"), "")


# --- key provider ----------------------------------------------------------------------------------------


def test_sealed_provider_generate_and_load() -> None:
    provider = SealedKeyProvider(MasterKey.generate())
    generated = provider.generate("issuer-key:7", "placeholder")
    assert isinstance(generated, GeneratedKey)
    vm = did_key_verification_method(generated.public_key)
    signer = provider.load("issuer-key:7", vm, generated.sealed)
    assert signer.public_key == generated.public_key
    assert signer.verification_method == vm
    verify_ed25519(generated.public_key, b"hello", signer.sign(b"hello"))
    with pytest.raises(SealError):
        provider.load("issuer-key:8", vm, generated.sealed)
    with pytest.raises(SealError):
        SealedKeyProvider(MasterKey.generate()).load("issuer-key:7", vm, generated.sealed)
    assert "redacted" in repr(provider)


def test_sealed_provider_refuses_non_seed_secret() -> None:
    master = MasterKey.generate()
    with pytest.raises(SealError, match="32-byte"):
        SealedKeyProvider(master).load("k", VM, seal(master, b"short", "k"))


def test_generated_key_is_frozen() -> None:
    generated = GeneratedKey(public_key=b"p" * 32, sealed=b"s")
    with pytest.raises(dataclasses.FrozenInstanceError):
        generated.sealed = b"other"  # type: ignore[misc]


def _protocol_members(protocol: type) -> list[str]:
    return sorted(
        name
        for name, value in vars(protocol).items()
        if not name.startswith("_") and (callable(value) or isinstance(value, property))
    )


@pytest.mark.parametrize(("protocol", "implementation"), [(KeyProvider, SealedKeyProvider), (Signer, Ed25519Signer)])
def test_interface_matches(protocol: type, implementation: type) -> None:
    members = _protocol_members(protocol)
    assert members  # the protocol really declares something
    for name in members:
        declared = getattr(protocol, name)
        implemented = getattr(implementation, name)
        if isinstance(declared, property):
            assert isinstance(implemented, property), name
            declared, implemented = declared.fget, implemented.fget
        assert inspect.signature(implemented) == inspect.signature(declared), name


def test_runtime_protocol_checks() -> None:
    assert isinstance(SealedKeyProvider(MasterKey.generate()), KeyProvider)
    assert isinstance(Ed25519Signer.generate(VM), Signer)
    assert not isinstance(object(), KeyProvider)
