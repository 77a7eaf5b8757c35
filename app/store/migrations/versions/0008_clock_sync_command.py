"""Clock syncs go through the command queue: a ``relay_command`` of action ``sync_clock`` keeps
the meter's clock drift read before and after its bus's owner set it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("relay_command") as batch:
        batch.add_column(sa.Column("drift_before_s", sa.Float(), nullable=True))
        batch.add_column(sa.Column("drift_after_s", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("relay_command") as batch:
        batch.drop_column("drift_after_s")
        batch.drop_column("drift_before_s")
