"""Writing, editing and deleting reviews, and the lists of them."""
from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from webapp import htmx
from webapp.reviews.page import coffee_page_context
from webapp.forms import show_service_error
from webapp.reviews import bp
from webapp.reviews.forms import ReviewForm
from webapp.services import ServiceError, pages
from webapp.services import reviews as review_service

PAGE = "coffees/show.html"


@bp.get("/coffees/<int:coffee_id>/reviews")
def for_coffee(coffee_id: int):
    """One page of a coffee's reviews, newest or highest first.

    :raise 404: unknown coffee.
    """
    context = coffee_page_context(coffee_id)
    return htmx.render(PAGE, "reviews/_list.html", **context)


@bp.post("/coffees/<int:coffee_id>/reviews")
@login_required
def save(coffee_id: int):
    """Write or rewrite the current user's review.

    htmx gets the review and, out of band, the new rating summary and list.

    :raise 404: unknown coffee. :raise 422: invalid input, nothing saved.
    """
    form = ReviewForm()
    if not form.validate():
        return _invalid(coffee_id, form)
    try:
        _review, created = review_service.save_review(
            coffee_id, current_user.id, form.rating.data, form.brew_method.data,
            list(form.tags.data or []), form.body.data or "")
    except ServiceError as err:
        show_service_error(form, err)
        return _invalid(coffee_id, form)
    if htmx.is_fragment_request():
        return htmx.render(PAGE, "reviews/_saved.html",
                           **coffee_page_context(coffee_id, editing=False, saved=True))
    flash(_("Thank you for your review.") if created else _("Your review is updated."), "success")
    return htmx.see_other(url_for("coffees.show", coffee_id=coffee_id) + "#my-review")


@bp.get("/coffees/<int:coffee_id>/review/edit")
@login_required
def edit(coffee_id: int):
    """The user's review as a form again.

    :raise 404: unknown coffee.
    """
    context = coffee_page_context(coffee_id, editing=True)
    return htmx.render(PAGE, "reviews/_my_review.html", **context)


@bp.post("/reviews/<int:review_id>/delete")
@login_required
def delete(review_id: int):
    """Delete a review: its author, or a moderator.

    :raise 404: unknown review. :raise 403: someone else's review.
    """
    coffee_id = review_service.delete_review(review_id, current_user.id)
    if htmx.is_fragment_request():
        return htmx.render(PAGE, "reviews/_saved.html", **coffee_page_context(coffee_id))
    flash(_("The review is deleted."), "info")
    return htmx.see_other(url_for("coffees.show", coffee_id=coffee_id) + "#reviews")


@bp.get("/users/<username>/reviews")
def by_user(username: str):
    """One page of a user's reviews; the full render is their profile.

    :raise 404: unknown user.
    """
    profile = pages.profile_page(username, request.args.get("page", 1, type=int))
    return htmx.render("profiles/show.html", "reviews/_user_reviews.html", **vars(profile))


def _invalid(coffee_id: int, form: ReviewForm):
    context = coffee_page_context(coffee_id, form=form, editing=True)
    return htmx.render(PAGE, "reviews/_my_review.html", status=422, **context)
