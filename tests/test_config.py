"""Configuration from the environment and ``.env``, independent of the developer's own."""
import os
import re
from pathlib import Path

import pytest

from webapp import config as config_module
from webapp import create_app
from webapp.config import Config, ConfigError

EXAMPLE = Path(__file__).resolve().parent.parent / ".env.example"
# Every variable .env.example documents, set or commented out.
SETTINGS = sorted(set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", EXAMPLE.read_text(), re.M)))
GOOD_KEY = "k" * 64


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No setting from the environment, ``.env`` read from tmp_path (absent until a test
    writes it), the instance folder in tmp_path; os.environ restored afterwards, since
    loading a ``.env`` writes into it."""
    saved = os.environ.copy()
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(config_module, "INSTANCE_DIR", tmp_path / "instance")
    monkeypatch.setattr(config_module, "ENV_FILE", tmp_path / ".env")
    yield monkeypatch
    os.environ.clear()
    os.environ.update(saved)


def test_the_settings_list_comes_from_env_example():
    assert {"SECRET_KEY", "DATABASE_URL", "SQLITE_MMAP_SIZE", "CATALOG_COUNT_TTL"} <= set(SETTINGS)


def test_defaults_run_a_fresh_checkout(clean_env, tmp_path):
    cfg = Config()
    assert cfg.SQLALCHEMY_DATABASE_URI == f"sqlite:///{tmp_path / 'instance' / 'crema.db'}"
    assert cfg.REDIS_URL is None
    assert len(cfg.SECRET_KEY) == 64
    assert cfg.SQLITE_MMAP_SIZE == 256 * 1024 * 1024


def test_development_secret_is_generated_once_and_kept(clean_env, tmp_path):
    first = Config().SECRET_KEY
    assert (tmp_path / "instance" / "secret_key").read_text() == first
    assert Config().SECRET_KEY == first


def test_dotenv_reaches_every_setting_and_real_environment_wins(clean_env, tmp_path):
    """Settings once read at import (before any .env was loaded) come from .env too."""
    (tmp_path / ".env").write_text(
        "SQLITE_MMAP_SIZE=1048576\nCARD_CACHE_SIZE=7\nFRAGMENT_CACHE_SIZE=3\n"
        "CATALOG_COUNT_TTL=5\nCATALOG_MIN_RATINGS=9\n"
        "DATABASE_URL=sqlite:////tmp/from-dotenv.db\nREDIS_PREFIX=from-dotenv:\n")
    clean_env.setenv("REDIS_PREFIX", "from-environment:")
    cfg = Config()
    assert cfg.SQLITE_MMAP_SIZE == 1048576
    assert cfg.CARD_CACHE_SIZE == 7
    assert cfg.FRAGMENT_CACHE_SIZE == 3
    assert cfg.CATALOG_COUNT_TTL == 5
    assert cfg.CATALOG_MIN_RATINGS == 9
    assert cfg.SQLALCHEMY_DATABASE_URI == "sqlite:////tmp/from-dotenv.db"
    assert cfg.REDIS_PREFIX == "from-environment:"


def test_the_app_gets_dotenv_settings(clean_env, tmp_path):
    (tmp_path / ".env").write_text(f"DATABASE_URL=sqlite:///{tmp_path / 'app.db'}\n"
                                   "SQLITE_MMAP_SIZE=2097152\n")
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'app.db'}"
    assert app.config["SQLITE_MMAP_SIZE"] == 2097152


@pytest.mark.parametrize("present, missing", [
    ({}, "SECRET_KEY and DATABASE_URL"),
    ({"SECRET_KEY": GOOD_KEY}, "DATABASE_URL"),
    ({"DATABASE_URL": "postgresql+psycopg://x@localhost/db"}, "SECRET_KEY"),
])
def test_production_refuses_to_start_without_its_secrets(clean_env, present, missing):
    clean_env.setenv("CREMA_ENV", "production")
    for key, value in present.items():
        clean_env.setenv(key, value)
    with pytest.raises(ConfigError) as err:
        create_app()
    assert f"needs {missing} to be set" in str(err.value)


def test_production_refuses_the_env_example_placeholder_key(clean_env, tmp_path):
    """The key copied from .env.example (uncommented) into .env is refused."""
    line = next(line for line in EXAMPLE.read_text().splitlines() if "SECRET_KEY=" in line)
    (tmp_path / ".env").write_text(line.lstrip("# ") + "\nCREMA_ENV=production\n"
                                   "DATABASE_URL=sqlite://\n")
    with pytest.raises(ConfigError, match="SECRET_KEY is the placeholder from .env.example"):
        create_app()


@pytest.mark.parametrize("key", ["s" * 31, "é" * 15])  # 31 and 30 bytes
def test_production_refuses_a_key_shorter_than_32_bytes(clean_env, key):
    clean_env.setenv("CREMA_ENV", "production")
    clean_env.setenv("DATABASE_URL", "sqlite://")
    clean_env.setenv("SECRET_KEY", key)
    with pytest.raises(ConfigError, match=r"SECRET_KEY must be at least 32 bytes in "
                                          rf"production \(it has {len(key.encode())}\)"):
        Config()


def test_production_with_its_secrets(clean_env):
    clean_env.setenv("CREMA_ENV", "production")
    clean_env.setenv("SECRET_KEY", "s" * 32)
    clean_env.setenv("DATABASE_URL", "sqlite://")
    clean_env.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    cfg = Config()
    assert cfg.SECRET_KEY == "s" * 32 and cfg.REDIS_URL == "redis://127.0.0.1:6379/0"


def test_sqlite_connections_get_their_pragmas(clean_env, tmp_path):
    from sqlalchemy import text

    from webapp.config import TestConfig
    from webapp.extensions import db

    config = TestConfig(f"sqlite:///{tmp_path / 'pragmas.db'}")
    config.SQLITE_MMAP_SIZE = 64 * 1024 * 1024
    app = create_app(config)
    with app.app_context():
        pragma = lambda name: db.session.execute(text(f"PRAGMA {name}")).scalar()  # noqa: E731
        assert pragma("journal_mode") == "wal" and pragma("foreign_keys") == 1
        assert pragma("mmap_size") == 64 * 1024 * 1024 and pragma("busy_timeout") == 5000
        db.session.remove()
        db.engine.dispose()


def test_websocket_options_default_and_from_dotenv(clean_env, tmp_path):
    assert Config().SOCK_SERVER_OPTIONS == {"ping_interval": 25, "max_message_size": 1024 * 1024}
    (tmp_path / ".env").write_text("SOCK_PING_INTERVAL=10\nSOCK_MAX_MESSAGE_SIZE=4096\n")
    assert Config().SOCK_SERVER_OPTIONS == {"ping_interval": 10, "max_message_size": 4096}


def test_the_web_process_runs_gunicorn_conf(clean_env):
    """The Procfile's web line uses gunicorn.conf.py: gevent for many sockets per
    process, no preload (clients are made after the fork), no shared control socket."""
    root = EXAMPLE.parent
    web = next(line for line in (root / "Procfile").read_text().splitlines()
               if line.startswith("web:"))
    assert web == "web: gunicorn -c gunicorn.conf.py wsgi:app"
    clean_env.setenv("PORT", "8123")
    clean_env.setenv("WEB_CONCURRENCY", "3")
    settings = {}
    exec(compile((root / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), settings)
    assert settings["worker_class"] == "gevent"
    # Room for CHAT_MAX_SOCKETS (2000) sockets and 500 page requests besides.
    assert (settings["bind"], settings["workers"], settings["worker_connections"]) == (
        "0.0.0.0:8123", 3, 2500)
    clean_env.setenv("CHAT_MAX_SOCKETS", "100")
    exec(compile((root / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), settings)
    assert settings["worker_connections"] == 600
    clean_env.setenv("WORKER_CONNECTIONS", "50")
    exec(compile((root / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), settings)
    assert settings["worker_connections"] == 50
    assert settings["preload_app"] is False and settings["control_socket_disable"] is True


@pytest.mark.parametrize("hour", ["24", "-1"])
def test_a_digest_hour_outside_the_day_is_refused(clean_env, hour):
    clean_env.setenv("DIGEST_HOUR", hour)
    with pytest.raises(ConfigError, match=f"DIGEST_HOUR is {hour}; it is an hour, 0 to 23"):
        Config()
