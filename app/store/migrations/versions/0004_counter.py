"""The counter: site settings, what each receipt said, who approved a refund or an adjustment,
one open shift per operator, and the account a reopened holder's new account follows.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for name in ("receipt", "audit"):  # gap-free numbers; rows exist before the first take
        op.execute(
            sa.text(
                "INSERT INTO counter (name, value) SELECT :name, 0 WHERE NOT EXISTS "
                "(SELECT 1 FROM counter WHERE name = :name)"
            ).bindparams(name=name)
        )
    op.create_table(
        "setting",
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["operator.id"], name=op.f("fk_setting_updated_by_id_operator")
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_setting")),
    )
    with op.batch_alter_table("receipt") as batch:
        batch.add_column(sa.Column("content", sa.JSON(), nullable=True))
    with op.batch_alter_table("ledger_entry") as batch:
        batch.add_column(sa.Column("approved_by_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_ledger_entry_approved_by_id_operator"), "operator", ["approved_by_id"], ["id"]
        )
    with op.batch_alter_table("shift") as batch:
        batch.add_column(sa.Column("closed_by_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_shift_closed_by_id_operator"), "operator", ["closed_by_id"], ["id"]
        )
    op.create_index(
        "uq_shift_open_per_operator",
        "shift",
        ["operator_id"],
        unique=True,
        sqlite_where=sa.text("closed_at IS NULL"),
        postgresql_where=sa.text("closed_at IS NULL"),
    )
    with op.batch_alter_table("account") as batch:
        batch.add_column(sa.Column("reopened_from_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_account_reopened_from_id_account"), "account", ["reopened_from_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("account") as batch:
        batch.drop_constraint("fk_account_reopened_from_id_account", type_="foreignkey")
        batch.drop_column("reopened_from_id")
    op.drop_index("uq_shift_open_per_operator", table_name="shift")
    with op.batch_alter_table("shift") as batch:
        batch.drop_constraint("fk_shift_closed_by_id_operator", type_="foreignkey")
        batch.drop_column("closed_by_id")
    with op.batch_alter_table("ledger_entry") as batch:
        batch.drop_constraint("fk_ledger_entry_approved_by_id_operator", type_="foreignkey")
        batch.drop_column("approved_by_id")
    with op.batch_alter_table("receipt") as batch:
        batch.drop_column("content")
    op.drop_table("setting")
