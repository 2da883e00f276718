"""Reviews, and the rating aggregates they keep on each coffee."""
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import Float, case, cast, distinct, func, literal, select, true, update
from sqlalchemy.orm import selectinload

from webapp import events, flavours
from webapp.extensions import db
from webapp.models import BREW_METHODS, Coffee, Review, ReviewTag, User
from webapp.models.base import utcnow
from webapp.models.coffee import TEXT_MAX
from webapp.services import Forbidden, NotFound, ServiceError

SORTS = ("newest", "highest")
coffees = Coffee.__table__


def half_stars(rating) -> int:
    """Stars (0.5 to 5 in half steps, as number or text) to half-stars 1..10.

    :raise ServiceError: for anything else.
    """
    try:
        value = Decimal(str(rating).strip()) * 2
    except (InvalidOperation, ValueError):
        value = Decimal("NaN")
    if not value.is_finite() or value != value.to_integral_value() or not 1 <= value <= 10:
        raise ServiceError(_l("Choose a rating from 0.5 to 5 stars."), field="rating")
    return int(value)


def save_review(coffee_id: int, user_id: int, rating, brew_method: str,
                tags: list[str], body: str) -> tuple[Review, bool]:
    """Write the user's review of a coffee, or change it if they wrote one.

    Returns the review and whether it is new. The coffee's aggregates change in the
    same transaction.

    :raise NotFound: unknown coffee. :raise ServiceError: invalid values, nothing saved.
    """
    value = half_stars(rating)
    if brew_method not in BREW_METHODS:
        raise ServiceError(_l("Choose a brew method."), field="brew_method")
    tags = list(dict.fromkeys(tags or []))
    if any(flavours.get(t) is None for t in tags):
        raise ServiceError(_l("Unknown flavour."), field="tags")
    if len(tags) > flavours.MAX_TAGS:
        raise ServiceError(_l("At most %(n)d flavours.", n=flavours.MAX_TAGS), field="tags")
    body = (body or "").strip().replace("\r\n", "\n")
    if len(body) > TEXT_MAX:
        raise ServiceError(_l("At most %(n)d characters.", n=TEXT_MAX), field="body")
    _lock_coffee(coffee_id)
    review = own_review(coffee_id, user_id)
    created = review is None
    if created:
        review = Review(coffee_id=coffee_id, user_id=user_id, tag_links=[])
        db.session.add(review)
    review.rating, review.brew_method, review.body = value, brew_method, body
    kept = {link.tag: link for link in review.tag_links}
    review.tag_links = [kept.get(t) or ReviewTag(tag=t, coffee_id=coffee_id) for t in tags]
    for position, link in enumerate(review.tag_links):
        link.position = position
    db.session.flush()
    _refresh_aggregates(coffee_id)
    events.record(events.review_saved, coffee_id=coffee_id, review_id=review.id,
                  user_id=user_id, created=created)
    db.session.commit()
    return own_review(coffee_id, user_id), created


def delete_review(review_id: int, acting_user_id: int) -> int:
    """Delete a review; returns its coffee's id.

    :raise NotFound: unknown review. :raise Forbidden: neither the author nor a moderator.
    """
    review = db.session.get(Review, review_id)
    if review is None:
        raise NotFound(_l("No such review."))
    coffee_id = review.coffee_id
    _lock_coffee(coffee_id)
    # Read again under the lock: a parallel request may have deleted it meanwhile.
    review = db.session.scalar(select(Review).where(Review.id == review_id)
                               .execution_options(populate_existing=True))
    if review is None:
        raise NotFound(_l("No such review."))
    if not can_delete(review, db.session.get(User, acting_user_id)):
        raise Forbidden(_l("You cannot delete this review."))
    author_id = review.user_id
    db.session.delete(review)
    db.session.flush()
    _refresh_aggregates(coffee_id)
    events.record(events.review_deleted, coffee_id=coffee_id, review_id=review_id,
                  user_id=author_id)
    db.session.commit()
    return coffee_id


def can_delete(review: Review, user) -> bool:
    return bool(user and user.is_authenticated
                and (user.id == review.user_id or user.is_moderator))


def own_review(coffee_id: int, user_id: int | None) -> Review | None:
    if user_id is None:
        return None
    stmt = (select(Review).where(Review.coffee_id == coffee_id, Review.user_id == user_id)
            .options(selectinload(Review.tag_links))
            .execution_options(populate_existing=True))
    return db.session.scalar(stmt)


def coffee_reviews(coffee_id: int, sort: str, page: int, per_page: int):
    order = ((Review.rating.desc(), Review.created_at.desc(), Review.id.desc())
             if sort == "highest" else (Review.created_at.desc(), Review.id.desc()))
    stmt = (select(Review).where(Review.coffee_id == coffee_id).order_by(*order)
            .options(selectinload(Review.user), selectinload(Review.tag_links)))
    return db.paginate(stmt, page=page, per_page=per_page, error_out=False)


def user_reviews(user_id: int, page: int, per_page: int):
    stmt = (select(Review).where(Review.user_id == user_id)
            .order_by(Review.created_at.desc(), Review.id.desc())
            .options(selectinload(Review.coffee), selectinload(Review.tag_links)))
    return db.paginate(stmt, page=page, per_page=per_page, error_out=False)


def latest_reviews(limit: int) -> list[Review]:
    stmt = (select(Review).order_by(Review.created_at.desc(), Review.id.desc()).limit(limit)
            .options(selectinload(Review.user), selectinload(Review.coffee),
                     selectinload(Review.tag_links)))
    return list(db.session.scalars(stmt))


@dataclass
class BrewAverage:
    method: str
    count: int
    mean: float

    @property
    def label(self) -> str:
        return BREW_METHODS.label(self.method)


def brew_averages(coffee_id: int) -> list[BrewAverage]:
    """Mean rating per brew method, most used first (one query on an index)."""
    stmt = (select(Review.brew_method, func.count(), func.avg(Review.rating))
            .where(Review.coffee_id == coffee_id).group_by(Review.brew_method)
            .order_by(func.count().desc(), Review.brew_method))
    return [BrewAverage(m, n, float(avg) / 2) for m, n, avg in db.session.execute(stmt)]


@dataclass
class FlavourShare:
    tag: str
    count: int
    percent: int
    on_bag: bool = False


def flavour_report(coffee: Coffee, community_limit: int = 10) -> dict:
    """What tasters found against what the bag says, in two queries.

    A bag note counts as found when a taster tagged it or a flavour below it
    (the bag says "berry", the taster found "blueberry").
    """
    review_id = ReviewTag.review_id
    columns = [func.count(distinct(review_id))]
    for note in coffee.notes:
        found = ReviewTag.tag.in_(sorted(flavours.subtree(note)))
        columns.append(func.count(distinct(case((found, review_id)))))
    row = db.session.execute(select(*columns).where(ReviewTag.coffee_id == coffee.id)).one()
    tasters = row[0]
    pct = lambda n: round(100 * n / tasters) if tasters else 0  # noqa: E731
    bag = [FlavourShare(note, n, pct(n), True) for note, n in zip(coffee.notes, row[1:])]
    counts = db.session.execute(
        select(ReviewTag.tag, func.count()).where(ReviewTag.coffee_id == coffee.id)
        .group_by(ReviewTag.tag).order_by(func.count().desc(), ReviewTag.tag)
        .limit(community_limit)).all()
    community = [FlavourShare(tag, n, pct(n), tag in coffee.notes) for tag, n in counts]
    return {"tasters": tasters, "bag": bag, "community": community}


def user_stats(user_id: int) -> dict:
    """Reviews written, average rating given, top origins and favourite brew method."""
    count, avg = db.session.execute(
        select(func.count(), func.avg(Review.rating)).where(Review.user_id == user_id)).one()
    origins = db.session.execute(
        select(Coffee.origin, func.count()).select_from(Review)
        .join(Coffee, Coffee.id == Review.coffee_id)
        .where(Review.user_id == user_id).group_by(Coffee.origin)
        .order_by(func.count().desc(), Coffee.origin).limit(3)).all()
    brew = db.session.execute(
        select(Review.brew_method, func.count()).where(Review.user_id == user_id)
        .group_by(Review.brew_method).order_by(func.count().desc(), Review.brew_method)
        .limit(1)).first()
    return {
        "reviews": count,
        "average": float(avg) / 2 if avg is not None else None,
        "origins": [(code, n) for code, n in origins],
        "brew_method": brew[0] if brew else None,
    }


# Aggregates -----------------------------------------------------------------

def _scores(count, total) -> dict:
    """Mean and Bayesian average (in stars) as SQL over a count and a half-star sum."""
    cfg = current_app.config
    prior_mean, weight = cfg["CATALOG_PRIOR_MEAN"], cfg["CATALOG_PRIOR_WEIGHT"]
    stars = cast(total, Float) / 2
    return {
        "rating_mean": case((count > 0, stars / count), else_=None),
        "rating_bayes": case((count >= cfg["CATALOG_MIN_RATINGS"],
                              (stars + prior_mean * weight) / (count + weight)), else_=0.0),
    }


def _lock_coffee(coffee_id: int) -> None:
    """Serialise every change to one coffee's reviews: the first write of the
    transaction marks the coffee changed (its cached card follows ``updated_at``) and
    holds its row lock, on SQLite the database's write lock, until the commit.

    :raise NotFound: unknown coffee.
    """
    result = db.session.execute(update(coffees).where(coffees.c.id == coffee_id)
                                .values(updated_at=utcnow()))
    if result.rowcount == 0:
        raise NotFound(_l("No such coffee."))


def _aggregates(coffee_ids=None):
    """What the reviews say, per coffee: count, half-star sum and histogram."""
    reviews = Review.__table__
    stmt = (select(reviews.c.coffee_id.label("coffee_id"), func.count().label("n"),
                   func.sum(reviews.c.rating).label("s"),
                   *[func.sum(case((reviews.c.rating == n, 1), else_=0)).label(f"h{n}")
                     for n in range(1, 11)])
            .group_by(reviews.c.coffee_id))
    if coffee_ids is not None:
        stmt = stmt.where(reviews.c.coffee_id.in_(coffee_ids))
    return stmt


def _refresh_aggregates(coffee_id: int) -> None:
    """Set the coffee's aggregates to what its reviews say, in two statements.

    Recomputed rather than moved by a delta: with the coffee locked
    (``_lock_coffee``) the reviews read here are every committed one, so no
    interleaving of creates, edits and deletes can count a change twice.
    """
    row = db.session.execute(_aggregates([coffee_id])).first()
    count = row.n if row else 0
    values = {"rating_count": count, "rating_sum": row.s if row else 0,
              **{f"hist_{n}": getattr(row, f"h{n}") if row else 0 for n in range(1, 11)}}
    values.update(_scores(literal(count), literal(values["rating_sum"])))
    db.session.execute(update(coffees).where(coffees.c.id == coffee_id).values(values))


def recompute_aggregates(coffee_ids: list[int] | None = None) -> None:
    """Rebuild every aggregate from the reviews with set-based SQL (seed and repairs)."""
    target = coffees.c.id.in_(coffee_ids) if coffee_ids is not None else true()
    zero = {"rating_count": 0, "rating_sum": 0, **{f"hist_{n}": 0 for n in range(1, 11)}}
    db.session.execute(update(coffees).where(target).values(zero))
    agg = _aggregates(coffee_ids).subquery()
    db.session.execute(
        update(coffees).where(coffees.c.id == agg.c.coffee_id).where(target)
        .values(rating_count=agg.c.n, rating_sum=agg.c.s,
                **{f"hist_{n}": agg.c[f"h{n}"] for n in range(1, 11)}))
    db.session.execute(update(coffees).where(target).values(
        _scores(coffees.c.rating_count, coffees.c.rating_sum)))
    events.record(events.ratings_recomputed, coffee_ids=coffee_ids)
    db.session.commit()


AGGREGATES = ("rating_count", "rating_sum", *(f"hist_{n}" for n in range(1, 11)))


@dataclass
class Drift:
    """A coffee whose stored aggregate differs from what its reviews say."""

    coffee_id: int
    name: str
    column: str
    stored: float | None
    expected: float | None


def rating_drift() -> list[Drift]:
    """Every stored aggregate that its reviews contradict; changes nothing."""
    agg = _aggregates().subquery()
    count, total = func.coalesce(agg.c.n, 0), func.coalesce(agg.c.s, 0)
    # The scores the reviews imply, by the same SQL that stores them.
    scores = {f"want_{name}": value for name, value in _scores(count, total).items()}
    stmt = (select(coffees.c.id, coffees.c.name, coffees.c.rating_mean, coffees.c.rating_bayes,
                   *[coffees.c[c] for c in AGGREGATES],
                   count.label("want_rating_count"), total.label("want_rating_sum"),
                   *[func.coalesce(agg.c[f"h{n}"], 0).label(f"want_hist_{n}")
                     for n in range(1, 11)],
                   *[value.label(name) for name, value in scores.items()])
            .select_from(coffees.outerjoin(agg, agg.c.coffee_id == coffees.c.id))
            .order_by(coffees.c.id))
    drift = []
    for row in db.session.execute(stmt).mappings():
        for column in (*AGGREGATES, "rating_mean", "rating_bayes"):
            have, want = row[column], row[f"want_{column}"]
            if not _same(have, want):
                drift.append(Drift(row["id"], row["name"], column, have, want))
    return drift


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) < 1e-9

