"""Configuration from the environment."""
import pytest

from webapp import config as config_module
from webapp import create_app
from webapp.config import Config, ConfigError


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "CREMA_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(config_module, "INSTANCE_DIR", tmp_path / "instance")
    monkeypatch.setattr(config_module, "load_dotenv", lambda: None, raising=False)
    return monkeypatch


def test_defaults_run_a_fresh_checkout(clean_env, tmp_path):
    cfg = Config()
    assert cfg.SQLALCHEMY_DATABASE_URI == f"sqlite:///{tmp_path / 'instance' / 'crema.db'}"
    assert cfg.REDIS_URL is None
    assert len(cfg.SECRET_KEY) == 64


def test_development_secret_is_generated_once_and_kept(clean_env, tmp_path):
    first = Config().SECRET_KEY
    assert (tmp_path / "instance" / "secret_key").read_text() == first
    assert Config().SECRET_KEY == first


@pytest.mark.parametrize("present, missing", [
    ({}, "SECRET_KEY and DATABASE_URL"),
    ({"SECRET_KEY": "s" * 40}, "DATABASE_URL"),
    ({"DATABASE_URL": "postgresql+psycopg://x@localhost/db"}, "SECRET_KEY"),
])
def test_production_refuses_to_start_without_its_secrets(clean_env, present, missing):
    clean_env.setenv("CREMA_ENV", "production")
    for key, value in present.items():
        clean_env.setenv(key, value)
    with pytest.raises(ConfigError) as err:
        create_app()
    assert f"needs {missing} to be set" in str(err.value)


def test_production_with_its_secrets(clean_env):
    clean_env.setenv("CREMA_ENV", "production")
    clean_env.setenv("SECRET_KEY", "s" * 40)
    clean_env.setenv("DATABASE_URL", "sqlite://")
    clean_env.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    cfg = Config()
    assert cfg.SECRET_KEY == "s" * 40 and cfg.REDIS_URL == "redis://127.0.0.1:6379/0"


def test_sqlite_connections_get_their_pragmas(tmp_path):
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
