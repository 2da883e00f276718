"""Writing, editing and deleting reviews through the routes, with both renders."""
import pytest
from sqlalchemy import func, select

from tests.conftest import HX, PASSWORD
from webapp.models import Coffee, Review

GOOD = {"rating": "4.5", "brew_method": "pour-over", "tags": ["blueberry", "jasmine"],
        "body": "Juicy.\r\nLong finish."}


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def coffee(make_coffee):
    return make_coffee("Kochere", notes=["blueberry"])


def reviews(db) -> int:
    return db.session.scalar(select(func.count(Review.id)))


def test_htmx_post_swaps_review_and_summary_in_one_response(logged_in, coffee, db):
    response = logged_in.post(f"/coffees/{coffee.id}/reviews", data=GOOD, headers=HX)
    assert response.status_code == 200
    body = text(response)
    assert "<html" not in body and body.lstrip().startswith('<section id="my-review"')
    assert '<section id="rating-summary"' in body and 'hx-swap-oob="true"' in body
    assert '<section id="reviews"' in body
    assert 'data-testid="count">1 rating<' in body and ">4.5<" in body
    assert "Juicy.\nLong finish." in body
    assert "The bag says Blueberry: 100% of tasters found it" in body
    assert reviews(db) == 1


def test_plain_post_redirects_with_a_flash(logged_in, coffee):
    response = logged_in.post(f"/coffees/{coffee.id}/reviews", data=GOOD)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/coffees/{coffee.id}#my-review")
    page = text(logged_in.get(f"/coffees/{coffee.id}"))
    assert "Thank you for your review." in page and "Edit review" in page


def test_writing_again_edits_the_same_review(logged_in, coffee, db):
    logged_in.post(f"/coffees/{coffee.id}/reviews", data=GOOD)
    logged_in.post(f"/coffees/{coffee.id}/reviews", data={**GOOD, "rating": "2"})
    assert reviews(db) == 1
    db.session.expire_all()
    stored = db.session.get(Coffee, coffee.id)
    assert stored.rating_count == 1 and stored.hist_4 == 1 and stored.hist_9 == 0


def test_edit_form_both_renders(logged_in, coffee, make_review, user):
    make_review(coffee, user, 3.5, body="Nice")
    frag = logged_in.get(f"/coffees/{coffee.id}/review/edit", headers=HX)
    body = text(frag)
    assert body.lstrip().startswith('<section id="my-review"') and "<html" not in body
    assert 'value="3.5" checked' in " ".join(body.split())
    assert "\nNice</textarea>" in body
    full = logged_in.get(f"/coffees/{coffee.id}/review/edit")
    assert "<html" in text(full) and "Edit your review" in text(full)


@pytest.mark.parametrize("change, message", [
    ({"rating": "5.5"}, "Not a valid choice."),
    ({"rating": "0"}, "Not a valid choice."),
    ({"rating": ""}, "Choose a rating from 0.5 to 5 stars."),
    ({"brew_method": "siphon"}, "Not a valid choice."),
    ({"tags": ["bacon"]}, "not a valid choice"),
    ({"body": "x" * 5001}, "Field cannot be longer than 5000 characters."),
    ({"tags": list(__import__("webapp.flavours").flavours.FLAVOURS)[:13]}, "At most 12 flavours."),
])
def test_bad_input_is_422_inline_and_saves_nothing(logged_in, coffee, db, change, message):
    data = {k: v for k, v in {**GOOD, **change}.items() if v != ""}
    response = logged_in.post(f"/coffees/{coffee.id}/reviews", data=data, headers=HX)
    assert response.status_code == 422
    body = text(response)
    assert body.lstrip().startswith('<section id="my-review"') and message in body
    assert "field-error" in body and reviews(db) == 0
    db.session.expire_all()
    assert db.session.get(Coffee, coffee.id).rating_count == 0


@pytest.mark.parametrize("language, labels", [
    ("en", ['title="1 star"', 'title="0.5 stars"', 'title="4.5 stars"', 'title="5 stars"']),
    ("ru", ['title="1 звезда"', 'title="0.5 звезды"', 'title="4.5 звезды"', 'title="5 звёзд"']),
])
def test_star_labels_agree_with_the_number(logged_in, coffee, language, labels):
    page = text(logged_in.get(f"/coffees/{coffee.id}", headers={"Accept-Language": language}))
    for label in labels:
        assert label in page


def test_bad_input_without_htmx_renders_the_coffee_page(logged_in, coffee, db):
    response = logged_in.post(f"/coffees/{coffee.id}/reviews", data={**GOOD, "rating": "9"})
    assert response.status_code == 422 and "<html" in text(response) and reviews(db) == 0


def test_script_in_review_is_escaped(logged_in, coffee):
    logged_in.post(f"/coffees/{coffee.id}/reviews", data={**GOOD, "body": "<script>x()</script>"})
    page = text(logged_in.get(f"/coffees/{coffee.id}"))
    assert "<script>x()" not in page and "&lt;script&gt;x()&lt;/script&gt;" in page


def test_unknown_ids(logged_in):
    assert logged_in.post("/coffees/999/reviews", data=GOOD).status_code == 404
    assert logged_in.get("/coffees/999/review/edit").status_code == 404
    assert logged_in.post("/reviews/999/delete").status_code == 404


def test_anonymous_sees_a_login_prompt(client, coffee):
    page = text(client.get(f"/coffees/{coffee.id}"))
    login = f'<a href="/auth/login?next=/coffees/{coffee.id}">'
    assert f'{login}Log in</a> or <a href="/auth/register">sign up</a> to rate this coffee.' in page
    assert 'name="rating"' not in page
    russian = text(client.get(f"/coffees/{coffee.id}", headers={"Accept-Language": "ru"}))
    assert f'{login}Войдите</a> или <a href="/auth/register">зарегистрируйтесь</a>' in russian
    response = client.post(f"/coffees/{coffee.id}/reviews", data=GOOD, headers=HX)
    assert response.status_code == 204 and "/auth/login" in response.headers["HX-Redirect"]


# Who may delete a review: tests/test_permissions.py.


def test_delete_from_htmx_updates_the_summary(logged_in, coffee, make_review, user, make_user, db):
    make_review(coffee, make_user(), 2)
    mine = make_review(coffee, user, 5)
    response = logged_in.post(f"/reviews/{mine.id}/delete", headers=HX)
    body = text(response)
    assert response.status_code == 200 and 'hx-swap-oob="true"' in body
    assert 'data-testid="count">1 rating<' in body and "Rate this coffee" in body


def test_moderator_sees_delete_on_others_reviews(client, auth, make_user, coffee, make_review):
    make_review(coffee, make_user("writer"), 4)
    make_user("mod", role="moderator")
    auth.login("mod", PASSWORD)
    assert "Delete (moderator)" in text(client.get(f"/coffees/{coffee.id}"))


def test_profile_shows_stats_and_paged_reviews(client, make_user, make_coffee, make_review, app):
    taster = make_user("taster", display_name="Tess")
    for n in range(12):
        make_review(make_coffee(f"Lot {n}", origin="KE" if n % 3 else "ET"), taster, 4,
                    "aeropress")
    page = text(client.get("/users/taster"))
    assert "Reviews written" in page and ">12<" in page and "Kenya" in page and "AeroPress" in page
    assert page.count('class="review"') == 10
    frag = client.get("/users/taster/reviews?page=2", headers=HX)
    assert text(frag).lstrip().startswith('<section id="user-reviews"')
    assert text(frag).count('class="review"') == 2
    assert "<html" in text(client.get("/users/taster/reviews?page=2"))
    assert client.get("/users/nobody/reviews").status_code == 404


def test_home_shows_top_rated_newest_and_latest_reviews(client, make_coffee, make_user,
                                                        make_review):
    ranked = make_coffee("Ranked Lot")
    for _ in range(3):
        make_review(ranked, make_user(), 5, body="Superb")
    make_coffee("Brand New Lot")
    page = text(client.get("/"))
    assert "Top rated" in page and "Ranked Lot" in page
    assert "Newest coffees" in page and "Brand New Lot" in page
    assert "Latest reviews" in page and "Superb" in page
