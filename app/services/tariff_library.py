"""Tariffs kept in the database as dated versions, imported from and exported to the TOML tariff
file of DOMAIN.md section 2.

A plan is known by its tariff's ``name``. Each version keeps the file's text exactly as imported
(``TariffVersion.source_toml``) and is in force from its ``effective_from`` (a site-local date)
until the next version. Import rules:

- the file is checked by ``parse_tariff``; any mistake raises ``TariffFileError`` with all of them;
- a new name creates the plan with the file's utility, unit and currency; those never change;
- a date the plan has no version for adds a version, unless usage already priced with the
  version before it reaches into that date (that would re-price billed usage);
- the same date with the same text changes nothing; with other text the version's text is
  replaced and its revision goes up, but only while no usage has been priced with it.

Functions take the caller's session and never commit: the caller owns the transaction. Refusals
raise ``TariffLibraryError`` subclasses whose message says what is wrong and what to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from zoneinfo import ZoneInfoNotFoundError

from sqlalchemy import String, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from app.billing.tariff import Tariff, TariffFileError, parse_tariff
from app.queries import site_facts
from app.services.audit import record_audit
from app.services.operators import SignedIn
from app.services.permissions import Action
from app.store.database import Database
from app.store.models import Operator, Site, TariffPlan, TariffVersion, UsageCharge, utc_now
from app.vocabulary import Utility


def _name_length() -> int:
    column_type = TariffPlan.__table__.c.name.type
    assert isinstance(column_type, String)
    assert column_type.length is not None
    return column_type.length


NAME_LENGTH = _name_length()  # TariffPlan.name's column length


class TariffLibraryError(ValueError):
    """A tariff that cannot be imported or found; the message says what to do."""


class TariffImportRefused(TariffLibraryError):
    """The file is valid but conflicts with what is stored; nothing was written."""


class TariffNotFound(TariffLibraryError):
    """No such plan, or no version of it in force on the date asked for."""


class ImportOutcome(StrEnum):
    CREATED = "created"  # a new plan with its first version
    NEW_VERSION = "new_version"  # a new dated version of an existing plan
    REVISED = "revised"  # an unpriced version's text replaced, revision + 1
    UNCHANGED = "unchanged"  # already imported with exactly this text


@dataclass(frozen=True, slots=True)
class ImportResult:
    plan_name: str
    effective_from: date
    outcome: ImportOutcome
    revision: int


@dataclass(frozen=True, slots=True)
class VersionInfo:
    effective_from: date
    revision: int
    usage_charges: int  # usage charges priced with this version
    in_force: bool  # the version in force today at the site


@dataclass(frozen=True, slots=True)
class PlanInfo:
    id: int  # the plan's database id (a screen keeps its row chosen across reloads)
    name: str
    utility: str
    unit: str
    currency: str
    versions: tuple[VersionInfo, ...]  # oldest first


def import_tariff(
    session: Session, text: str, *, operator_id: int | None = None, source: str = "tariff"
) -> ImportResult:
    """Store ``text`` (a tariff file; ``source`` names it in messages) as a version of its plan."""
    tariff = parse_tariff(text, source)
    if len(tariff.name) > NAME_LENGTH:
        raise TariffFileError(
            f"{source}: 'name' is {len(tariff.name)} characters long; "
            f"shorten it to {NAME_LENGTH} or fewer."
        )
    _check_site_currency(session, tariff)
    if operator_id is not None and session.get(Operator, operator_id) is None:
        raise TariffLibraryError(
            f"There is no operator with id {operator_id}; nothing was changed."
        )
    plan = session.scalars(
        select(TariffPlan).where(TariffPlan.name == tariff.name).with_for_update()
    ).first()
    if plan is None:
        _check_no_near_name(session, tariff.name)
        plan = TariffPlan(
            name=tariff.name,
            utility=Utility(tariff.utility),
            unit=tariff.unit,
            currency=tariff.currency,
        )
        session.add(plan)
        _add_version(session, plan, tariff, text, operator_id)
        return ImportResult(tariff.name, tariff.effective_from, ImportOutcome.CREATED, 1)
    _check_same_kind(plan, tariff)
    version = session.scalars(
        select(TariffVersion)
        .where(
            TariffVersion.plan_id == plan.id,
            TariffVersion.effective_from == tariff.effective_from,
        )
        .with_for_update()  # on PostgreSQL also holds back new usage charges priced with it
    ).first()
    if version is None:
        _check_priced_history(session, plan, tariff.effective_from)
        _add_version(session, plan, tariff, text, operator_id)
        return ImportResult(tariff.name, tariff.effective_from, ImportOutcome.NEW_VERSION, 1)
    if version.source_toml == text:
        return ImportResult(
            tariff.name, tariff.effective_from, ImportOutcome.UNCHANGED, version.revision
        )
    if session.scalar(select(exists().where(UsageCharge.tariff_version_id == version.id))):
        raise TariffImportRefused(
            f"Tariff '{tariff.name}' already has a version from {tariff.effective_from} with "
            "other text, and usage has been priced with it, so it cannot change. Nothing was "
            "changed: give the file a new effective_from (the first day the new prices apply) "
            "to add a new version."
        )
    version.source_toml = text
    version.revision += 1
    version.created_at = utc_now()  # created_at/created_by_id describe the current revision
    version.created_by_id = operator_id
    session.flush()
    return ImportResult(tariff.name, tariff.effective_from, ImportOutcome.REVISED, version.revision)


def export_tariff(session: Session, plan_name: str, *, at: date | None = None) -> str:
    """The exact stored text of ``plan_name``'s version in force on ``at`` (default: today at
    the site)."""
    plan = _plan_named(session, plan_name)
    day = at if at is not None else site_today(session)
    version = session.scalars(
        select(TariffVersion)
        .where(TariffVersion.plan_id == plan.id, TariffVersion.effective_from <= day)
        .order_by(TariffVersion.effective_from.desc())
        .limit(1)
    ).first()
    if version is not None:
        return version.source_toml
    first = session.scalar(
        select(func.min(TariffVersion.effective_from)).where(TariffVersion.plan_id == plan.id)
    )
    if first is None:
        raise TariffNotFound(
            f"Tariff plan '{plan.name}' has no versions yet; import a tariff file for it first."
        )
    raise TariffNotFound(
        f"Tariff plan '{plan.name}' has no version in force on {day}: its first version starts "
        f"{first}. Ask for a date on or after {first}."
    )


def import_tariff_file(session: Session, by: SignedIn, text: str, source: str) -> ImportResult:
    """An operator stores a tariff file (those who may change tariffs), audited unless the
    same text was already stored."""
    by.require(Action.CHANGE_TARIFF)
    result = import_tariff(session, text, operator_id=by.operator_id, source=source)
    if result.outcome is not ImportOutcome.UNCHANGED:
        record_audit(
            session,
            by,
            f"tariff.{result.outcome.value}",
            "tariff_plan",
            result.plan_name,
            None,
            {"effective_from": str(result.effective_from), "revision": result.revision},
        )
    return result


def list_plans(session: Session) -> list[PlanInfo]:
    """Every plan (by name) with its versions, how much usage each priced, which is in force."""
    priced = select(UsageCharge.tariff_version_id, func.count()).group_by(
        UsageCharge.tariff_version_id
    )
    counts: dict[int, int] = dict(session.execute(priced).all())
    today = site_today(session)
    plans = sorted(  # in Python: SQLite and PostgreSQL collate names differently
        session.scalars(select(TariffPlan).options(selectinload(TariffPlan.versions))),
        key=lambda plan: (plan.name.casefold(), plan.name),
    )
    out: list[PlanInfo] = []
    for plan in plans:
        current = max(
            (v.effective_from for v in plan.versions if v.effective_from <= today), default=None
        )
        versions = tuple(
            VersionInfo(
                v.effective_from, v.revision, counts.get(v.id, 0), v.effective_from == current
            )
            for v in plan.versions
        )
        out.append(
            PlanInfo(plan.id, plan.name, plan.utility.value, plan.unit, plan.currency, versions)
        )
    return out


def site_zone(session: Session) -> tzinfo:
    """The site's time zone (this computer's zone while no site is set up)."""
    try:
        zone = site_facts.site_zone(session)
    except ZoneInfoNotFoundError as exc:
        raise TariffLibraryError(
            f"The site's time zone {exc.args[0]!r} is not known on this computer; set the "
            "site's time zone to a name like Asia/Shanghai, or give the date explicitly."
        ) from None
    if zone is None:
        here = datetime.now(UTC).astimezone().tzinfo
        assert here is not None
        return here
    return zone


def site_today(session: Session) -> date:
    return datetime.now(site_zone(session)).date()


def _add_version(
    session: Session, plan: TariffPlan, tariff: Tariff, text: str, operator_id: int | None
) -> None:
    session.add(
        TariffVersion(
            plan=plan,
            effective_from=tariff.effective_from,
            source_toml=text,
            created_by_id=operator_id,
            revision=1,
        )
    )
    try:
        session.flush()
    except IntegrityError:
        raise TariffImportRefused(
            f"Tariff '{tariff.name}' from {tariff.effective_from} was stored by someone else at "
            "the same moment. Nothing was changed: run the import again."
        ) from None


def _check_site_currency(session: Session, tariff: Tariff) -> None:
    currency = session.scalar(select(Site.currency).order_by(Site.id).limit(1))
    if currency is not None and currency != tariff.currency:
        raise TariffImportRefused(
            f"Tariff '{tariff.name}' is priced in {tariff.currency}, but the site bills in "
            f'{currency}. Nothing was changed: write currency = "{currency}" and prices in '
            f"{currency} in the file."
        )


def _check_no_near_name(session: Session, name: str) -> None:
    """A new name that differs from a stored one only in letter case is almost surely a typo."""
    for stored in session.scalars(select(TariffPlan.name)):
        if stored.casefold() == name.casefold():
            raise TariffImportRefused(
                f"Tariff '{name}' would be a new plan, but plan '{stored}' differs from it only "
                f'in letter case. Nothing was changed: write name = "{stored}" to add a '
                "version to it, or choose a clearly different name for a new plan."
            )


def _check_same_kind(plan: TariffPlan, tariff: Tariff) -> None:
    stored = (plan.utility.value, plan.unit, plan.currency)
    given = (tariff.utility, tariff.unit, tariff.currency)
    if stored != given:
        raise TariffImportRefused(
            f"Tariff plan '{plan.name}' is {_kind(*stored)}, but this file says {_kind(*given)}. "
            "A plan keeps its utility, unit and currency across versions. Nothing was changed: "
            "correct the file, or give it another name to make a new plan."
        )


def _kind(utility: str, unit: str, currency: str) -> str:
    return f"{utility} in {unit} priced in {currency}"


def _check_priced_history(session: Session, plan: TariffPlan, effective_from: date) -> None:
    """Refuse a new version that would take over usage already priced with the one before it."""
    before = session.scalars(
        select(TariffVersion)
        .where(TariffVersion.plan_id == plan.id, TariffVersion.effective_from < effective_from)
        .order_by(TariffVersion.effective_from.desc())
        .limit(1)
    ).first()
    if before is None:
        return
    zone = site_zone(session)
    starts = datetime.combine(effective_from, time(0), tzinfo=zone)
    last_end = session.scalar(
        select(func.max(UsageCharge.end_at)).where(UsageCharge.tariff_version_id == before.id)
    )
    if last_end is None or last_end <= starts:
        return
    local_end = last_end.astimezone(zone)
    earliest = local_end.date() + (timedelta(0) if local_end.time() == time(0) else timedelta(1))
    raise TariffImportRefused(
        f"Usage up to {local_end:%Y-%m-%d %H:%M} is already priced with tariff '{plan.name}' "
        f"from {before.effective_from}; a version from {effective_from} would change what that "
        f"usage should have cost. Nothing was changed: give the file effective_from = "
        f"{earliest} or later."
    )


def _plan_named(session: Session, name: str) -> TariffPlan:
    plan = session.scalars(select(TariffPlan).where(TariffPlan.name == name)).first()
    if plan is not None:
        return plan
    names = sorted(session.scalars(select(TariffPlan.name)), key=str.casefold)
    if not names:
        raise TariffNotFound(
            f"There is no tariff plan named '{name}': no tariffs are stored yet. "
            "Import a tariff file first."
        )
    close = [stored for stored in names if stored.casefold() == name.strip().casefold()]
    if close:
        raise TariffNotFound(f"There is no tariff plan named '{name}'; did you mean '{close[0]}'?")
    known = ", ".join(f"'{stored}'" for stored in names)
    raise TariffNotFound(
        f"There is no tariff plan named '{name}'; use one of the stored plans: {known}."
    )


def export_tariff_of(db: Database, plan_name: str) -> str:
    """The stored file of the version in force today, in a session of its own (screens)."""
    with db.session() as session:
        return export_tariff(session, plan_name)


def plans_of(db: Database) -> list[PlanInfo]:
    """``list_plans`` in a session of its own (screens)."""
    with db.session() as session:
        return list_plans(session)
