"""Cross-check of the rows that matter against the audit trail, for ``ledger verify``.

A consistent edit (a recharge rewritten through its entry, the later balances, the account and
the receipt; a forged adjustment with balances carried; an operator raised to administrator; a
tariff, a setting or a meter's first reading changed) keeps every sum right, so only the trail
can tell. From the trail's start (``audit.start``, with its census of older rows, see
app/services/audit_census.py) every such row must agree with its events:

- each receipt with the event that issued it (its number and amount); each event's receipt
  must exist;
- each entry a person made (recharge, refund, adjustment, reversal, settlement, opening) with
  its receipt's event, or (a reversal) with the event naming it; the engine's consumption
  entries with their usage charges; fees take money, never give it;
- operators (name, role, may sign in again), settings, tariff versions and meters' first and final
  readings with the census and the events since;
- rows older than the trail's start with the census's digests.

What cannot be proven: rows written before the trail started in this version are checked only
against the census (an edit before it is invisible); the amounts of fees and the usage behind
a consumption entry follow from meter readings and tariffs no event records one by one; the
text of a tariff version made after the start, unless its event records its digest; meters
imported from a workbook, whose first readings are in the import event's change list only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.services.audit import START
from app.services.audit_census import (
    ledger_digest,
    meter_readings,
    operator_states,
    receipts_digest,
    setting_values,
    text_digest,
)
from app.services.ledger import COUNTER_KINDS
from app.store.models import (
    AuditEvent,
    LedgerEntry,
    Receipt,
    TariffPlan,
    TariffVersion,
    UsageCharge,
)
from app.vocabulary import LedgerKind

Fail = Callable[[str, str], None]

PERSON_KINDS = frozenset(COUNTER_KINDS)  # the entries people make: each has its event
_OPERATOR_FIELDS = ("username", "role", "active")


@dataclass
class AuditedFacts:
    """What the events say, gathered while the chain is walked (``visit``)."""

    started_at: int | None = None
    receipts: dict[int, tuple[int, int]] = field(default_factory=dict)  # number -> event, amount
    entries: dict[int, tuple[int, int]] = field(default_factory=dict)  # entry id -> event, amount
    repeated: list[str] = field(default_factory=list)
    operators: dict[int, dict[str, object]] = field(default_factory=dict)
    settings: dict[str, object] = field(default_factory=dict)
    tariffs: dict[tuple[str, str, int], str | None] = field(default_factory=dict)
    firsts: dict[int, int] = field(default_factory=dict)
    finals: dict[int, int] = field(default_factory=dict)

    def start(self, number: int, census: dict[str, object]) -> None:
        """The trail's start: what existed then is the census."""
        self.started_at = number
        self.operators = {int(k): _dict(v) for k, v in _dict(census.get("operators")).items()}
        self.settings = _dict(census.get("settings"))
        self.firsts = {int(k): _int(v) for k, v in _dict(census.get("meters")).items()}
        self.finals = {int(k): _int(v) for k, v in _dict(census.get("finals")).items()}

    def visit(self, event: AuditEvent) -> None:
        after = event.after or {}
        if event.action == START and self.started_at is None:
            self.start(event.id, _dict(after.get("census")))
        before = event.before or {}
        self._money(event.id, after)
        if self.started_at is None or event.id <= self.started_at:
            return  # the census already holds the state these events made
        target = event.target_type
        if target == "operator" and event.target_id.isdigit():
            state = self.operators.setdefault(int(event.target_id), {})
            state.update({k: after[k] for k in _OPERATOR_FIELDS if k in after})
            if event.action == "operator.first_admin" or event.action == "operator.add":
                state.setdefault("active", True)
        elif event.action == "setting.change" and "value" in after:
            self.settings[event.target_id] = after["value"]
        elif target == "tariff_plan" and "effective_from" in after:
            revision = after.get("revision")
            digest = after.get("sha256")
            self.tariffs[
                (
                    event.target_id,
                    str(after["effective_from"]),
                    revision if isinstance(revision, int) else 1,
                )
            ] = digest if isinstance(digest, str) else None
        elif target == "meter":
            self._meter(event, before, after)

    def _money(self, number: int, after: dict[str, object]) -> None:
        receipt = after.get("receipt")
        amount = after.get("amount", after.get("opening_balance"))
        if isinstance(receipt, int) and isinstance(amount, int):
            self._note(self.receipts, receipt, number, amount, "receipt")
        elif isinstance(after.get("entry"), int) and isinstance(amount, int):
            entry = after["entry"]
            assert isinstance(entry, int)
            self._note(self.entries, entry, number, amount, "entry")
        openings = after.get("opening_balances")
        for opening in openings if isinstance(openings, list) else []:
            if isinstance(opening, dict):
                got, paid = opening.get("receipt"), opening.get("amount_minor")
                if isinstance(got, int) and isinstance(paid, int):
                    self._note(self.receipts, got, number, paid, "receipt")

    def _note(
        self, into: dict[int, tuple[int, int]], key: int, number: int, amount: int, what: str
    ) -> None:
        if key in into:
            self.repeated.append(
                f"{what} {key} is recorded by audit events {into[key][0]} and {number}"
            )
        into[key] = (number, amount)

    def _meter(
        self, event: AuditEvent, before: dict[str, object], after: dict[str, object]
    ) -> None:
        if not event.target_id.isdigit():
            return
        meter_id = int(event.target_id)
        if event.action == "meter.add" and isinstance(after.get("initial_units"), int):
            self.firsts[meter_id] = _int(after["initial_units"])
        elif event.action == "meter.retire" and isinstance(after.get("final_units"), int):
            self.finals[meter_id] = _int(after["final_units"])
        elif event.action == "meter.replace":
            if isinstance(before.get("final_units"), int):
                self.finals[meter_id] = _int(before["final_units"])
            new_id, units = after.get("meter_id"), after.get("initial_units")
            if isinstance(new_id, int) and isinstance(units, int):
                self.firsts[new_id] = units


def cross_check(
    session: Session, facts: AuditedFacts, census: dict[str, object], fail: Fail
) -> None:
    """Every protected row against the census and the events (the trail has started)."""
    for line in facts.repeated:
        fail("audit_money", line)
    ledger = _dict(census.get("ledger"))
    receipts = _dict(census.get("receipts"))
    last_entry = _int(ledger.get("last", 0))
    last_receipt = _int(receipts.get("last", 0))
    if ledger_digest(session, last_entry) != ledger.get("digest"):
        fail(
            "census",
            f"ledger entries made before the audit trail started (up to entry {last_entry}) "
            "were changed or removed since",
        )
    if receipts_digest(session, last_receipt) != receipts.get("digest"):
        fail(
            "census",
            f"receipts issued before the audit trail started (up to number {last_receipt}) "
            "were changed or removed since",
        )
    _check_receipts(session, facts, last_receipt, fail)
    _check_entries(session, facts, last_entry, fail)
    _check_operators(session, facts, fail)
    _check_settings(session, facts, fail)
    _check_tariffs(session, facts, _dict(census.get("tariffs")), fail)
    _check_meters(session, facts, fail)


def _check_receipts(session: Session, facts: AuditedFacts, last: int, fail: Fail) -> None:
    seen: set[int] = set()
    for number, amount in session.execute(select(Receipt.number, Receipt.amount_minor)):
        seen.add(number)
        recorded = facts.receipts.get(number)
        if recorded is None:
            if number > last:
                fail(
                    "unaudited",
                    f"receipt {number} has no audit event: it was not issued through MeterDesk",
                )
        elif recorded[1] != amount:
            fail(
                "audit_money",
                f"receipt {number} is for {amount} but audit event {recorded[0]} recorded "
                f"{recorded[1]} (minor units): the receipt was changed after it was issued",
            )
    for number, (event, _amount) in sorted(facts.receipts.items()):
        if number not in seen:
            fail(
                "receipt_missing",
                f"receipt {number}, recorded by audit event {event}, is missing: it was removed",
            )


def _check_entries(session: Session, facts: AuditedFacts, last: int, fail: Fail) -> None:
    with_receipt = set(session.scalars(select(Receipt.ledger_entry_id)))
    charged = set(
        session.scalars(
            select(UsageCharge.ledger_entry_id)
            .where(UsageCharge.ledger_entry_id.is_not(None), UsageCharge.ledger_entry_id > last)
            .distinct()
        )
    )
    rows = session.execute(
        select(LedgerEntry.id, LedgerEntry.kind, LedgerEntry.amount_minor)
        .where(LedgerEntry.id > last)
        .order_by(LedgerEntry.id)
    )
    for entry_id, kind, amount in rows:
        named = facts.entries.get(entry_id)
        if named is not None and named[1] != amount:
            fail(
                "audit_money",
                f"entry {entry_id} moves {amount} but audit event {named[0]} recorded "
                f"{named[1]} (minor units): it was changed after it was posted",
            )
        if kind in PERSON_KINDS and named is None and entry_id not in with_receipt:
            fail(
                "unaudited",
                f"entry {entry_id} ({kind.value}, {amount} minor units) has no receipt and no "
                "audit event: it was not made through MeterDesk",
            )
        elif kind is LedgerKind.CONSUMPTION and (amount > 0 or entry_id not in charged):
            fail(
                "unaudited",
                f"consumption entry {entry_id} ({amount} minor units) has no usage charges "
                "behind it (or gives money): the engine did not post it",
            )
        elif kind is LedgerKind.FEE and amount > 0:
            fail("unaudited", f"fee entry {entry_id} gives {amount} minor units; fees take money")


def _check_operators(session: Session, facts: AuditedFacts, fail: Fail) -> None:
    for operator_id, state in operator_states(session).items():
        expected = facts.operators.get(operator_id)
        if expected is None:
            fail(
                "unaudited",
                f"operator {state['username']} has no audit event: it was not added through "
                "MeterDesk",
            )
            continue
        for name in _OPERATOR_FIELDS:
            if name == "active" and not state[name]:
                continue  # switched off outside MeterDesk: it gives nobody more power
            if name in expected and expected[name] != state[name]:
                fail(
                    "operator",
                    f"operator {state['username']} has {name} {state[name]!r} but the audit "
                    f"trail last gave it {expected[name]!r}: it was changed outside MeterDesk",
                )


def _check_settings(session: Session, facts: AuditedFacts, fail: Fail) -> None:
    for key, value in setting_values(session).items():
        if key not in facts.settings:
            fail("unaudited", f"setting {key} has no audit event: it was not set through MeterDesk")
        elif facts.settings[key] != value:
            fail(
                "setting",
                f"setting {key} holds {value!r} but the audit trail last set it to "
                f"{facts.settings[key]!r}: it was changed outside MeterDesk",
            )


def _check_tariffs(
    session: Session, facts: AuditedFacts, census: dict[str, object], fail: Fail
) -> None:
    rows = session.execute(
        select(
            TariffVersion.id,
            TariffPlan.name,
            TariffVersion.effective_from,
            TariffVersion.revision,
            TariffVersion.source_toml,
        ).join(TariffPlan, TariffPlan.id == TariffVersion.plan_id)
    )
    for version_id, plan, effective, revision, text in rows:
        what = f"tariff {plan} from {effective} (revision {revision})"
        key = (plan, str(effective), revision)
        digest = text_digest(text)
        if key in facts.tariffs:
            recorded = facts.tariffs[key]
            if recorded is not None and recorded != digest:
                fail("tariff", f"{what} is not the text its audit event recorded: it was edited")
        elif str(version_id) in census:
            if census[str(version_id)] != digest:
                fail(
                    "tariff",
                    f"{what} is not the text it had when the audit trail started: its prices "
                    "were edited outside MeterDesk",
                )
        else:
            fail("unaudited", f"{what} has no audit event: it was not stored through MeterDesk")


def _check_meters(session: Session, facts: AuditedFacts, fail: Fail) -> None:
    firsts, finals = meter_readings(session)
    for meter_id, units in sorted(facts.firsts.items()):
        if firsts.get(meter_id) != units:
            fail(
                "reading",
                f"meter {meter_id}'s initial reading is {firsts.get(meter_id)} but its audit "
                f"event recorded {units}: it was edited outside MeterDesk",
            )
    for meter_id, units in sorted(facts.finals.items()):
        if finals.get(meter_id) != units:
            fail(
                "reading",
                f"meter {meter_id}'s final reading is {finals.get(meter_id)} but its audit "
                f"event recorded {units}: it was edited outside MeterDesk",
            )


def _dict(value: object) -> dict[str, object]:
    return dict(value) if isinstance(value, dict) else {}


def _int(value: object) -> int:
    """A number stored in an event (a whole number; anything else counts as -1, which no
    row holds, so an edited census is named rather than crashing verify)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else -1
