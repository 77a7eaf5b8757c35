"""Tenants' text messages and their templates (``notice``, ``notice_template``), each meter's
daily poll health (``meter_health_day``), usage billed per day, TOU period and tier
(``charge_day``; filled by postings from here on) and a building's incomer meter
(``meter.incomer_building_id``).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08
"""

from collections.abc import Sequence

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
    with op.batch_alter_table("meter") as batch:
        batch.add_column(sa.Column("incomer_building_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_meter_incomer_building_id_building"),
            "building",
            ["incomer_building_id"],
            ["id"],
        )
        batch.create_index(op.f("ix_meter_incomer_building_id"), ["incomer_building_id"])


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
