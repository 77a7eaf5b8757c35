"""Field owners: which runtime polls and bills each bus and the site's duties, for the status of
standbys and attached consoles (the locks themselves live outside the tables), and a pause of a
bus's polling asked by a technician's diagnostics on another PC; and the newest live power of each
meter, written by its bus's owner for the consoles and standbys that do not poll it (``live_power``,
UNLOGGED on PostgreSQL: a few seconds of live load need no WAL and no replication).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Tables whose rows the engine rewrites all the time (each meter's last-seen time and relay
# state per poll, each rater's state and each account's balance per posting).
HOT_TABLES = ("meter", "rating_state", "account")
HOT_FILLFACTOR = 50


def upgrade() -> None:
    op.create_table(
        "field_owner",
        sa.Column("unit", sa.String(length=20), nullable=False),
        sa.Column("runtime_id", sa.String(length=32), nullable=False),
        sa.Column("host", sa.String(length=120), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pause_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pause_by", sa.String(length=120), nullable=False, server_default=""),
        sa.Column("paused", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint("unit", name=op.f("pk_field_owner")),
    )
    op.create_table(
        "live_power",
        sa.Column("meter_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("power_w", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["meter_id"],
            ["meter.id"],
            name=op.f("fk_live_power_meter_id_meter"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("meter_id", name=op.f("pk_live_power")),
    )
    op.create_index("ix_live_power_at", "live_power", ["at"], unique=False)
    # Commands left in the database for a bus's owner are looked for every 2 s.
    op.create_index("ix_relay_command_state", "relay_command", ["state"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        # Overwritten every few seconds and worth nothing after a crash: no WAL for it.
        op.execute("ALTER TABLE live_power SET UNLOGGED")
        # Rewritten on every poll or posting: room on each page lets PostgreSQL update a row
        # in place (a HOT update, no index entries written) instead of moving it.
        for table in HOT_TABLES:
            op.execute(f"ALTER TABLE {table} SET (fillfactor = {HOT_FILLFACTOR})")


def downgrade() -> None:
    op.drop_index("ix_relay_command_state", table_name="relay_command")
    if op.get_bind().dialect.name == "postgresql":
        for table in HOT_TABLES:
            op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
    op.drop_index("ix_live_power_at", table_name="live_power")
    op.drop_table("live_power")
    op.drop_table("field_owner")
