"""Domain logic shared by routes, jobs and the bot; no request objects here."""
from sqlalchemy import literal_column
from sqlalchemy.dialects import postgresql, sqlite

from webapp.extensions import db


class ServiceError(Exception):
    """A domain rule refused the operation; ``field`` names the offending input."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(ServiceError):
    pass


class Forbidden(ServiceError):
    pass


class RateLimited(ServiceError):
    """Too many attempts (a flood): try again in ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int, field: str | None = None) -> None:
        super().__init__(message, field)
        self.retry_after = retry_after


def contains_pattern(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, with wildcards escaped (escape ``\\``)."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def dialect_insert(model):
    """An INSERT that can say ON CONFLICT, in the database's own dialect."""
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(model)


def constant_column(value: str, label: str):
    """A string constant as a column of a select (inlined: a union's columns need a type)."""
    return literal_column(f"'{value}'").label(label)
