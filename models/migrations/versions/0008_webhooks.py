"""Secrets timebridge generates and keeps, encrypted (the awork webhook's header value).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

import models.store

revision = "0008"
down_revision = "0007"
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
