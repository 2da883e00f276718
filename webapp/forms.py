"""Form helpers shared by the feature packages."""
from webapp.services import ServiceError


def show_service_error(form, err: ServiceError) -> None:
    """Show a service's refusal next to the field it names, else above the form."""
    field = form._fields.get(err.field or "")
    (field.errors if field is not None else form.form_errors).append(err.message)
