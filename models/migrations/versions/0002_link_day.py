"""Links remember the day their source belongs to (an activity's date), for windowed re-scans.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("links") as batch:
        batch.add_column(sa.Column("source_day", sa.Date(), nullable=True))
        batch.create_index("ix_links_kind_source_day", ["kind", "source_day"])


def downgrade() -> None:
    with op.batch_alter_table("links") as batch:
        batch.drop_index("ix_links_kind_source_day")
        batch.drop_column("source_day")
