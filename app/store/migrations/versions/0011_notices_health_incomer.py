"""Tenants' text messages and their templates (``notice``, ``notice_template``), each meter's
daily poll health (``meter_health_day``), usage billed per day, TOU period and tier
(``charge_day``; filled here from the usage charges already posted, by postings from here on)
and a building's incomer meter (``meter.incomer_building_id``).

The fill: each usage charge's units (its quantity in Wh or litres, rounded to whole units) and
minor units over the site-local days its span overlaps, in proportion to time, summing exactly
(largest remainder, the earlier day first on a tie), under its TOU period ("" without) and tier
(0 without). The rules are copied here, not imported, so this revision does what it did when
written (the day split is 0010's).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOTICE_KINDS = ("low_balance_1", "low_balance_2", "cut_off", "recharge", "restored", "load_trip")
NOTICE_STATES = ("queued", "sending", "sent", "failed", "dropped")


def _kind() -> sa.Enum:
    return sa.Enum(*NOTICE_KINDS, name="noticekind", native_enum=False, length=24)


def upgrade() -> None:
    op.create_table(
        "notice",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", _kind(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column(
            "state",
            sa.Enum(*NOTICE_STATES, name="noticestate", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("references", sa.JSON(), nullable=True),
        sa.Column("alarm_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_notice_account_id_account")
        ),
        sa.ForeignKeyConstraint(["alarm_id"], ["alarm.id"], name=op.f("fk_notice_alarm_id_alarm")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice")),
        sa.UniqueConstraint("key", name=op.f("uq_notice_key")),
    )
    op.create_index(op.f("ix_notice_account_id"), "notice", ["account_id"])
    op.create_index("ix_notice_state_due", "notice", ["state", "due_at"])
    op.create_table(
        "notice_template",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", _kind(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["operator.id"],
            name=op.f("fk_notice_template_updated_by_id_operator"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_template")),
        sa.UniqueConstraint("kind", "language", name=op.f("uq_notice_template_kind_language")),
    )
    op.create_table(
        "meter_health_day",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("polls", sa.Integer(), nullable=False),
        sa.Column("failed_polls", sa.Integer(), nullable=False),
        sa.Column("timeouts", sa.Integer(), nullable=False),
        sa.Column("crc_errors", sa.Integer(), nullable=False),
        sa.Column("frame_errors", sa.Integer(), nullable=False),
        sa.Column("exceptions", sa.Integer(), nullable=False),
        sa.Column("offline_s", sa.Integer(), nullable=False),
        sa.Column("drift_s", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["meter_id"], ["meter.id"], name=op.f("fk_meter_health_day_meter_id_meter")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter_health_day")),
        sa.UniqueConstraint("meter_id", "day", name=op.f("uq_meter_health_day_meter_id_day")),
    )
    op.create_table(
        "charge_day",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_charge_day_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["meter_id"], ["meter.id"], name=op.f("fk_charge_day_meter_id_meter")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charge_day")),
        sa.UniqueConstraint(
            "day",
            "meter_id",
            "account_id",
            "period",
            "tier",
            name=op.f("uq_charge_day_day_meter_id_account_id_period_tier"),
        ),
    )
    op.create_index(op.f("ix_charge_day_account_id"), "charge_day", ["account_id"])
    _fill_charge_days()
    # A plain ADD COLUMN: on SQLite a batch would copy the meter table and drop the old one,
    # which SQLite refuses while readings, commands and accounts refer to its rows; SQLite takes
    # a nullable column with its REFERENCES as it is.
    fk = op.f("fk_meter_incomer_building_id_building")
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            f"ALTER TABLE meter ADD COLUMN incomer_building_id INTEGER CONSTRAINT {fk} "
            "REFERENCES building (id)"
        )
    else:
        op.add_column("meter", sa.Column("incomer_building_id", sa.Integer(), nullable=True))
        op.create_foreign_key(fk, "meter", "building", ["incomer_building_id"], ["id"])
    op.create_index(op.f("ix_meter_incomer_building_id"), "meter", ["incomer_building_id"])


BATCH = 5000


def _fill_charge_days() -> None:
    bind = op.get_bind()
    name = bind.execute(sa.text("SELECT timezone FROM site ORDER BY id LIMIT 1")).scalar()
    try:
        zone = ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ValueError, KeyError):
        zone = ZoneInfo("UTC")
    charge = sa.table(
        "usage_charge",
        sa.column("meter_id", sa.Integer()),
        sa.column("account_id", sa.Integer()),
        sa.column("start_at", sa.DateTime(timezone=True)),
        sa.column("end_at", sa.DateTime(timezone=True)),
        sa.column("quantity", sa.String()),
        sa.column("period", sa.String()),
        sa.column("tier", sa.Integer()),
        sa.column("amount_minor", sa.BigInteger()),
    )
    day_table = sa.table(
        "charge_day",
        sa.column("day", sa.Date()),
        sa.column("meter_id", sa.Integer()),
        sa.column("account_id", sa.Integer()),
        sa.column("period", sa.String()),
        sa.column("tier", sa.Integer()),
        sa.column("units", sa.BigInteger()),
        sa.column("amount_minor", sa.BigInteger()),
    )
    cells: dict[tuple[date, int, int, str, int], list[int]] = {}
    rows = bind.execute(  # streamed: the option on the statement, never on the connection
        sa.select(charge).execution_options(yield_per=20000)
    )
    for meter_id, account_id, start_at, end_at, quantity, period, tier, amount in rows:
        units = int(Decimal(quantity).scaleb(3).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        start_s, end_s = _aware(start_at).timestamp(), _aware(end_at).timestamp()
        spans = _day_spans(start_s, end_s, zone)
        for (day, part_units), (_day, part_amount) in zip(
            _split(spans, units), _split(spans, int(amount or 0)), strict=True
        ):
            cell = cells.setdefault((day, meter_id, account_id, period or "", tier or 0), [0, 0])
            cell[0] += part_units
            cell[1] += part_amount
    batch: list[dict[str, object]] = []
    for (day, meter_id, account_id, period, tier), (units, amount) in sorted(cells.items()):
        if not units and not amount:
            continue
        batch.append(
            {
                "day": day,
                "meter_id": meter_id,
                "account_id": account_id,
                "period": period,
                "tier": tier,
                "units": units,
                "amount_minor": amount,
            }
        )
        if len(batch) >= BATCH:
            bind.execute(day_table.insert(), batch)
            batch = []
    if batch:
        bind.execute(day_table.insert(), batch)


def _day_spans(start_s: float, end_s: float, zone: ZoneInfo) -> list[tuple[date, int]]:
    """The site-local days ``start_s``-``end_s`` overlaps, each with its share of the time."""
    if end_s <= start_s:
        return [(datetime.fromtimestamp(end_s, zone).date(), 1)]
    spans: list[tuple[date, int]] = []
    moment = start_s
    while moment < end_s:
        day = datetime.fromtimestamp(moment, zone).date()
        day_end = datetime.combine(day + timedelta(days=1), time(), zone).timestamp()
        spans.append((day, round((min(day_end, end_s) - moment) * 1_000_000)))
        moment = day_end
    return spans


def _split(spans: list[tuple[date, int]], units: int) -> list[tuple[date, int]]:
    """``units`` over ``spans`` in proportion to their time, summing exactly (largest
    remainder, the earlier day first on a tie)."""
    total = sum(weight for _, weight in spans)
    if len(spans) == 1 or total <= 0:
        return [(spans[-1][0], units)] + [(day, 0) for day, _ in spans[:-1]]
    parts = [units * weight // total for _, weight in spans]
    left = units - sum(parts)
    order = sorted(range(len(spans)), key=lambda i: (-(units * spans[i][1] % total), i))
    for index in order[:left]:
        parts[index] += 1
    return [(day, part) for (day, _), part in zip(spans, parts, strict=True)]


def _aware(value: object) -> datetime:
    if isinstance(value, str):  # SQLite hands back text when the type is not known
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def downgrade() -> None:
    with op.batch_alter_table("meter") as batch:
        batch.drop_index(op.f("ix_meter_incomer_building_id"))
        batch.drop_constraint(op.f("fk_meter_incomer_building_id_building"), type_="foreignkey")
        batch.drop_column("incomer_building_id")
    op.drop_index(op.f("ix_charge_day_account_id"), table_name="charge_day")
    op.drop_table("charge_day")
    op.drop_table("meter_health_day")
    op.drop_table("notice_template")
    op.drop_index("ix_notice_state_due", table_name="notice")
    op.drop_index(op.f("ix_notice_account_id"), table_name="notice")
    op.drop_table("notice")
