"""Configuration read from the environment (and ``.env``)."""
import os
import secrets
from pathlib import Path

from dotenv import load_dotenv

PROJECT_DIR = Path(__file__).resolve().parent.parent
INSTANCE_DIR = PROJECT_DIR / "instance"
ENV_FILE = PROJECT_DIR / ".env"
# The SECRET_KEY shown in .env.example: copying the file must not make a production key.
PLACEHOLDER_SECRET_KEY = "change-me-to-64-random-hex-characters"
SECRET_KEY_MIN_BYTES = 32


class ConfigError(RuntimeError):
    """A required setting is missing; start-up stops with this message."""


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _dev_secret_key() -> str:
    """Generate a secret key once per checkout and keep it in ``instance/``."""
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _check_production_secret(secret: str) -> None:
    """:raise ConfigError: the key is the .env.example placeholder or too short to sign with."""
    if secret.strip() == PLACEHOLDER_SECRET_KEY:
        raise ConfigError("SECRET_KEY is the placeholder from .env.example; set a random one, "
                          "e.g. python -c 'import secrets; print(secrets.token_hex(32))'.")
    if len(secret.encode()) < SECRET_KEY_MIN_BYTES:
        raise ConfigError(f"SECRET_KEY must be at least {SECRET_KEY_MIN_BYTES} bytes in "
                          f"production (it has {len(secret.encode())}); set a random one, "
                          "e.g. python -c 'import secrets; print(secrets.token_hex(32))'.")


class Config:
    """Settings for development and production, read once when the object is made:
    from environment variables, then from ``.env`` for those not set (gunicorn imports
    this module long before any ``.env`` would otherwise be loaded).

    :raise ConfigError: production without its secrets, or with a weak ``SECRET_KEY``.
    """

    def __init__(self) -> None:
        load_dotenv(ENV_FILE, override=False)
        self.ENV_NAME = os.environ.get("CREMA_ENV", "development")
        production = self.ENV_NAME == "production"
        secret = os.environ.get("SECRET_KEY")
        database_url = os.environ.get("DATABASE_URL")
        if production:
            missing = [n for n, v in (("SECRET_KEY", secret), ("DATABASE_URL", database_url)) if not v]
            if missing:
                raise ConfigError(
                    "CREMA_ENV=production needs " + " and ".join(missing) + " to be set."
                )
            _check_production_secret(secret)
        self.SECRET_KEY = secret or _dev_secret_key()
        self.SQLALCHEMY_DATABASE_URI = database_url or f"sqlite:///{INSTANCE_DIR / 'crema.db'}"
        # SQLite only: bytes of the database file read through a memory map (0: off).
        self.SQLITE_MMAP_SIZE = int(os.environ.get("SQLITE_MMAP_SIZE", str(256 * 1024 * 1024)))
        self.REDIS_URL = os.environ.get("REDIS_URL") or None
        self.REDIS_PREFIX = os.environ.get("REDIS_PREFIX", "crema:")
        # Broker (webapp/broker.py), with Redis: seconds between the pub/sub watchdog's
        # pings to itself; one not back by the next forces a reconnect (half-open links).
        self.BROKER_WATCHDOG_SECONDS = float(os.environ.get("BROKER_WATCHDOG_SECONDS", "15"))
        # WebSockets (flask-sock): a ping every SOCK_PING_INTERVAL seconds keeps proxies
        # from dropping idle sockets and finds dead ones. A frame over
        # SOCK_MAX_MESSAGE_SIZE closes the socket (1009); the chat answers frames over
        # 16 KiB (webapp.chat.live.FRAME_MAX) with an error and keeps the socket open.
        # python -m worker: seconds between the passes that put back on the queue the
        # jobs of a worker that died (killed mid-job, its heartbeat lapsed).
        self.WORKER_MAINTENANCE_INTERVAL = int(os.environ.get("WORKER_MAINTENANCE_INTERVAL", "600"))
        # Seconds between the heartbeats of a running job; one without a heartbeat for
        # twice as long belongs to a dead worker, and the next maintenance pass retries it.
        self.WORKER_HEARTBEAT = int(os.environ.get("WORKER_HEARTBEAT", "30"))
        # The site's address, for links in e-mails (made by workers, outside any request).
        self.BASE_URL = os.environ.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/")
        # E-mail (webapp/mail.py): over SMTP when MAIL_SERVER is set, else to the log.
        self.MAIL_SERVER = os.environ.get("MAIL_SERVER") or None
        self.MAIL_PORT = int(os.environ.get("MAIL_PORT", "587"))
        self.MAIL_USE_TLS = _bool("MAIL_USE_TLS", False)
        self.MAIL_USE_SSL = _bool("MAIL_USE_SSL", False)
        self.MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
        self.MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
        self.MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER",
                                                  "Crema <noreply@crema.local>")
        self.MAIL_TIMEOUT = float(os.environ.get("MAIL_TIMEOUT", "10"))
        # The hour (UTC, 0-23) python -m worker sends the daily digests of the day before.
        self.DIGEST_HOUR = int(os.environ.get("DIGEST_HOUR", "6"))
        if not 0 <= self.DIGEST_HOUR <= 23:
            raise ConfigError(f"DIGEST_HOUR is {self.DIGEST_HOUR}; it is an hour, 0 to 23 (UTC).")
        # Telegram (bot/, webapp/services/telegram.py): without a token and the bot's
        # username the site hides Telegram and python -m bot says what to set.
        self.TELEGRAM_BOT_TOKEN = os.environ.get("TELEGRAM_BOT_TOKEN") or None
        self.TELEGRAM_BOT_USERNAME = (os.environ.get("TELEGRAM_BOT_USERNAME") or "").lstrip("@") or None
        # The Bot API's base address (Telegram's, or a test server's).
        self.TELEGRAM_API_URL = os.environ.get("TELEGRAM_API_URL",
                                               "https://api.telegram.org").rstrip("/")
        # Webhook mode (instead of python -m bot): Telegram sends this secret with every
        # update to POST /telegram/webhook, which answers 404 without it (1-256 of
        # A-Z a-z 0-9 _ -). `flask telegram set-webhook` registers it.
        self.TELEGRAM_WEBHOOK_SECRET = os.environ.get("TELEGRAM_WEBHOOK_SECRET") or None
        # Seconds a one-time /start token (connect, log in) stays good.
        self.TELEGRAM_TOKEN_TTL = int(os.environ.get("TELEGRAM_TOKEN_TTL", "600"))
        # Chat sockets one web process takes; beyond, the handshake answers 503 and the
        # page tries again later (gunicorn.conf.py sizes gevent's pool above it).
        self.CHAT_MAX_SOCKETS = int(os.environ.get("CHAT_MAX_SOCKETS", "2000"))
        self.SOCK_SERVER_OPTIONS = {
            "ping_interval": int(os.environ.get("SOCK_PING_INTERVAL", "25")),
            "max_message_size": int(os.environ.get("SOCK_MAX_MESSAGE_SIZE", str(1024 * 1024))),
        }
        self.SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
        self.REMEMBER_COOKIE_SECURE = self.SESSION_COOKIE_SECURE
        self.TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", "0"))
        self.MAX_CONTENT_LENGTH = int(os.environ.get("MAX_CONTENT_LENGTH", str(1024 * 1024)))
        self.PASSWORD_HASH_METHOD = os.environ.get("PASSWORD_HASH_METHOD", "scrypt")
        # Flood control (webapp/ratelimit.py): limit name -> rate in the `limits` notation.
        self.RATE_LIMITS = {
            "login-account-ip": os.environ.get("LOGIN_LIMIT_ACCOUNT_IP", "5 per 15 minutes"),
            "login-ip": os.environ.get("LOGIN_LIMIT_IP", "20 per 15 minutes"),
            "login-account": os.environ.get("LOGIN_LIMIT_ACCOUNT", "50 per 15 minutes"),
            "register-ip": os.environ.get("REGISTER_LIMIT_IP", "10 per hour"),
            "password-check": os.environ.get("PASSWORD_CHECK_LIMIT", "5 per 15 minutes"),
            "chat-post": os.environ.get("CHAT_POST_LIMIT", "5 per 10 seconds"),
            "password-reset-ip": os.environ.get("PASSWORD_RESET_LIMIT_IP", "10 per hour"),
            "password-reset-account": os.environ.get("PASSWORD_RESET_LIMIT_ACCOUNT",
                                                     "3 per hour"),
            "confirm-resend": os.environ.get("EMAIL_CONFIRM_RESEND_LIMIT", "3 per hour"),
            # What the site sends through the bot (webapp/services/telegram_send.py):
            # under Telegram's 30 a second overall (its replies to commands keep the
            # rest) and its 1 a second per chat.
            "telegram-send": os.environ.get("TELEGRAM_SEND_LIMIT", "25 per second"),
            "telegram-chat": os.environ.get("TELEGRAM_CHAT_LIMIT", "1 per second"),
            "telegram-login-ip": os.environ.get("TELEGRAM_LOGIN_LIMIT_IP", "10 per 15 minutes"),
            "bot-command": os.environ.get("BOT_COMMAND_LIMIT", "20 per minute"),
            "bot-command-notice": os.environ.get("BOT_COMMAND_NOTICE_LIMIT", "1 per minute"),
        }
        # Account mail (webapp/services/account_mail.py): seconds a password reset link
        # and an email confirmation link stay valid.
        self.PASSWORD_RESET_MAX_AGE = int(os.environ.get("PASSWORD_RESET_MAX_AGE", "3600"))
        self.EMAIL_CONFIRM_MAX_AGE = int(os.environ.get("EMAIL_CONFIRM_MAX_AGE",
                                                        str(7 * 24 * 3600)))
        # Bayesian average: every coffee starts as if it had CATALOG_PRIOR_WEIGHT ratings
        # of CATALOG_PRIOR_MEAN stars, and ranks once it has CATALOG_MIN_RATINGS ratings.
        # After changing these, `flask coffees recompute` refreshes the stored scores.
        self.CATALOG_PRIOR_MEAN = float(os.environ.get("CATALOG_PRIOR_MEAN", "3.5"))
        self.CATALOG_PRIOR_WEIGHT = float(os.environ.get("CATALOG_PRIOR_WEIGHT", "5"))
        self.CATALOG_MIN_RATINGS = int(os.environ.get("CATALOG_MIN_RATINGS", "3"))
        # Catalog caches per process (webapp/caches.py): rendered cards, result fragments,
        # and seconds a search's total may be reused (0: count on every request); totals
        # and fragments are keyed by the catalog version, which needs Redis to be shared.
        self.CARD_CACHE_SIZE = int(os.environ.get("CARD_CACHE_SIZE", "20000"))
        self.FRAGMENT_CACHE_SIZE = int(os.environ.get("FRAGMENT_CACHE_SIZE", "256"))
        self.CATALOG_COUNT_TTL = float(os.environ.get("CATALOG_COUNT_TTL", "30"))
        # A search's total is counted up to this many matches ("1,000+ coffees"; 0: all).
        self.CATALOG_COUNT_CAP = int(os.environ.get("CATALOG_COUNT_CAP", "1000"))

    # Settings that are the same everywhere.
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_DURATION = 60 * 60 * 24 * 30
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    # The token rides in hx-headers on <body>, which outlives a single page.
    WTF_CSRF_TIME_LIMIT = None
    BABEL_DEFAULT_LOCALE = "en"
    LANGUAGES = {"en": "English", "ru": "Русский"}
    USERS_PER_PAGE = 25
    JOBS_PER_PAGE = 25
    BROADCASTS_PER_PAGE = 25
    COFFEES_PER_PAGE = 20
    REVIEWS_PER_PAGE = 10


class TestConfig(Config):
    """Fast hashing, CSRF off unless a test turns it on, databases from TEST_* variables."""

    def __init__(self, database_url: str | None = None, redis_url: str | None = None) -> None:
        super().__init__()
        self.TESTING = True
        self.WTF_CSRF_ENABLED = False
        self.PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"
        self.SECRET_KEY = "test-secret-key"
        self.SQLALCHEMY_DATABASE_URI = database_url or os.environ.get(
            "TEST_DATABASE_URL", "sqlite://"
        )
        self.REDIS_URL = redis_url or os.environ.get("TEST_REDIS_URL") or None
        self.REDIS_PREFIX = f"crema-test-{secrets.token_hex(4)}:"
        self.MAIL_SERVER = None  # tests that mail start their own (tests/fixtures/smtp.py)
        self.TELEGRAM_BOT_TOKEN = None  # tests with a bot set their own (a fake Bot API)
