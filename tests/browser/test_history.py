"""After log-out, Back must not bring a private page back from htmx's history cache."""
import json

import pytest
from playwright.sync_api import Page, expect

from tests.browser.steps import log_in, log_out, path_is

PRIVATE = "Only I should ever read this bio 4217"


@pytest.fixture
def page(csrf_app, page):
    """The browser tab, against the app with CSRF protection on, as in production."""
    return page


def stored_snapshots(page: Page) -> list[dict]:
    """Every page snapshot htmx keeps in the tab's storage (htmx 2.0 uses sessionStorage;
    localStorage is checked too, where older versions kept them)."""
    snapshots = []
    for storage in ("sessionStorage", "localStorage"):
        raw = page.evaluate(f"() => window.{storage}.getItem('htmx-history-cache')")
        snapshots += json.loads(raw) if raw else []
    return snapshots


def storage_text(page: Page) -> str:
    return page.evaluate("() => JSON.stringify([{...sessionStorage}, {...localStorage}])")


def test_back_after_log_out_shows_no_private_page(page, make_user):
    make_user("alice", bio=PRIVATE)
    page.goto("/")
    page.get_by_role("link", name="Coffees").click()  # an anonymous page htmx may keep
    expect(page).to_have_url(path_is("/coffees"))
    log_in(page, "alice")
    expect(page.locator("#flashes")).to_contain_text("Welcome back")

    page.get_by_role("link", name="Settings").click()
    expect(page).to_have_url(path_is("/settings"))
    expect(page.get_by_label("About you")).to_have_value(PRIVATE)
    page.get_by_role("link", name="Coffees").click()  # htmx snapshots the page it leaves...
    expect(page).to_have_url(path_is("/coffees"))
    page.go_back()
    expect(page).to_have_url(path_is("/settings"))
    expect(page.get_by_label("About you")).to_have_value(PRIVATE)
    assert not [s["url"] for s in stored_snapshots(page) if "/settings" in s["url"]]  # ...not this one
    assert PRIVATE not in storage_text(page)

    assert "/" in [s["url"] for s in stored_snapshots(page)]  # kept from before log-in
    log_out(page)
    assert stored_snapshots(page) == []  # log-out cleared even the anonymous ones
    page.go_back()
    expect(page).to_have_url(path_is("/settings"))
    expect(page.locator("#login-form")).to_be_visible()  # asked to log in, from the server
    expect(page.get_by_text(PRIVATE)).to_have_count(0)
    expect(page.locator("textarea")).to_have_count(0)
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    assert PRIVATE not in storage_text(page)
