"""The coffee catalog: adding, editing, deleting and finding coffees."""
import difflib
import re
from dataclasses import dataclass, field, replace

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from webapp import countries, flavours
from webapp.extensions import db
from webapp.models import PROCESSES, ROASTS, Coffee, CoffeeNote, User
from webapp.models.coffee import ALTITUDE_MAX, NAME_MAX, TEXT_MAX
from webapp.services import Forbidden, NotFound, ServiceError, contains_pattern

MAX_NOTES = 8
SORTS = ("top", "reviews", "newest", "name")
MIN_RATINGS = (3.0, 3.5, 4.0, 4.5)


class DuplicateCoffee(ServiceError):
    """The same roaster already has a coffee by this name; ``existing`` is it."""

    def __init__(self, existing: Coffee) -> None:
        super().__init__(_l("This coffee is already in the catalog."), field="name")
        self.existing = existing


@dataclass
class CoffeeData:
    """The fields a person fills in for a coffee."""

    name: str
    roaster: str
    origin: str
    process: str
    roast: str
    region: str = ""
    producer: str = ""
    variety: str = ""
    altitude: int | None = None
    notes: list[str] = field(default_factory=list)
    description: str = ""


def dedupe_key(roaster: str, name: str) -> str:
    """Roaster and name compared ignoring case and spaces."""
    squash = lambda s: re.sub(r"\s+", "", s).casefold()  # noqa: E731
    return f"{squash(roaster)}|{squash(name)}"


def _words(text: str) -> list[str]:
    return re.sub(r"[\W_]+", " ", text.lower()).split()


def search_text(data: CoffeeData | Coffee) -> str:
    """Lowercase words with a leading space each, so ``LIKE '% et%'`` finds word starts."""
    parts = [data.name, data.roaster, data.region, data.producer, data.variety,
             countries.search_words(data.origin), flavours.search_words(data.notes)]
    return " " + " ".join(_words(" ".join(parts)))


def _word_start(word: str):
    """A LIKE on the search column matching a word that starts with ``word``.

    (Measured: SQLite's instr() is slower than this LIKE on the bench data.)
    """
    return Coffee.search_text.like("% " + contains_pattern(word)[1:], escape="\\")


def clean(data: CoffeeData) -> CoffeeData:
    """Trim and check every field.

    :raise ServiceError: naming the first field that is missing or invalid.
    """
    text = {k: (getattr(data, k) or "").strip()
            for k in ("name", "roaster", "region", "producer", "variety")}
    description = (data.description or "").strip().replace("\r\n", "\n")
    for key in ("name", "roaster"):
        if not text[key]:
            raise ServiceError(_l("This field is required."), field=key)
    for key, value in text.items():
        if len(value) > NAME_MAX:
            raise ServiceError(_l("At most %(n)d characters.", n=NAME_MAX), field=key)
    if len(description) > TEXT_MAX:
        raise ServiceError(_l("At most %(n)d characters.", n=TEXT_MAX), field="description")
    if not countries.is_country(data.origin or ""):
        raise ServiceError(_l("Choose a country."), field="origin")
    if data.process not in PROCESSES:
        raise ServiceError(_l("Choose a process."), field="process")
    if data.roast not in ROASTS:
        raise ServiceError(_l("Choose a roast level."), field="roast")
    if data.altitude is not None and not 0 <= data.altitude <= ALTITUDE_MAX:
        raise ServiceError(_l("Between 0 and %(n)d metres.", n=ALTITUDE_MAX), field="altitude")
    notes = list(dict.fromkeys(data.notes or []))
    if any(flavours.get(n) is None for n in notes):
        raise ServiceError(_l("Unknown flavour."), field="notes")
    if len(notes) > MAX_NOTES:
        raise ServiceError(_l("At most %(n)d notes.", n=MAX_NOTES), field="notes")
    return replace(data, **text, description=description, notes=notes)


def get_coffee(coffee_id: int, details: bool = False) -> Coffee:
    """The coffee with its notes (and who added it, with ``details``).

    :raise NotFound: when there is no such coffee.
    """
    options = [selectinload(Coffee.note_links)]
    if details:
        options.append(joinedload(Coffee.added_by))
    coffee = db.session.scalar(select(Coffee).where(Coffee.id == coffee_id).options(*options))
    if coffee is None:
        raise NotFound(_l("No such coffee."))
    return coffee


def find_duplicate(roaster: str, name: str, exclude_id: int | None = None) -> Coffee | None:
    stmt = select(Coffee).where(Coffee.dedupe_key == dedupe_key(roaster, name))
    if exclude_id is not None:
        stmt = stmt.where(Coffee.id != exclude_id)
    return db.session.scalar(stmt)


def similar_coffees(name: str, roaster: str = "", limit: int = 5) -> list[Coffee]:
    """Coffees whose name looks like ``name``, best first, for "did you mean?"."""
    words = [w for w in _words(name) if len(w) >= 3][:4]
    if not words:
        return []
    like = [_word_start(w) for w in words]
    candidates = db.session.scalars(select(Coffee).where(or_(*like)).limit(200)).all()
    target = f"{roaster} {name}".lower().strip()

    def score(c: Coffee) -> float:
        return difflib.SequenceMatcher(None, target, f"{c.roaster} {c.name}".lower()).ratio()

    ranked = sorted(((score(c), c) for c in candidates), key=lambda p: -p[0])
    return [c for s, c in ranked if s >= 0.45][:limit]


def create_coffee(user_id: int, data: CoffeeData) -> Coffee:
    """Add a coffee to the catalog.

    :raise ServiceError: on invalid fields. :raise DuplicateCoffee: when it exists.
    """
    data = clean(data)
    existing = find_duplicate(data.roaster, data.name)
    if existing is not None:
        raise DuplicateCoffee(existing)
    coffee = Coffee(added_by_id=user_id, note_links=[])
    _assign(coffee, data)
    db.session.add(coffee)
    _commit_unique(data)
    return get_coffee(coffee.id)


def update_coffee(coffee_id: int, acting_user_id: int, data: CoffeeData) -> Coffee:
    """Change a coffee's fields; its ratings stay.

    :raise NotFound: unknown coffee. :raise Forbidden: not the creator nor a moderator.
    :raise ServiceError: invalid fields. :raise DuplicateCoffee: renamed onto another.
    """
    coffee = get_coffee(coffee_id)
    if not can_edit(coffee, _user(acting_user_id)):
        raise Forbidden(_l("You cannot edit this coffee."))
    data = clean(data)
    existing = find_duplicate(data.roaster, data.name, exclude_id=coffee.id)
    if existing is not None:
        raise DuplicateCoffee(existing)
    _assign(coffee, data)
    _commit_unique(data)
    return get_coffee(coffee.id)


def delete_coffee(coffee_id: int, acting_user_id: int) -> None:
    """Delete a coffee with its reviews.

    :raise NotFound: unknown coffee. :raise Forbidden: not a moderator.
    """
    coffee = db.session.get(Coffee, coffee_id)
    if coffee is None:
        raise NotFound(_l("No such coffee."))
    if not can_delete(_user(acting_user_id)):
        raise Forbidden(_l("Only moderators can delete coffees."))
    db.session.delete(coffee)
    db.session.commit()


def can_edit(coffee: Coffee, user) -> bool:
    return bool(user and user.is_authenticated
                and (user.is_moderator or user.id == coffee.added_by_id))


def can_delete(user) -> bool:
    return bool(user and user.is_authenticated and user.is_moderator)


def _user(user_id: int) -> User | None:
    return db.session.get(User, user_id)


def _assign(coffee: Coffee, data: CoffeeData) -> None:
    for key in ("name", "roaster", "origin", "region", "producer", "variety", "process",
                "roast", "altitude", "description"):
        setattr(coffee, key, getattr(data, key))
    coffee.dedupe_key = dedupe_key(data.roaster, data.name)
    coffee.search_text = search_text(data)
    old = {link.tag: link for link in coffee.note_links}
    coffee.note_links = [old.get(tag) or CoffeeNote(tag=tag) for tag in data.notes]
    for position, link in enumerate(coffee.note_links):
        link.position = position


def _commit_unique(data: CoffeeData) -> None:
    try:
        db.session.commit()
    except IntegrityError:  # someone added the same coffee a moment ago
        db.session.rollback()
        existing = find_duplicate(data.roaster, data.name)
        if existing is None:
            raise
        raise DuplicateCoffee(existing) from None


@dataclass
class CatalogQuery:
    """What the catalog shows: search words, filters, sort and page."""

    q: str = ""
    origin: str = ""
    process: str = ""
    roast: str = ""
    flavour: str = ""
    min_rating: float | None = None
    sort: str = "top"
    page: int = 1

    def cleaned(self) -> "CatalogQuery":
        """The same query with unknown values dropped (URLs are typed by hand too)."""
        return CatalogQuery(
            q=" ".join((self.q or "").split())[:100],
            origin=self.origin if countries.is_country(self.origin or "") else "",
            process=self.process if self.process in PROCESSES else "",
            roast=self.roast if self.roast in ROASTS else "",
            flavour=self.flavour if flavours.get(self.flavour or "") else "",
            min_rating=self.min_rating if self.min_rating in MIN_RATINGS else None,
            sort=self.sort if self.sort in SORTS else "top",
            page=max(1, min(self.page or 1, 10_000)),
        )

    def args(self, **changes) -> dict:
        """Non-empty values as URL arguments (the first page and default sort omitted)."""
        values = {**self.__dict__, **changes}
        if values["min_rating"] is not None:
            values["min_rating"] = f"{values['min_rating']:g}"
        return {k: v for k, v in values.items()
                if v not in ("", None) and not (k == "page" and v == 1)
                and not (k == "sort" and v == "top")}


def search_catalog(query: CatalogQuery, per_page: int):
    """One page of coffees; a fixed number of queries whatever the page size."""
    stmt = select(Coffee).options(selectinload(Coffee.note_links))
    for word in _words(query.q)[:8]:
        stmt = stmt.where(_word_start(word))
    if query.origin:
        stmt = stmt.where(Coffee.origin == query.origin)
    if query.process:
        stmt = stmt.where(Coffee.process == query.process)
    if query.roast:
        stmt = stmt.where(Coffee.roast == query.roast)
    if query.flavour:
        tagged = select(CoffeeNote.coffee_id).where(
            CoffeeNote.tag.in_(sorted(flavours.subtree(query.flavour))))
        stmt = stmt.where(Coffee.id.in_(tagged))
    if query.min_rating is not None:
        stmt = stmt.where(Coffee.rating_mean >= query.min_rating)
    stmt = stmt.order_by(*_ORDER[query.sort])
    return db.paginate(stmt, page=query.page, per_page=per_page, error_out=False)


_ORDER = {
    # Unranked coffees have rating_bayes 0 and so come after every ranked one.
    "top": (Coffee.rating_bayes.desc(), Coffee.rating_count.desc(), Coffee.id.desc()),
    "reviews": (Coffee.rating_count.desc(), Coffee.id.desc()),
    "newest": (Coffee.created_at.desc(), Coffee.id.desc()),
    "name": (func.lower(Coffee.name), Coffee.id),
}


def top_rated(limit: int) -> list[Coffee]:
    stmt = (select(Coffee).where(Coffee.rating_bayes > 0).options(selectinload(Coffee.note_links))
            .order_by(*_ORDER["top"]).limit(limit))
    return list(db.session.scalars(stmt))


def newest(limit: int) -> list[Coffee]:
    stmt = select(Coffee).options(selectinload(Coffee.note_links)).order_by(*_ORDER["newest"])
    return list(db.session.scalars(stmt.limit(limit)))
