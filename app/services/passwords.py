"""Operator password hashing (argon2id)."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return str(_hasher.hash(password))


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return bool(_hasher.verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


@cache
def nobodys_hash() -> str:
    """A hash of no operator's password, made once with the same cost as theirs: a sign-in
    under an unknown name verifies against it, so it takes as long as one under a known name
    and the time taken does not tell which names exist."""
    return hash_password("no operator has this password")
