"""Friendly error pages; htmx requests get a fragment shown in the flash area."""
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from webapp import htmx
from webapp.extensions import db

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
    for code in TITLES:
        app.register_error_handler(code, handle_http_error)
    app.register_error_handler(CSRFError, handle_csrf_error)


def handle_http_error(error: HTTPException):
    code = error.code or 500
    if code >= 500:
        db.session.rollback()
        error = InternalServerError()
        code = 500
    message = MESSAGES.get(code, error.description)
    # A description given to abort() is meant for the user; werkzeug's defaults are not.
    if error.description and error.description != type(error).description:
        message = error.description
    return error_response(code, message)


def handle_csrf_error(error: CSRFError):
    return error_response(
        400, _l("Your session expired or the form was not sent from Crema. Reload the page and try again.")
    )


def error_response(code: int, message: str):
    response = htmx.render("errors/error.html", "errors/_error.html", status=code, code=code,
                           title=TITLES.get(code, ""), message=message)
    if htmx.is_fragment_request():
        htmx.retarget(response, "#flashes")
        htmx.reswap(response, "innerHTML")
    return response
