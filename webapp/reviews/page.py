"""The coffee page's template context: its read model and the viewer's review form.

The coffee routes and the review routes (which answer with parts of that page) share
it; the data comes from webapp.services.pages. It lives beside the review form it
builds, so that importing it never imports a half-loaded route module.
"""
from flask import request
from flask_login import current_user

from webapp.reviews.forms import ReviewForm
from webapp.services import pages


def coffee_page_context(coffee_id: int, form: ReviewForm | None = None,
                        editing: bool | None = None, saved: bool = False) -> dict:
    """The page for the current viewer, sorted and paged as the URL says.

    ``form`` is the review form to show (a refused one, with its errors); by default
    the viewer's review, if any, fills it. The form is open for editing when the
    viewer has no review yet, unless ``editing`` says otherwise.

    :raise NotFound: unknown coffee.
    """
    viewer_id = current_user.id if current_user.is_authenticated else None
    page = pages.coffee_page(coffee_id, viewer_id, request.args.get("sort"),
                             request.args.get("page", 1, type=int))
    if form is None:
        form = ReviewForm(formdata=None)
        if page.mine is not None:
            form.fill(page.mine)
    return {
        **vars(page),
        "review_form": form,
        "editing": bool(editing) if editing is not None else page.mine is None,
        "saved": saved,
    }

