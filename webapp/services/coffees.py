"""The coffee catalog: adding, editing, deleting and finding coffees."""
import difflib
from dataclasses import dataclass, field, replace
from functools import lru_cache

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import bindparam, func, intersect, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from webapp import caches, countries, events, flavours
from webapp import searchtext
from webapp.extensions import db
from webapp.models import PROCESSES, ROASTS, Coffee, CoffeeNote, CoffeeTerm, User
from webapp.models.base import utcnow
from webapp.models.coffee import ALTITUDE_MAX, NAME_MAX, TERM_MAX, TEXT_MAX
from webapp.services import Forbidden, NotFound, ServiceError
from webapp.text import clean_name, compare_key, has_control, is_visible, normalise

MAX_NOTES = 8
SORTS = ("top", "reviews", "newest", "name")
MIN_RATINGS = (3.0, 3.5, 4.0, 4.5)
LEXICON_TTL = 60


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
    process: str | None  # None or "": unknown
    roast: str | None
    region: str = ""
    producer: str = ""
    variety: str = ""
    altitude: int | None = None
    notes: list[str] = field(default_factory=list)
    description: str = ""


def dedupe_key(roaster: str, name: str) -> str:
    """Roaster and name compared ignoring case, spaces and invisible characters
    (webapp.text), so that a zero-width space cannot make a second copy."""
    return f"{compare_key(roaster)}|{compare_key(name)}"


def _words(text: str) -> list[str]:
    """Stored words and query words alike: see webapp.searchtext."""
    return searchtext.words(text)


def search_text(data: CoffeeData | Coffee) -> str:
    """Normalised words of everything a search looks at, each with a leading space."""
    parts = [data.name, data.roaster, data.region, data.producer, data.variety,
             countries.search_words(data.origin), flavours.search_words(data.notes)]
    return " " + " ".join(_words(" ".join(parts)))


def search_terms(text: str) -> list[str]:
    """The distinct words of a search text, as stored in coffee_terms."""
    return sorted({word[:TERM_MAX] for word in text.split()})


def _prefix_range(word: str) -> tuple[str, str]:
    """The terms starting with ``word``: ``[word, upper)``.

    Terms compare byte-wise (see CoffeeTerm), so the prefix "et" is the range
    ["et", "eu"): the last character, incremented, bounds it.
    """
    word = word[:TERM_MAX]
    last = ord(word[-1])
    return word, word[:-1] + chr(last + 1) if last < 0x10FFFF else word + chr(last)


def _has_term(low, high):
    """Coffees with a term in ``[low, high)``: one range scan of coffee_terms."""
    return Coffee.id.in_(select(CoffeeTerm.coffee_id)
                         .where(CoffeeTerm.term >= low, CoffeeTerm.term < high))


def _has_terms(ranges):
    """Coffees with a term in each of ``ranges``: one scan of coffee_terms per range,
    intersected. (Collected one after another, PostgreSQL probed the primary key
    for each match of the first word, walking the second word's whole range each
    time: 15 ms for "ritual gran".)"""
    if len(ranges) == 1:
        return _has_term(*ranges[0])
    return Coffee.id.in_(intersect(*(select(CoffeeTerm.coffee_id).where(
        CoffeeTerm.term >= low, CoffeeTerm.term < high) for low, high in ranges)))


def _word_start(word: str):
    return _has_term(*_prefix_range(word))


def set_terms(coffee: Coffee) -> None:
    """Bring the coffee's rows in coffee_terms in line with its search text."""
    old = {link.term: link for link in coffee.term_links}
    coffee.term_links = [old.get(t) or CoffeeTerm(term=t) for t in search_terms(coffee.search_text)]


def clean(data: CoffeeData) -> CoffeeData:
    """Trim and check every field.

    :raise ServiceError: naming the first field that is missing or invalid.
    """
    names = ("name", "roaster", "region", "producer", "variety")
    for key in (*names, "description"):
        if has_control(getattr(data, key) or ""):
            raise ServiceError(_l("Remove the control characters."), field=key)
    text = {k: clean_name(getattr(data, k) or "") for k in names}
    description = normalise((data.description or "").strip().replace("\r\n", "\n"))
    for key in ("name", "roaster"):
        if not text[key]:
            raise ServiceError(_l("This field is required."), field=key)
        if not is_visible(text[key]):
            raise ServiceError(_l("Use at least one visible character."), field=key)
    for key, value in text.items():
        if len(value) > NAME_MAX:
            raise ServiceError(_l("At most %(n)d characters.", n=NAME_MAX), field=key)
    if len(description) > TEXT_MAX:
        raise ServiceError(_l("At most %(n)d characters.", n=TEXT_MAX), field="description")
    if not countries.is_country(data.origin or ""):
        raise ServiceError(_l("Choose a country."), field="origin")
    # Left empty, process and roast are unknown (None), never a guessed default.
    process, roast = data.process or None, data.roast or None
    if process is not None and process not in PROCESSES:
        raise ServiceError(_l("Choose a process."), field="process")
    if roast is not None and roast not in ROASTS:
        raise ServiceError(_l("Choose a roast level."), field="roast")
    if data.altitude is not None and not 0 <= data.altitude <= ALTITUDE_MAX:
        raise ServiceError(_l("Between 0 and %(n)d metres.", n=ALTITUDE_MAX), field="altitude")
    notes = list(dict.fromkeys(data.notes or []))
    if any(flavours.get(n) is None for n in notes):
        raise ServiceError(_l("Unknown flavour."), field="notes")
    if len(notes) > MAX_NOTES:
        raise ServiceError(_l("At most %(n)d notes.", n=MAX_NOTES), field="notes")
    return replace(data, **text, description=description, notes=notes, process=process,
                   roast=roast)


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
    # Compared as the search compares words: "Tarrazu" is as near as "Tarrazú".
    target = searchtext.normalise(f"{roaster} {name}")

    def score(c: Coffee) -> float:
        return difflib.SequenceMatcher(
            None, target, searchtext.normalise(f"{c.roaster} {c.name}")).ratio()

    ranked = sorted(((score(c), c) for c in candidates), key=lambda p: -p[0])
    return [c for s, c in ranked if s >= 0.45][:limit]


def suggest_query(query: "CatalogQuery") -> str | None:
    """For a search that found nothing, its words corrected from the catalog's own
    ("ethopia" gives "ethiopia"), when the corrected search finds something with
    the same filters; else None. Costs a count only when there is a correction."""
    corrected = search_lexicon().correct([w[:TERM_MAX] for w in _words(query.q)[:8]])
    if corrected is None:
        return None
    suggestion = " ".join(corrected)
    return suggestion if count_matches(replace(query, q=suggestion, page=1)) else None


def search_lexicon() -> searchtext.Lexicon:
    """The distinct words of coffee_terms with their counts, read at most once per
    LEXICON_TTL seconds in a process: a process suggests words added since
    then a little later, which a hint can afford."""
    cache = caches.app_cache("search_lexicon", 1, LEXICON_TTL)
    lexicon = cache.get("words")
    if lexicon is None:
        rows = db.session.execute(select(CoffeeTerm.term, func.count()).group_by(CoffeeTerm.term))
        lexicon = searchtext.Lexicon(dict(rows.all()))
        cache.put("words", lexicon)
    return lexicon


def create_coffee(user_id: int, data: CoffeeData) -> Coffee:
    """Add a coffee to the catalog.

    :raise ServiceError: on invalid fields. :raise DuplicateCoffee: when it exists.
    """
    data = clean(data)
    existing = find_duplicate(data.roaster, data.name)
    if existing is not None:
        raise DuplicateCoffee(existing)
    coffee = Coffee(added_by_id=user_id, note_links=[], term_links=[])
    _assign(coffee, data)
    db.session.add(coffee)
    _commit_unique(data, coffee, "created")
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
    _commit_unique(data, coffee, "updated")
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
    events.record(events.coffee_changed, coffee_id=coffee_id, action="deleted")
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
    # Set even when only the notes change: rendered cards are cached by it.
    coffee.updated_at = utcnow()
    coffee.search_text = search_text(data)
    set_terms(coffee)
    old = {link.tag: link for link in coffee.note_links}
    coffee.note_links = [old.get(tag) or CoffeeNote(tag=tag) for tag in data.notes]
    for position, link in enumerate(coffee.note_links):
        link.position = position


def _commit_unique(data: CoffeeData, coffee: Coffee, action: str) -> None:
    try:
        db.session.flush()
        events.record(events.coffee_changed, coffee_id=coffee.id, action=action)
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


class CatalogPage(Pagination):
    """A page of the catalog whose items are light rows: id and ``updated_at``.

    The cards are rendered from those (see webapp.coffees.cards), which load the
    full coffees only for cards not rendered before. The total comes from the
    count cache when it can (see ``count_matches``), or from the rows themselves
    when this is the last page.

    A total is counted up to ``cap`` + 1 at most: past ``cap`` it is ``capped``
    ("1,000+ coffees"), and the last page is not known. Pages up to the cap's
    exist; past them, the row after this page (read with it) says whether
    there is a next one.
    """

    def _query_items(self) -> list:
        query = self._query_args["query"]
        if _count_cache() is not None:
            # Read before the rows, so that a total seen in them may be kept under it.
            caches.catalog_version()
        shape, params = _shape(query)
        params.update(limit=self.per_page + 1, offset=self._query_offset)
        rows = db.session.connection().execute(_statement(shape, query.sort), params).all()
        self.more = len(rows) > self.per_page
        return rows[:self.per_page]

    def _query_count(self) -> int:
        self.cap = self._query_args["cap"]
        last = not self.more and (self.items or self.page == 1)
        # On the last page (read with the row after it) its end is the total.
        return count_matches(self._query_args["query"], self.cap,
                             self._query_offset + len(self.items) if last else None)

    @property
    def capped(self) -> bool:
        """Whether more than ``cap`` coffees match (the total is then ``cap`` + 1)."""
        return bool(self.cap) and self.total > self.cap

    @property
    def pages(self) -> int:
        """The number of pages, or when capped the last page known to exist."""
        pages = super().pages
        # A page past the end (no rows) adds nothing: the pager stays within the cap's.
        return max(pages, self.page + self.more) if self.capped and self.items else pages


def _shape(query: CatalogQuery) -> tuple[tuple, dict]:
    """Which conditions the query has (for each word, whether it is one letter),
    and their values as bound parameters."""
    words = _words(query.q)[:8]
    params = {}
    for i, word in enumerate(words):
        params[f"low{i}"], params[f"high{i}"] = _prefix_range(word)
    for name in ("origin", "process", "roast"):
        if getattr(query, name):
            params[name] = getattr(query, name)
    if query.flavour:
        params["tags"] = sorted(flavours.subtree(query.flavour))
    if query.min_rating is not None:
        params["min_rating"] = query.min_rating
    shape = (tuple(len(word) == 1 for word in words), *(name in params for name in
                                                         ("origin", "process", "roast",
                                                          "tags", "min_rating")))
    return shape, params


def _term_probe(low, high):
    """Whether this coffee has a term in ``[low, high)``: one probe of the
    (coffee_id, term) index per coffee, for a page that walks the sort's index."""
    return select(CoffeeTerm.coffee_id).where(
        CoffeeTerm.coffee_id == Coffee.id, CoffeeTerm.term >= low, CoffeeTerm.term < high
    ).exists()


@lru_cache(maxsize=None)
def _statement(shape: tuple, sort: str | None):
    """The page statement for a sort, the count (``sort=None``) or the count up to a
    cap (``sort="capped"``), for a query shape.

    Built once per shape with bound parameters, so a request only binds values:
    SQLAlchemy keeps each statement's cache key.

    The words' matches are collected (an INTERSECT of their ranges) and sorted,
    except a one-letter word's on a page or in a capped count: it matches most of
    the catalog, so the page walks the sort's index and probes each coffee,
    stopping after a page ("c": 20 ms to 0.02 ms on the bench's SQLite; over the
    typed searches, rows 1.27 to 0.81 ms CPU; no change on PostgreSQL). Longer
    words match few enough that collecting wins.
    """
    one_letter, origin, process, roast, tags, min_rating = shape
    probed = [i for i, short in enumerate(one_letter) if short and sort is not None]
    collected = [i for i in range(len(one_letter)) if i not in probed]
    conditions = [_term_probe(bindparam(f"low{i}"), bindparam(f"high{i}")) for i in probed]
    if collected:
        conditions.append(_has_terms([(bindparam(f"low{i}"), bindparam(f"high{i}"))
                                      for i in collected]))
    for present, column in ((origin, Coffee.origin), (process, Coffee.process),
                            (roast, Coffee.roast)):
        if present:
            conditions.append(column == bindparam(column.key))
    if tags:
        tagged = CoffeeNote.tag.in_(bindparam("tags", expanding=True))
        if sort in (None, "capped"):
            # Counting visits every tagged coffee: collect their ids once.
            conditions.append(Coffee.id.in_(select(CoffeeNote.coffee_id).where(tagged)))
        else:
            # A page walks the sort's index and stops after a page: probe per coffee.
            conditions.append(select(CoffeeNote.coffee_id).where(
                CoffeeNote.coffee_id == Coffee.id, tagged).exists())
    if min_rating:
        conditions.append(Coffee.rating_mean >= bindparam("min_rating"))
    if sort is None:
        return select(func.count()).select_from(Coffee).where(*conditions)
    if sort == "capped":
        # The database stops at the cap; a one-letter word is probed as on a page,
        # so "c" (nearly every coffee) reads a thousand coffees, not all of them.
        capped = select(Coffee.id).where(*conditions).limit(bindparam("cap"))
        return select(func.count()).select_from(capped.subquery())
    return (select(Coffee.id, Coffee.updated_at).where(*conditions).order_by(*_ORDER[sort])
            .limit(bindparam("limit")).offset(bindparam("offset")))


def search_catalog(query: CatalogQuery, per_page: int, cap: int = 0) -> CatalogPage:
    """One page of the catalog: one query for the rows, one for the count unless
    the count cache has it; whatever the page size. ``cap``: see ``count_matches``."""
    return CatalogPage(page=query.page, per_page=per_page, error_out=False, query=query,
                       cap=cap)


def count_matches(query: CatalogQuery, cap: int = 0, known: int | None = None) -> int:
    """How many coffees match the query's words and filters (sort and page aside),
    counting at most ``cap`` + 1 of them when ``cap`` is set: a search of one or
    two letters matches thousands, and nobody reads that far. ``known``: the
    total when the caller saw it (the rows of a last page, read after the
    request read the catalog version), used instead of counting.

    Counting visits every match, so totals are kept per process, keyed by the
    catalog version (webapp.caches) that every committed write bumps, in Redis
    when there is one: paging and re-sorting a search reuse its total, and a
    write through any process changes the key at once. CATALOG_COUNT_TTL bounds
    what writes outside the services leave behind. The rows of a page are never
    cached.
    """
    cache = _count_cache()
    version = caches.catalog_version() if cache is not None else None
    key = (version, query.q, query.origin, query.process, query.roast, query.flavour,
           query.min_rating, cap)
    total = cache.get(key) if version is not None else None
    if total is None:
        # The version is read before counting, so this total is at least as new as it.
        if known is None:
            total = _count(query, cap)
        else:  # the same total as a count's, whichever page someone opens first
            total = min(known, cap + 1) if cap else known
        if version is not None:
            cache.put(key, total)
    return total


def _count(query: CatalogQuery, cap: int) -> int:
    shape, params = _shape(query)
    if cap:
        params["cap"] = cap + 1
    return db.session.connection().execute(
        _statement(shape, "capped" if cap else None), params).scalar()


def _count_cache() -> caches.LockedCache | None:
    ttl = current_app.config["CATALOG_COUNT_TTL"]
    return caches.app_cache("catalog_counts", 1024, ttl) if ttl else None


def catalog_changed(app, **_event) -> None:
    """A new catalog version, so no process reuses a total or fragment computed
    before this commit (subscribed to the catalog's events)."""
    caches.bump_catalog_version(app)


def coffees_by_id(ids: list[int]) -> dict[int, Coffee]:
    """The coffees with these ids, with their notes, in two queries."""
    if not ids:
        return {}
    stmt = select(Coffee).where(Coffee.id.in_(ids)).options(selectinload(Coffee.note_links))
    return {coffee.id: coffee for coffee in db.session.scalars(stmt)}


@dataclass(slots=True)
class CardCoffee:
    """What a catalog card shows of a coffee (webapp.coffees.cards), loaded lean."""

    id: int
    name: str
    roaster: str
    origin: str
    region: str | None
    process: str | None
    roast: str | None
    rating_count: int
    rating_mean: float | None
    updated_at: object
    notes: list[str] = field(default_factory=list)


_CARD_COLUMNS = (Coffee.id, Coffee.name, Coffee.roaster, Coffee.origin, Coffee.region,
                 Coffee.process, Coffee.roast, Coffee.rating_count, Coffee.rating_mean,
                 Coffee.updated_at)
_CARD_COFFEES = select(*_CARD_COLUMNS).where(Coffee.id.in_(bindparam("ids", expanding=True)))
_CARD_NOTES = (select(CoffeeNote.coffee_id, CoffeeNote.tag)
               .where(CoffeeNote.coffee_id.in_(bindparam("ids", expanding=True)))
               .order_by(CoffeeNote.coffee_id, CoffeeNote.position))


def card_coffees(ids: list[int]) -> dict[int, CardCoffee]:
    """The card fields of the coffees with these ids, in two Core statements: no
    ORM objects to build, which halves loading the cards not rendered yet."""
    if not ids:
        return {}
    conn = db.session.connection()
    cards = {row[0]: CardCoffee(*row) for row in conn.execute(_CARD_COFFEES, {"ids": ids})}
    for coffee_id, tag in conn.execute(_CARD_NOTES, {"ids": ids}):
        card = cards.get(coffee_id)
        if card is not None:
            card.notes.append(tag)
    return cards


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
