"""Totals counted up to CATALOG_COUNT_CAP: "5+ coffees", and pages that still work
past the cap because the row after a page says whether there is a next one."""
import html
import re

import pytest

from tests.conftest import HX
from webapp.services import coffees as coffee_service
from webapp.services.coffees import CatalogQuery

RU = {**HX, "Accept-Language": "ru-RU,ru;q=0.9"}


@pytest.fixture
def eight(app, make_coffee):
    """Eight coffees, two a page, totals counted up to five."""
    app.config.update(COFFEES_PER_PAGE=2, CATALOG_COUNT_CAP=5)
    return [make_coffee(f"Lot {n}") for n in range(8)]


def fragment(client, url, headers=HX) -> str:
    response = client.get(url, headers=headers)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def meta(page: str) -> str:
    return " ".join(re.search(r'role="status">(.*?)</p>', page, re.S).group(1).split())


def next_link(page: str) -> str | None:
    found = re.search(r'class="outline load-more"', page) and re.search(
        r'<a href="([^"]*)" role="button" class="outline load-more"', page)
    return html.unescape(found.group(1)) if found else None


def pager_pages(page: str) -> list[int]:
    """The page numbers the pager shows, the current one included."""
    return [int(p) for p in re.findall(r'<li><a[^>]*>(\d+)</a></li>', page)]


def test_count_stops_after_the_cap(app, eight):
    with app.test_request_context():
        assert coffee_service.count_matches(CatalogQuery(q="lot"), 5) == 6
        assert coffee_service.count_matches(CatalogQuery(q="l"), 5) == 6  # probed
        assert coffee_service.count_matches(CatalogQuery(q="lot"), 0) == 8
        assert coffee_service.count_matches(CatalogQuery(q="lot"), 8) == 8


def test_a_capped_total_says_so(client, eight):
    page = fragment(client, "/coffees?q=lot&sort=name")
    assert meta(page).startswith("5+ coffees ·"), meta(page)
    assert meta(fragment(client, "/coffees?q=lot&sort=name", RU)).startswith("5+ кофе ·")


def test_a_total_within_the_cap_is_exact(app, client, eight):
    app.config["CATALOG_COUNT_CAP"] = 8
    assert meta(fragment(client, "/coffees?q=lot&sort=name")).startswith("8 coffees ·")


def test_pages_past_the_cap_link_to_the_next_while_rows_remain(client, eight):
    first = fragment(client, "/coffees?q=lot&sort=name")
    # Six rows are known to exist: pages 1 to 3.
    assert pager_pages(first) == [1, 2, 3]
    assert next_link(first) == "/coffees?q=lot&sort=name&page=2"
    third = fragment(client, "/coffees?q=lot&sort=name&page=3")
    assert 'id="coffee-' in third and "Lot 5" in third
    assert next_link(third) == "/coffees?q=lot&sort=name&page=4"
    assert 4 in pager_pages(third)


def test_the_real_last_page_has_no_next_link(client, eight):
    fragment(client, "/coffees?q=lot&sort=name")  # keeps the capped total
    last = fragment(client, "/coffees?q=lot&sort=name&page=4")
    assert "Lot 6" in last and "Lot 7" in last
    assert meta(last).startswith("5+ coffees"), meta(last)
    assert next_link(last) is None
    assert pager_pages(last) == [1, 2, 3, 4]


def test_the_last_page_opened_first_shows_the_cap_too(app, client, eight):
    app.config["CATALOG_COUNT_TTL"] = 0  # nothing kept: the page's own rows count
    last = fragment(client, "/coffees?q=lot&sort=name&page=4")
    assert meta(last).startswith("5+ coffees"), meta(last)
    assert next_link(last) is None and pager_pages(last) == [1, 2, 3, 4]


def test_a_page_beyond_the_end_is_empty_without_a_pager(client, eight):
    page = fragment(client, "/coffees?q=lot&sort=name&page=40")
    assert "No coffee matches" in page
    assert next_link(page) is None and pager_pages(page) == []


def test_load_more_past_the_cap(client, eight):
    more = fragment(client, "/coffees?q=lot&sort=name&page=3&more=1")
    assert "Lot 4" in more and "Lot 5" in more
    assert next_link(more) == "/coffees?q=lot&sort=name&page=4"
