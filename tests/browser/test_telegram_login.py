"""Log in with Telegram in a real browser, the way without the widget: the log-in
page's button makes a one-time link (and its QR code) on a waiting page; once the bot
has confirmed (the test confirms through the service, as the bot does), the page signs
in by itself with JavaScript, or through its Continue button without. Telegram's widget
script cannot load here (requests to telegram.org are refused): the page works anyway."""
import re
import time

import pytest

from tests.browser.steps import expect, fresh, path_is
from tests.browser.test_telegram import site  # noqa: F401 (the live server with a bot)
from webapp.extensions import db
from webapp.services import telegram_login as service
from webapp.services.telegram_login import Identity

DEEP_LINK = re.compile(r"^https://t\.me/crema_test_bot\?start=login_([A-Za-z0-9_-]{22,58})$")
QR_NAME = "QR code of the log-in link to the Crema bot in Telegram"
ANA = 5001


@pytest.fixture
def alice(make_user):
    user = make_user("alice", display_name="Alice")
    service.link_identity(user.id, Identity(ANA, "Alice", "", "alice_tg", int(time.time())))
    return user


def ask_for_a_link(open_page, **tab):
    """The log-in page's "Log in with Telegram" pressed; the tab and the link's token."""
    page = open_page(**tab)
    page.context.route("https://telegram.org/**", lambda route: route.abort())
    page.goto("/auth/login?next=/coffees")
    expect(page.get_by_role("heading", name="Log in with Telegram", level=2)).to_be_visible()
    page.get_by_role("button", name="Log in with Telegram").click()
    expect(page).to_have_url(path_is("/auth/telegram/wait"))
    link = page.get_by_role("button", name="Open the Crema bot in Telegram")
    expect(link).to_have_attribute("href", DEEP_LINK)
    expect(page.get_by_role("img", name=QR_NAME)).to_be_visible()
    return page, DEEP_LINK.match(link.get_attribute("href")).group(1)


def bot_confirms(token: str) -> None:
    """What the bot does when the linked user presses "Yes, log me in"."""
    fresh(db)
    service.confirm_login(token, ANA)
    db.session.remove()


def test_the_waiting_page_signs_in_by_itself(open_page, alice):
    page, token = ask_for_a_link(open_page)
    expect(page.locator("#telegram-login-status")).to_contain_text(
        "Waiting for your confirmation in Telegram…")
    bot_confirms(token)
    expect(page).to_have_url(path_is("/coffees"))
    expect(page.locator("#flashes")).to_contain_text("Welcome back, Alice.")
    expect(page.locator(".nav-user")).to_contain_text("Alice")


def test_without_javascript_continue_signs_in(open_page, alice):
    page, token = ask_for_a_link(open_page, javascript=False)
    page.get_by_role("button", name="I've confirmed — continue").click()
    expect(page.get_by_role("alert")).to_contain_text("Telegram has not confirmed yet")
    bot_confirms(token)
    page.get_by_role("button", name="I've confirmed — continue").click()
    expect(page).to_have_url(path_is("/coffees"))
    expect(page.locator("#flashes")).to_contain_text("Welcome back, Alice.")
