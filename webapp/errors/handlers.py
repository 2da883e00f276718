"""Errors mapped once: HTTP errors and the services' refusals.

Each answers as the client asks: a friendly page, an htmx fragment shown in the
flash area, or JSON (``{"error": {"status", "message", "field"}}``) for a client
that prefers ``application/json`` to ``text/html``.
"""
from flask import jsonify, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from webapp import htmx
from webapp.extensions import db
from webapp.services import Forbidden, NotFound, RateLimited, ServiceError

TITLES = {
    400: _l("Bad request"),
    403: _l("Not allowed"),
    404: _l("Page not found"),
    405: _l("Method not allowed"),
    413: _l("Too large"),
    422: _l("Cannot process this"),
    429: _l("Slow down"),
    500: _l("Something went wrong"),
}
MESSAGES = {
    400: _l("The request could not be understood."),
    403: _l("You do not have permission to do this."),
    404: _l("We could not find what you were looking for."),
    405: _l("This address does not accept that kind of request."),
    413: _l("What you sent is too large."),
    422: _l("Some of what you sent is not valid."),
    429: _l("Too many requests. Please wait a moment and try again."),
    500: _l("An unexpected error happened on our side. It has been logged."),
}


def init_app(app) -> None:
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(ServiceError, handle_service_error)


def service_status(error: ServiceError) -> int:
    """``NotFound`` is 404, ``Forbidden`` 403, ``RateLimited`` 429, any other refusal 422."""
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, Forbidden):
        return 403
    if isinstance(error, RateLimited):
        return 429
    return 422


def handle_service_error(error: ServiceError):
    """A refusal no route turned into an inline form error."""
    headers = [("Retry-After", str(error.retry_after))] if isinstance(error, RateLimited) else ()
    return error_response(service_status(error), error.message, field=error.field,
                          headers=headers)


def handle_http_error(error: HTTPException):
    code = error.code or 500
    if code >= 500:
        db.session.rollback()
        # Whatever went wrong, its description is not for the visitor.
        return error_response(code, MESSAGES[500], title=TITLES[500])
    message = MESSAGES.get(code, error.description)
    # A description given to abort() is meant for the user; werkzeug's defaults are not.
    if error.description and error.description != type(error).description:
        message = error.description
    # Allow (405) and Retry-After (429) still tell the client what to do.
    headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
    return error_response(code, message, title=TITLES.get(code, error.name), headers=headers)


def handle_csrf_error(error: CSRFError):
    return error_response(
        400, _l("Your session expired or the form was not sent from Crema. Reload the page and try again.")
    )


def wants_json() -> bool:
    """True when the client ranks JSON above HTML in its ``Accept`` header."""
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def error_response(code: int, message, field: str | None = None, title=None, headers=()):
    """The error as JSON, an htmx fragment for the flash area, or a full page."""
    if wants_json():
        response = jsonify(error={"status": code, "message": str(message), "field": field})
        response.status_code = code
    else:
        response = htmx.render("errors/error.html", "errors/_error.html", status=code,
                               code=code, title=title or TITLES.get(code, ""), message=message)
        if htmx.is_fragment_request():
            htmx.retarget(response, "#flashes")
            htmx.reswap(response, "innerHTML")
    response.headers.extend(headers)
    response.vary.add("Accept")
    return response
