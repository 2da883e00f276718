"""The Alembic migrations build exactly the schema the models describe."""
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tests.conftest import make_app, scratch_postgres_database
from webapp.extensions import db


@pytest.fixture
def empty_database_url(database_url, tmp_path):
    """A brand-new empty database on the same backend as the suite."""
    if not database_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    with scratch_postgres_database(database_url) as url:
        yield url


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
