"""The chat's forms, for the pages without JavaScript (the socket takes JSON frames)."""
from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, TextAreaField

from webapp.forms import Form
from webapp.models.chat import MESSAGE_MAX


class MessageForm(Form):
    """The body is checked by the chat service (webapp.services.chat.clean_body)."""
    body = TextAreaField(_l("Your message"),
                         render_kw={"rows": 2, "maxlength": MESSAGE_MAX, "required": True})
    reply_to = HiddenField()


class EditForm(Form):
    body = TextAreaField(_l("Message"),
                         render_kw={"rows": 3, "maxlength": MESSAGE_MAX, "required": True})
