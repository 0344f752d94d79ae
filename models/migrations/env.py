"""Alembic environment: runs migrations on the engine handed over by `models.migrate`, and autogenerates new ones
from the models (`models.schema.METADATA`); SQLite alters tables in batch mode (copy and rename)."""

from alembic import context

from models.schema import AUTOGENERATE_OPTIONS, METADATA

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=METADATA,
        render_as_batch=connection.dialect.name == "sqlite",
        **AUTOGENERATE_OPTIONS,
    )
    with context.begin_transaction():
        context.run_migrations()
