"""The status bar's word on who polls the site: this console, or another MeterDesk (attached,
or standing by to take over)."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QLabel, QWidget

from app.queries.field_owners import OwnerRow, field_owners
from app.runtime.ownership import ClaimRound
from app.runtime.runtime import Runtime
from app.ui.background import run_in_background

# The owner rows change only when a runtime starts, stops or takes over (this console's own
# changes come at once through ``on_claims``); a look now and then is enough for the others'.
REFRESH_MS = 15_000


@dataclass(frozen=True)
class Polling:
    attached: bool
    buses_here: int
    owners: tuple[OwnerRow, ...]  # every unit's row
    mine: str  # this runtime's id


class OwnerStatus(QLabel):
    claims_changed = Signal()  # emitted from the runtime's thread, handled on the GUI thread

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ownerStatus")
        self._runtime: Runtime | None = None
        self.claims_changed.connect(self.refresh)
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)

    def watch(self, runtime: Runtime) -> None:
        self._runtime = runtime

        def changed(_round: ClaimRound) -> None:
            self.claims_changed.emit()

        runtime.on_claims = changed
        self._timer.start()
        self.refresh()

    def refresh(self) -> None:
        runtime = self._runtime
        if runtime is None:
            return

        def read() -> Polling:
            return Polling(
                runtime.options.attached,
                len(runtime.workers),
                tuple(field_owners(runtime.db)),
                runtime.ownership.runtime_id,
            )

        run_in_background(read, self.show_polling, owner=self)

    def show_polling(self, polling: Polling) -> None:
        others = [o for o in polling.owners if o.runtime_id != polling.mine]
        site = next((o for o in polling.owners if o.is_site), None)
        lines = [self._who(o) for o in polling.owners]
        warn = False
        if polling.attached:
            if site is None:
                text = self.tr("Attached: nobody polls (start 'main.py serve')")
                warn = True
            else:
                text = self.tr("Attached to {who}").format(who=self._short(site))
        elif not others:
            text = self.tr("Polling here: %n bus(es)", "", polling.buses_here)
        elif polling.buses_here == 0:
            owner = site or others[0]
            text = self.tr("Standby for {who}").format(who=self._short(owner))
        else:
            text = self.tr("Polling %n bus(es) here, others elsewhere", "", polling.buses_here)
        self.setText(text)
        # Short enough to show whole: the site's name and the database's path give way first.
        self.setMinimumWidth(self.sizeHint().width())
        self.setProperty("warning", warn)
        self.style().unpolish(self)
        self.style().polish(self)
        self.setToolTip("\n".join(lines) or self.tr("No MeterDesk polls this site."))

    def _short(self, owner: OwnerRow) -> str:
        return self.tr("{host} ({role})").format(role=owner.role, host=owner.host)

    def _who(self, owner: OwnerRow) -> str:
        what = self.tr("the site's duties") if owner.is_site else owner.what
        return self.tr("{what}: {role} on {host} (process {pid}) since {since}").format(
            what=what,
            role=owner.role,
            host=owner.host,
            pid=owner.pid,
            since=owner.since.astimezone().strftime("%Y-%m-%d %H:%M"),
        )
