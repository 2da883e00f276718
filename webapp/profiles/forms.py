"""Profile settings and password change."""
from flask import current_app
from flask_babel import lazy_gettext as _l
from wtforms import PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, EqualTo, Length

from webapp.forms import Form, options
from webapp.services.users import MIN_PASSWORD


class SettingsForm(Form):
    display_name = StringField(_l("Display name"), validators=[Length(max=64)])
    bio = TextAreaField(_l("About you"), validators=[Length(max=500)],
                        description=_l("Up to 500 characters."), render_kw={"rows": 4})
    locale = SelectField(_l("Language"), validate_choice=True)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.locale.choices = options([("", _l("Automatic (from your browser)")),
                                       *current_app.config["LANGUAGES"].items()])


class PasswordForm(Form):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired()],
                                     render_kw={"autocomplete": "current-password"})
    new_password = PasswordField(
        _l("New password"),
        validators=[DataRequired(), Length(min=MIN_PASSWORD, max=256,
                                       message=_l("Use between 10 and 256 characters."))],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("Repeat new password"),
        validators=[DataRequired(), EqualTo("new_password", message=_l("Passwords do not match."))],
        render_kw={"autocomplete": "new-password"},
    )
