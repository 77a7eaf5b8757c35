"""What a committed transaction changed, as a small value that crosses threads and processes.

``Changes`` says, per kind, which ids changed (account ids for balances, alarm ids, meter
ids...), which kinds changed too widely to list (``whole``: "any of them may have changed"),
and ``everything`` after a gap in which changes may have been missed (a listener that lost its
connection). ``ChangeCollector`` builds one while a transaction runs and summarises a kind once
it holds more than ``SUMMARY_LIMIT`` ids, so an engine pass over 20,000 meters stays cheap to
publish and to read.

The payload codec (``encode``/``decode``) is what travels on PostgreSQL's NOTIFY channel
``CHANNEL``: JSON, split into several payloads so none passes ``PAYLOAD_BYTES`` (PostgreSQL
refuses a payload of 8,000 bytes or more).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

CHANNEL = "meterdesk_changes"
PAYLOAD_BYTES = 7000  # under PostgreSQL's 8,000-byte limit, with room to spare
SUMMARY_LIMIT = 500  # ids of one kind in one transaction; past it the kind is "all"
PAYLOAD_VERSION = 1


class ChangeKind(StrEnum):
    """What changed; each names the ids it carries."""

    BALANCE = "balance"  # a ledger entry was posted: account ids
    ACCOUNT = "account"  # an account's status, supply state, balance, room...: account ids
    ALARM = "alarm"  # an alarm raised, changed, acknowledged or cleared: alarm ids
    METER = "meter"  # a meter's status, relay or supply state, assignment: meter ids
    COMMAND = "command"  # a relay command asked or answered: command ids
    TRIP = "trip"  # a load-guard trip, lock-out or restore: meter ids
    READING = "reading"  # interval readings stored: meter ids


@dataclass(frozen=True)
class Changes:
    """An immutable batch of changes. ``ids`` holds the kinds with listed ids (sorted by kind),
    ``whole`` the kinds of which any id may have changed; ``everything`` means any kind."""

    ids: tuple[tuple[ChangeKind, frozenset[int]], ...] = ()
    whole: frozenset[ChangeKind] = frozenset()
    everything: bool = False

    @staticmethod
    def of(
        ids: Mapping[ChangeKind, Iterable[int]] | None = None,
        whole: Iterable[ChangeKind] = (),
        *,
        everything: bool = False,
    ) -> Changes:
        whole_set = frozenset(whole)
        listed = tuple(
            sorted(
                (
                    (kind, frozenset(values))
                    for kind, values in (ids or {}).items()
                    if kind not in whole_set
                ),
                key=lambda pair: pair[0].value,
            )
        )
        return Changes(tuple((k, v) for k, v in listed if v), whole_set, everything)

    def ids_of(self, kind: ChangeKind) -> frozenset[int] | None:
        """The ids of ``kind`` that changed (empty: none); None when any of them may have."""
        if self.everything or kind in self.whole:
            return None
        for listed, values in self.ids:
            if listed is kind:
                return values
        return frozenset()

    def touches(self, kind: ChangeKind) -> bool:
        found = self.ids_of(kind)
        return found is None or bool(found)

    def kinds(self) -> frozenset[ChangeKind]:
        """Every kind this batch says something about."""
        if self.everything:
            return frozenset(ChangeKind)
        return self.whole | {kind for kind, _values in self.ids}

    def merged(self, other: Changes) -> Changes:
        collector = ChangeCollector(limit=None)
        collector.absorb(self)
        collector.absorb(other)
        return collector.freeze()

    def __bool__(self) -> bool:
        return self.everything or bool(self.whole) or bool(self.ids)


EVERYTHING = Changes(everything=True)
NOTHING = Changes()


class ChangeCollector:
    """Changes gathered while a transaction runs (one thread; not shared). A kind with more
    than ``limit`` ids becomes "all of this kind" (None: never)."""

    def __init__(self, limit: int | None = SUMMARY_LIMIT) -> None:
        self._limit = limit
        self._ids: dict[ChangeKind, set[int]] = {}
        self._whole: set[ChangeKind] = set()
        self._everything = False

    def add(self, kind: ChangeKind, ids: Iterable[int]) -> None:
        if self._everything or kind in self._whole:
            return
        found = self._ids.setdefault(kind, set())
        found.update(ids)
        if not found:
            del self._ids[kind]
        elif self._limit is not None and len(found) > self._limit:
            self.add_whole(kind)

    def add_whole(self, kind: ChangeKind) -> None:
        self._whole.add(kind)
        self._ids.pop(kind, None)

    def absorb(self, changes: Changes | ChangeCollector) -> None:
        if isinstance(changes, ChangeCollector):
            changes = changes.freeze()
        if changes.everything:
            self._everything = True
            self._ids.clear()
            self._whole.clear()
            return
        for kind in changes.whole:
            self.add_whole(kind)
        for kind, ids in changes.ids:
            self.add(kind, ids)

    def freeze(self) -> Changes:
        if self._everything:
            return EVERYTHING
        return Changes.of(self._ids, self._whole)

    def __bool__(self) -> bool:
        return self._everything or bool(self._whole) or bool(self._ids)


def encode(changes: Changes, limit_bytes: int = PAYLOAD_BYTES) -> list[str]:
    """The NOTIFY payloads of ``changes``: compact JSON objects ``{"v": 1, "all": [kinds],
    "ids": {kind: [ids]}, "everything": true}`` (empty parts left out), each at most
    ``limit_bytes`` long; together they say all of ``changes``."""
    if not changes:
        return []
    head: dict[str, object] = {"v": PAYLOAD_VERSION}
    if changes.everything:
        head["everything"] = True
    if changes.whole:
        head["all"] = sorted(kind.value for kind in changes.whole)
    payloads: list[str] = []
    current: dict[str, list[int]] = {}
    size = len(_dump(head)) + len(',"ids":{}')
    budget = limit_bytes - size
    if budget < 64:
        raise ValueError(f"a payload of {limit_bytes} bytes is too small for any change")
    used = 0
    for kind, ids in changes.ids:
        for value in sorted(ids):
            opening = 0 if kind.value in current else len(kind.value) + 6  # "kind":[],
            cost = len(str(value)) + 1 + opening
            if used + cost > budget:
                payloads.append(_dump(head | {"ids": current}))
                head = {"v": PAYLOAD_VERSION}  # the kinds summarised went with the first one
                current, used = {}, 0
                opening = len(kind.value) + 6
                cost = len(str(value)) + 1 + opening
            current.setdefault(kind.value, []).append(value)
            used += cost
    if current or len(head) > 1 or not payloads:
        payloads.append(_dump(head | {"ids": current} if current else head))
    return payloads


def decode(payload: str) -> Changes:
    """One payload back into ``Changes``; ValueError naming what is wrong with a payload that is
    not one of ours (another version, bad JSON, an unknown kind)."""
    try:
        data = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise ValueError(f"a change payload that is not JSON ({exc})") from exc
    if not isinstance(data, dict) or data.get("v") != PAYLOAD_VERSION:
        raise ValueError(f"a change payload of another version: {payload[:80]!r}")
    try:
        whole = [ChangeKind(kind) for kind in data.get("all", [])]
        ids: dict[ChangeKind, list[int]] = {}
        for kind, values in dict(data.get("ids", {})).items():
            if not isinstance(values, list) or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in values
            ):
                raise ValueError(f"ids of {kind!r} that are not whole numbers")
            ids[ChangeKind(kind)] = values
    except (TypeError, ValueError) as exc:
        raise ValueError(f"a change payload that is not one of ours: {exc}") from exc
    return Changes.of(ids, whole, everything=data.get("everything") is True)


def _dump(data: Mapping[str, object]) -> str:
    return json.dumps(data, separators=(",", ":"))
