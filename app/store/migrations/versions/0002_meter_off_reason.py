"""Meters remember why their supply is off (arrears, load guard, manual).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("meter") as batch:
        batch.add_column(sa.Column("off_reason", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("meter") as batch:
        batch.drop_column("off_reason")
