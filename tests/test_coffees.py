"""Catalog, coffee page, adding, editing and deleting coffees: routes and both renders."""
import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from tests.conftest import HX, HX_BOOSTED, PASSWORD
from webapp.models import Coffee, Review

NEW = {"name": "Kochere", "roaster": "North Star", "origin": "ET", "process": "washed",
       "roast": "light", "notes": ["jasmine", "lemon"], "altitude": "1900", "region": "Yirgacheffe"}


def text(response) -> str:
    return response.get_data(as_text=True)


def count(db) -> int:
    return db.session.scalar(select(func.count(Coffee.id)))


class TestCatalog:
    def test_full_page_and_fragment(self, client, make_coffee):
        make_coffee("Kochere")
        full = client.get("/coffees")
        assert full.status_code == 200 and "<html" in text(full) and 'id="catalog-form"' in text(full)
        assert "Kochere" in text(full)
        boosted = client.get("/coffees", headers=HX_BOOSTED)
        assert "<html" in text(boosted)
        frag = client.get("/coffees?q=koch", headers=HX)
        assert frag.status_code == 200 and "<html" not in text(frag)
        assert text(frag).lstrip().startswith('<div id="results"') and "Kochere" in text(frag)
        assert "HX-Request" in frag.headers["Vary"]

    def test_fragment_pushes_a_clean_url(self, client):
        frag = client.get("/coffees?q=et&origin=&process=washed&roast=&flavour=&min_rating=&sort=top",
                          headers=HX)
        assert frag.headers["HX-Push-Url"] == "/coffees?q=et&process=washed"

    def test_two_letters_of_an_origin_then_filter_and_sort(self, client, make_coffee):
        make_coffee("Kochere", origin="ET", process="washed")
        make_coffee("Hambela", origin="ET", process="natural")
        make_coffee("Karogoto", origin="KE", process="washed")
        page = text(client.get("/coffees?q=et"))
        assert "Kochere" in page and "Hambela" in page and "Karogoto" not in page
        page = text(client.get("/coffees?q=et&process=washed&sort=name"))
        assert "Kochere" in page and "Hambela" not in page

    def test_filters_shown_selected_and_bad_values_ignored(self, client, make_coffee):
        make_coffee("Kochere")
        page = text(client.get("/coffees?process=natural&roast=nope&min_rating=abc&page=x"))
        assert '<option selected value="natural">' in page
        assert "0 coffees" in page

    def test_pagination_links_and_load_more(self, client, make_coffee, app):
        for n in range(23):
            make_coffee(f"Lot {n:02}")
        first = text(client.get("/coffees?sort=name"))
        assert first.count('class="coffee-card"') == 20
        assert 'href="/coffees?sort=name&amp;page=2"' in first
        assert 'hx-get="/coffees?sort=name&amp;page=2&amp;more=1"' in first
        more = client.get("/coffees?sort=name&page=2&more=1", headers=HX)
        body = text(more)
        assert 'hx-swap-oob="beforeend:#coffee-list"' in body and body.count('class="coffee-card"') == 3
        assert "Load more" not in body
        assert more.headers["HX-Push-Url"] == "/coffees?sort=name&page=2"
        # Without htmx "more" is ignored: the page simply shows page 2.
        assert "<html" in text(client.get("/coffees?sort=name&page=2&more=1"))

    def test_script_in_fields_is_escaped(self, client, make_coffee):
        make_coffee("<script>alert(1)</script>", roaster="<b>R</b>")
        page = text(client.get("/coffees"))
        assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "<b>R</b>" not in page


class TestCoffeePage:
    def test_both_renders(self, client, make_coffee, make_user, make_review):
        coffee = make_coffee("Kochere", notes=["blueberry"])
        make_review(coffee, make_user(), 4.5, tags=["blueberry"], body="Line one\nline <i>two</i>")
        full = client.get(f"/coffees/{coffee.id}")
        page = text(full)
        assert full.status_code == 200 and "<html" in page
        assert 'id="rating-summary"' in page and 'id="reviews"' in page and 'id="discussion"' in page
        assert "The bag says Blueberry: 100% of tasters found it" in page
        assert "Average by brew method" in page and "Pour-over" in page
        assert "line &lt;i&gt;two&lt;/i&gt;" in page
        frag = client.get(f"/coffees/{coffee.id}", headers=HX)
        assert "<html" not in text(frag) and 'id="rating-summary"' in text(frag)

    def test_reviews_list_fragment_sorted_and_paged(self, client, make_coffee, make_user,
                                                    make_review, app):
        coffee = make_coffee()
        for n, stars in enumerate([1, 5, 3] * 4):
            make_review(coffee, make_user(f"taster{n:02}"), stars)
        frag = client.get(f"/coffees/{coffee.id}/reviews?sort=highest", headers=HX)
        body = text(frag)
        assert body.lstrip().startswith('<section id="reviews"') and "<html" not in body
        assert body.index("5.0") < body.index("1.0")
        pushed = re.search(r'hx-push-url="(/coffees/%d\?[^"]+)">2<' % coffee.id, body).group(1)
        assert parse_qs(urlsplit(html.unescape(pushed)).query) == {"sort": ["highest"], "page": ["2"]}
        full = client.get(f"/coffees/{coffee.id}/reviews?page=2")
        assert "<html" in text(full) and text(full).count('class="review"') == 2

    def test_unknown_coffee_is_404(self, client):
        assert client.get("/coffees/999").status_code == 404
        assert client.get("/coffees/999/reviews").status_code == 404
        assert client.get("/coffees/999", headers=HX).status_code == 404


class TestAddAndEdit:
    def test_add_a_coffee(self, logged_in, db, user):
        response = logged_in.post("/coffees/new", data=NEW)
        assert response.status_code == 303
        coffee = db.session.scalar(select(Coffee))
        assert response.headers["Location"].endswith(f"/coffees/{coffee.id}")
        assert coffee.added_by_id == user.id and coffee.altitude == 1900

    def test_add_from_htmx_navigates(self, logged_in):
        response = logged_in.post("/coffees/new", data=NEW, headers=HX)
        assert response.status_code == 204 and response.headers["HX-Redirect"].startswith("/coffees/")

    @pytest.mark.parametrize("change, message", [
        ({"name": ""}, "This field is required."),
        ({"origin": "XX"}, "Not a valid choice."),
        ({"process": "semi-washed"}, "Not a valid choice."),
        ({"roast": "burnt"}, "Not a valid choice."),
        ({"notes": ["bacon"]}, "not a valid choice"),
        ({"altitude": "99999"}, "Number must be between 0 and 6000."),
        ({"description": "x" * 5001}, "Field cannot be longer than 5000 characters."),
        ({"name": "x" * 121}, "Field cannot be longer than 120 characters."),
        ({"notes": ["blueberry", "jasmine", "lemon", "lime", "apple", "pear", "rose", "honey",
                    "malt"]}, "At most 8 notes."),
    ])
    def test_bad_input_is_422_inline_and_saves_nothing(self, logged_in, db, change, message):
        response = logged_in.post("/coffees/new", data={**NEW, **change}, headers=HX)
        assert response.status_code == 422
        body = text(response)
        assert body.lstrip().startswith('<form id="coffee-form"') and message in body
        assert 'class="field-error"' in body and count(db) == 0

    def test_bad_input_without_htmx_is_the_full_page(self, logged_in, db):
        response = logged_in.post("/coffees/new", data={**NEW, "roaster": ""})
        assert response.status_code == 422 and "<html" in text(response) and count(db) == 0

    def test_exact_duplicate_is_refused_with_a_link(self, logged_in, make_coffee, db):
        existing = make_coffee("Kochere", roaster="North Star")
        response = logged_in.post("/coffees/new", data={**NEW, "name": " KOCHERE ",
                                                         "roaster": "northstar"})
        assert response.status_code == 422
        assert "already in the catalog" in text(response)
        assert f'href="/coffees/{existing.id}"' in text(response) and count(db) == 1

    def test_near_matches_while_typing(self, client, make_coffee):
        existing = make_coffee("Kochere Washed", roaster="North Star")
        frag = client.get("/coffees/similar?name=Kochere+Wash&roaster=North", headers=HX)
        assert "<html" not in text(frag) and f"/coffees/{existing.id}" in text(frag)
        exact = client.get("/coffees/similar?name=kochere+washed&roaster=NORTH+STAR", headers=HX)
        assert "Already in the catalog" in text(exact)
        assert "<html" in text(client.get("/coffees/similar?name=x"))
        same = client.get(f"/coffees/similar?name=Kochere+Washed&roaster=North+Star&exclude={existing.id}")
        assert f"/coffees/{existing.id}\"" not in text(same)

    def test_edit_form_is_prefilled_and_saves(self, client, auth, make_user, make_coffee, db):
        owner = make_user("owner")
        coffee = make_coffee("Kochere", by=owner, notes=["jasmine"], process="natural")
        auth.login("owner")
        page = text(client.get(f"/coffees/{coffee.id}/edit"))
        assert 'value="Kochere"' in page and '<option selected value="natural">' in page
        assert 'value="jasmine" checked' in " ".join(page.split())
        response = client.post(f"/coffees/{coffee.id}/edit", data={**NEW, "name": "Kochere Lot 2"})
        assert response.status_code == 303
        db.session.expire_all()
        assert db.session.get(Coffee, coffee.id).name == "Kochere Lot 2"

    def test_unknown_ids(self, logged_in):
        assert logged_in.get("/coffees/999/edit").status_code == 404
        assert logged_in.post("/coffees/999/edit", data=NEW).status_code == 404
        assert logged_in.post("/coffees/999/delete").status_code == 404


ACTORS = ["anonymous", "other", "owner", "moderator", "admin"]


@pytest.fixture
def scene(client, auth, make_user, make_coffee, make_review):
    """A coffee added by ``owner`` with owner's review, and a client acting as someone."""
    owner = make_user("owner")
    coffee = make_coffee("Kochere", by=owner)
    review = make_review(coffee, owner, 4)
    make_user("other")
    make_user("moderator", role="moderator")
    make_user("admin", role="admin")

    def act(actor):
        if actor != "anonymous":
            assert auth.login(actor, PASSWORD).status_code == 303
        return client

    return {"coffee": coffee, "review": review, "act": act}


# Who may edit and delete: tests/test_permissions.py.


def test_moderator_deletes_the_coffee_with_its_reviews(scene, db):
    response = scene["act"]("moderator").post(f"/coffees/{scene['coffee'].id}/delete")
    assert response.status_code == 303 and response.headers["Location"] == "/coffees"
    assert (count(db), db.session.scalar(select(func.count(Review.id)))) == (0, 0)


@pytest.mark.parametrize("actor, can_edit", list(zip(ACTORS, [False, False, True, True, True])))
def test_edit_link_only_for_those_allowed(scene, actor, can_edit):
    page = text(scene["act"](actor).get(f"/coffees/{scene['coffee'].id}"))
    assert (f'href="/coffees/{scene["coffee"].id}/edit"' in page) is can_edit


def test_forbidden_from_htmx_shows_the_error_in_flashes(scene):
    response = scene["act"]("other").post(f"/coffees/{scene['coffee'].id}/delete", headers=HX)
    assert response.status_code == 403 and response.headers["HX-Retarget"] == "#flashes"


def test_service_errors_land_on_the_field_of_that_html_name(app):
    from webapp.coffees.forms import CoffeeForm
    from webapp.forms import show_service_error
    from webapp.services import ServiceError

    with app.test_request_context(method="POST"):
        form = CoffeeForm()
        form.validate()  # as the routes do: the fields' error lists exist from here on
        show_service_error(form, ServiceError("Choose a process.", field="process"))
        show_service_error(form, ServiceError("Something else.", field="nonexistent"))
        assert form.process_.errors[-1] == "Choose a process."
        assert form.form_errors == ["Something else."]
