"""Cached catalog HTML and totals never show what the database no longer holds."""
from functools import partial

import pytest
from flask import url_for
from sqlalchemy import text as sql

from tests.conftest import HX, PASSWORD
from webapp import lru
from webapp.coffees.routes import catalog_url
from webapp.models import Coffee
from webapp.services import coffees as coffee_service
from webapp.services.coffees import CatalogQuery, CoffeeData

RU = {**HX, "Accept-Language": "ru-RU,ru;q=0.9"}


def fragment(client, url="/coffees?sort=name", headers=HX) -> str:
    response = client.get(url, headers=headers)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def card(page: str, coffee) -> str:
    start = page.index(f'id="coffee-{coffee.id}"')
    return page[start:page.index("</article>", start)]


def insert_behind_our_back(db, name: str) -> None:
    """A coffee written by another process: this one's caches are not told."""
    db.session.execute(Coffee.__table__.insert().values(
        name=name, roaster="Elsewhere", origin="KE", process="washed", roast="light",
        region="", producer="", variety="", description="", dedupe_key=f"elsewhere|{name}",
        search_text=f" {name.lower()}"))
    db.session.commit()


class TestCards:
    def test_a_new_review_shows_on_the_card(self, client, make_coffee, make_review, user):
        coffee = make_coffee("Kochere")
        assert "No reviews yet" in card(fragment(client), coffee)
        make_review(coffee, user, 4.5)
        again = card(fragment(client), coffee)
        assert "No reviews yet" not in again and "(1 review)" in again and "4.5" in again

    def test_changed_notes_show_on_the_card(self, client, make_coffee, user):
        coffee = make_coffee("Kochere", by=user, notes=["jasmine"])
        assert "Jasmine" in card(fragment(client), coffee)
        coffee_service.update_coffee(coffee.id, user.id, CoffeeData(
            name="Kochere", roaster="Test Roasters", origin="ET", process="washed",
            roast="light", notes=["lemon"]))
        again = card(fragment(client), coffee)
        assert "Lemon" in again and "Jasmine" not in again

    def test_each_language_gets_its_own_html(self, client, make_coffee):
        coffee = make_coffee("Kochere", origin="ET")
        assert "Ethiopia" in card(fragment(client), coffee)
        russian = fragment(client, headers=RU)
        assert "Эфиопия" in card(russian, coffee) and "Ethiopia" not in russian
        assert "Ethiopia" in card(fragment(client), coffee)

    def test_the_empty_state_depends_on_who_is_reading(self, client, auth, user):
        url = "/coffees?q=nothinglikethis"
        assert "/coffees/new" not in fragment(client, url)
        auth.login("alice", PASSWORD)
        assert "/coffees/new" in fragment(client, url)


class TestTotals:
    def test_writes_through_this_process_show_at_once(self, client, make_coffee, user, db):
        make_coffee("Kochere")
        assert "1 coffee" in fragment(client)
        make_coffee("Karogoto")
        assert "2 coffees" in fragment(client)
        moderator_id = self._moderator(db, user)
        coffee_service.delete_coffee(db.session.scalar(sql("SELECT min(id) FROM coffees")),
                                     moderator_id)
        assert "1 coffee" in fragment(client)

    def test_other_processes_writes_show_within_the_ttl(self, app, client, make_coffee, db,
                                                         monkeypatch):
        make_coffee("Kochere")
        assert "1 coffee" in fragment(client)
        insert_behind_our_back(db, "Gatomboya")
        page = fragment(client)
        # The rows are always read: the new coffee shows, the cached total lags.
        assert "Gatomboya" in page and "1 coffee" in page
        later = lru.time.monotonic() + app.config["CATALOG_COUNT_TTL"] + 1
        monkeypatch.setattr(lru.time, "monotonic", lambda: later)
        assert "2 coffees" in fragment(client)

    def test_a_zero_ttl_counts_every_time(self, app, client, make_coffee, db):
        app.config["CATALOG_COUNT_TTL"] = 0
        make_coffee("Kochere")
        assert "1 coffee" in fragment(client)
        insert_behind_our_back(db, "Gatomboya")
        assert "2 coffees" in fragment(client)

    def test_the_total_is_shared_by_sorts_and_pages(self, app, make_coffee, count_queries):
        for n in range(3):
            make_coffee(f"Lot {n}")
        with app.test_request_context():
            first = coffee_service.count_matches(CatalogQuery(q="lot", sort="name").cleaned())
            with count_queries() as seen:
                again = coffee_service.count_matches(CatalogQuery(q="lot", sort="top", page=2))
            assert first == again == 3 and seen[0] == 0

    @staticmethod
    def _moderator(db, user) -> int:
        user.role = "moderator"
        db.session.commit()
        return user.id


@pytest.mark.parametrize("args", [
    {},
    {"q": "blue berry & co", "origin": "ET"},
    {"q": "100%_sweet +plus/слово", "sort": "name", "page": 3},
    {"flavour": "berry", "min_rating": 4.0, "process": "natural", "roast": "medium-light"},
])
def test_catalog_url_matches_url_for(app, args):
    with app.test_request_context():
        query = CatalogQuery(**args).cleaned()
        assert catalog_url(query) == url_for("coffees.index", **query.args())
        assert partial(catalog_url, query)(page=2) == url_for("coffees.index",
                                                                **query.args(page=2))
