"""The audit trail: who did what to money, tariffs, policies, relays and operators, when, with
the state before and after.

Events are numbered 1, 2, 3... without gaps (their id, from ``Counter('audit')``) and chained:
each event's hash covers the previous event's hash and its own canonical JSON. Editing an
event, deleting one, or inserting one breaks the chain, and ``ledger verify`` names where.

Plain SHA-256 can be recomputed by anyone who edits the database, so the chain is sealed with
a secret: from the event that starts the key (``audit.start`` on a new trail, ``audit.key`` on
one begun by an older MeterDesk) every hash is an HMAC-SHA256 under the key file of the data
folder (app/store/audit_key.py). Events before it stay checkable as plain SHA-256. The head is
tied to the counters by a seal (``Counter('audit_seal')``: a MAC of the last number and hash),
so removing the last events and setting the counter back is caught too. ``audit.start`` also
records the census of rows made before the trail (app/services/audit_census.py).

A process without the key writes on a trail that was never sealed (a PostgreSQL console not
given its data folder yet), but refuses to write on a sealed one: its events could not be
checked, and accepting unsealed events would let anyone forge them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.services.audit_census import take_census
from app.services.counters import AUDIT, current_number, take_number
from app.store.audit_key import SESSION_INFO_KEY, AuditKeyError, AuditKeys, key_id
from app.store.models import AuditEvent, Counter, utc_now

GENESIS = "0" * 64
START = "audit.start"  # the trail's first event written by this version: census (+ key)
KEY_START = "audit.key"  # the key starts on a trail an older version began
TRAIL = ("audit", "trail")
STARTED_AT = "audit_start"  # counter: the number of the ``audit.start`` event
SEAL = "audit_seal"  # counter: MAC of the last event's number and hash (sealed trails only)


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
    key: bytes | None = None,
) -> str:
    """SHA-256 of the previous hash and the event (``key`` None), else HMAC-SHA256."""
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
    data = (prev_hash + text).encode("utf-8")
    if key is None:
        return hashlib.sha256(data).hexdigest()
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def seal_of(key: bytes, number: int, entry_hash: str) -> int:
    """The head's seal as a counter value (60 bits of an HMAC of number and hash)."""
    mac = hmac.new(key, f"seal|{number}|{entry_hash}".encode(), hashlib.sha256).hexdigest()
    return int(mac[:15], 16)


def anchor_of(number: int, entry_hash: str) -> str:
    """The short form of a head printed on receipts and shift reports: ``57:3fa09c1d2e4b``."""
    return f"{number}:{entry_hash[:12]}"


def chain_anchor(session: Session) -> str:
    """The anchor of the trail's last event ("" for an empty trail: nothing to anchor)."""
    row = session.execute(
        select(AuditEvent.id, AuditEvent.entry_hash).order_by(AuditEvent.id.desc()).limit(1)
    ).first()
    return "" if row is None else anchor_of(row[0], row[1])


def _keys(session: Session) -> AuditKeys | None:
    found = session.info.get(SESSION_INFO_KEY)
    return found if isinstance(found, AuditKeys) else None


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
    system (the engine, a first start). Raises ``AuditKeyError`` (nothing written) when the
    trail is sealed and this process has no key, or another key, or the seal does not match
    the last event (events were removed outside MeterDesk)."""
    number = take_number(session, AUDIT)  # locks the counter: one writer at a time
    prev = GENESIS
    if number > 1:  # a missing predecessor is reported by verify_audit
        found = session.scalar(select(AuditEvent.entry_hash).where(AuditEvent.id == number - 1))
        prev = found or GENESIS
    keys = _keys(session)
    seal = session.get(Counter, SEAL, with_for_update=True)
    key: bytes | None
    if seal is not None:
        key = _sealing_key(keys, number - 1, prev, seal.value)
    else:
        key = None if keys is None else keys.load_or_create()
    started = current_number(session, STARTED_AT)
    if not started or (key is not None and seal is None):
        opening: dict[str, object] = {"key": None if key is None else key_id(key)}
        if not started:
            opening["census"] = take_census(session)
            _set_counter(session, STARTED_AT, number)
        prev = _append(
            session,
            number,
            prev,
            key,
            None,
            START if not started else KEY_START,
            TRAIL,
            None,
            opening,
        )
        number = take_number(session, AUDIT)
    operator_id = None if by is None else by.operator_id
    old = None if before is None else dict(before)
    new = None if after is None else dict(after)
    target = (target_type, str(target_id))
    head = _append(session, number, prev, key, operator_id, action, target, old, new)
    if key is not None:
        _set_counter(session, SEAL, seal_of(key, number, head))
    session.flush()
    return number


def _sealing_key(keys: AuditKeys | None, last: int, last_hash: str, seal: int) -> bytes:
    """The key of a sealed trail, checked against the seal of its last event."""
    key = None if keys is None else keys.load()
    if key is None:
        where = "" if keys is None or keys.path is None else f" (looked for {keys.path})"
        raise AuditKeyError(
            "This audit trail is sealed with the site's audit key, and this PC does not have "
            f"it{where}; nothing was written. Copy audit.key from the data folder of the "
            "site's first PC into this PC's data folder, then try again."
        )
    if seal_of(key, last, last_hash) != seal:
        raise AuditKeyError(
            f"The audit trail's seal does not match its last event ({last}) under this PC's "
            "audit key: either the key file is not this site's, or events were removed "
            "outside MeterDesk. Nothing was written. Run 'main.py ledger verify' and call "
            "the site's administrator."
        )
    return key


def _set_counter(session: Session, name: str, value: int) -> None:
    row = session.get(Counter, name)
    if row is None:
        session.add(Counter(name=name, value=value))
    else:
        row.value = value


def _append(
    session: Session,
    number: int,
    prev: str,
    key: bytes | None,
    operator_id: int | None,
    action: str,
    target: tuple[str, str],
    before: Mapping[str, object] | None,
    after: Mapping[str, object] | None,
) -> str:
    """Add event ``number`` after ``prev``; returns its hash."""
    at = utc_now()
    old = None if before is None else _canonical(dict(before))
    new = None if after is None else _canonical(dict(after))
    entry_hash = event_hash(prev, number, at, operator_id, action, target, old, new, key)
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
            entry_hash=entry_hash,
        )
    )
    session.flush()
    return entry_hash


@dataclass(frozen=True)
class AuditProblem:
    number: int
    detail: str


@dataclass
class AuditWalk:
    """What walking the chain found: events seen, problems, the head, whether it is sealed
    and from which event, and the census of ``audit.start`` (None: the trail never started
    in this version)."""

    events: int = 0
    problems: list[AuditProblem] = field(default_factory=list)
    head: tuple[int, str] = (0, GENESIS)
    sealed_from: int | None = None
    census: dict[str, object] | None = None
    started_at: int | None = None

    def fail(self, number: int, detail: str) -> None:
        self.problems.append(AuditProblem(number, detail))


def verify_audit(session: Session, visit: Callable[[AuditEvent], None] | None = None) -> AuditWalk:
    """Walk the chain, calling ``visit`` with each event (in order), and check its numbers,
    links, hashes (plain, then keyed from the key's start), and its seal against the counters.
    The key comes from the session's ``AuditKeys``."""
    walk = AuditWalk()
    keys = _keys(session)
    key: bytes | None = None
    unchecked = False  # sealed events this process cannot check (no key)
    expected = 1
    prev = GENESIS
    for event in _events(session):
        walk.events += 1
        if event.id != expected:
            walk.fail(
                event.id,
                f"audit event {event.id} follows event {expected - 1}: "
                f"{'events are missing' if event.id > expected else 'numbers repeat'}",
            )
        if event.prev_hash != prev:
            walk.fail(event.id, f"audit event {event.id} does not chain to the one before")
        if event.action in (START, KEY_START) and event.target_type == TRAIL[0]:
            key, unchecked = _opening(walk, event, keys, key, unchecked)
        if not unchecked:
            again = event_hash(
                event.prev_hash,
                event.id,
                event.at,
                event.operator_id,
                event.action,
                (event.target_type, event.target_id),
                event.before,
                event.after,
                key,
            )
            if again != event.entry_hash:
                walk.fail(event.id, f"audit event {event.id} was changed after it was written")
        if visit is not None:
            visit(event)
        prev = event.entry_hash
        walk.head = (event.id, event.entry_hash)
        expected = event.id + 1
    _check_ends(session, walk, keys, key, unchecked)
    return walk


def _opening(
    walk: AuditWalk,
    event: AuditEvent,
    keys: AuditKeys | None,
    key: bytes | None,
    unchecked: bool,
) -> tuple[bytes | None, bool]:
    """An ``audit.start`` or ``audit.key`` event: from it on, the chain is keyed (if it names
    a key). Returns the key to check with and whether checking stops for want of it."""
    after = event.after or {}
    if event.action == START:
        if walk.census is not None:
            walk.fail(event.id, f"audit event {event.id} starts the trail a second time")
        census = after.get("census")
        walk.census = census if isinstance(census, dict) else {}
        walk.started_at = event.id
    named = after.get("key")
    if named is None:
        return key, unchecked
    if walk.sealed_from is not None:
        walk.fail(event.id, f"audit event {event.id} starts a second audit key")
        return key, unchecked
    walk.sealed_from = event.id
    own = None if keys is None else keys.load()
    if own is None:
        where = "" if keys is None or keys.path is None else f" ({keys.path})"
        walk.fail(
            event.id,
            f"audit events from {event.id} on are sealed with the site's audit key and this "
            f"PC has no copy of it{where}: they cannot be checked here. Run verify on the PC "
            "that holds audit.key, or copy it into this data folder",
        )
        return None, True
    if key_id(own) != named:
        walk.fail(
            event.id,
            f"audit events from {event.id} on were sealed with another audit key than the one "
            "in this data folder: use the site's own audit.key",
        )
        return None, True
    return own, False


def _check_ends(
    session: Session,
    walk: AuditWalk,
    keys: AuditKeys | None,
    key: bytes | None,
    unchecked: bool,
) -> None:
    """The counters agree with the chain's end: numbered up to its last event, and, on a
    sealed trail, the seal is the MAC of that last event."""
    last_number, last_hash = walk.head
    last = current_number(session, AUDIT)
    if last != last_number:
        walk.fail(
            last,
            f"the audit trail was numbered up to {last} but ends at event {last_number}: "
            "events were removed",
        )
    seal = session.get(Counter, SEAL)
    started = current_number(session, STARTED_AT)
    if started != (walk.started_at or 0):
        walk.fail(
            started,
            f"the audit trail says it started at event {started} but its start event is "
            f"{walk.started_at or 'missing'}: events were removed or rewritten",
        )
    if walk.sealed_from is None:
        if seal is not None:
            walk.fail(
                last_number,
                "the audit trail has a seal but no event starts its key: the sealed events "
                "were removed or rewritten",
            )
        elif walk.events and keys is not None and keys.load() is not None:
            walk.fail(
                last_number,
                f"this data folder has an audit key ({keys.path}) but the trail was never "
                "sealed with it: sealed events were removed and the chain written again "
                "without the key, unless the first change after the key was made failed (then "
                "any change clears this)",
            )
        return
    if unchecked or key is None:
        return
    if seal is None or seal.value != seal_of(key, last_number, last_hash):
        walk.fail(
            last_number,
            f"the audit trail ends at event {last_number} but was sealed at another event: "
            "its last events were removed (or the counters set back)",
        )


def _events(session: Session) -> Iterator[AuditEvent]:
    yield from session.scalars(
        select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=2000)
    )
