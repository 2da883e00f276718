"""Form helpers shared by the feature packages."""
from wtforms import SelectChoice

from webapp.services import Forbidden, NotFound, ServiceError


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


def refuse_flood(page: str, fragment: str, form, message: str, verdict):
    """Answer 429: the form again with ``message`` above it, and ``Retry-After``."""
    from webapp import htmx

    form.form_errors.append(message)
    response = htmx.render(page, fragment, status=429, form=form)
    response.headers["Retry-After"] = str(verdict.retry_after)
    return response
