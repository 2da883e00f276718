"""The coffee page's template context: its read model and the viewer's review form.

The coffee routes and the review routes (which answer with parts of that page) share
it; the data comes from webapp.services.pages. It lives beside the review form it
builds, so that importing it never imports a half-loaded route module.
"""
from flask import request
from flask_login import current_user

from webapp import htmx
from webapp.forms import id_arg
from webapp.reviews.forms import ReviewForm
from webapp.services import pages


def coffee_page_context(coffee_id: int, form: ReviewForm | None = None,
                        editing: bool | None = None, saved: bool = False,
                        discussion: bool | None = None) -> dict:
    """The page for the current viewer, sorted and paged as the URL says.

    ``form`` is the review form to show (a refused one, with its errors); by default
    the viewer's review, if any, fills it. The form is open for editing when the
    viewer has no review yet, unless ``editing`` says otherwise.

    :raise NotFound: unknown coffee.
    """
    viewer_id = current_user.id if current_user.is_authenticated else None
    # First: creating the coffee's room on its first view commits, which would expire
    # what is read before it.
    if discussion is None:  # the full page shows it; the reviews' fragments do not
        discussion = not htmx.is_fragment_request()
    chat = _discussion(coffee_id) if discussion else None
    page = pages.coffee_page(coffee_id, viewer_id, request.args.get("sort"),
                             request.args.get("page", 1, type=int))
    if form is None:
        form = ReviewForm(formdata=None)
        if page.mine is not None:
            form.fill(page.mine)
    return {
        **vars(page),
        "chat": chat,
        "review_form": form,
        "editing": bool(editing) if editing is not None else page.mine is None,
        "saved": saved,
    }



def _discussion(coffee_id: int):
    """The coffee's chat room as its page shows it (full pages only: no fragment of
    the reviews includes it)."""
    from webapp.chat.page import room_view
    from webapp.services import chat

    return room_view(chat.room_for_coffee(coffee_id), standalone=False,
                     reply_to_id=id_arg(request.args, "reply_to"))
