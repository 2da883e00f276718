"""Read models: what the coffee page and a profile show, as plain data.

Routes, the bot and a JSON API share them. They take ids and plain values (never
the request or ``current_user``) and return dataclasses; the models inside are
read-only data with everything the pages show already loaded.
"""
from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_sqlalchemy.pagination import Pagination

from webapp.extensions import db
from webapp.models import Coffee, Review, User
from webapp.services import Forbidden, NotFound
from webapp.services import coffees as coffee_service
from webapp.services import reviews as review_service
from webapp.services import users as user_service
from webapp.services.reviews import BrewAverage

# Pages past any real list; a bigger number is this one (and shows nothing).
PAGE_MAX = 10_000


@dataclass(frozen=True)
class CoffeePage:
    """A coffee with its summaries, one page of its reviews and what the viewer may do."""

    coffee: Coffee
    brews: list[BrewAverage]
    flavours: dict
    reviews: Pagination
    review_sort: str
    mine: Review | None
    can_edit: bool
    can_delete: bool


@dataclass(frozen=True)
class ProfilePage:
    """A user with their review stats and one page of their reviews."""

    user: User
    stats: dict
    reviews: Pagination


def clamp_page(page: int | None) -> int:
    return max(1, min(page or 1, PAGE_MAX))


def coffee_page(coffee_id: int, viewer_id: int | None = None, sort: str | None = "newest",
                page: int | None = 1, per_page: int | None = None) -> CoffeePage:
    """Everything the coffee page shows, in a fixed number of queries.

    An unknown ``sort`` is "newest"; ``page`` is clamped to 1..PAGE_MAX.

    :raise NotFound: unknown coffee.
    """
    coffee = coffee_service.get_coffee(coffee_id, details=True)
    sort = sort if sort in review_service.SORTS else "newest"
    per_page = per_page or current_app.config["REVIEWS_PER_PAGE"]
    # The request has loaded its user already: this is the session's identity map.
    viewer = db.session.get(User, viewer_id) if viewer_id is not None else None
    # Before the list: own_review reloads the viewer's review, which would drop the
    # author the list loads with it.
    mine = review_service.own_review(coffee.id, viewer_id)
    return CoffeePage(
        coffee=coffee,
        brews=review_service.brew_averages(coffee.id),
        flavours=review_service.flavour_report(coffee),
        reviews=review_service.coffee_reviews(coffee.id, sort, clamp_page(page), per_page),
        review_sort=sort,
        mine=mine,
        can_edit=coffee_service.can_edit(coffee, viewer),
        can_delete=coffee_service.can_delete(viewer),
    )


def editable_coffee(coffee_id: int, viewer_id: int) -> Coffee:
    """The coffee for its edit form.

    :raise NotFound: unknown coffee. :raise Forbidden: neither its creator nor a moderator.
    """
    coffee = coffee_service.get_coffee(coffee_id)
    if not coffee_service.can_edit(coffee, db.session.get(User, viewer_id)):
        raise Forbidden(_l("You cannot edit this coffee."))
    return coffee


def profile_page(username: str, page: int | None = 1, per_page: int | None = None) -> ProfilePage:
    """A user's profile: who they are, their stats, one page of their reviews.

    :raise NotFound: when there is no such user.
    """
    user = user_service.find_by_username(username)
    if user is None:
        raise NotFound(_l("No such user."))
    per_page = per_page or current_app.config["REVIEWS_PER_PAGE"]
    return ProfilePage(
        user=user,
        stats=review_service.user_stats(user.id),
        reviews=review_service.user_reviews(user.id, clamp_page(page), per_page),
    )
