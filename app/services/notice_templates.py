"""The wording of each kind of text message to tenants, per language.

MeterDesk ships one wording per kind and language (``resources/notices/templates.toml``); a site
may keep its own in the database (``notice_template``), set or reset by whoever may change the
site's settings, audited. A wording is text with placeholders in braces (``{balance}``); each
kind may use the placeholders its notices fill (``PLACEHOLDERS``). An empty wording means the
site sends no notice of that kind in that language.
"""

from __future__ import annotations

import string
import tomllib
from dataclasses import dataclass
from functools import cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.hardware.sms.pdu import encode_submit
from app.resources import resource_path
from app.services.audit import record_audit
from app.services.operators import SignedIn
from app.services.permissions import Action
from app.store.database import Database
from app.store.models import NoticeTemplate, utc_now
from app.vocabulary import NoticeKind

LANGUAGES = ("en", "zh")
_ACCOUNT = ("site", "account", "name", "room", "balance")
PLACEHOLDERS: dict[NoticeKind, tuple[str, ...]] = {
    NoticeKind.LOW_BALANCE_1: _ACCOUNT,
    NoticeKind.LOW_BALANCE_2: _ACCOUNT,
    NoticeKind.CUT_OFF: _ACCOUNT,
    NoticeKind.RECHARGE: (*_ACCOUNT, "amount", "time", "receipt"),
    NoticeKind.RESTORED: _ACCOUNT,
    NoticeKind.LOAD_TRIP: (*_ACCOUNT, "time", "power"),
}
# Long but plausible values: a wording that does not fit in a text message with these is
# refused when it is set, not found out when a tenant should have been told.
_SAMPLE = {
    "site": "North Campus Dormitories",
    "account": "A-1234-5678",
    "name": "Ouyang Xiaoming-Alexander",
    "room": "NH-1203",
    "balance": "-¥1,234.50",
    "amount": "¥1,000.00",
    "time": "12-31 23:59",
    "receipt": "00012345",
    "power": "2.35 kW",
}


class TemplateRefused(ValueError):
    """A wording that cannot be used; the message says what to change."""


@dataclass(frozen=True)
class TemplateInUse:
    kind: NoticeKind
    language: str
    text: str
    own: bool  # the site's own wording (else the shipped one)


@cache
def shipped_templates() -> dict[tuple[NoticeKind, str], str]:
    """The wordings shipped with MeterDesk; a missing or bad one is a broken installation."""
    with resource_path("notices", "templates.toml").open("rb") as handle:
        data = tomllib.load(handle)
    shipped: dict[tuple[NoticeKind, str], str] = {}
    for language in LANGUAGES:
        for kind in NoticeKind:
            text = data[language][kind.value]
            check_template(kind, text)
            shipped[kind, language] = text
    return shipped


def parse_kind(text: str) -> NoticeKind:
    try:
        return NoticeKind(text.strip().lower().replace("-", "_"))
    except ValueError:
        raise TemplateRefused(
            f"there is no notice {text.strip()!r}; the notices are "
            f"{', '.join(kind.value for kind in NoticeKind)}"
        ) from None


def parse_language(text: str) -> str:
    language = text.strip().lower()
    if language not in LANGUAGES:
        raise TemplateRefused(
            f"there is no language {text.strip()!r} for notices; give one of {', '.join(LANGUAGES)}"
        )
    return language


def check_template(kind: NoticeKind, text: str) -> str:
    """``text`` as a wording of ``kind`` (stripped), or TemplateRefused saying what is wrong:
    a placeholder the kind does not fill, braces that do not close, a text too long for a
    message."""
    text = text.strip()
    if not text:
        return text  # the kind is not sent in this language
    allowed = PLACEHOLDERS[kind]
    names = ", ".join("{" + name + "}" for name in allowed)
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError:
        raise TemplateRefused(
            "a brace in the text does not close: placeholders are written {balance}; write {{ "
            "or }} for a brace itself"
        ) from None
    for _literal, name, spec, conversion in fields:
        if name is None:
            continue
        if name not in allowed or spec or conversion:
            shown = (
                "{"
                + name
                + (f"!{conversion}" if conversion else "")
                + (f":{spec}" if spec else "")
                + "}"
            )
            raise TemplateRefused(
                f"{shown} is not something a {kind.value} notice can fill in; it can use {names}"
            )
    try:
        encode_submit("+8613800000000", render(text, _SAMPLE))
    except ValueError as exc:
        raise TemplateRefused(f"with long values filled in, {exc}") from None
    return text


def render(text: str, values: dict[str, str]) -> str:
    """A checked wording with its placeholders filled in."""
    return text.format_map(values)


def template_text(session: Session, kind: NoticeKind, language: str) -> str:
    """The wording in use: the site's own, else the shipped one."""
    own = session.scalar(
        select(NoticeTemplate.text).where(
            NoticeTemplate.kind == kind, NoticeTemplate.language == language
        )
    )
    return own if own is not None else shipped_templates()[kind, language]


def templates_in_use(db: Database) -> list[TemplateInUse]:
    """Every kind's wording in every language, as notices are written now."""
    with db.session() as session:
        own = {
            (row.kind, row.language): row.text for row in session.scalars(select(NoticeTemplate))
        }
    shipped = shipped_templates()
    return [
        TemplateInUse(
            kind,
            language,
            own.get((kind, language), shipped[kind, language]),
            (kind, language) in own,
        )
        for kind in NoticeKind
        for language in LANGUAGES
    ]


def set_template(
    db: Database, by: SignedIn, kind_text: str, language_text: str, text: str | None
) -> TemplateInUse:
    """Keep the site's own wording of a kind in a language (``None``: back to the shipped
    one; ``""``: that notice is not sent in that language). Audited ``notice.template``."""
    by.require(Action.CHANGE_POLICY)
    kind, language = parse_kind(kind_text), parse_language(language_text)
    checked = None if text is None else check_template(kind, text)
    with db.transaction() as session:
        row = session.scalar(
            select(NoticeTemplate).where(
                NoticeTemplate.kind == kind, NoticeTemplate.language == language
            )
        )
        before = None if row is None else row.text
        if checked is None:
            if row is not None:
                session.delete(row)
        else:
            if row is None:
                row = NoticeTemplate(kind=kind, language=language, text=checked)
                session.add(row)
            row.text = checked
            row.updated_at = utc_now()
            row.updated_by_id = by.operator_id
        record_audit(
            session,
            by,
            "notice.template",
            "notice_template",
            f"{kind.value}/{language}",
            {"text": before},
            {"text": checked},
        )
    shipped = shipped_templates()[kind, language]
    return TemplateInUse(
        kind, language, shipped if checked is None else checked, checked is not None
    )
