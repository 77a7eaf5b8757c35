"""Live rating: where each meter's rating stands, and usage charges with their billing cycle
and posted minor units. A meter's address is unique on its bus among meters in service only,
so a replacement can take the address of the meter it replaces.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rating_state",
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("last_units", sa.BigInteger(), nullable=False),
        sa.Column("last_read_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_rates", sa.JSON(), nullable=True),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("rater", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["meter_id"], ["meter.id"], name=op.f("fk_rating_state_meter_id_meter")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["tariff_plan.id"], name=op.f("fk_rating_state_plan_id_tariff_plan")
        ),
        sa.PrimaryKeyConstraint("meter_id", name=op.f("pk_rating_state")),
    )
    with op.batch_alter_table("usage_charge") as batch:
        batch.add_column(sa.Column("cycle_start", sa.Date(), nullable=True))
        batch.add_column(sa.Column("amount_minor", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("meter") as batch:
        batch.drop_constraint("uq_meter_bus_id_address", type_="unique")
    op.create_index(
        "uq_meter_bus_address_in_service",
        "meter",
        ["bus_id", "address"],
        unique=True,
        sqlite_where=sa.text("removed_at IS NULL"),
        postgresql_where=sa.text("removed_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_meter_bus_address_in_service", table_name="meter")
    with op.batch_alter_table("meter") as batch:
        batch.create_unique_constraint("uq_meter_bus_id_address", ["bus_id", "address"])
    with op.batch_alter_table("usage_charge") as batch:
        batch.drop_column("amount_minor")
        batch.drop_column("cycle_start")
    op.drop_table("rating_state")
