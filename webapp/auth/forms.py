"""Sign-up, log-in and password reset forms."""
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Regexp, ValidationError

from webapp.forms import Form, name_filter
from webapp.services import users as user_service


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class NewPasswordForm(Form):
    """A new password, typed twice, by the sign-up rules (a sign-up and a reset)."""

    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(), Length(min=user_service.MIN_PASSWORD, max=256,
                                       message=_l("Use between 10 and 256 characters."))],
        render_kw={"autocomplete": "new-password"},
        description=_l("At least 10 characters."),
    )
    confirm = PasswordField(
        _l("Repeat password"),
        validators=[DataRequired(), EqualTo("password", message=_l("Passwords do not match."))],
        render_kw={"autocomplete": "new-password"},
    )


class RegisterForm(NewPasswordForm):
    username = StringField(
        _l("Username"),
        validators=[
            DataRequired(),
            Length(min=3, max=32),
            Regexp(user_service.USERNAME_RE, message=_l("Letters, digits, _ and - only.")),
        ],
        filters=[name_filter],
        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"},
    )
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254), Email()],
                       render_kw={"autocomplete": "email"})

    def validate_username(self, field) -> None:
        if user_service.username_taken(field.data.strip()):
            raise ValidationError(_l("This username is already taken."))

    def validate_email(self, field) -> None:
        if user_service.email_taken(field.data):
            raise ValidationError(_l("An account with this email already exists."))


class LoginForm(Form):
    login = StringField(_l("Username or email"), validators=[DataRequired(), Length(max=254)],
                        render_kw={"autocomplete": "username", "autocapitalize": "none"})
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)],
                             render_kw={"autocomplete": "current-password"})
    remember = BooleanField(_l("Remember me"))
    next = HiddenField()


class ForgotPasswordForm(Form):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254), Email()],
                       filters=[_strip], render_kw={"autocomplete": "email"})


class ResetPasswordForm(NewPasswordForm):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.password.label.text = _l("New password")
        self.confirm.label.text = _l("Repeat new password")
