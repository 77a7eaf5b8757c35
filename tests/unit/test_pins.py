"""Dependencies are pinned exactly, and the lock file holds the same versions."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
DECLARED = [
    *PROJECT["dependencies"],
    *PROJECT["optional-dependencies"]["dev"],
]


def _lock() -> dict[str, str]:
    pins: dict[str, str] = {}
    for raw in (REPO / "requirements.lock").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep, f"requirements.lock line {line!r} is not pinned with =="
        canonical = canonicalize_name(name)
        assert canonical not in pins, f"{name} appears twice in requirements.lock"
        pins[canonical] = version.strip()
    return pins


LOCK = _lock()


def test_there_is_something_to_check() -> None:
    assert len(PROJECT["dependencies"]) >= 10
    assert len(PROJECT["optional-dependencies"]["dev"]) >= 5


@pytest.mark.parametrize("spec", DECLARED)
def test_each_dependency_is_pinned_and_locked_at_that_version(spec: str) -> None:
    requirement = Requirement(spec)
    specifiers = list(requirement.specifier)
    assert len(specifiers) == 1, f"{spec}: pin exactly one version"
    assert specifiers[0].operator == "==", f"{spec}: pin with == (exact version)"
    assert "*" not in specifiers[0].version, f"{spec}: no wildcard pins"
    name = canonicalize_name(requirement.name)
    assert name in LOCK, f"{requirement.name} is missing from requirements.lock"
    assert LOCK[name] == specifiers[0].version, (
        f"{requirement.name}: pyproject pins {specifiers[0].version}, "
        f"requirements.lock has {LOCK[name]}"
    )


def test_the_binary_part_of_psycopg_is_locked_with_it() -> None:
    """psycopg[binary] installs psycopg-binary, which must match psycopg exactly."""
    assert "psycopg[binary]" in {str(Requirement(s)).split("==")[0] for s in DECLARED}
    assert LOCK["psycopg-binary"] == LOCK["psycopg"]
