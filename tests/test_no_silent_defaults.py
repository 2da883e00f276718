"""No silent defaults: untouched selects save nothing, or unknown; never their first option."""
import re

import pytest
from alembic import command
from sqlalchemy import func, select, text as sql

from tests.conftest import HX, make_app
from webapp.extensions import db
from webapp.models import Coffee, Review

COFFEE = {"name": "Guji Hambela", "roaster": "North Star", "origin": "ET", "process": "",
          "roast": "", "region": "", "producer": "", "variety": "", "altitude": "",
          "description": ""}


def body(response) -> str:
    return response.get_data(as_text=True)


def first_option(html: str, name: str) -> str:
    """The first <option> tag of the select called ``name``: what a browser sends untouched."""
    match = re.search(rf'<select[^>]*name="{name}"[^>]*>\s*(<option[^>]*>)', html)
    assert match, f"no select named {name}"
    return match.group(1)


def selected_value(html: str, name: str) -> str | None:
    select_html = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', html, re.S).group(1)
    chosen = re.findall(r'<option([^>]*)>', select_html)
    values = [re.search(r'value="([^"]*)"', o).group(1) for o in chosen if "selected" in o]
    return values[0] if values else None


def coffees() -> int:
    return db.session.scalar(select(func.count(Coffee.id)))


def test_coffee_form_selects_start_empty(logged_in):
    html = body(logged_in.get("/coffees/new"))
    for name in ("origin", "process", "roast"):
        assert 'value=""' in first_option(html, name)


def test_untouched_process_and_roast_are_stored_as_unknown(logged_in):
    response = logged_in.post("/coffees/new", data=COFFEE)
    assert response.status_code == 303
    coffee = db.session.scalar(select(Coffee))
    assert (coffee.process, coffee.roast) == (None, None)


def test_unknown_process_and_roast_show_as_not_stated_never_as_a_value(logged_in):
    logged_in.post("/coffees/new", data=COFFEE)
    coffee = db.session.scalar(select(Coffee))
    page = body(logged_in.get(f"/coffees/{coffee.id}"))
    assert re.search(r"<dt>Process</dt><dd>Not stated</dd>", page)
    assert re.search(r"<dt>Roast</dt><dd>Not stated</dd>", page)
    card = re.search(r'<article class="coffee-card".*?</article>', body(logged_in.get("/coffees")),
                     re.S).group(0)
    assert 'class="tag"' not in card and "None" not in card


def test_a_card_shows_the_known_one_of_process_and_roast(logged_in, make_coffee):
    make_coffee("Kochere", process="natural", roast=None)
    card = re.search(r'<article class="coffee-card".*?</article>', body(logged_in.get("/coffees")),
                     re.S).group(0)
    assert re.findall(r'<span class="tag">([^<]*)</span>', card) == ["Natural"]


def test_a_process_filter_does_not_match_an_unknown_process(client, make_coffee):
    make_coffee("Known", process="washed")
    make_coffee("Unknown", process=None)
    page = body(client.get("/coffees?process=washed"))
    assert ">Known<" in page and ">Unknown<" not in page
    assert ">Unknown<" in body(client.get("/coffees"))


def test_origin_is_still_required(logged_in):
    response = logged_in.post("/coffees/new", data={**COFFEE, "origin": ""})
    assert response.status_code == 422
    assert "field-error" in body(response) and coffees() == 0


def test_edit_form_of_an_unknown_process_selects_the_empty_choice(logged_in, user, make_coffee):
    coffee = make_coffee("Kochere", by=user, process=None, roast=None)
    html = body(logged_in.get(f"/coffees/{coffee.id}/edit"))
    assert selected_value(html, "process") == ""
    assert selected_value(html, "roast") == ""


def test_edit_can_make_a_known_process_unknown(logged_in, user, make_coffee):
    coffee = make_coffee("Kochere", by=user, process="natural", roast="dark")
    response = logged_in.post(f"/coffees/{coffee.id}/edit",
                              data={**COFFEE, "name": "Kochere", "roaster": "Test Roasters"})
    assert response.status_code == 303
    db.session.expire_all()
    assert (db.session.get(Coffee, coffee.id).process, db.session.get(Coffee, coffee.id).roast) \
        == (None, None)


class TestReviewForm:
    @pytest.fixture
    def coffee(self, make_coffee):
        return make_coffee("Kochere")

    def test_brew_method_starts_empty(self, logged_in, coffee):
        html = body(logged_in.get(f"/coffees/{coffee.id}"))
        assert 'value=""' in first_option(html, "brew_method")
        assert "checked" not in re.search(r'<fieldset class="rating-field".*?</fieldset>', html,
                                          re.S).group(0)

    @pytest.mark.parametrize("data", [{"rating": "4"}, {"rating": "4", "brew_method": ""}])
    def test_untouched_brew_method_is_422_inline(self, logged_in, coffee, data):
        response = logged_in.post(f"/coffees/{coffee.id}/reviews", data=data, headers=HX)
        assert response.status_code == 422
        assert re.search(r'<small[^>]*class="field-error"[^>]*>Choose a brew method\.</small>',
                         body(response))
        assert db.session.scalar(select(func.count(Review.id))) == 0

    def test_untouched_rating_is_422_inline(self, logged_in, coffee):
        response = logged_in.post(f"/coffees/{coffee.id}/reviews",
                                  data={"brew_method": "aeropress"})
        assert response.status_code == 422
        assert "Choose a rating from 0.5 to 5 stars." in body(response)
        assert db.session.scalar(select(func.count(Review.id))) == 0


def index_names(conn) -> set[str]:
    if conn.dialect.name == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'coffees'"
    else:
        query = "SELECT indexname FROM pg_indexes WHERE tablename = 'coffees'"
    return set(conn.scalars(sql(query)))


def test_migration_keeps_every_row_and_allows_unknown(empty_database_url):
    """0007 on a populated database: every coffee, review, note and term stays."""
    app = make_app(empty_database_url)
    tables = ("users", "coffees", "reviews", "coffee_notes", "coffee_terms")
    with app.app_context():
        config = app.extensions["migrate"].migrate.get_config()
        # Rows written with the schema of 0003 (what later revisions must carry along).
        command.upgrade(config, "0004_check_names")
        with db.engine.begin() as conn:
            conn.execute(sql(
                "INSERT INTO users (id, username, email, password_hash, role, display_name, bio,"
                " session_token, created_at) VALUES (1, 'ana', 'ana@example.com', 'x', 'user',"
                " '', '', 'token', CURRENT_TIMESTAMP)"))
            conn.execute(sql(
                "INSERT INTO coffees (id, name, roaster, origin, region, producer, variety, process,"
                " roast, description, added_by_id, created_at, updated_at, dedupe_key, search_text,"
                " rating_count, rating_sum, rating_bayes, hist_1, hist_2, hist_3, hist_4, hist_5,"
                " hist_6, hist_7, hist_8, hist_9, hist_10) VALUES (1, 'Guji', 'North Star', 'ET',"
                " '', '', '', 'natural', 'light', '', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP,"
                " 'northstar|guji', ' guji', 1, 8, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0)"))
            conn.execute(sql("INSERT INTO coffee_notes (coffee_id, tag, position)"
                             " VALUES (1, 'blueberry', 0)"))
            conn.execute(sql("INSERT INTO coffee_terms (term, coffee_id) VALUES ('guji', 1)"))
            conn.execute(sql(
                "INSERT INTO reviews (id, coffee_id, user_id, rating, brew_method, body,"
                " created_at, updated_at) VALUES (1, 1, 1, 8, 'aeropress', 'Good.',"
                " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        command.upgrade(config, "0006_search_normalise")
        with db.engine.connect() as conn:
            before = {t: conn.scalar(sql(f"SELECT count(*) FROM {t}")) for t in tables}
        assert all(before.values())

        command.upgrade(config, "0007_unknown_process_roast")
        with db.engine.begin() as conn:
            assert {t: conn.scalar(sql(f"SELECT count(*) FROM {t}")) for t in tables} == before
            assert tuple(conn.execute(sql("SELECT process, roast FROM coffees")).one()) \
                == ("natural", "light")
            conn.execute(sql("UPDATE coffees SET process = NULL, roast = NULL"))
            # The expression index the SQLite rebuild cannot reflect is still there.
            assert "ix_coffees_name_lower" in index_names(conn)

        command.downgrade(config, "0006_search_normalise")
        with db.engine.connect() as conn:
            assert {t: conn.scalar(sql(f"SELECT count(*) FROM {t}")) for t in tables} == before
            assert tuple(conn.execute(sql("SELECT process, roast FROM coffees")).one()) \
                == ("other", "medium")
        command.downgrade(config, "base")
        db.engine.dispose()
