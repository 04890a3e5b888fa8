"""Framework-free cryptography for the registry: JCS, multibase, Multikey, did:key, Ed25519 keys and
Data Integrity ``eddsa-jcs-2022`` proofs. Imports neither Litestar nor the database."""
