"""The ledger's daily rollup: per site-local day, account and kind, how many entries and their
sum (``ledger_day``), for the reports; filled here from the entries already written.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = (
    "opening",
    "recharge",
    "consumption",
    "fee",
    "allowance",
    "refund",
    "adjustment",
    "reversal",
    "settlement",
)


def upgrade() -> None:
    table = op.create_table(
        "ledger_day",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind", sa.Enum(*KINDS, name="ledgerkind", native_enum=False, length=24), nullable=False
        ),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_ledger_day_account_id_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_day")),
        sa.UniqueConstraint(
            "day", "account_id", "kind", name=op.f("uq_ledger_day_day_account_id_kind")
        ),
    )
    op.create_index("ix_ledger_day_account", "ledger_day", ["account_id", "day"])
    _fill(table)


def _fill(table: sa.Table) -> None:
    """Roll up the entries already written, in the site's zone (UTC before a site exists)."""
    bind = op.get_bind()
    name = bind.execute(sa.text("SELECT timezone FROM site ORDER BY id LIMIT 1")).scalar()
    try:
        zone = ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ValueError, KeyError):
        zone = ZoneInfo("UTC")
    entry = sa.table(
        "ledger_entry",
        sa.column("id", sa.Integer()),
        sa.column("account_id", sa.Integer()),
        sa.column("kind", sa.String()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("amount_minor", sa.BigInteger()),
    )
    sums: dict[tuple[date, int, str], list[int]] = defaultdict(lambda: [0, 0])
    rows = bind.execute(  # streamed: the option on the statement, never on the connection
        sa.select(
            entry.c.account_id, entry.c.kind, entry.c.created_at, entry.c.amount_minor
        ).execution_options(yield_per=20000)
    )
    for account_id, kind, created_at, amount in rows:
        moment = _aware(created_at)
        cell = sums[(moment.astimezone(zone).date(), account_id, kind)]
        cell[0] += 1
        cell[1] += amount
    batch = [
        {"day": day, "account_id": account, "kind": kind, "entries": n, "amount_minor": total}
        for (day, account, kind), (n, total) in sorted(sums.items())
    ]
    for start in range(0, len(batch), 5000):
        bind.execute(table.insert(), batch[start : start + 5000])


def _aware(value: object) -> datetime:
    if isinstance(value, str):  # SQLite hands back text when the type is not known
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def downgrade() -> None:
    op.drop_index("ix_ledger_day_account", table_name="ledger_day")
    op.drop_table("ledger_day")
