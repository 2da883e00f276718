"""After log-out, Back must not bring a private page back from htmx's history cache;
signing out another device from /settings/sessions, in place."""
import json

import pytest
from playwright.sync_api import Page

from tests.browser.steps import expect, log_in, log_out, path_is
from tests.test_sessions import SAFARI_IPHONE, logged_in_as
from tests.test_sessions import log_in as log_in_elsewhere

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


def test_sign_out_another_device_in_place(page, app, make_user):
    make_user("alice")
    phone = log_in_elsewhere(app, SAFARI_IPHONE)
    page.goto("/")
    log_in(page, "alice")
    expect(page.locator("#flashes")).to_contain_text("Welcome back")
    page.get_by_role("link", name="Settings").click()
    page.get_by_role("link", name="Sessions").click()
    expect(page).to_have_url(path_is("/settings/sessions"))
    devices = page.locator("#sessions li")
    expect(devices).to_have_count(2)
    expect(devices.filter(has_text="This device")).to_contain_text("Chrome on Linux")

    page.locator("#sessions li", has_text="Safari on iOS").get_by_role("button", name="Sign out").click()
    expect(page.locator("#flashes")).to_contain_text("That session has been signed out.")
    expect(devices).to_have_count(1)
    expect(page.get_by_text("You are not signed in anywhere else.")).to_be_visible()
    expect(page).to_have_url(path_is("/settings/sessions"))
    assert not logged_in_as(phone)
