"""The optional Redis connection."""
from flask import current_app
from redis import Redis


def init_redis(app) -> None:
    """Create the client when REDIS_URL is set; it connects lazily on first use."""
    url = app.config.get("REDIS_URL")
    app.extensions["redis"] = Redis.from_url(url, socket_timeout=5) if url else None


def get_redis() -> Redis | None:
    """The app's Redis client, or None in the embedded (no Redis) set-up."""
    return current_app.extensions.get("redis")
