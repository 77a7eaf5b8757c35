"""What every set-up service shares: the refusal that names the field, the checks of names and
numbers a person types, and the field revision that tells a running console or ``serve`` that
buses or meters changed.

Set-up services (site, buildings and rooms, buses, meters, policies, load guard, tenants) each
check the operator's permission, run one transaction, write the audit trail and refuse bad
input with ``SetupRefused`` naming the field, writing nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session

from app.input_limits import MAX_WHOLE_DIGITS, control_character
from app.services.counters import current_number, take_number
from app.services.service_checks import Refused
from app.store.database import Database

T = TypeVar("T")

FIELD = "field"  # counter: bumped by every change of buses or meters in service


class SetupRefused(Refused):
    """A set-up step that was not done (nothing was written); ``field`` names the input."""


def clean_text(
    value: str, field: str, label: str, limit: int, *, required: bool = True, lines: bool = False
) -> str:
    """A name or note as a person typed it: spaces collapsed (line breaks kept with ``lines``),
    at most ``limit`` characters, not empty when ``required``."""
    if lines:
        text = "\n".join(" ".join(line.split()) for line in value.strip().splitlines())
    else:
        text = " ".join(value.split())
    if required and not text:
        raise SetupRefused(field, f"The {label} is empty; type it.")
    bad = control_character(text.replace("\n", "") if lines else text)
    if bad is not None:
        raise SetupRefused(
            field, f"The {label} has an invisible control character ({bad}); type it again."
        )
    if len(text) > limit:
        raise SetupRefused(
            field, f"The {label} has {len(text)} characters; shorten it to {limit} at most."
        )
    return text


def whole_number(text: str | int, field: str, label: str, low: int, high: int) -> int:
    """A whole number a person typed, within ``low``..``high``."""
    raw = str(text).strip()
    digits = raw[1:] if raw.startswith("-") else raw
    if not (digits.isascii() and digits.isdigit()):
        shown = raw if len(raw) <= 20 else raw[:20] + "…"
        raise SetupRefused(field, f"The {label} {shown!r} is not a whole number; type one.")
    if len(digits) > MAX_WHOLE_DIGITS:
        raise SetupRefused(field, f"The {label} has {len(digits)} digits; give {low} to {high}.")
    number = int(raw)
    if not low <= number <= high:
        raise SetupRefused(field, f"The {label} {number} is out of range; give {low} to {high}.")
    return number


def field_changed(session: Session) -> int:
    """Number this change of buses or meters (in the caller's transaction): a running runtime
    sees the revision move and takes the change up."""
    return take_number(session, FIELD)


def field_revision(session: Session) -> int:
    """The revision of the buses and meters in service (0 before any change)."""
    return current_number(session, FIELD)


def in_transaction(db: Database, work: Callable[..., T], *args: object, **kwargs: object) -> T:
    """Run a set-up step ``work(session, *args, **kwargs)`` in a transaction of its own
    (screens and commands call this; an import runs many steps in one)."""
    with db.transaction() as session:
        return work(session, *args, **kwargs)
