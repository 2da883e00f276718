"""The notification settings form."""
from flask_babel import lazy_gettext as _l
from wtforms import RadioField, SelectMultipleField
from wtforms.validators import InputRequired, ValidationError

from webapp.forms import Form, options
from webapp.models import PREF_KINDS

EMAIL_MODE_MISSING = _l("Choose how email comes: as it happens or as a daily digest.")
KIND_LABELS = {
    "chat": _l("New messages in rooms you talk in or follow"),
    "mentions": _l("Mentions and replies"),
    "reviews": _l("New reviews of coffees you added or follow"),
}


class PrefsForm(Form):
    """One checkbox per kind and channel (``enabled`` holds ``<kind>.<channel>`` for each
    one ticked); how email comes. ``channels``: the columns this user has."""

    enabled = SelectMultipleField(validate_choice=False)
    email_mode = RadioField(
        _l("Email"), validate_choice=False,
        choices=options([("immediate", _l("Each notification as it happens")),
                         ("digest", _l("One digest a day"))]),
        validators=[InputRequired(message=EMAIL_MODE_MISSING)])

    def __init__(self, channels, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.channels = list(channels)
        self.names = {f"{kind}.{ch}": (kind, ch) for kind in PREF_KINDS for ch in self.channels}

    def validate_enabled(self, field) -> None:
        if any(value not in self.names for value in field.data or ()):
            raise ValidationError(_l("This form names a notification setting that does not "
                                     "exist. Reload the page and try again."))

    def validate_email_mode(self, field) -> None:
        if field.data not in ("immediate", "digest"):
            raise ValidationError(EMAIL_MODE_MISSING)

    def chosen(self) -> set[tuple[str, str]]:
        return {self.names[value] for value in self.enabled.data or ()}
