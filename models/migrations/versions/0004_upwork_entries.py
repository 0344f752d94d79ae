"""Upwork time entries: each awork time entry we created from Upwork, its source interval and its rates.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)
MONEY = sa.Numeric(12, 2)


def upgrade() -> None:
    op.create_table(
        "upwork_time_entries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("organization_id", sa.String(100), nullable=False),
        sa.Column("contract_id", sa.String(100), nullable=False),
        sa.Column("freelancer_id", sa.String(100), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("interval_start", WHEN, nullable=False),
        sa.Column("awork_time_entry_id", sa.String(100), nullable=True),
        sa.Column("awork_user_id", sa.String(100), nullable=False),
        sa.Column("awork_project_id", sa.String(100), nullable=False),
        sa.Column("awork_task_id", sa.String(100), nullable=True),
        sa.Column("awork_type_of_work_id", sa.String(100), nullable=False),
        sa.Column("start", WHEN, nullable=False),
        sa.Column("end", WHEN, nullable=False),
        sa.Column("duration_seconds", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("pay_rate", MONEY, nullable=True),
        sa.Column("bill_rate", MONEY, nullable=True),
        sa.Column("currency", sa.String(10), nullable=True),
        sa.Column("source_hash", sa.String(64), nullable=False),
        sa.Column("awork_updated_on", WHEN, nullable=True),
        sa.Column("synced_at", WHEN, nullable=False),
        sa.UniqueConstraint(
            "organization_id",
            "contract_id",
            "freelancer_id",
            "day",
            "interval_start",
            name="uq_upwork_time_entries_key",
        ),
    )
    op.create_index(
        "ix_upwork_time_entries_contract_day", "upwork_time_entries", ["organization_id", "contract_id", "day"]
    )
    op.create_index("ix_upwork_time_entries_awork_id", "upwork_time_entries", ["awork_time_entry_id"])


def downgrade() -> None:
    op.drop_table("upwork_time_entries")
