"""The review form."""
from flask_babel import lazy_gettext as _l
from wtforms import RadioField, SelectField, SelectMultipleField, TextAreaField
from wtforms.validators import InputRequired, Length

from webapp import flavours
from webapp.forms import Form, options
from webapp.models import BREW_METHODS
from webapp.models.coffee import TEXT_MAX

RATINGS = [f"{n / 2:g}" for n in range(1, 11)]


class ReviewForm(Form):
    rating = RadioField(_l("Your rating"), choices=options((r, r) for r in RATINGS),
                        validators=[InputRequired(message=_l("Choose a rating from 0.5 to 5 stars."))])
    # Starts empty: an untouched select must not send its first method.
    brew_method = SelectField(
        _l("Brewed with"),
        choices=options([("", _l("Choose a brew method…")), *BREW_METHODS.items()]),
        validators=[InputRequired(message=_l("Choose a brew method."))])
    tags = SelectMultipleField(_l("Flavours you found"), choices=options(flavours.choices()),
                               description=_l("Up to %(n)d.", n=flavours.MAX_TAGS))
    body = TextAreaField(_l("Your notes"), validators=[Length(max=TEXT_MAX)],
                         description=_l("Plain text, up to %(n)d characters.", n=TEXT_MAX),
                         render_kw={"rows": 4, "maxlength": TEXT_MAX})

    def fill(self, review) -> None:
        """Start from the user's existing review."""
        self.rating.data = f"{review.stars:g}"
        self.brew_method.data = review.brew_method
        self.tags.data = review.tags
        self.body.data = review.body
