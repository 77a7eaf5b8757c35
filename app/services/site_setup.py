"""The site itself: its name, address, time zone, currency and receipt header.

``init_site`` creates the one site of a database (an administrator, once); ``change_site``
edits it. The currency is fixed once money has moved (any ledger entry) or a tariff was stored
in it: every amount in the database is in minor units of that currency. The time zone says how
the site's clocks read (friendly hours, tariff bands, days of the restore cap).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.billing.money import MINOR_UNITS
from app.services.audit import record_audit
from app.services.operators import SignedIn
from app.services.permissions import Action
from app.services.setup_checks import SetupRefused, clean_text
from app.store.database import Database
from app.store.models import LedgerEntry, Site, TariffPlan, column_length

ADDRESS_MAX = 300
HEADER_MAX = 300
HEADER_LINES = 4


@dataclass(frozen=True)
class SiteDetails:
    name: str
    timezone: str
    currency: str
    address: str = ""
    receipt_header: str = ""


def currencies() -> tuple[str, ...]:
    """The currencies MeterDesk knows the minor unit of (ISO 4217 codes)."""
    return tuple(sorted(MINOR_UNITS))


def time_zones() -> tuple[str, ...]:
    """Every IANA time zone this PC knows, for a choice list."""
    return tuple(sorted(available_timezones()))


def _checked(details: SiteDetails) -> SiteDetails:
    name = clean_text(details.name, "name", "site name", column_length(Site.name))
    zone = details.timezone.strip()
    try:
        if not zone:
            raise ZoneInfoNotFoundError(zone)
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SetupRefused(
            "timezone",
            f"{zone!r} is not a time zone; give an IANA name such as Asia/Shanghai or "
            "Europe/Berlin.",
        ) from None
    currency = details.currency.strip().upper()
    if currency not in MINOR_UNITS:
        raise SetupRefused(
            "currency",
            f"{details.currency.strip()!r} is not a currency MeterDesk knows; use one of "
            f"{', '.join(currencies())}.",
        )
    address = clean_text(details.address, "address", "address", ADDRESS_MAX, required=False)
    header = clean_text(
        details.receipt_header,
        "receipt_header",
        "receipt header",
        HEADER_MAX,
        required=False,
        lines=True,
    )
    if len(header.splitlines()) > HEADER_LINES:
        raise SetupRefused(
            "receipt_header",
            f"The receipt header has {len(header.splitlines())} lines; a receipt prints "
            f"{HEADER_LINES} at most.",
        )
    return SiteDetails(name, zone, currency, address, header)


def _as_dict(site: Site) -> dict[str, object]:
    return {
        "name": site.name,
        "timezone": site.timezone,
        "currency": site.currency,
        "address": site.address,
        "receipt_header": site.receipt_header,
    }


def the_site(session: Session) -> Site | None:
    return session.scalars(select(Site).order_by(Site.id).limit(1)).first()


def init_site(session: Session, by: SignedIn, details: SiteDetails) -> SiteDetails:
    """The site of an empty database (administrators); refused when there is one."""
    by.require(Action.EDIT_SITE)
    checked = _checked(details)
    existing = the_site(session)
    if existing is not None:
        raise SetupRefused(
            "name",
            f"This database already holds the site {existing.name!r}; change it with "
            "'main.py site set' or on the Setup screen.",
        )
    site = Site(
        name=checked.name,
        timezone=checked.timezone,
        currency=checked.currency,
        address=checked.address,
        receipt_header=checked.receipt_header,
    )
    session.add(site)
    session.flush()
    record_audit(session, by, "site.init", "site", site.id, None, _as_dict(site))
    return checked


def money_has_moved(session: Session) -> bool:
    """Whether any amount is stored in the site currency (a ledger entry or a tariff)."""
    entries = session.scalar(select(func.count()).select_from(LedgerEntry))
    plans = session.scalar(select(func.count()).select_from(TariffPlan))
    return bool(entries or plans)


def change_site(session: Session, by: SignedIn, **changes: str) -> SiteDetails:
    """Change some of name, timezone, currency, address, receipt_header (audited)."""
    by.require(Action.EDIT_SITE)
    site = the_site(session)
    if site is None:
        raise SetupRefused("name", "There is no site yet; set it up first ('main.py site init').")
    unknown = set(changes) - set(SiteDetails.__dataclass_fields__)
    if unknown:
        raise SetupRefused(sorted(unknown)[0], f"There is no site detail {sorted(unknown)[0]!r}.")
    before = _as_dict(site)
    current = SiteDetails(
        site.name, site.timezone, site.currency, site.address, site.receipt_header
    )
    checked = _checked(replace(current, **changes))
    if checked.currency != site.currency and money_has_moved(session):
        raise SetupRefused(
            "currency",
            f"The currency stays {site.currency}: money has moved or tariffs are stored in it, "
            "and every amount in the database is in its minor units.",
        )
    site.name = checked.name
    site.timezone = checked.timezone
    site.currency = checked.currency
    site.address = checked.address
    site.receipt_header = checked.receipt_header
    after = _as_dict(site)
    if after != before:
        session.flush()
        record_audit(session, by, "site.change", "site", site.id, before, after)
    return checked


def site_details(db: Database) -> SiteDetails | None:
    with db.session() as session:
        site = the_site(session)
        if site is None:
            return None
        return SiteDetails(
            site.name, site.timezone, site.currency, site.address, site.receipt_header
        )
