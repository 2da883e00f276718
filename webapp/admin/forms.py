"""The broadcast form (/admin/broadcast). The service checks every value
(webapp.services.broadcasts); the buttons post ``action``: search, preview or send."""
from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, RadioField, SearchField, SelectField, TextAreaField

from webapp.forms import ID_MAX, Form, options
from webapp.services.broadcasts import MAX_LENGTH


def _coffee_id(value):
    """A coffee id as posted: an integer in range, or None (the service then says which
    coffee is missing)."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 1 <= number <= ID_MAX else None


class BroadcastForm(Form):
    """The message, its audience, and on the second step of Send, ``confirm`` (the
    one-time code the confirmation carried)."""

    text = TextAreaField(_l("Message"), render_kw={"rows": 8, "maxlength": MAX_LENGTH},
                         description=_l("Plain text, up to %(max)d characters; it goes as "
                                        "written, without formatting.", max=MAX_LENGTH))
    audience = RadioField(_l("Send to"), default="all", validate_choice=False,
                          choices=options([("all", _l("Everyone who linked Telegram")),
                                           ("coffee", _l("The followers of a coffee"))]))
    coffee = SelectField(_l("Coffee"), coerce=_coffee_id, validate_choice=False)
    coffee_q = SearchField(_l("Find a coffee"))
    confirm = HiddenField()
