"""Writer leases (one writer per scope), at most one open sync issue per flow, kind and object, and exact money on
SQLite (whole cents in an integer instead of a float).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)
OPEN = sa.text("resolved_at IS NULL")
MONEY_COLUMNS = {
    "upwork_rates": ("hourly_rate",),
    "upwork_contract_mappings": ("pay_rate", "bill_rate"),
    "upwork_time_entries": ("pay_rate", "bill_rate"),
}


def upgrade() -> None:
    op.create_table(
        "writer_leases",
        sa.Column("scope", sa.String(80), primary_key=True),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("label", sa.String(300), nullable=False),
        sa.Column("acquired_at", WHEN, nullable=False),
        sa.Column("heartbeat_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
    )
    # Open duplicates can only come from runs that raced before this index: keep the oldest of each.
    op.execute(
        "DELETE FROM sync_issues WHERE resolved_at IS NULL AND id NOT IN "
        "(SELECT MIN(id) FROM sync_issues WHERE resolved_at IS NULL GROUP BY flow, kind, object_ref)"
    )
    op.create_index(
        "uq_sync_issues_open",
        "sync_issues",
        ["flow", "kind", "object_ref"],
        unique=True,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )
    if op.get_bind().dialect.name == "sqlite":  # models.store.Money keeps cents there; PostgreSQL stays NUMERIC
        for table, columns in MONEY_COLUMNS.items():
            for column in columns:
                op.execute(f"UPDATE {table} SET {column} = CAST(ROUND({column} * 100) AS INTEGER)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table, columns in MONEY_COLUMNS.items():
            for column in columns:
                op.execute(f"UPDATE {table} SET {column} = {column} / 100.0")
    op.drop_index("uq_sync_issues_open", "sync_issues")
    op.drop_table("writer_leases")
