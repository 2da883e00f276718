"""Settings → Telegram: connecting with a one-time deep link and its QR code, the page
noticing by itself that the bot has linked, disconnecting; every route in both renders,
English and Russian; nothing of it without a bot (404, no links)."""
import re

import pytest
import segno
from sqlalchemy import func, select, update

from tests.conftest import HX, HX_BOOSTED
from webapp.extensions import db
from webapp.models import TelegramLink, TelegramToken
from webapp.models.base import utcnow
from webapp.services import telegram as service

BOT = {"TELEGRAM_BOT_TOKEN": "123456:test-token", "TELEGRAM_BOT_USERNAME": "crema_test_bot"}
DEEP_LINK = re.compile(r'href="(https://t\.me/crema_test_bot\?start=([A-Za-z0-9_-]+))"')
RU = {"Accept-Language": "ru-RU,ru;q=0.9"}
SETTINGS_PAGES = ["/settings", "/settings/password", "/settings/sessions",
                  "/settings/notifications", "/users/alice"]


@pytest.fixture
def with_bot(app):
    app.config.update(BOT)
    return app


@pytest.fixture
def alice(logged_in, user):
    return user


def text(response) -> str:
    return response.get_data(as_text=True)


def connect(client, headers=None) -> tuple[str, str, str]:
    """POST Connect: the answer's text, its deep link and the token in it."""
    response = client.post("/settings/telegram/connect", headers=headers or {})
    assert response.status_code == 200
    found = DEEP_LINK.search(text(response))
    assert found, text(response)[:2000]
    return text(response), found.group(1), found.group(2)


def link_as_bot(token: str, **who) -> None:
    """What the bot does with /start <token>."""
    service.link(token, **{"telegram_id": 5001, "chat_id": 5001, "first_name": "Alice",
                           "username": "alice_tg", "language_code": "en", **who})
    db.session.remove()


def tokens() -> int:
    return db.session.scalar(select(func.count()).select_from(TelegramToken))


def qr_modules(svg: str) -> set[tuple[int, int]]:
    """The dark modules drawn by segno's SVG path (moves, then horizontal runs)."""
    path = re.search(r'<path class="qrline"[^>]* d="([^"]+)"', svg).group(1)
    x = y = 0.0
    dark = set()
    for op, args in re.findall(r"([MmHhVv])([-\d. ]+)", path.replace("h", " h").replace("m", " m")):
        numbers = [float(n) for n in args.split()]
        if op == "M":
            x, y = numbers
        elif op == "m":
            x, y = x + numbers[0], y + numbers[1]
        elif op == "h":
            step = numbers[0]
            dark.update((int(x + i), int(y)) for i in range(int(step)))
            x += step
    return dark


def matrix_modules(link: str, border: int) -> set[tuple[int, int]]:
    matrix = segno.make(link, error="m").matrix
    return {(col + border, row + border) for row, line in enumerate(matrix)
            for col, on in enumerate(line) if on}


class TestWithoutABot:
    @pytest.mark.parametrize("method, url", [
        ("GET", "/settings/telegram"), ("POST", "/settings/telegram/connect"),
        ("GET", "/settings/telegram/status"), ("POST", "/settings/telegram/disconnect")])
    @pytest.mark.parametrize("headers", [{}, HX], ids=["page", "fragment"])
    def test_every_route_is_404(self, alice, client, method, url, headers):
        assert client.open(url, method=method, headers=headers).status_code == 404
        assert tokens() == 0

    @pytest.mark.parametrize("url", SETTINGS_PAGES)
    def test_no_page_links_to_telegram(self, alice, client, url):
        page = text(client.get(url))
        assert "/settings/telegram" not in page and "t.me/" not in page
        assert "Connect Telegram" not in page


class TestTheEntryPoints:
    @pytest.mark.parametrize("url", SETTINGS_PAGES[:4])
    def test_the_settings_tab(self, with_bot, alice, client, url):
        page = text(client.get(url))
        assert '<a href="/settings/telegram">Telegram</a>' in page

    def test_the_tab_is_current_on_its_pages(self, with_bot, alice, client):
        current = '<a href="/settings/telegram" aria-current="page">Telegram</a>'
        assert current in text(client.get("/settings/telegram"))
        assert current in text(client.get("/settings/telegram/status"))
        assert current in text(client.post("/settings/telegram/connect"))

    def test_ones_own_profile_offers_to_connect_then_says_connected(self, with_bot, alice,
                                                                    client, make_user):
        make_user("bob")
        own = text(client.get("/users/alice"))
        assert re.search(r'<a href="/settings/telegram"[^>]*>\s*Connect Telegram</a>', own)
        assert "/settings/telegram" not in text(client.get("/users/bob"))
        link_as_bot(connect(client)[2])
        own = text(client.get("/users/alice"))
        assert re.search(r'<a href="/settings/telegram"[^>]*>\s*Telegram connected</a>', own)

    def test_a_visitor_sees_no_entry_point(self, with_bot, user, client):
        assert "/settings/telegram" not in text(client.get("/users/alice"))


class TestNotConnected:
    def test_full_page(self, with_bot, alice, client):
        page = text(client.get("/settings/telegram"))
        assert page.lstrip().startswith("<!doctype html>") and "<h1>Telegram</h1>" in page
        assert 'data-state="start"' in page
        assert 'action="/settings/telegram/connect"' in page and "Connect Telegram</button>" in page
        assert "t.me/" not in page

    def test_fragment(self, with_bot, alice, client):
        fragment = text(client.get("/settings/telegram", headers=HX))
        assert fragment.startswith('<section id="telegram"') and "<html" not in fragment
        assert "Connect Telegram</button>" in fragment

    def test_a_boosted_request_gets_the_page(self, with_bot, alice, client):
        assert "<html" in text(client.get("/settings/telegram", headers=HX_BOOSTED))


class TestConnect:
    def test_shows_the_deep_link_its_qr_code_and_how_long_it_works(self, with_bot, alice, client):
        page, link, token = connect(client)

        assert page.lstrip().startswith("<!doctype html>") and 'data-state="pending"' in page
        assert link == f"https://t.me/crema_test_bot?start={token}"
        assert f"<code id=\"telegram-link-text\">{link}</code>" in page
        assert "The link works once, for 10 minutes." in page
        assert db.session.scalar(select(TelegramToken.token_hash)) == service.hash_token(token)

    def test_the_qr_code_is_server_made_svg_of_exactly_the_link(self, with_bot, alice, client):
        page, link, _token = connect(client)

        svg = re.search(r'<svg [^>]*class="telegram-qr".*?</svg>', page, re.S).group(0)
        assert svg.startswith('<svg role="img" aria-label="QR code of the link to the Crema bot'
                              ' in Telegram"')
        assert "<title>QR code of the link to the Crema bot in Telegram</title>" in svg
        assert 'fill="#fff"' in svg and 'stroke="#000"' in svg  # dark on white, any theme
        assert qr_modules(svg) == matrix_modules(link, border=4)
        assert qr_modules(svg) != matrix_modules(link + "x", border=4)

    def test_fragment(self, with_bot, alice, client):
        fragment, link, _token = connect(client, HX)
        assert fragment.startswith('<section id="telegram"') and "<html" not in fragment
        assert 'hx-trigger="every 2s"' in fragment and "<svg" in fragment

    def test_the_link_connects_this_account(self, with_bot, alice, client):
        link_as_bot(connect(client)[2])
        assert service.link_of(alice.id).telegram_id == 5001

    def test_a_reload_never_shows_the_token_again(self, with_bot, alice, client):
        _page, _link, token = connect(client)

        for headers in ({}, HX):
            again = text(client.get("/settings/telegram", headers=headers))
            assert token not in again and "t.me/" not in again
            assert "Connect Telegram</button>" in again
            assert "An earlier link is still waiting to be used" in again
        assert token not in text(client.get("/settings/telegram/status", headers=HX))

    def test_connecting_again_retires_the_earlier_link(self, with_bot, alice, client):
        first, second = connect(client)[2], connect(client)[2]
        assert first != second and tokens() == 1
        with pytest.raises(service.LinkError):
            link_as_bot(first)
        link_as_bot(second)

    @pytest.mark.parametrize("headers, status", [({}, 303), (HX, 204)])
    def test_when_connected_already_shows_the_page_and_makes_no_token(self, with_bot, alice,
                                                                      client, headers, status):
        link_as_bot(connect(client)[2])
        response = client.post("/settings/telegram/connect", headers=headers)
        assert response.status_code == status
        where = response.headers.get("Location") or response.headers["HX-Redirect"]
        assert where == "/settings/telegram"
        assert db.session.scalar(select(func.count()).select_from(TelegramToken)
                                 .where(TelegramToken.used_at.is_(None))) == 0

    def test_needs_the_csrf_token(self, csrf_app, with_bot, user):
        client = csrf_app.test_client()
        login = text(client.get("/auth/login"))
        csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login).group(1)
        client.post("/auth/login", data={"login": "alice", "password": "correct-horse-battery",
                                         "csrf_token": csrf})
        assert client.post("/settings/telegram/connect").status_code == 400
        assert tokens() == 0
        page = text(client.get("/settings/telegram"))
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        assert client.post("/settings/telegram/connect", data={"csrf_token": csrf}).status_code == 200
        assert tokens() == 1


class TestStatus:
    def test_waiting_keeps_polling_and_offers_a_refresh(self, with_bot, alice, client):
        connect(client)
        response = client.get("/settings/telegram/status", headers=HX)
        body = text(response).strip()
        assert response.status_code == 200 and "HX-Retarget" not in response.headers
        assert body.startswith('<p id="telegram-status" hx-get="/settings/telegram/status" '
                               'hx-trigger="every 2s" hx-swap="outerHTML">')
        assert "Waiting for Telegram…" in body
        assert '<a id="telegram-refresh" href="/settings/telegram">I have connected — refresh</a>' in body

    def test_once_linked_swaps_in_the_connected_section_and_stops(self, with_bot, alice, client):
        link_as_bot(connect(client)[2])
        response = client.get("/settings/telegram/status", headers=HX)
        body = text(response)
        assert response.headers["HX-Retarget"] == "#telegram"
        assert response.headers["HX-Reswap"] == "outerHTML"
        assert body.startswith('<section id="telegram" class="telegram" data-state="connected">')
        assert "Connected to Telegram as Alice (@alice_tg) since" in body
        assert "hx-trigger" not in body.split('<div id="flashes"')[0]
        assert 'hx-swap-oob="true"' in body and "Telegram is connected." in body

    def test_an_unused_link_that_expired_stops_polling(self, with_bot, alice, client):
        connect(client)
        db.session.execute(update(TelegramToken).values(expires_at=utcnow()))
        db.session.commit()
        body = text(client.get("/settings/telegram/status", headers=HX))
        assert "hx-trigger" not in body
        assert "The link was not used in time" in body and "Connect Telegram</button>" in body

    @pytest.mark.parametrize("headers", [{}, HX_BOOSTED], ids=["page", "boosted"])
    def test_a_full_request_gets_the_page_as_it_is(self, with_bot, alice, client, headers):
        page = text(client.get("/settings/telegram/status", headers=headers))
        assert "<html" in page and 'data-state="start"' in page
        link_as_bot(connect(client)[2])
        page = text(client.get("/settings/telegram/status", headers=headers))
        assert "<html" in page and 'data-state="connected"' in page


class TestConnected:
    def test_full_page(self, with_bot, alice, client):
        link_as_bot(connect(client)[2])
        linked_at = service.link_of(alice.id).linked_at
        page = text(client.get("/settings/telegram"))
        assert ("Connected to Telegram as Alice (@alice_tg) since "
                f"{linked_at:%B} {linked_at.day}, {linked_at.year}.") in page
        assert 'action="/settings/telegram/disconnect"' in page and "Disconnect</button>" in page
        assert "Connect Telegram</button>" not in page

    def test_fragment(self, with_bot, alice, client):
        link_as_bot(connect(client)[2])
        fragment = text(client.get("/settings/telegram", headers=HX))
        assert fragment.startswith('<section id="telegram"') and "<html" not in fragment
        assert "Disconnect</button>" in fragment

    def test_without_a_username_or_a_name(self, with_bot, alice, client):
        link_as_bot(connect(client)[2], first_name="", username=None)
        page = text(client.get("/settings/telegram"))
        assert "Connected to Telegram as your Telegram account since" in page
        assert "(@" not in page

    def test_the_names_from_telegram_are_escaped(self, with_bot, alice, client):
        link_as_bot(connect(client)[2], first_name="<b>Al</b>", username="a&b")
        page = text(client.get("/settings/telegram"))
        assert "&lt;b&gt;Al&lt;/b&gt; (@a&amp;b)" in page and "<b>Al</b>" not in page


class TestDisconnect:
    def test_page(self, with_bot, alice, client):
        link_as_bot(connect(client)[2])
        response = client.post("/settings/telegram/disconnect")
        assert response.status_code == 303 and response.headers["Location"] == "/settings/telegram"
        assert db.session.scalar(select(func.count()).select_from(TelegramLink)) == 0
        page = text(client.get("/settings/telegram"))
        assert "Telegram is disconnected" in page and 'data-state="start"' in page

    def test_fragment(self, with_bot, alice, client):
        link_as_bot(connect(client)[2])
        response = client.post("/settings/telegram/disconnect", headers=HX)
        body = text(response)
        assert response.status_code == 200
        assert body.startswith('<section id="telegram" class="telegram" data-state="start">')
        assert "Telegram is disconnected" in body and 'hx-swap-oob="true"' in body
        assert service.link_of(alice.id) is None

    def test_when_not_connected_changes_nothing(self, with_bot, alice, client, make_user):
        bob = make_user("bob")
        link_as_bot(service.new_token("link", bob.id))
        response = client.post("/settings/telegram/disconnect")
        assert response.status_code == 303
        assert "Telegram is disconnected" not in text(client.get("/settings/telegram"))
        assert service.link_of(bob.id) is not None


class TestRussian:
    def test_not_connected_and_waiting(self, with_bot, alice, client):
        page = text(client.get("/settings/telegram", headers=RU))
        assert "Подключить Telegram" in page and "Connect" not in page
        page = text(client.post("/settings/telegram/connect", headers=RU))
        assert "Ссылка действует один раз, 10 минут." in page
        assert "Ждём Telegram…" in page and "Waiting" not in page
        assert 'aria-label="QR-код ссылки на бота Crema в Telegram"' in page

    def test_connected(self, with_bot, alice, client):
        link_as_bot(connect(client)[2])
        page = text(client.get("/settings/telegram", headers=RU))
        assert "Подключено к Telegram как Alice (@alice_tg) с " in page
        assert "Отключить</button>" in page
        body = text(client.post("/settings/telegram/disconnect", headers={**RU, **HX}))
        assert "Telegram отключён" in body
