"""Settings → Telegram in a real browser, reached from the settings or one's profile:
Connect shows the deep link and its QR code, the page turns to "Connected" by itself once
the bot has linked (the test links the token through the service, as the bot does),
Disconnect; and the same without JavaScript through the refresh link."""
import re

import pytest

from tests.browser.steps import expect, fresh, path_is
from tests.browser.test_chat import logged_in
from webapp.extensions import db
from webapp.services import telegram as service

DEEP_LINK = re.compile(r"^https://t\.me/crema_test_bot\?start=([A-Za-z0-9_-]{22,64})$")
QR_NAME = "QR code of the link to the Crema bot in Telegram"


@pytest.fixture
def site(app, csrf_app, live_server):
    """The live server with a Telegram bot configured and CSRF protection on."""
    app.config.update(TELEGRAM_BOT_TOKEN="123456:test-token",
                      TELEGRAM_BOT_USERNAME="crema_test_bot")
    return live_server


@pytest.fixture
def alice(make_user):
    return make_user("alice", display_name="Alice")


def connect(page) -> str:
    """Press Connect on the Telegram settings; the token of the deep link shown."""
    page.get_by_role("button", name="Connect Telegram").click()
    link = page.get_by_role("button", name="Open the Crema bot in Telegram")
    expect(link).to_have_attribute("href", DEEP_LINK)
    expect(page.get_by_role("img", name=QR_NAME)).to_be_visible()
    href = link.get_attribute("href")
    expect(page.locator("#telegram-link-text")).to_have_text(href)
    return DEEP_LINK.match(href).group(1)


def bot_links(token: str) -> None:
    """What the bot does when the user presses Start with the token."""
    fresh(db)
    service.link(token, telegram_id=5001, chat_id=5001, first_name="Alice",
                 username="alice_tg", language_code="en")


def test_connect_see_the_qr_code_get_connected_live_and_disconnect(open_page, alice):
    page = logged_in(open_page, "alice")
    page.goto("/settings")
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Telegram").click()
    expect(page).to_have_url(path_is("/settings/telegram"))
    expect(page.get_by_role("heading", name="Telegram", level=1)).to_be_visible()

    token = connect(page)
    expect(page.locator("#telegram-status")).to_contain_text("Waiting for Telegram…")
    page.evaluate("window.sameDocument = true")  # gone if the page were reloaded

    bot_links(token)

    connected = page.locator("#telegram-connected")
    expect(connected).to_contain_text("Connected to Telegram as Alice (@alice_tg) since")
    expect(page.locator("#flashes")).to_contain_text("Telegram is connected.")
    expect(page.get_by_role("img", name=QR_NAME)).to_have_count(0)
    assert page.evaluate("window.sameDocument") is True
    expect(page).to_have_url(path_is("/settings/telegram"))

    page.get_by_role("button", name="Disconnect").click()
    expect(page.get_by_role("button", name="Connect Telegram")).to_be_visible()
    expect(page.locator("#flashes")).to_contain_text("Telegram is disconnected")
    fresh(db)
    assert service.link_of(alice.id) is None


def test_without_javascript_the_refresh_link_shows_connected(open_page, alice):
    page = logged_in(open_page, "alice", javascript=False)
    page.goto("/users/alice")  # the way in from one's profile
    page.get_by_role("button", name="Connect Telegram").click()
    expect(page).to_have_url(path_is("/settings/telegram"))

    token = connect(page)
    expect(page).to_have_url(path_is("/settings/telegram/connect"))
    bot_links(token)
    page.get_by_role("link", name="I have connected — refresh").click()

    expect(page).to_have_url(path_is("/settings/telegram"))
    expect(page.locator("#telegram-connected")).to_contain_text("Connected to Telegram as Alice")
    page.get_by_role("button", name="Disconnect").click()
    expect(page).to_have_url(path_is("/settings/telegram"))
    expect(page.get_by_role("button", name="Connect Telegram")).to_be_visible()
