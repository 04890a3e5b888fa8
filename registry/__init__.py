"""电子证照库 — the electronic licence registry service (Litestar + SQLModel)."""
