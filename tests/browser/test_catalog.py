"""The catalog in a real browser: search, filters and sort in the URL, adding a coffee,
and a review that moves the histogram without a reload (and without JavaScript)."""
import re

import pytest
from sqlalchemy import select

from tests.browser.steps import expect, fresh, log_in, path_is
from webapp.models import Coffee


@pytest.fixture
def page(csrf_app, page):
    """The browser tab, against the app with CSRF protection on, as in production."""
    return page


@pytest.fixture
def catalog(make_user, make_coffee, make_review):
    """Three coffees; the Kenyan one is rated best, the natural Ethiopian second."""
    roaster = make_user("roaster")
    coffees = {
        "kochere": make_coffee("Kochere Washed", by=roaster, origin="ET", process="washed",
                               notes=["jasmine", "lemon"]),
        "hambela": make_coffee("Hambela Natural", by=roaster, origin="ET", process="natural",
                               notes=["blueberry", "strawberry"]),
        "karogoto": make_coffee("Karogoto AA", by=roaster, origin="KE", process="washed",
                                notes=["blackberry"]),
    }
    for n, (key, stars) in enumerate([("karogoto", 5), ("hambela", 4), ("kochere", 3)] * 3):
        make_review(coffees[key], make_user(f"taster{n}"), stars)
    return coffees


def sign_in(page, username: str) -> None:
    """Log in and wait until the session is there before going anywhere else."""
    log_in(page, username)
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def card_names(page):
    return page.locator("#coffee-list .coffee-card h3")


def test_search_filter_and_sort_update_the_url(page, catalog):
    page.goto("/coffees")
    expect(card_names(page)).to_have_count(3)
    search = page.get_by_label("Search coffees", exact=True).last
    search.click()
    search.press_sequentially("et", delay=40)
    expect(card_names(page)).to_have_text(["Hambela Natural", "Kochere Washed"])
    expect(page).to_have_url(re.compile(r"/coffees\?q=et$"))
    expect(search).to_be_focused()  # typing goes on while the results change

    page.get_by_label("Process").select_option("washed")
    expect(card_names(page)).to_have_text(["Kochere Washed"])
    expect(page).to_have_url(re.compile(r"/coffees\?q=et&process=washed$"))

    page.get_by_label("Process").select_option("")
    expect(page).to_have_url(re.compile(r"/coffees\?q=et$"))
    page.get_by_label("Sort by").select_option("name")
    expect(page).to_have_url(re.compile(r"/coffees\?q=et&sort=name$"))
    expect(card_names(page)).to_have_text(["Hambela Natural", "Kochere Washed"])

    page.reload()  # the URL alone rebuilds the same page
    expect(card_names(page)).to_have_text(["Hambela Natural", "Kochere Washed"])
    expect(page.get_by_label("Sort by")).to_have_value("name")
    expect(search).to_have_value("et")

    page.go_back()
    expect(page).to_have_url(re.compile(r"/coffees\?q=et$"))
    expect(card_names(page)).to_have_text(["Hambela Natural", "Kochere Washed"])
    expect(page.get_by_label("Sort by")).to_have_value("top")


def test_top_rated_ranks_by_the_bayesian_score(page, catalog):
    page.goto("/coffees?sort=top")
    expect(card_names(page)).to_have_text(["Karogoto AA", "Hambela Natural", "Kochere Washed"])


def test_load_more_and_page_links(page, make_coffee):
    for n in range(23):
        make_coffee(f"Lot {n:02}")
    page.goto("/coffees?sort=name")
    expect(card_names(page)).to_have_count(20)
    page.get_by_role("button", name="Load more").click()
    expect(card_names(page)).to_have_count(23)
    expect(page).to_have_url(re.compile(r"/coffees\?sort=name&page=2$"))
    expect(page.get_by_role("button", name="Load more")).to_have_count(0)
    page.goto("/coffees?sort=name")
    page.locator(".pager").get_by_role("link", name="2").click()
    expect(card_names(page)).to_have_text(["Lot 20", "Lot 21", "Lot 22"])
    expect(page).to_have_url(re.compile(r"/coffees\?sort=name&page=2$"))


def test_add_a_coffee_with_near_match_and_duplicate(page, make_user, make_coffee, db):
    make_user("alice")
    existing = make_coffee("Guji Hambela", roaster="North Star", origin="ET")
    page.goto("/coffees")
    sign_in(page, "alice")
    page.goto("/coffees")
    page.get_by_role("button", name="Add a coffee").click()
    expect(page).to_have_url(path_is("/coffees/new"))
    page.get_by_label("Roaster").fill("North Star")
    page.get_by_label("Name", exact=True).press_sequentially("Guji Hambella", delay=20)
    expect(page.locator("#similar")).to_contain_text("North Star — Guji Hambela")

    page.get_by_label("Name", exact=True).fill("guji hambela")
    page.get_by_label("Origin country").select_option("ET")
    page.get_by_role("button", name="Add to the catalog").click()
    error = page.locator("#coffee-form .field-error").first
    expect(error).to_contain_text("already in the catalog")
    expect(error.get_by_role("link")).to_have_attribute("href", f"/coffees/{existing.id}")

    page.get_by_label("Name", exact=True).fill("Guji Uraga")
    page.get_by_label("Origin country").select_option("ET")
    page.get_by_label("Process").select_option("natural")
    page.get_by_label("Roast level").select_option("light")
    page.get_by_label("Altitude (metres)").fill("2150")
    page.locator(".flavour-picker summary").click()
    page.locator(".flavour-picker").get_by_text("Blueberry", exact=True).click()
    page.locator(".flavour-picker").get_by_text("Jasmine", exact=True).click()
    page.get_by_role("button", name="Add to the catalog").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Guji Uraga")
    expect(page.locator("#flashes")).to_contain_text("Guji Uraga is in the catalog.")
    coffee = fresh(db).scalar(select(Coffee).where(Coffee.name == "Guji Uraga"))
    expect(page).to_have_url(path_is(f"/coffees/{coffee.id}"))
    expect(page.locator(".coffee-main .chips")).to_contain_text("Blueberry")


def write_review(page, stars: str, brew: str, flavour: str, body: str) -> None:
    form = page.locator("#my-review")
    form.locator(f"label[for='rating-{stars}']").click()
    form.get_by_label("Brewed with").select_option(brew)
    form.locator(".flavour-picker summary").click()
    form.get_by_text(flavour, exact=True).click()
    form.get_by_label("Your notes").fill(body)


def test_review_moves_the_histogram_without_a_reload(page, make_user, make_coffee, make_review):
    coffee = make_coffee("Kochere", notes=["blueberry"])
    make_review(coffee, make_user("first"), 3)
    make_user("alice")
    page.goto(f"/coffees/{coffee.id}")
    sign_in(page, "alice")
    page.goto(f"/coffees/{coffee.id}")
    summary = page.locator("#rating-summary")
    expect(summary.get_by_test_id("count")).to_have_text("1 rating")
    page.evaluate("window.stillHere = true")

    write_review(page, "4.5", "aeropress", "Blueberry", "Juicy.\nLong finish.")
    page.locator("#my-review").get_by_role("button", name="Publish review").click()

    expect(summary.get_by_test_id("count")).to_have_text("2 ratings")
    expect(summary.get_by_test_id("mean")).to_have_text("3.8")
    expect(summary.locator("li[data-stars='4.5'] .hist-count")).to_have_text("1")
    expect(summary).to_contain_text("The bag says Blueberry: 100% of tasters found it")
    expect(page.locator("#my-review")).to_contain_text("Saved.")
    expect(page.locator("#reviews")).to_contain_text("Long finish.")
    assert page.evaluate("window.stillHere") is True  # no reload happened
    expect(page).to_have_url(path_is(f"/coffees/{coffee.id}"))

    # Writing again edits the same review; the histogram moves the rating.
    page.locator("#my-review").get_by_role("button", name="Edit review").click()
    page.locator("#my-review").locator("label[for='rating-2']").click()
    page.locator("#my-review").get_by_role("button", name="Save changes").click()
    expect(summary.get_by_test_id("count")).to_have_text("2 ratings")
    expect(summary.locator("li[data-stars='4.5'] .hist-count")).to_have_text("0")
    expect(summary.locator("li[data-stars='2.0'] .hist-count")).to_have_text("1")
    assert page.evaluate("window.stillHere") is True


def test_invalid_review_shows_inline_errors(page, make_user, make_coffee):
    coffee = make_coffee("Kochere")
    make_user("alice")
    page.goto("/coffees")
    sign_in(page, "alice")
    page.goto(f"/coffees/{coffee.id}")
    page.locator("#my-review").get_by_role("button", name="Publish review").click()
    expect(page.locator("#my-review .field-error")).to_have_text(
        ["Choose a rating from 0.5 to 5 stars.", "Choose a brew method."])
    expect(page.locator("#rating-summary")).to_contain_text("No ratings yet.")


def test_the_same_review_without_javascript(nojs_page, csrf_app, make_user, make_coffee,
                                            make_review):
    page = nojs_page
    coffee = make_coffee("Kochere", notes=["blueberry"])
    make_review(coffee, make_user("first"), 3)
    make_user("alice")
    page.goto("/coffees?q=koch")
    expect(card_names(page)).to_have_text(["Kochere"])
    page.get_by_label("Process").select_option("natural")
    page.get_by_role("button", name="Search").click()  # a plain GET form
    expect(page).to_have_url(re.compile(r"process=natural"))
    expect(page.locator(".empty-state")).to_be_visible()

    sign_in(page, "alice")
    page.goto(f"/coffees/{coffee.id}")
    write_review(page, "4.5", "espresso", "Blueberry", "No scripts needed.")
    page.locator("#my-review").get_by_role("button", name="Publish review").click()
    expect(page).to_have_url(re.compile(rf"/coffees/{coffee.id}#my-review$"))
    expect(page.locator("#flashes")).to_contain_text("Thank you for your review.")
    summary = page.locator("#rating-summary")
    expect(summary.get_by_test_id("count")).to_have_text("2 ratings")
    expect(summary.locator("li[data-stars='4.5'] .hist-count")).to_have_text("1")


def test_russian_visitor_finds_ethiopia_by_two_letters(open_page, catalog):
    page = open_page(locale="ru-RU")
    page.goto("/coffees")
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    page.locator("#q").press_sequentially("эф", delay=40)
    expect(card_names(page)).to_have_count(2)
    expect(page.locator("#coffee-list")).to_contain_text("Эфиопия")
    page.locator("#catalog-form select[name=process]").select_option("washed")
    expect(card_names(page)).to_have_text(["Kochere Washed"])
    expect(page).to_have_url(re.compile(r"q=%D1%8D%D1%84&process=washed$"))
