"""Operator passwords are argon2id hashes; a wrong password or a broken hash never verifies."""

from __future__ import annotations

from app.services.passwords import hash_password, verify_password


def test_a_hash_verifies_its_password_only() -> None:
    digest = hash_password("counter-2026")
    assert digest.startswith("$argon2id$")
    assert "counter-2026" not in digest
    assert verify_password(digest, "counter-2026")
    assert not verify_password(digest, "counter-2025")
    assert not verify_password(digest, "")


def test_the_same_password_hashes_differently_each_time() -> None:
    assert hash_password("demo") != hash_password("demo")


def test_a_broken_hash_is_refused_not_raised() -> None:
    assert not verify_password("not-a-hash", "demo")
    assert not verify_password("", "demo")
