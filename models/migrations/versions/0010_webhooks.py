"""Secrets timebridge generates and keeps, encrypted (the awork webhook's header value).

Revision ID: 0010
Revises: 0007 (TEMPORARY: 0009 once the migrations 0008 and 0009 of the parallel branches are merged)
"""

import sqlalchemy as sa
from alembic import op

import models.store

revision = "0010"
down_revision = "0007"  # TEMPORARY: "0009" on merge
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stored_secrets",
        sa.Column("name", sa.String(80), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", models.store.UTCDateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("stored_secrets")
