"""Site setup: the receipt header, rooms' notes, buildings, rooms and buses retired (never
deleted), a bus's default profile, and the counter that numbers changes of the field set-up.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("site") as batch:
        batch.add_column(sa.Column("receipt_header", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("building") as batch:
        batch.add_column(sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("room") as batch:
        batch.add_column(sa.Column("note", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("bus") as batch:
        batch.add_column(sa.Column("profile", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True))
    # The buses' default profile: the one their meters in service share, where they share one.
    op.execute(
        sa.text(
            "UPDATE bus SET profile = (SELECT MIN(m.profile) FROM meter m "
            "WHERE m.bus_id = bus.id AND m.removed_at IS NULL) "
            "WHERE (SELECT COUNT(DISTINCT m.profile) FROM meter m "
            "WHERE m.bus_id = bus.id AND m.removed_at IS NULL) = 1"
        )
    )
    op.execute(
        sa.text(
            "INSERT INTO counter (name, value) SELECT 'field', 0 WHERE NOT EXISTS "
            "(SELECT 1 FROM counter WHERE name = 'field')"
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("bus") as batch:
        batch.drop_column("retired_at")
        batch.drop_column("profile")
    with op.batch_alter_table("room") as batch:
        batch.drop_column("retired_at")
        batch.drop_column("note")
    with op.batch_alter_table("building") as batch:
        batch.drop_column("retired_at")
    with op.batch_alter_table("site") as batch:
        batch.drop_column("receipt_header")
