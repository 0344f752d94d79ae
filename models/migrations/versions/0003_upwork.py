"""Upwork: connections (encrypted tokens), organisations, freelancers, contracts, rate history, mappings.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "upwork_connections",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("user_id", sa.String(100), nullable=True),
        sa.Column("user_name", sa.String(200), nullable=True),
        sa.Column("access_token", sa.Text(), nullable=True),
        sa.Column("refresh_token", sa.Text(), nullable=True),
        sa.Column("access_expires_at", WHEN, nullable=True),
        sa.Column("connected_at", WHEN, nullable=True),
        sa.Column("updated_at", WHEN, nullable=False),
    )
    op.create_table(
        "upwork_organizations",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("selected", sa.Boolean(), nullable=False),
        sa.Column("last_refresh_at", WHEN, nullable=True),
        sa.Column("last_sync_at", WHEN, nullable=True),
    )
    op.create_table(
        "upwork_freelancers",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("first_name", sa.String(200), nullable=True),
        sa.Column("last_name", sa.String(200), nullable=True),
        sa.Column("email", sa.String(300), nullable=True),
    )
    op.create_table(
        "upwork_contracts",
        sa.Column("organization_id", sa.String(100), primary_key=True),
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("freelancer_id", sa.String(100), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("client_name", sa.String(300), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
    )
    op.create_table(
        "upwork_rates",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("contract_id", sa.String(100), nullable=False, index=True),
        sa.Column("hourly_rate", sa.Numeric(12, 2), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.UniqueConstraint("contract_id", "start_date", name="uq_upwork_rates_contract_start"),
    )
    op.create_table(
        "upwork_user_mappings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("organization_id", sa.String(100), nullable=False),
        sa.Column("freelancer_id", sa.String(100), nullable=False),
        sa.Column("awork_user_id", sa.String(100), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(300), nullable=True),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("sync_enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.UniqueConstraint("organization_id", "freelancer_id", name="uq_upwork_user_mappings_org_freelancer"),
    )
    op.create_table(
        "upwork_contract_mappings",
        sa.Column("organization_id", sa.String(100), primary_key=True),
        sa.Column("contract_id", sa.String(100), primary_key=True),
        sa.Column("awork_project_id", sa.String(100), nullable=True),
        sa.Column("awork_task_id", sa.String(100), nullable=True),
        sa.Column("awork_type_of_work_id", sa.String(100), nullable=True),
        sa.Column("pay_rate", sa.Numeric(12, 2), nullable=True),
        sa.Column("bill_rate", sa.Numeric(12, 2), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "upwork_contract_mappings",
        "upwork_user_mappings",
        "upwork_rates",
        "upwork_contracts",
        "upwork_freelancers",
        "upwork_organizations",
        "upwork_connections",
    ):
        op.drop_table(table)
