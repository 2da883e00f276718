"""Process and roast may be unknown (NULL) instead of a silent default.

Their CHECK constraints stay as they are: ``process IN (...)`` passes on NULL.
On SQLite the batch rebuild of ``coffees`` runs with foreign keys off (see
migrations/env.py), so the reviews, notes and terms that point at it stay; the
rebuild cannot reflect expression indexes (lower(name)), which are recreated.

Revision ID: 0007_unknown_process_roast
Revises: 0006_search_normalise
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op

revision = "0007_unknown_process_roast"
down_revision = "0006_search_normalise"
branch_labels = None
depends_on = None


def upgrade():
    _set_nullable(True)


def downgrade():
    # NOT NULL again needs a value for the unknown ones: the closest honest ones.
    op.execute("UPDATE coffees SET process = 'other' WHERE process IS NULL")
    op.execute("UPDATE coffees SET roast = 'medium' WHERE roast IS NULL")
    _set_nullable(False)


def _set_nullable(nullable: bool) -> None:
    bind = op.get_bind()
    indexes = _sqlite_index_sql(bind) if bind.dialect.name == "sqlite" else {}
    with op.batch_alter_table("coffees") as batch:
        for column in ("process", "roast"):
            batch.alter_column(column, existing_type=sa.String(length=16), nullable=nullable)
    if indexes:
        kept = set(_sqlite_index_sql(bind))
        for name, sql in indexes.items():
            if name not in kept:
                op.execute(sql)


def _sqlite_index_sql(bind) -> dict[str, str]:
    """Name -> CREATE INDEX statement of the explicit indexes of ``coffees``."""
    rows = bind.execute(sa.text(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'coffees' "
        "AND sql IS NOT NULL"))
    return dict(rows.all())
