"""Form helpers shared by the feature packages, and the guard on every request's input."""
from flask import abort, request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectChoice, StringField

from webapp import text
from webapp.services import Forbidden, NotFound, ServiceError

# Ids are 32-bit integers on PostgreSQL: a larger one names nothing.
ID_MAX = 2**31 - 1
# Pages past any real list; the catalog clamps to the same.
PAGE_MAX = 10_000


class Form(FlaskForm):
    """The base of every form: text fields arrive NFC-normalised.

    Passwords are left exactly as typed: normalising them now would lock out
    accounts whose password was hashed from another form of the same text.
    """

    class Meta:
        def bind_field(self, form, unbound_field, options):
            field_class = unbound_field.field_class
            if issubclass(field_class, StringField) and not issubclass(field_class, PasswordField):
                options["filters"] = (*unbound_field.kwargs.get("filters", ()), _normalise)
            return super().bind_field(form, unbound_field, options)


def _normalise(value):
    return text.normalise(value) if isinstance(value, str) else value


def name_filter(value):
    """A filter for fields that hold a name: cleaned as the services store it, so the
    form's own checks (a username's letters) see what will be saved."""
    return text.clean_name(value) if isinstance(value, str) else value


def options(pairs) -> list[SelectChoice]:
    """``(value, label)`` pairs as choices for a select or radio field."""
    return [SelectChoice(value, label) for value, label in pairs]


def show_service_error(form, err: ServiceError) -> None:
    """Show a service's refusal next to the field it names, else above the form.

    Services name fields as the HTML does (a form's ``process_`` is "process").

    :raise NotFound: or :raise Forbidden: ``err`` itself: neither is about the form,
        and the error handlers answer them (404, 403).
    """
    if isinstance(err, (NotFound, Forbidden)):
        raise err
    field = next((f for f in form if f.name == err.field), None) if err.field else None
    (field.errors if field is not None else form.form_errors).append(err.message)


def page_number(args) -> int:
    """The ``page`` argument clamped to 1..PAGE_MAX (a typed URL can say anything)."""
    return max(1, min(args.get("page", 1, type=int), PAGE_MAX))


def id_arg(args, name: str) -> int | None:
    """An id from the query string, or None when it is missing or names nothing."""
    value = args.get(name, type=int)
    return value if value is not None and 1 <= value <= ID_MAX else None


def refuse_bad_input() -> None:
    """Check every request's path, query string and form before any view runs.

    Done once here rather than in each form so that no field, query argument or
    future route can pass a NUL to the database (psycopg refuses it with an error).

    :raise 404: a control character in the path, or an id no row can have.
    :raise 422: a control character in a query or form value, or a file sent
        to a form (no form takes files).
    """
    ids = [v for v in (request.view_args or {}).values() if isinstance(v, int)]
    if text.has_control(request.path) or any(not 0 <= v <= ID_MAX for v in ids):
        abort(404)
    values = [*request.args.items(multi=True)]
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        if request.files:
            abort(422, description=_l("This form does not accept files."))
        values += request.form.items(multi=True)
    if any(text.has_control(k) or text.has_control(v) for k, v in values):
        abort(422, description=_l("What you sent contains control characters. "
                                  "Remove them and try again."))


def init_app(app) -> None:
    app.before_request(refuse_bad_input)


def refuse_flood(page: str, fragment: str, form, message: str, verdict):
    """Answer 429: the form again with ``message`` above it, and ``Retry-After``."""
    from webapp import htmx

    form.form_errors.append(message)
    response = htmx.render(page, fragment, status=429, form=form)
    response.headers["Retry-After"] = str(verdict.retry_after)
    return response
