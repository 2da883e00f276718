"""Fixtures: app, client, db, auth, factories and a live server.

The suite runs on a SQLite file by default, on PostgreSQL when
TEST_DATABASE_URL is set, and uses Redis when TEST_REDIS_URL is set. The schema
is built by the Alembic migrations, so every run also proves them.
"""
import contextlib
import os
import threading
import time
import uuid

import pytest
from alembic import command
from psycopg.errors import DeadlockDetected
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from werkzeug.serving import make_server

from webapp import create_app
from webapp.config import TestConfig
from webapp.extensions import db as _db
from webapp.notifications import live
from webapp.services import users as user_service

PASSWORD = "correct-horse-battery"

# Sub-modules of fixtures, split per area as the suite grows.
pytest_plugins = ["tests.fixtures.browser", "tests.fixtures.catalog", "tests.fixtures.catalog_caches", "tests.fixtures.chat", "tests.fixtures.ratelimit", "tests.fixtures.chat_servers", "tests.fixtures.smtp", "tests.fixtures.telegram"]


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """A database of this run's own: a SQLite file, or a new PostgreSQL database
    created next to TEST_DATABASE_URL so that concurrent runs never collide."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'crema-test.db'}"
        return
    with scratch_postgres_database(url) as own_url:
        yield own_url


@contextlib.contextmanager
def scratch_postgres_database(server_url: str):
    """Create an empty PostgreSQL database on the server of ``server_url``; drop it after."""
    name = f"crema_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def reset_database(url: str) -> None:
    """Empty the database completely (tables, indexes, alembic_version)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        else:
            names = [r[0] for r in conn.execute(text(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"))]
            conn.execute(text("PRAGMA foreign_keys=OFF"))
            for name in names:
                conn.execute(text(f'DROP TABLE IF EXISTS "{name}"'))
    engine.dispose()


def upgrade_database(app) -> None:
    """Run every migration against the app's database."""
    with app.app_context():
        config = app.extensions["migrate"].migrate.get_config()
        command.upgrade(config, "head")


@pytest.fixture(scope="session")
def _schema(database_url):
    reset_database(database_url)
    upgrade_database(create_app(TestConfig(database_url)))


class IsolatedClient(FlaskClient):
    """Each request runs in its own app context, as in production.

    Without this a request would reuse the test's app context, and ``g`` (where
    Flask-Login caches the user) and the DB session would leak between requests.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


def make_app(database_url, **overrides):
    config = TestConfig(database_url)
    for key, value in overrides.items():
        setattr(config, key, value)
    app = create_app(config)
    app.test_client_class = IsolatedClient
    return app


def _empty_tables() -> None:
    tables = list(reversed(_db.metadata.sorted_tables))
    if _db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in tables)
        # A socket handler of the test's server may still be writing as it closes (its
        # room_reads): TRUNCATE takes its locks table by table, so PostgreSQL can pick it
        # as a deadlock's victim. The writer finishes; emptying again then succeeds.
        for attempt in range(5):
            try:
                _db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
                break
            except OperationalError as err:
                _db.session.rollback()
                if attempt == 4 or not isinstance(err.orig, DeadlockDetected):
                    raise
                time.sleep(0.2)
    else:
        for table in tables:
            _db.session.execute(table.delete())
    _db.session.commit()


@pytest.fixture
def app(database_url, _schema):
    app = make_app(database_url)
    with app.app_context():
        yield app
        _db.session.remove()
    clean_up(app)


def clean_up(app) -> None:
    """Stop the app's chat hub, bell sockets and broker threads, empty every table and
    delete the app's Redis keys, after a test or a module."""
    hub = app.extensions.get("chat_hub")
    if hub is not None:
        hub.shutdown()
    live.shutdown(app)
    app.extensions["broker"].close()
    with app.app_context():
        _empty_tables()
        _db.session.remove()
        _db.engine.dispose()
    redis = app.extensions.get("redis")
    if redis is not None:
        for key in redis.scan_iter(app.config["REDIS_PREFIX"] + "*"):
            redis.delete(key)
        from rq import Queue

        from webapp import jobs
        Queue(jobs.queue_name(app), connection=jobs.connection(app)).empty()


@pytest.fixture
def empty_database_url(database_url, tmp_path):
    """A brand-new empty database on the same backend as the suite (for migrations)."""
    if not database_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    with scratch_postgres_database(database_url) as url:
        yield url


@pytest.fixture
def csrf_app(app):
    """The same app with CSRF protection switched on."""
    app.config["WTF_CSRF_ENABLED"] = True
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def db(app):
    return _db


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


HX = {"HX-Request": "true"}
HX_BOOSTED = {"HX-Request": "true", "HX-Boosted": "true"}


@pytest.fixture
def make_user(app):
    """Factory: ``make_user("alice", role="admin")`` creates and returns a user."""
    counter = iter(range(1, 10_000))

    def factory(username=None, email=None, password=PASSWORD, role="user", **fields):
        n = next(counter)
        username = username or f"user{n}"
        user = user_service.register_user(username, email or f"{username}@example.com",
                                          password, role=role)
        for key, value in fields.items():
            setattr(user, key, value)
        _db.session.commit()
        return user

    return factory


class AuthActions:
    def __init__(self, client):
        self.client = client

    def login(self, login="alice", password=PASSWORD, **extra):
        return self.client.post("/auth/login", data={"login": login, "password": password, **extra})

    def logout(self):
        return self.client.post("/auth/logout")


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def user(make_user):
    return make_user("alice")


@pytest.fixture
def logged_in(client, auth, user):
    """A client logged in as ``alice`` (a plain user)."""
    response = auth.login()
    assert response.status_code == 303
    return client


class LiveServer:
    """The app served by werkzeug in a thread, on a free port."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.thread.join(5)


@pytest.fixture
def live_server(app):
    with LiveServer(app) as server:
        yield server


_SKIPPED: list[str] = []


def pytest_runtest_logreport(report):
    if report.skipped:
        _SKIPPED.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    """A skipped test is a failure in this project: every test must run."""
    if _SKIPPED and session.exitstatus == 0:
        session.exitstatus = 1
        print(f"\n{len(_SKIPPED)} test(s) skipped; skips are not allowed: " + ", ".join(_SKIPPED))
