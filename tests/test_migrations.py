"""The Alembic migrations build exactly the schema the models describe, and keep every row."""
import os
import textwrap

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from tests.conftest import make_app, scratch_postgres_database
from webapp.extensions import db



def _diff(app) -> list:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return [d for d in compare_metadata(context, db.metadata)
                if not (d[0] == "remove_table" and d[1].name == "alembic_version")]


def test_upgrade_builds_the_models_schema_and_downgrade_removes_it(empty_database_url):
    app = make_app(empty_database_url)
    with app.app_context():
        config = app.extensions["migrate"].migrate.get_config()
        command.upgrade(config, "head")
        assert _diff(app) == []
        command.downgrade(config, "base")
        with db.engine.connect() as conn:
            tables = set(db.inspect(conn).get_table_names()) - {"alembic_version"}
        assert tables == set()
        command.upgrade(config, "head")
        assert _diff(app) == []
        db.engine.dispose()


@pytest.fixture
def reference_database_url(empty_database_url, tmp_path):
    """A second empty database on the same backend, built by the models (create_all)."""
    if empty_database_url.startswith("postgresql"):
        with scratch_postgres_database(empty_database_url) as url:
            _create_all(url)
            yield url
        return
    url = f"sqlite:///{tmp_path / 'reference.db'}"
    _create_all(url)
    yield url


def _create_all(url: str) -> None:
    engine = sa.create_engine(url)
    db.metadata.create_all(engine)
    engine.dispose()


def _checks(url: str) -> dict:
    """(table, name) -> the CHECK's SQL as this database stores it, whitespace normalised."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        checks = {(table, c["name"]): " ".join(c["sqltext"].split())
                  for table in inspector.get_table_names()
                  for c in inspector.get_check_constraints(table)}
    engine.dispose()
    return checks


def _indexes(url: str) -> dict:
    """Index name -> its definition as the database stores it, expression indexes included
    (autogenerate skips those, and a SQLite batch rebuild silently drops them)."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            rows = conn.execute(sa.text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'"))
        else:
            rows = conn.execute(sa.text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"))
        indexes = {name: " ".join(sql.replace('"', "").split()) for name, sql in rows}
    engine.dispose()
    return indexes


def _metadata_check_names() -> set:
    return {(table.name, c.name) for table in db.metadata.tables.values()
            for c in table.constraints if isinstance(c, sa.CheckConstraint)}


def test_migrations_build_the_models_check_constraints_and_indexes(empty_database_url,
                                                                   reference_database_url):
    """Names and SQL of every CHECK constraint, and every index, equal what the models
    create on the same backend: compared generically, so later revisions are covered."""
    app = make_app(empty_database_url)
    with app.app_context():
        command.upgrade(app.extensions["migrate"].migrate.get_config(), "head")
        db.engine.dispose()
    migrated = _checks(empty_database_url)
    assert set(migrated) == _metadata_check_names()
    assert ("coffees", "ck_coffees_process") in migrated
    assert migrated == _checks(reference_database_url)
    assert _indexes(empty_database_url) == _indexes(reference_database_url)


# Rows as revision 0003 knew them: a user, a coffee with a roaster note and search
# words, another user's review of it with a flavour tag.
SEED_0003 = [
    "INSERT INTO users (id, username, email, password_hash, display_name, bio, role, "
    "session_token, created_at) VALUES (1, 'alice', 'alice@example.com', 'x', '', '', 'user', "
    "'t1', '2026-11-24 10:00:00'), (2, 'bob', 'bob@example.com', 'x', '', '', 'admin', 't2', "
    "'2026-11-24 10:00:00')",
    "INSERT INTO coffees (id, name, roaster, origin, region, producer, variety, process, roast, "
    "description, added_by_id, created_at, updated_at, dedupe_key, search_text, rating_count, "
    "rating_sum, rating_mean, rating_bayes, " + ", ".join(f"hist_{n}" for n in range(1, 11))
    + ") VALUES (1, 'Guji', 'North Star', 'ET', '', '', '', 'natural', 'light', '', 1, "
    "'2026-11-24 10:00:00', '2026-11-24 10:00:00', 'northstar|guji', ' guji north star', "
    "1, 9, 4.5, 3.7, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0)",
    "INSERT INTO coffee_notes (coffee_id, tag, position) VALUES (1, 'blueberry', 0)",
    "INSERT INTO coffee_terms (term, coffee_id) VALUES ('guji', 1), ('north', 1), ('star', 1)",
    "INSERT INTO reviews (id, coffee_id, user_id, rating, brew_method, body, created_at, "
    "updated_at) VALUES (1, 1, 2, 9, 'espresso', 'Jammy.', '2026-11-24 11:00:00', "
    "'2026-11-24 11:00:00')",
    "INSERT INTO review_tags (review_id, tag, coffee_id, position) VALUES (1, 'blueberry', 1, 0)",
]


def _seed(engine) -> None:
    with engine.begin() as conn:
        for statement in SEED_0003:
            conn.execute(sa.text(statement))


def _snapshot(engine, columns: dict | None = None) -> tuple[dict, dict]:
    """Every data table's rows (sorted), restricted to ``columns`` when given; and the columns."""
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        columns = columns or {t: [c["name"] for c in inspector.get_columns(t)]
                              for t in inspector.get_table_names() if t != "alembic_version"}
        rows = {table: sorted(map(repr, conn.execute(sa.text(
                    f'SELECT {", ".join(names)} FROM "{table}"')).all()))
                for table, names in columns.items()}
    return rows, columns


PROBE = '''
"""Test probe: a batch change to users and coffees, recording the foreign_keys pragma."""
import sqlalchemy as sa
from alembic import op

revision = "zz_batch_probe"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.get_context().config.attributes["probe"] = (
            bind.exec_driver_sql("PRAGMA foreign_keys").scalar(), bind.connection.dbapi_connection)
    # "always" makes SQLite copy, drop and rename each table, as most batch changes do.
    recreate = "always" if bind.dialect.name == "sqlite" else "auto"
    for table in ("users", "coffees"):
        with op.batch_alter_table(table, recreate=recreate) as batch:
            batch.add_column(sa.Column("probe", sa.Integer(), nullable=True))
    {extra}


def downgrade():
    recreate = "always" if op.get_bind().dialect.name == "sqlite" else "auto"
    for table in ("coffees", "users"):
        with op.batch_alter_table(table, recreate=recreate) as batch:
            batch.drop_column("probe")
'''


def _config_with_probe(app, tmp_path, extra: str = "pass"):
    """The app's Alembic config with one more revision after head, in a tmp directory."""
    config = app.extensions["migrate"].migrate.get_config()
    head = ScriptDirectory.from_config(config).get_current_head()
    probe_dir = tmp_path / "probe_versions"
    probe_dir.mkdir()
    (probe_dir / "zz_batch_probe.py").write_text(textwrap.dedent(PROBE).format(head=head,
                                                                              extra=extra))
    versions = os.path.join(config.get_main_option("script_location"), "versions")
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", versions + os.pathsep + str(probe_dir))
    return config, head


def test_batch_migration_of_populated_users_and_coffees_keeps_every_row(empty_database_url,
                                                                        tmp_path):
    app = make_app(empty_database_url)
    with app.app_context():
        config, head = _config_with_probe(app, tmp_path)
        command.upgrade(config, head)
        _seed(db.engine)
        before, columns = _snapshot(db.engine)
        assert all(before[t] for t in ("users", "coffees", "coffee_notes", "coffee_terms",
                                       "reviews", "review_tags"))
        command.upgrade(config, "zz_batch_probe")
        assert _snapshot(db.engine, columns)[0] == before
        with db.engine.connect() as conn:
            assert "probe" in {c["name"] for c in sa.inspect(conn).get_columns("users")}
            if conn.dialect.name == "sqlite":
                # Off while migrating, and on again for whoever gets the pooled connection.
                foreign_keys, migration_connection = config.attributes["probe"]
                assert foreign_keys == 0
                assert conn.connection.dbapi_connection is migration_connection
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        command.downgrade(config, head)
        assert _snapshot(db.engine, columns)[0] == before
        with db.engine.connect() as conn:
            assert "probe" not in {c["name"] for c in sa.inspect(conn).get_columns("users")}
        db.engine.dispose()


def test_sqlite_migration_leaving_broken_foreign_keys_fails_naming_the_table(tmp_path):
    """PRAGMA foreign_key_check runs after the migrations (SQLite only: PostgreSQL
    never turns its foreign keys off)."""
    app = make_app(f"sqlite:///{tmp_path / 'orphans.db'}")
    orphan = ("op.execute(\"INSERT INTO coffee_notes (coffee_id, tag, position) "
              "VALUES (999, 'lemon', 0)\")")
    with app.app_context():
        config, _head = _config_with_probe(app, tmp_path, extra=orphan)
        with pytest.raises(RuntimeError,
                           match="1 row\\(s\\) of coffee_notes refer to missing coffees"):
            command.upgrade(config, "zz_batch_probe")
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        db.engine.dispose()


def test_check_names_migration_renames_doubled_names_and_keeps_rows(empty_database_url,
                                                                   monkeypatch):
    """A database made before 0004 has ck_coffees_ck_coffees_process: 0004 renames
    every such CHECK (a table rebuild on SQLite), keeps the rows and the expression
    indexes, and its downgrade restores the old names."""
    app = make_app(empty_database_url)
    with app.app_context():
        config = app.extensions["migrate"].migrate.get_config()
        # The naming convention as it was before 0004: names prefixed twice.
        with monkeypatch.context() as old_convention:
            old_convention.delitem(db.metadata.naming_convention, "constraint_name")
            command.upgrade(config, "0003_coffee_terms")
        _seed(db.engine)
        before, columns = _snapshot(db.engine)
        old_names = set(_checks(empty_database_url))
        assert ("coffees", "ck_coffees_ck_coffees_process") in old_names
        indexes = _indexes(empty_database_url)
        assert "uq_users_username_lower" in indexes and "ix_coffees_name_lower" in indexes

        command.upgrade(config, "0004_check_names")
        renamed = _checks(empty_database_url)
        # The tables of 0004's time: later revisions add tables with CHECKs of their own.
        assert set(renamed) == {(t, n) for t, n in _metadata_check_names()
                                if t in {table for table, _ in old_names}}
        assert _snapshot(db.engine, columns)[0] == before
        assert _indexes(empty_database_url) == indexes

        command.downgrade(config, "0003_coffee_terms")
        assert set(_checks(empty_database_url)) == old_names
        assert _snapshot(db.engine, columns)[0] == before
        command.downgrade(config, "base")
        db.engine.dispose()


def test_username_uniqueness_is_enforced_by_the_database(app, make_user):
    """The functional unique index on lower(username), which autogenerate cannot compare."""
    from sqlalchemy.exc import IntegrityError

    from webapp.models import User

    make_user("alice")
    db.session.add(User(username="ALICE", email="other@example.com", password_hash="x"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_terms_migration_indexes_the_coffees_already_there(empty_database_url):
    from sqlalchemy import select
    from webapp.models import Coffee, CoffeeTerm

    app = make_app(empty_database_url)
    with app.app_context():
        config = app.extensions["migrate"].migrate.get_config()
        command.upgrade(config, "0002_coffees_reviews")
        with db.engine.begin() as conn:
            conn.execute(Coffee.__table__.insert().values(
                name="Guji", roaster="North Star", origin="ET", process="natural", roast="light",
                region="", producer="", variety="", description="", dedupe_key="northstar|guji",
                search_text=" guji north star guji ethiopia эфиопия"))
        command.upgrade(config, "head")
        with db.engine.connect() as conn:
            terms = list(conn.scalars(select(CoffeeTerm.term).order_by(CoffeeTerm.term)))
        assert terms == ["ethiopia", "guji", "north", "star", "эфиопия"]
        command.downgrade(config, "base")
        db.engine.dispose()
