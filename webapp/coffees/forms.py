"""The catalog's search form and the coffee form."""
from flask_babel import lazy_gettext as _l
from wtforms import (IntegerField, SearchField, SelectField, SelectMultipleField, StringField,
                     TextAreaField)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from webapp import countries, flavours
from webapp.forms import Form, options
from webapp.models import PROCESSES, ROASTS
from webapp.models.coffee import ALTITUDE_MAX, NAME_MAX, TEXT_MAX
from webapp.services.coffees import MAX_NOTES, CatalogQuery, CoffeeData

SORT_LABELS = {"top": _l("Top rated"), "reviews": _l("Most reviewed"), "newest": _l("Newest"),
               "name": _l("Name")}


class CatalogForm(Form):
    """Only renders the GET form; the route reads the arguments through CatalogQuery."""

    class Meta:
        csrf = False

    q = SearchField(_l("Search"), render_kw={
        "placeholder": _l("Name, roaster, origin or flavour"), "autocomplete": "off"})
    origin = SelectField(_l("Origin"))
    # "process" would hide Form.process(); the field keeps the name in the HTML.
    process_ = SelectField(_l("Process"), name="process")
    roast = SelectField(_l("Roast"))
    flavour = SelectField(_l("Flavour"))
    min_rating = SelectField(_l("Rating"))
    sort = SelectField(_l("Sort by"), choices=options(SORT_LABELS.items()))

    def __init__(self, query: CatalogQuery) -> None:
        data = {**query.__dict__, "process_": query.process,
                "min_rating": query.args().get("min_rating", "")}
        super().__init__(formdata=None, data=data)
        self.origin.choices = options([("", _l("Any origin")), *countries.choices()])
        self.process_.choices = options([("", _l("Any process")), *PROCESSES.items()])
        self.roast.choices = options([("", _l("Any roast")), *ROASTS.items()])
        self.flavour.choices = options([("", _l("Any flavour")), *flavour_choices()])
        self.min_rating.choices = options([("", _l("Any rating")), ("3", "3+ ★"), ("3.5", "3.5+ ★"),
                                           ("4", "4+ ★"), ("4.5", "4.5+ ★")])


def flavour_choices() -> list[tuple[str, str]]:
    """Flat choices indented by depth, for one select."""
    return [(slug, "\u2003" * node.depth + str(node.label))
            for slug, node in flavours.FLAVOURS.items()]


class CoffeeForm(Form):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=NAME_MAX)],
                       render_kw={"autocomplete": "off"})
    roaster = StringField(_l("Roaster"), validators=[DataRequired(), Length(max=NAME_MAX)],
                          render_kw={"autocomplete": "off"})
    origin = SelectField(_l("Origin country"), validators=[DataRequired()])
    region = StringField(_l("Region"), validators=[Optional(), Length(max=NAME_MAX)])
    producer = StringField(_l("Farm or producer"), validators=[Optional(), Length(max=NAME_MAX)])
    variety = StringField(_l("Variety"), validators=[Optional(), Length(max=NAME_MAX)],
                          description=_l("For example Heirloom, SL28, Gesha, Bourbon."))
    # Optional: left at "Not stated", they are stored as unknown (NULL), never guessed.
    process_ = SelectField(_l("Process"), name="process",
                           choices=options([("", _l("Not stated")), *PROCESSES.items()]))
    roast = SelectField(_l("Roast level"),
                        choices=options([("", _l("Not stated")), *ROASTS.items()]))
    altitude = IntegerField(_l("Altitude (metres)"),
                            validators=[Optional(), NumberRange(0, ALTITUDE_MAX)])
    notes = SelectMultipleField(_l("Roaster's tasting notes"), choices=options(flavours.choices()),
                                description=_l("Up to %(n)d flavours from the bag.", n=MAX_NOTES))
    description = TextAreaField(_l("Description"), validators=[Length(max=TEXT_MAX)],
                                render_kw={"rows": 4})

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.origin.choices = options([("", _l("Choose a country…")), *countries.choices()])

    def to_data(self) -> CoffeeData:
        return CoffeeData(
            name=self.name.data or "", roaster=self.roaster.data or "",
            origin=self.origin.data or "", process=self.process_.data or "",
            roast=self.roast.data or "", region=self.region.data or "",
            producer=self.producer.data or "", variety=self.variety.data or "",
            altitude=self.altitude.data, notes=list(self.notes.data or []),
            description=self.description.data or "")
