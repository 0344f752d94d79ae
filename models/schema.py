"""The store's schema as the models declare it (the one source), and how Alembic compares a database with it and
renders it in a generated migration: used by `models/migrations/env.py` (autogenerate), `models.migrate.revision`
and the drift tests."""

from __future__ import annotations

import re
from typing import Any, Literal

from alembic.autogenerate import comparators
from alembic.autogenerate.api import AutogenContext
from alembic.operations import ops
from sqlalchemy import Index, String, Table, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

from models import lease, secrets, store, upwork_store  # noqa: F401 - importing them declares their tables

METADATA = SQLModel.metadata


def storage_type(declared: TypeEngine[Any], dialect: Dialect) -> TypeEngine[Any]:
    """The type a column is stored as on `dialect` (a TypeDecorator's implementation there, e.g. Money's INTEGER
    cents on SQLite)."""
    return declared.load_dialect_impl(dialect) if isinstance(declared, TypeDecorator) else declared


def compare_type(
    context: Any, inspected_column: Any, metadata_column: Any, inspected: TypeEngine[Any], declared: TypeEngine[Any]
) -> bool | None:
    """Alembic's type comparison (None defers to it), made strict about string lengths: Alembic takes a model's
    unbounded string for any VARCHAR(n), so a model that forgot its column's bound would pass."""
    stored = storage_type(declared, context.dialect)
    if isinstance(inspected, String) and isinstance(stored, String) and inspected.length != stored.length:
        return True
    return None


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render the models' column types in a generated migration: SQLModel's AutoString as the plain `sa.String` it
    stores, our own types (`models.store.UTCDateTime`, `Money`) by module, which the migration then imports."""
    if type_ != "type":
        return False
    if isinstance(obj, AutoString):
        return f"sa.{String(obj.length)!r}"
    module = type(obj).__module__
    if module.startswith("models."):
        autogen_context.imports.add(f"import {module}")
        return f"{module}.{obj!r}"
    return False


AUTOGENERATE_OPTIONS: dict[str, Any] = {
    "compare_type": compare_type,
    "compare_server_default": True,
    "render_item": render_item,
}
"""The options of every comparison of a database with METADATA: autogenerate and the drift tests."""


def predicate(index: Index, dialect: Dialect) -> str | None:
    """The WHERE clause of a partial index on `dialect`, normalized for comparison (PostgreSQL answers
    `(resolved_at IS NULL)` for `resolved_at IS NULL`), or None for a full index."""
    where = index.dialect_kwargs.get(f"{dialect.name}_where")
    if where is None:
        return None
    text = where if isinstance(where, str) else str(where.compile(dialect=dialect))
    return re.sub(r"[\s()]", "", text).lower()


@comparators.dispatch_for("table")
def compare_partial_indexes(
    autogen_context: AutogenContext,
    modify_table_ops: ops.ModifyTableOps,
    schema: str | None,
    table_name: str,
    conn_table: Table | None,
    metadata_table: Table | None,
) -> None:
    """Recreate a partial index whose WHERE clause changed: Alembic compares an index's columns and uniqueness only
    (it handles those changes itself, so indexes that differ there are left to it)."""
    if conn_table is None or metadata_table is None:
        return
    dialect = autogen_context.migration_context.dialect
    reflected = {index.name: index for index in conn_table.indexes}
    for declared in metadata_table.indexes:
        existing = reflected.get(declared.name)
        if (
            existing is not None
            and [column.name for column in existing.columns] == [column.name for column in declared.columns]
            and bool(existing.unique) == bool(declared.unique)
            and predicate(existing, dialect) != predicate(declared, dialect)
        ):
            modify_table_ops.ops.append(ops.DropIndexOp.from_index(existing))
            modify_table_ops.ops.append(ops.CreateIndexOp.from_index(declared))
