"""The catalog, the coffee page, and adding, editing and deleting coffees."""
from functools import partial

from flask import current_app, flash, render_template, request, url_for
from flask_babel import format_number
from flask_babel import gettext as _
from flask_login import current_user, login_required

from webapp import countries, flavours, htmx
from webapp.coffees import bp
from webapp.coffees.card_html import score
from webapp.coffees.cards import render_cards, render_results
from webapp.coffees.forms import SORT_LABELS, CatalogForm, CoffeeForm
from webapp.forms import id_arg, show_service_error
from webapp.models import BREW_METHODS
from webapp.reviews.page import coffee_page_context
from webapp.services import ServiceError, pages
from webapp.services import coffees as coffee_service
from webapp.services.coffees import CatalogQuery, DuplicateCoffee


def catalog_query(args) -> CatalogQuery:
    return CatalogQuery(
        q=args.get("q", ""), origin=args.get("origin", ""), process=args.get("process", ""),
        roast=args.get("roast", ""), flavour=args.get("flavour", ""),
        min_rating=args.get("min_rating", None, type=float), sort=args.get("sort", "top"),
        page=args.get("page", 1, type=int),
    ).cleaned()


@bp.get("/coffees")
def index():
    """The catalog; htmx asks for the results alone (or the next page's cards)."""
    query = catalog_query(request.args)
    pagination = coffee_service.search_catalog(query, current_app.config["COFFEES_PER_PAGE"],
                                               current_app.config["CATALOG_COUNT_CAP"])
    # The filter form (country and flavour choices) only appears on the full page.
    form = None if htmx.is_fragment_request() else CatalogForm(query)
    context = {"query": query, "pagination": pagination, "form": form,
               "sort_labels": SORT_LABELS, "page_url": partial(catalog_url, query),
               # Called by the template only when nothing matches (and not cached).
               "suggest": partial(coffee_service.suggest_query, query)}
    if not htmx.is_fragment_request():
        return htmx.render("coffees/index.html", "coffees/_results.html", **context)
    fragment = "coffees/_more.html" if request.args.get("more") else "coffees/_results.html"
    response = htmx.fragment_response(render_results(fragment, **context))
    # The URL names exactly what is shown, without empty or internal arguments.
    response.headers["HX-Push-Url"] = catalog_url(query)
    return response


@bp.get("/coffees/<int:coffee_id>")
def show(coffee_id: int):
    """:raise 404: unknown coffee."""
    context = coffee_page_context(coffee_id, discussion=True)
    return htmx.render("coffees/show.html", "coffees/_coffee.html", **context)


@bp.route("/coffees/new", methods=["GET", "POST"])
@login_required
def new():
    form = CoffeeForm()
    page, fragment = "coffees/form.html", "coffees/_form.html"
    if request.method == "GET" or not form.validate():
        status = 200 if request.method == "GET" else 422
        return htmx.render(page, fragment, status=status, form=form, coffee=None)
    try:
        coffee = coffee_service.create_coffee(current_user.id, form.to_data())
    except ServiceError as err:
        _field_error(form, err)
        return htmx.render(page, fragment, status=422, form=form, coffee=None)
    flash(_("%(name)s is in the catalog. Thank you!", name=coffee.name), "success")
    return htmx.see_other(url_for("coffees.show", coffee_id=coffee.id))


@bp.route("/coffees/<int:coffee_id>/edit", methods=["GET", "POST"])
@login_required
def edit(coffee_id: int):
    """:raise 404: unknown coffee. :raise 403: neither its creator nor a moderator."""
    coffee = pages.editable_coffee(coffee_id, current_user.id)
    form = CoffeeForm(obj=coffee if request.method == "GET" else None)
    if request.method == "GET":
        # Unknown (NULL) process or roast selects the empty "Not stated" choice.
        form.process_.data, form.notes.data = coffee.process or "", coffee.notes
        form.roast.data = coffee.roast or ""
    page, fragment = "coffees/form.html", "coffees/_form.html"
    if request.method == "GET" or not form.validate():
        status = 200 if request.method == "GET" else 422
        return htmx.render(page, fragment, status=status, form=form, coffee=coffee)
    try:
        coffee_service.update_coffee(coffee.id, current_user.id, form.to_data())
    except ServiceError as err:
        _field_error(form, err)
        return htmx.render(page, fragment, status=422, form=form, coffee=coffee)
    flash(_("Your changes are saved."), "success")
    return htmx.see_other(url_for("coffees.show", coffee_id=coffee.id))


@bp.post("/coffees/<int:coffee_id>/delete")
@login_required
def delete(coffee_id: int):
    """:raise 404: unknown coffee. :raise 403: not a moderator."""
    coffee_service.delete_coffee(coffee_id, current_user.id)
    flash(_("The coffee and its reviews are deleted."), "info")
    return htmx.see_other(url_for("coffees.index"))


@bp.get("/coffees/similar")
def similar():
    """Near matches while someone types a new coffee's name and roaster."""
    name = request.args.get("name", "").strip()[:120]
    roaster = request.args.get("roaster", "").strip()[:120]
    exclude = id_arg(request.args, "exclude")
    exact = coffee_service.find_duplicate(roaster, name, exclude) if name and roaster else None
    matches = [c for c in coffee_service.similar_coffees(name, roaster)
               if c.id != exclude and (exact is None or c.id != exact.id)]
    if htmx.is_fragment_request():
        # Rendered without the flashed messages: this request races the form's submit,
        # whose message must reach the page it leads to.
        return render_template("coffees/_similar.html", exact=exact, matches=matches)
    return htmx.render("coffees/similar.html", "coffees/_similar.html",
                       exact=exact, matches=matches)


def _field_error(form, err: ServiceError) -> None:
    if isinstance(err, DuplicateCoffee):
        form.duplicate = err.existing
    show_service_error(form, err)


@bp.app_template_global()
def catalog_url(query: CatalogQuery, **changes) -> str:
    """The catalog URL for ``query`` with some values changed."""
    return url_for("coffees.index", **query.args(**changes))


bp.add_app_template_global(render_cards, "coffee_cards")


@bp.app_template_global()
def flavour_label(slug: str) -> str:
    return flavours.label(slug)


@bp.app_template_global()
def flavour_category(slug: str) -> str:
    return flavours.category(slug) if flavours.get(slug) else "other"


@bp.app_template_global()
def flavour_tree():
    return flavours.categories()


@bp.app_template_global()
def country_name(code: str) -> str:
    return countries.name(code)


bp.add_app_template_filter(score, "score")


@bp.app_template_filter()
def number(value: int) -> str:
    """An integer in the reader's locale (1,000 or 1 000)."""
    return format_number(value)


@bp.app_template_global()
def brew_label(method: str | None) -> str:
    return BREW_METHODS.label(method or "")
