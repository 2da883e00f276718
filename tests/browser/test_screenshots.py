"""Screenshots for the docs, taken from the seeded demo site, and layout checks.

The demo site is seeded once for the module (the ``demo_site`` fixture); these tests
only look at it.
"""
import os
import re
from pathlib import Path

import pytest
from babel.dates import format_date

from tests.browser.steps import expect, log_in
from webapp.seed import DEMO_PASSWORD

# Test runs write to a scratch folder; `make screenshots` points this at docs/screenshots
# to refresh the pictures in the README, so a plain test run never changes tracked files.
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / os.environ.get("CREMA_SCREENSHOT_DIR", "tests/artifacts/screenshots")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def site(demo_site):
    return demo_site


@pytest.fixture
def demo(demo_site):
    """The demo users (plain data), oldest first; they joined on fixed dates."""
    return demo_site.users


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def screenshot(page, name: str) -> tuple[int, int]:
    """The whole page, once its fonts are ready, saved as ``name``; its size in pixels."""
    page.evaluate("document.fonts.ready")
    path = SCREENSHOTS / name
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=path, full_page=True)
    return png_size(path)


def test_home_screenshot(page, demo):
    page.goto("/")
    newest = list(reversed(demo))[:6]
    expect(page.locator(".member-list li strong")).to_have_text([u.name for u in newest])
    expect(page.locator(".member-list li").first).to_contain_text(
        f"@{newest[0].username} · {format_date(newest[0].created_at, 'medium', locale='en')}")
    width, height = screenshot(page, "home.png")
    assert width == 1280 and height >= 600


def test_profile_screenshot(page, demo):
    lena = next(u for u in demo if u.username == "lena_brews")
    page.goto("/users/lena_brews")
    expect(page.get_by_role("heading", level=1)).to_have_text("Lena Park")
    expect(page.locator(".bio")).to_have_text(lena.bio)
    expect(page.locator("#profile")).to_contain_text(
        f"Member since {format_date(lena.created_at, 'long', locale='en')}")
    width, _height = screenshot(page, "profile.png")
    assert width == 1280


def test_chat_screenshot(page, demo):
    page.goto("/")
    log_in(page, "lena_brews", DEMO_PASSWORD)
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    page.goto("/chat")
    page.get_by_role("link", name="General", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("General")
    expect(page.locator(".presence")).to_have_text("1 here")  # the socket is open
    expect(page.locator(".messages .msg").first).to_contain_text(
        "Morning everyone! What is in your cup today?")
    page.get_by_label("Your message").fill("A washed Kenyan, as a V60. Bright!")
    width, _height = screenshot(page, "chat.png")
    assert width == 1280


def test_notification_settings_screenshot(page, demo):
    page.goto("/")
    log_in(page, "lena_brews", DEMO_PASSWORD)
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    page.goto("/settings/notifications")
    expect(page.get_by_role("heading", level=1)).to_have_text("Notification settings")
    expect(page.get_by_role("checkbox")).not_to_have_count(0)
    width, _height = screenshot(page, "notification-settings.png")
    assert width == 1280


@pytest.fixture
def with_bot(site, monkeypatch):
    """The demo site with a Telegram bot configured (no call reaches Telegram)."""
    monkeypatch.setitem(site.app.config, "TELEGRAM_BOT_TOKEN", "123456:demo")
    monkeypatch.setitem(site.app.config, "TELEGRAM_BOT_USERNAME", "crema_demo_bot")


def test_telegram_connect_screenshot(page, demo, with_bot):
    page.goto("/")
    log_in(page, "lena_brews", DEMO_PASSWORD)
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    page.goto("/settings/telegram")
    page.get_by_role("button", name="Connect Telegram").click()
    expect(page.get_by_role("img", name="QR code of the link to the Crema bot in Telegram")
           ).to_be_visible()
    expect(page.get_by_role("button", name="Open the Crema bot in Telegram")).to_have_attribute(
        "href", re.compile(r"^https://t\.me/crema_demo_bot\?start="))
    width, _height = screenshot(page, "telegram-connect.png")
    assert width == 1280


def test_broadcast_screenshot(page, demo, with_bot):
    page.goto("/")
    log_in(page, "admin", DEMO_PASSWORD)
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    page.goto("/admin/broadcast")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    page.get_by_role("textbox").first.fill(
        "New in the catalog this week: three washed Ethiopians. Tell us what you taste!")
    width, _height = screenshot(page, "broadcast.png")
    assert width == 1280


@pytest.mark.parametrize("width", [360, 768, 1280])
@pytest.mark.parametrize("path", ["/", "/users/moderator", "/auth/register", "/auth/login",
                                  "/chat", "/coffees/1", "/auth/password/forgot"])
def test_pages_fit_the_screen(page, demo, width, path):
    """No sideways scrolling, and the header and footer stay on screen, at any width."""
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(path)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{path} is {overflow}px wider than a {width}px screen"
    for selector in (".site-header", ".site-footer", "main"):
        box = page.locator(selector).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, selector
