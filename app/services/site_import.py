"""Import a site workbook: plan it (``--dry-run``, the console's preview) or apply it, all or
nothing, in one transaction.

Every row is checked before anything is written and each row with a problem is named by
sheet, row and column (with the first problem found in it); an import with problems writes
nothing. The operator needs the permission of each
kind of change the workbook makes (rooms: lay out the site; buses and meters: the field;
tenants: open accounts, and change policies or tariffs of accounts already open). One audit
event records the import: the file's SHA-256, what it added and changed, and every opening
balance paid in with its receipt number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select

from app.documents.site_workbook_format import Problem, Workbook
from app.queries.site_facts import site_currency
from app.services.audit import record_audit
from app.services.counters import RECEIPT, lock_counter
from app.services.import_apply import apply_plan
from app.services.import_index import load_index
from app.services.import_plan import ImportPlan, plan_workbook
from app.services.operators import SignedIn
from app.services.permissions import Action
from app.services.setup_checks import field_changed
from app.store.database import Database
from app.store.models import Site


class ImportRefused(Exception):
    """The workbook has problems; nothing was written. ``plan`` holds them all."""

    def __init__(self, plan: ImportPlan) -> None:
        self.plan = plan
        super().__init__("\n".join(str(p) for p in plan.problems))


@dataclass(frozen=True)
class ImportDone:
    plan: ImportPlan
    applied: bool
    openings: list[dict[str, object]] = field(default_factory=list)


def _no_site(plan: ImportPlan) -> None:
    plan.problems.insert(
        0,
        Problem(
            "",
            None,
            None,
            "There is no site in this database yet; set it up first ('main.py site init' or "
            "the Setup screen).",
        ),
    )


def plan_import(db: Database, workbook: Workbook) -> ImportPlan:
    """What the workbook would add and change, and its problems; writes nothing."""
    with db.session() as session:
        plan = plan_workbook(load_index(session), workbook, site_currency(session))
        if session.scalar(select(Site.id).limit(1)) is None:
            _no_site(plan)
        return plan


def _require(by: SignedIn, plan: ImportPlan) -> None:
    sheets = {change.sheet for change in plan.changes}
    if "rooms" in sheets:
        by.require(Action.EDIT_LAYOUT)
    if {"buses", "meters"} & sheets:
        by.require(Action.EDIT_FIELD)
    if plan.new_accounts:
        by.require(Action.OPEN_ACCOUNT)
    if plan.changed_accounts:
        by.require(Action.CHANGE_POLICY)
        by.require(Action.CHANGE_TARIFF)


def import_workbook(
    db: Database, by: SignedIn, workbook: Workbook, *, source: str, digest: str
) -> ImportDone:
    """Apply the workbook; ``ImportRefused`` (nothing written) when it has problems."""
    now = datetime.now(UTC)
    with db.transaction() as session:
        lock_counter(session, RECEIPT)  # the money services' lock order: receipts first
        site = session.scalars(select(Site).order_by(Site.id).limit(1)).first()
        index = load_index(session)
        plan = plan_workbook(index, workbook, site_currency(session))
        if site is None:
            _no_site(plan)
        if plan.problems:
            raise ImportRefused(plan)
        if not plan.changes:
            return ImportDone(plan, applied=False)
        _require(by, plan)
        assert site is not None  # refused above: there is no site
        openings = apply_plan(session, by, site, index, plan, now)
        if {c.sheet for c in plan.changes} & {"rooms", "buses", "meters"}:
            field_changed(session)
        record_audit(
            session,
            by,
            "site.import",
            "site",
            site.id,
            None,
            {
                "source": source,
                "sha256": digest,
                "counts": plan.counts(),
                "changes": [[c.sheet, c.row, c.action, c.what, c.detail] for c in plan.changes],
                "opening_balances": openings,
            },
        )
        return ImportDone(plan, applied=True, openings=openings)
