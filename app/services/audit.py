"""The audit trail: who did what to money, tariffs, policies, relays and operators, when, with
the state before and after.

Events are numbered 1, 2, 3... without gaps (their id, from ``Counter('audit')``) and chained:
each event's hash covers the previous event's hash and its own canonical JSON. Editing an
event, deleting one, or inserting one breaks the chain, and ``ledger verify`` names where.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.services.counters import AUDIT, current_number, take_number
from app.store.models import AuditEvent, utc_now

GENESIS = "0" * 64


class Actor(Protocol):
    @property
    def operator_id(self) -> int: ...


def _canonical(value: object) -> object:
    """JSON-safe and the same after a trip through the database (tuples as lists...)."""
    return json.loads(json.dumps(value, default=str, sort_keys=True))


def event_hash(
    prev_hash: str,
    number: int,
    at: datetime,
    operator_id: int | None,
    action: str,
    target: tuple[str, str],
    before: object,
    after: object,
) -> str:
    body = {
        "n": number,
        "at": at.isoformat(timespec="microseconds"),
        "operator": operator_id,
        "action": action,
        "target": list(target),
        "before": before,
        "after": after,
    }
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev_hash + text).encode("utf-8")).hexdigest()


def record_audit(
    session: Session,
    by: Actor | None,
    action: str,
    target_type: str,
    target_id: object,
    before: Mapping[str, object] | None,
    after: Mapping[str, object] | None,
) -> int:
    """Append one event in the caller's transaction; returns its number. ``by`` None is the
    system (the engine, a first start)."""
    number = take_number(session, AUDIT)
    prev = GENESIS
    if number > 1:  # a missing predecessor is reported by verify_audit
        found = session.scalar(select(AuditEvent.entry_hash).where(AuditEvent.id == number - 1))
        prev = found or GENESIS
    at = utc_now()
    operator_id = None if by is None else by.operator_id
    old = None if before is None else _canonical(dict(before))
    new = None if after is None else _canonical(dict(after))
    target = (target_type, str(target_id))
    session.add(
        AuditEvent(
            id=number,
            at=at,
            operator_id=operator_id,
            action=action,
            target_type=target[0],
            target_id=target[1],
            before=old,
            after=new,
            prev_hash=prev,
            entry_hash=event_hash(prev, number, at, operator_id, action, target, old, new),
        )
    )
    session.flush()
    return number


@dataclass(frozen=True)
class AuditProblem:
    number: int
    detail: str


def verify_audit(session: Session) -> tuple[int, list[AuditProblem]]:
    """Walk the chain: (events seen, problems)."""
    problems: list[AuditProblem] = []
    expected = 1
    prev = GENESIS
    count = 0
    for event in _events(session):
        count += 1
        if event.id != expected:
            problems.append(
                AuditProblem(
                    event.id,
                    f"audit event {event.id} follows event {expected - 1}: "
                    f"{'events are missing' if event.id > expected else 'numbers repeat'}",
                )
            )
        if event.prev_hash != prev:
            problems.append(
                AuditProblem(event.id, f"audit event {event.id} does not chain to the one before")
            )
        again = event_hash(
            event.prev_hash,
            event.id,
            event.at,
            event.operator_id,
            event.action,
            (event.target_type, event.target_id),
            event.before,
            event.after,
        )
        if again != event.entry_hash:
            problems.append(
                AuditProblem(event.id, f"audit event {event.id} was changed after it was written")
            )
        prev = event.entry_hash
        expected = event.id + 1
    last = current_number(session, AUDIT)
    if last != expected - 1:
        problems.append(
            AuditProblem(
                last,
                f"the audit trail was numbered up to {last} but ends at event {expected - 1}: "
                "events were removed",
            )
        )
    return count, problems


def _events(session: Session) -> Iterator[AuditEvent]:
    yield from session.scalars(
        select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=2000)
    )
