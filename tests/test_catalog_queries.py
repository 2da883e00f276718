"""A fixed number of SQL statements whatever the page size or number of reviews."""
import pytest

from tests.conftest import HX, PASSWORD
from webapp.services import coffees as coffee_service
from webapp.services.coffees import CatalogQuery


def queries(count_queries, client, url, headers=None) -> int:
    with count_queries() as seen:
        response = client.get(url, headers=headers or {})
    assert response.status_code == 200
    return seen[0]


def forget_caches(app) -> None:
    """Drop the rendered cards and the totals, as in a fresh process."""
    app.extensions.pop("coffee_cards", None)
    app.extensions.pop("catalog_counts", None)


def test_catalog_fragment_is_constant_in_page_size(app, client, make_coffee, count_queries):
    make_coffee("Lot 0", notes=["blueberry", "jasmine"])
    forget_caches(app)
    one = queries(count_queries, client, "/coffees?sort=name", HX)
    for n in range(1, 20):
        make_coffee(f"Lot {n}", notes=["lemon", "honey", "rose"])
    forget_caches(app)
    twenty = queries(count_queries, client, "/coffees?sort=name", HX)
    # The page's rows (with the row after them: none, so they end the list and
    # give the total), then the coffees and their notes for the cards.
    assert one == twenty == 3, (one, twenty)
    forget_caches(app)
    assert queries(count_queries, client, "/coffees?q=lot&process=washed&flavour=fruity", HX) == one
    make_coffee("Lot 20")
    forget_caches(app)
    # A 21st coffee: the first page is not the last, so the total is counted.
    assert queries(count_queries, client, "/coffees?sort=name", HX) == 4


def test_catalog_fragment_warm_is_one_query(app, client, make_coffee, count_queries):
    for n in range(25):
        make_coffee(f"Lot {n}")
    queries(count_queries, client, "/coffees?q=lot&sort=name", HX)
    # Cards rendered before and the total of this search: only the page's rows.
    assert queries(count_queries, client, "/coffees?q=lot&sort=name", HX) == 1
    # The next page reuses the total; its five cards are new: rows, coffees, notes.
    assert queries(count_queries, client, "/coffees?q=lot&sort=name&page=2", HX) == 3


@pytest.mark.parametrize("logged_in_as", [None, "reader"])
def test_coffee_page_is_constant_in_reviews(client, auth, make_user, make_coffee, make_review,
                                            count_queries, app, logged_in_as):
    app.config["REVIEWS_PER_PAGE"] = 50
    reader = make_user("reader")
    coffee = make_coffee(notes=["blueberry", "jasmine"])
    make_review(coffee, make_user(), 4, tags=["blueberry"])
    if logged_in_as:
        make_review(coffee, reader, 3, tags=["jasmine"])
        auth.login(logged_in_as, PASSWORD)
    url = f"/coffees/{coffee.id}"
    client.get(url)  # the first view creates the coffee's chat room
    one = queries(count_queries, client, url)
    for n in range(48):
        make_review(coffee, make_user(), 1 + n % 5, "espresso" if n % 2 else "aeropress",
                    tags=["blueberry", "lemon"][: n % 3])
    fifty = queries(count_queries, client, url)
    # The discussion under the reviews costs two: its room and its latest messages; a
    # logged-in reader two more: the bell's unread count, and what they follow.
    assert one == fifty <= 16, (one, fifty)
    # The fragment has no header, so no bell.
    assert queries(count_queries, client, url, HX) == one - (1 if logged_in_as else 0)



@pytest.mark.parametrize("sort", ["top", "reviews", "newest", "name"])
def test_a_one_letter_search_pages_in_the_sorts_order(app, make_coffee, sort):
    # A one-letter word is probed per coffee while the page walks the sort's index
    # (longer words are collected first): the same coffees, in the sort's order.
    made = {name: make_coffee(name, notes=[]).id
            for name in ("Alpha", "Bravo", "Apex", "Charlie", "Ash")}
    # Unrated coffees tie on score and count, so "top" and "reviews" fall back to id.
    order = ["Alpha", "Apex", "Ash"] if sort == "name" else ["Ash", "Apex", "Alpha"]
    with app.test_request_context():
        pages = [coffee_service.search_catalog(
            CatalogQuery(q="a", sort=sort, page=page).cleaned(), 2).items for page in (1, 2)]
        assert [row.id for page in pages for row in page] == [made[n] for n in order]
        assert [coffee_service.count_matches(CatalogQuery(q=q).cleaned())
                for q in ("a", "al", "b")] == [3, 1, 1]


@pytest.mark.parametrize("sort", ["top", "name", None])
def test_every_word_must_match_in_pages_and_counts(app, make_coffee, sort):
    """Words of two or more letters are collected together (an INTERSECT of their
    ranges); a coffee needs a term starting with each of them."""
    made = {name: make_coffee(name, roaster=roaster, region=region).id
            for name, roaster, region in [("Ritual Gran", "Ritual", "Granada"),
                                          ("Ritual Other", "Ritual", "Huila"),
                                          ("Gran Lot", "Other", "Granada"),
                                          ("Ritual Three", "Ritual", "Granja")]}
    query = CatalogQuery(q="ritual gra k" if sort is None else "ritual gran", sort=sort or "top")
    with app.test_request_context():
        if sort is None:  # the count, with a one-letter word too ("k": no coffee has one)
            assert coffee_service.count_matches(query) == 0
            assert coffee_service.count_matches(CatalogQuery(q="ritual gra")) == 2
            return
        page = coffee_service.search_catalog(query, per_page=20)
        # "gran" starts Gran and Granja; "Ritual Other" and "Gran Lot" lack a word.
        assert sorted(row.id for row in page) == [made["Ritual Gran"], made["Ritual Three"]]
        assert page.total == 2
