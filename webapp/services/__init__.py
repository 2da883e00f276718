"""Domain logic shared by routes, jobs and the bot; no request objects here."""


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
