"""CHECK constraints named once (ck_coffees_process, not ck_coffees_ck_coffees_process).

Revisions 0001 and 0002 named their CHECK constraints "ck_<table>_<name>", which the
naming convention of that time prefixed again. The convention now names them once
(webapp/extensions.py), so a database created from scratch already has the right names
and this revision renames only the doubled ones it finds.

Revision ID: 0004_check_names
Revises: 0003_coffee_terms
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op

revision = "0004_check_names"
down_revision = "0003_coffee_terms"
branch_labels = None
depends_on = None

TABLES = ("users", "coffees", "reviews")


def upgrade():
    for table in TABLES:
        _rename_checks(table, lambda name, t=table: _single(name, t))


def downgrade():
    for table in TABLES:
        _rename_checks(table, lambda name, t=table: _doubled(name, t))


def _single(name: str, table: str) -> str | None:
    """The right name for a doubled one (ck_t_ck_t_x -> ck_t_x), else None."""
    doubled = f"ck_{table}_ck_{table}_"
    return f"ck_{table}_" + name[len(doubled):] if name.startswith(doubled) else None


def _doubled(name: str, table: str) -> str | None:
    """The old doubled name for a right one (ck_t_x -> ck_t_ck_t_x), else None."""
    single = f"ck_{table}_"
    if name.startswith(single) and _single(name, table) is None:
        return single + name
    return None


def _rename_checks(table: str, new_name) -> None:
    """Rename the CHECK constraints of ``table`` for which ``new_name(name)`` is not None."""
    bind = op.get_bind()
    checks = sa.inspect(bind).get_check_constraints(table)
    renames = [(c["name"], new_name(c["name"]), c["sqltext"]) for c in checks
               if c["name"] and new_name(c["name"])]
    if not renames:
        return
    if bind.dialect.name == "postgresql":
        for old, new, _sql in renames:
            op.execute(f'ALTER TABLE "{table}" RENAME CONSTRAINT "{old}" TO "{new}"')
        return
    # SQLite cannot rename a constraint: the table is rebuilt (migrations/env.py turns
    # foreign keys off around it, or the rebuild would cascade-delete dependent rows).
    # The rebuild keeps the indexes it can reflect; expression indexes such as
    # lower(username) it cannot, so they are recreated from their own SQL.
    indexes = _sqlite_index_sql(bind, table)
    with op.batch_alter_table(table, recreate="always") as batch:
        for old, new, sql in renames:
            batch.drop_constraint(old, type_="check")
            batch.create_check_constraint(op.f(new), sa.text(sql))
    kept = set(_sqlite_index_sql(bind, table))
    for name, sql in indexes.items():
        if name not in kept:
            op.execute(sql)


def _sqlite_index_sql(bind, table: str) -> dict[str, str]:
    """Name -> CREATE INDEX statement of the explicit indexes of ``table``."""
    rows = bind.execute(sa.text(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t "
        "AND sql IS NOT NULL"), {"t": table})
    return dict(rows.all())
