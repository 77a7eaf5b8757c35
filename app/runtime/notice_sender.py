"""Sends the tenants' text messages the services queued (``app.services.notices``) through the
site's GSM modem, on a thread of its own in the runtime that holds the site's duties.

Each round takes the notices that are due, marks them ``SENDING`` (committed before the modem
gets them), sends them one by one and records each outcome at once. The rules:

- never twice: a notice the PC stopped in the middle of sending is not sent again at the next
  start (``FAILED``, saying so); neither is one the modem took without confirming, or one whose
  earlier parts went out;
- bounded retries: a message the network refused is tried ``MAX_ATTEMPTS`` times in all, at
  growing gaps (``RETRY_S``), then given up (``FAILED`` with the modem's answer);
- quiet hours: nothing goes in the site's quiet hours; what is due waits for their end;
- no longer true: a low-balance or cut-off notice whose alarm cleared before it went (a
  recharge came first) is ``DROPPED``, as is anything older than a day (``STALE_S``);
- a failing modem (port gone, no answer, no SIM, no network) raises one ``modem_failed``
  alarm, keeps the notices queued for when it works again and backs off; it never touches
  billing, which runs on other threads. The first message that goes clears the alarm.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.hardware.sms.modem import SmsFailed, SmsModem
from app.services.notices import notice_setup
from app.store.database import Database
from app.store.models import Alarm, Notice
from app.vocabulary import AlarmKind, AlarmSeverity, AlarmState, NoticeState

log = logging.getLogger(__name__)

ROUND_S = 10.0  # how often the queue is looked at
MODEM_BACKOFF_S = 60.0  # after the modem failed, before it is tried again
MAX_ATTEMPTS = 3
RETRY_S = (120.0, 600.0)  # before the second and the third attempt
STALE_S = 24 * 3600.0
BATCH = 20  # notices per round: a long queue never holds the modem for minutes
INTERRUPTED = (
    "MeterDesk stopped while this message was being handed to the modem; it is not sent again, "
    "so that it never arrives twice"
)
MAYBE_SENT = "it may have gone out all the same, so it is not sent again: "

ModemFactory = Callable[[str, int], SmsModem]


def _now() -> datetime:
    return datetime.now(UTC)


def _modem(port: str, baud: int) -> SmsModem:
    return SmsModem(port, baudrate=baud)


@dataclass
class RoundOutcome:
    """What one round did (for the log and for tests)."""

    sent: int = 0
    retried: int = 0  # refused, to be tried again later
    failed: int = 0
    dropped: int = 0
    modem_error: str = ""  # the modem failed: the notices wait


class NoticeSender:
    def __init__(
        self,
        db: Database,
        may_send: Callable[[], bool],
        *,
        every_s: float = ROUND_S,
        clock: Callable[[], datetime] = _now,
        modem: ModemFactory = _modem,
    ) -> None:
        self.db = db
        self.may_send = may_send  # whether this runtime holds the site's duties now
        self.every_s = every_s
        self.clock = clock
        self.modem = modem
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._recovered = False  # the notices a stopped sender left SENDING are settled

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="notice sender", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self) -> None:
        wait_s = 0.0
        while not self._stopping.wait(wait_s):
            wait_s = self.every_s
            if not self.may_send():
                continue
            try:
                outcome = self.run_once()
            except Exception:  # the database away: the next round tries again
                log.exception("a round of the notice sender failed")
                continue
            if outcome.modem_error:
                wait_s = max(self.every_s, MODEM_BACKOFF_S)

    def run_once(self) -> RoundOutcome:
        """One round: settle what a stopped sender left, then send what is due."""
        now = self.clock()
        outcome = RoundOutcome()
        with self.db.session() as session:  # a read: most rounds find nothing to do
            setup = notice_setup(session)
            due = session.scalar(
                select(Notice.id)
                .where(Notice.state == NoticeState.QUEUED, Notice.due_at <= now)
                .limit(1)
            )
            alarmed = _open_modem_alarm(session) is not None
        if not self._recovered:
            with self.db.transaction() as session:
                _settle_interrupted(session)
            self._recovered = True
        if setup.port is None:
            if alarmed:  # no modem any more: nothing is failing
                with self.db.transaction() as session:
                    _clear_modem_alarm(session, now)
            return outcome
        if due is None or setup.due_at(now) > now:
            return outcome  # nothing due, or quiet hours
        with self.db.transaction() as session:
            taken = _take_due(session, now, outcome)
        if not taken:
            return outcome
        self._send(setup.port, setup.baud, taken, outcome)
        log.info(
            "notices: %d sent, %d to retry, %d failed, %d dropped%s",
            outcome.sent,
            outcome.retried,
            outcome.failed,
            outcome.dropped,
            f"; modem: {outcome.modem_error}" if outcome.modem_error else "",
        )
        return outcome

    def _send(
        self, port: str, baud: int, taken: list[tuple[int, str, str, int]], outcome: RoundOutcome
    ) -> None:
        waiting = list(taken)
        modem = self.modem(port, baud)
        try:
            with modem:
                while waiting:
                    notice_id, phone, text, attempts = waiting[0]
                    try:
                        result = modem.send(phone, text)
                    except ValueError as exc:  # a number or text the modem cannot take
                        self._settle(notice_id, NoticeState.FAILED, str(exc))
                        outcome.failed += 1
                    except SmsFailed as exc:
                        if not exc.handed:
                            raise  # the modem itself failed: every notice waits
                        self._refused(notice_id, attempts, exc, outcome)
                    else:
                        self._settle(notice_id, NoticeState.SENT, "", list(result.references))
                        outcome.sent += 1
                    waiting.pop(0)
        except SmsFailed as exc:
            outcome.modem_error = str(exc)
            with self.db.transaction() as session:
                _give_back(session, [notice[0] for notice in waiting])
                _raise_modem_alarm(session, port, str(exc), self.clock())
            return
        if outcome.sent:
            with self.db.transaction() as session:
                _clear_modem_alarm(session, self.clock())

    def _refused(
        self, notice_id: int, attempts: int, exc: SmsFailed, outcome: RoundOutcome
    ) -> None:
        if exc.maybe_sent:
            self._settle(notice_id, NoticeState.FAILED, MAYBE_SENT + str(exc))
            outcome.failed += 1
        elif attempts >= MAX_ATTEMPTS:
            self._settle(notice_id, NoticeState.FAILED, f"after {attempts} attempts: {exc}")
            outcome.failed += 1
        else:
            retry_at = self.clock() + timedelta(seconds=RETRY_S[attempts - 1])
            with self.db.transaction() as session:
                session.execute(
                    update(Notice)
                    .where(Notice.id == notice_id)
                    .values(state=NoticeState.QUEUED, due_at=retry_at, error=str(exc))
                )
            outcome.retried += 1

    def _settle(
        self, notice_id: int, state: NoticeState, error: str, references: list[int] | None = None
    ) -> None:
        with self.db.transaction() as session:
            session.execute(
                update(Notice)
                .where(Notice.id == notice_id)
                .values(
                    state=state,
                    error=error,
                    references=references,
                    sent_at=self.clock() if state is NoticeState.SENT else None,
                )
            )


def _settle_interrupted(session: Session) -> None:
    """Notices a sender left ``SENDING`` (its PC stopped mid-send): failed, never sent again."""
    session.execute(
        update(Notice)
        .where(Notice.state == NoticeState.SENDING)
        .values(state=NoticeState.FAILED, error=INTERRUPTED)
    )


def _take_due(
    session: Session, now: datetime, outcome: RoundOutcome
) -> list[tuple[int, str, str, int]]:
    """The due notices, marked ``SENDING`` with one more attempt; the stale and the no longer
    true ones dropped."""
    due = session.scalars(
        select(Notice)
        .where(Notice.state == NoticeState.QUEUED, Notice.due_at <= now)
        .order_by(Notice.due_at, Notice.id)
        .limit(BATCH)
    ).all()
    cleared = _cleared_alarms(session, [n.alarm_id for n in due if n.alarm_id is not None])
    taken = []
    for notice in due:
        if notice.created_at < now - timedelta(seconds=STALE_S):
            notice.state, notice.error = (
                NoticeState.DROPPED,
                "not sent within a day: no longer news",
            )
            outcome.dropped += 1
        elif notice.alarm_id in cleared:
            notice.state = NoticeState.DROPPED
            notice.error = "no longer true when it could go: the warning had cleared"
            outcome.dropped += 1
        else:
            notice.state = NoticeState.SENDING
            notice.attempts += 1
            taken.append((notice.id, notice.phone, notice.text, notice.attempts))
    return taken


def _cleared_alarms(session: Session, alarm_ids: list[int]) -> set[int]:
    if not alarm_ids:
        return set()
    return set(
        session.scalars(
            select(Alarm.id).where(Alarm.id.in_(alarm_ids), Alarm.state == AlarmState.CLEARED)
        )
    )


def _give_back(session: Session, notice_ids: list[int]) -> None:
    """Notices the modem never got (it failed first): queued again, the attempt not counted."""
    if notice_ids:
        session.execute(
            update(Notice)
            .where(Notice.id.in_(notice_ids), Notice.state == NoticeState.SENDING)
            .values(state=NoticeState.QUEUED, attempts=Notice.attempts - 1)
        )


def _open_modem_alarm(session: Session) -> Alarm | None:
    return session.scalars(
        select(Alarm).where(Alarm.kind == AlarmKind.MODEM_FAILED, Alarm.state != AlarmState.CLEARED)
    ).first()


def _raise_modem_alarm(session: Session, port: str, error: str, now: datetime) -> None:
    message = f"Text messages to tenants wait: the SMS modem on {port} failed: {error}"
    alarm = _open_modem_alarm(session)
    if alarm is None:
        session.add(
            Alarm(
                kind=AlarmKind.MODEM_FAILED,
                severity=AlarmSeverity.WARNING,
                message=message,
                evidence={"port": port},
                raised_at=now,
            )
        )
    else:
        alarm.message = message
        alarm.occurrences += 1


def _clear_modem_alarm(session: Session, now: datetime) -> None:
    alarm = _open_modem_alarm(session)
    if alarm is not None:
        alarm.state = AlarmState.CLEARED
        alarm.cleared_at = now
