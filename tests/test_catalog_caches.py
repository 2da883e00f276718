"""Cached catalog HTML and totals never show what the database no longer holds,
in one web process or several (two apps on one database and one Redis)."""
import re
import time

from sqlalchemy import text as sql

from tests.conftest import HX, PASSWORD, make_app
from webapp import caches, events
from webapp.extensions import db
from webapp.models import Coffee
from webapp.services import coffees as coffee_service
from webapp.services import users as user_service
from webapp.services.coffees import CatalogQuery, CoffeeData

RU = {**HX, "Accept-Language": "ru-RU,ru;q=0.9"}


def fragment(client, url="/coffees?sort=name", headers=HX) -> str:
    response = client.get(url, headers=headers)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def card(page: str, coffee_id: int) -> str:
    start = page.index(f'id="coffee-{coffee_id}"')
    return page[start:page.index("</article>", start)]


def total(page: str) -> int:
    return int(re.search(r"(\d+) coff", page).group(1))


def cards(page: str) -> int:
    return page.count('class="coffee-card"')


def insert_behind_our_back(db, name: str) -> None:
    """A coffee written without the services (SQL by hand): no event, no new version."""
    db.session.execute(Coffee.__table__.insert().values(
        name=name, roaster="Elsewhere", origin="KE", process="washed", roast="light",
        region="", producer="", variety="", description="", dedupe_key=f"elsewhere|{name}",
        search_text=f" {name.lower()}"))
    db.session.commit()


class TestCards:
    def test_a_new_review_shows_on_the_card(self, client, make_coffee, make_review, user):
        coffee = make_coffee("Kochere")
        assert "No reviews yet" in card(fragment(client), coffee.id)
        make_review(coffee, user, 4.5)
        again = card(fragment(client), coffee.id)
        assert "No reviews yet" not in again and "(1 review)" in again and "4.5" in again

    def test_changed_notes_show_on_the_card(self, client, make_coffee, user):
        coffee = make_coffee("Kochere", by=user, notes=["jasmine"])
        assert "Jasmine" in card(fragment(client), coffee.id)
        coffee_service.update_coffee(coffee.id, user.id, CoffeeData(
            name="Kochere", roaster="Test Roasters", origin="ET", process="washed",
            roast="light", notes=["lemon"]))
        again = card(fragment(client), coffee.id)
        assert "Lemon" in again and "Jasmine" not in again

    def test_each_language_gets_its_own_html(self, client, make_coffee):
        coffee = make_coffee("Kochere", origin="ET")
        assert "Ethiopia" in card(fragment(client), coffee.id)
        russian = fragment(client, headers=RU)
        assert "Эфиопия" in card(russian, coffee.id) and "Ethiopia" not in russian
        assert "Ethiopia" in card(fragment(client), coffee.id)

    def test_the_empty_state_depends_on_who_is_reading(self, client, auth, user):
        url = "/coffees?q=nothinglikethis"
        assert "/coffees/new" not in fragment(client, url)
        auth.login("alice", PASSWORD)
        assert "/coffees/new" in fragment(client, url)


class TestOneProcess:
    """The embedded set-up: one process, no Redis, the version kept in the process."""

    def test_writes_through_this_process_show_at_once(self, client, make_coffee,
                                                        make_review, user, db):
        make_coffee("Kochere")
        assert "1 coffee" in fragment(client)
        reviewed = make_coffee("Karogoto")
        assert "2 coffees" in fragment(client)
        make_review(reviewed, user, 4.5)
        assert "(1 review)" in card(fragment(client), reviewed.id)
        assert "1 coffee" in fragment(client, "/coffees?min_rating=4.5")
        user.role = "moderator"
        db.session.commit()
        coffee_service.delete_coffee(reviewed.id, user.id)
        page = fragment(client)
        assert "1 coffee" in page and cards(page) == 1
        assert "0 coffees" in fragment(client, "/coffees?min_rating=4.5")

    def test_the_total_is_shared_by_sorts_and_pages(self, app, make_coffee, count_queries):
        for n in range(3):
            make_coffee(f"Lot {n}")
        with app.test_request_context():
            first = coffee_service.count_matches(CatalogQuery(q="lot", sort="name").cleaned())
        with app.test_request_context(), count_queries() as seen:
            again = coffee_service.count_matches(CatalogQuery(q="lot", sort="top", page=2))
        assert first == again == 3 and seen[0] == 0

    def test_the_cache_key_follows_the_version(self, app, make_coffee, count_queries):
        make_coffee("Lot 1")
        query = CatalogQuery(q="lot").cleaned()
        with app.test_request_context():
            before = caches.catalog_version()
            assert coffee_service.count_matches(query) == 1
        make_coffee("Lot 2")  # commits: the subscriber bumps the version
        with app.test_request_context(), count_queries() as seen:
            assert caches.catalog_version() == before + 1
            assert coffee_service.count_matches(query) == 2
        assert seen[0] == 1
        # Reads under the same version reuse the total.
        with app.test_request_context(), count_queries() as seen:
            assert coffee_service.count_matches(query) == 2
        assert seen[0] == 0

    def test_a_rolled_back_write_keeps_the_version(self, app, make_coffee, db):
        make_coffee("Lot 1")
        with app.test_request_context():
            before = caches.catalog_version()
        coffee = db.session.get(Coffee, db.session.scalar(sql("SELECT min(id) FROM coffees")))
        coffee.name = "Renamed"
        events.record(events.coffee_changed, coffee_id=coffee.id, action="updated")
        db.session.rollback()
        with app.test_request_context():
            assert caches.catalog_version() == before

    def test_writes_outside_the_services_show_within_the_ttl(self, app, client, make_coffee,
                                                              db):
        app.config["CATALOG_COUNT_TTL"] = 0.5
        make_coffee("Kochere")
        assert "1 coffee" in fragment(client)
        insert_behind_our_back(db, "Gatomboya")
        page = fragment(client)
        # The rows are always read: the new coffee shows, the reused total lags.
        assert "Gatomboya" in page and "1 coffee" in page
        time.sleep(0.6)
        assert "2 coffees" in fragment(client)

    def test_a_zero_ttl_counts_every_time(self, app, client, make_coffee, db):
        app.config["CATALOG_COUNT_TTL"] = 0
        make_coffee("Kochere")
        assert "1 coffee" in fragment(client)
        insert_behind_our_back(db, "Gatomboya")
        assert "2 coffees" in fragment(client)


class TestTwoProcesses:
    """Apps A and B share the database and Redis, as two web processes do."""

    def test_a_coffee_added_through_a_shows_in_b_at_once(self, two_apps, make_coffee):
        a, b = (app.test_client() for app in two_apps)
        for n in range(20):  # exactly one full page
            make_coffee(f"Lot {n:02d}")
        first = fragment(b)
        assert total(first) == 20 and cards(first) == 20 and "page=2" not in first
        self._login(a, two_apps[0])
        response = a.post("/coffees/new", data={
            "name": "Zz Latecomer", "roaster": "Test Roasters", "origin": "KE",
            "process": "natural", "roast": "light"})
        assert response.status_code == 303
        page = fragment(b)
        assert total(page) == 21 and cards(page) == 20 and "page=2" in page
        second = fragment(b, "/coffees?sort=name&page=2")
        assert total(second) == 21 and cards(second) == 1 and "Zz Latecomer" in second

    def test_a_deleted_coffee_leaves_no_page_to_nothing_in_b(self, two_apps, make_coffee,
                                                              make_user):
        a, b = (app.test_client() for app in two_apps)
        coffees = [make_coffee(f"Lot {n:02d}") for n in range(21)]
        assert "page=2" in fragment(b)
        make_user("mod", role="moderator")
        self._login(a, two_apps[0], "mod")
        assert a.post(f"/coffees/{coffees[-1].id}/delete").status_code == 303
        page = fragment(b)
        assert total(page) == 20 and cards(page) == 20 and "page=2" not in page

    def test_a_review_posted_through_a_shows_in_b_at_once(self, two_apps, make_coffee):
        a, b = (app.test_client() for app in two_apps)
        coffee = make_coffee("Kochere")
        make_coffee("Karogoto")
        url = "/coffees?min_rating=4.5&sort=name"
        assert "0 coffees" in fragment(b, url)
        assert "No reviews yet" in card(fragment(b), coffee.id)
        self._login(a, two_apps[0])
        response = a.post(f"/coffees/{coffee.id}/reviews", headers=HX,
                          data={"rating": "4.5", "brew_method": "pour-over"})
        assert response.status_code == 200
        page = fragment(b, url)
        assert total(page) == 1 and cards(page) == 1 and card(page, coffee.id)
        assert "(1 review)" in card(fragment(b), coffee.id)

    def test_the_version_is_shared_through_redis(self, two_apps, make_coffee):
        make_coffee("Lot 1")
        a, b = two_apps
        query = CatalogQuery(q="lot").cleaned()
        with b.test_request_context():
            version = caches.catalog_version()
            assert coffee_service.count_matches(query) == 1
        caches.bump_catalog_version(a)
        with b.test_request_context():
            assert caches.catalog_version() == version + 1
        assert b.extensions["redis"].get(b.config["REDIS_PREFIX"] + caches.VERSION_KEY) \
            == str(version + 1).encode()

    def test_when_redis_does_not_answer_totals_are_counted(self, app, database_url,
                                                            make_coffee, user, db):
        # Nothing listens on port 1: reading and bumping the version fail at once.
        down = make_app(database_url, REDIS_URL="redis://127.0.0.1:1/0")
        client = down.test_client()
        make_coffee("Lot 1")
        assert "1 coffee" in fragment(client)
        insert_behind_our_back(db, "Gatomboya")
        assert "2 coffees" in fragment(client)  # nothing was reused
        with down.app_context():
            # The failed bump (after the commit) does not fail the write.
            coffee_service.create_coffee(user.id, CoffeeData(
                name="Zz Latecomer", roaster="Test Roasters", origin="KE",
                process="natural", roast="light"))
            db.session.remove()
        assert "3 coffees" in fragment(client)
        with down.app_context():
            db.session.remove()
            db.engine.dispose()

    @staticmethod
    def _login(client, app, username="alice"):
        with app.app_context():
            if db.session.scalar(sql("SELECT count(*) FROM users WHERE username = :u"),
                                 {"u": username}) == 0:
                user_service.register_user(username, f"{username}@example.com", PASSWORD)
                db.session.commit()
        response = client.post("/auth/login", data={"login": username, "password": PASSWORD})
        assert response.status_code == 303
