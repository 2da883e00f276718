"""The live chat in a real browser: two people talking on a coffee page, a link lost and
caught up, edits and deletes, flood control, unread counts in the list of rooms, the forms
without JavaScript, older messages on scrolling up, a boosted navigation away from a room,
and a room in Russian."""
import re

import pytest
from sqlalchemy import func, select

from tests.browser.steps import expect, fresh, path_is
from tests.conftest import PASSWORD
from webapp.chat.hub import get_hub
from webapp.extensions import db
from webapp.models import Message
from webapp.services import chat

SOCKET_URL = re.compile(r"/chat/\d+/ws$")


@pytest.fixture
def site(csrf_app, live_server):
    """The live server with CSRF protection on, as in production."""
    return live_server


@pytest.fixture
def alice(make_user):
    return make_user("alice", display_name="Alice")


@pytest.fixture
def bob(make_user):
    return make_user("bob", display_name="Bob")


@pytest.fixture
def coffee(make_coffee, alice):
    return make_coffee("Guji Natural", by=alice)


@pytest.fixture
def room(coffee):
    """The coffee's room (a page creates it on its first view; here before any)."""
    return chat.room_for_coffee(coffee.id)


class ChatTab:
    """One person's tab showing a room: what they see there and what they do."""

    def __init__(self, page, room_id: int) -> None:
        self.page, self.room_id = page, room_id
        self.room = page.locator(f"#room-{room_id}")
        self.messages = page.locator(f"#messages-{room_id} > .msg")
        self.bodies = page.locator(f"#messages-{room_id} > .msg .msg-body")
        self.presence = page.locator(f"#presence-{room_id}")
        self.composer = page.locator(f"#body-{room_id}")
        self.status = page.locator(f"#status-{room_id}")
        self.replying = page.locator(f"#replying-{room_id}")

    def message(self, text: str):
        return self.messages.filter(has_text=text)

    def send(self, text: str) -> None:
        """Type a message and press Enter, as people do."""
        self.composer.fill(text)
        self.composer.press("Enter")

    def message_id(self, text: str) -> int:
        return int(self.message(text).get_attribute("data-id"))


def logged_in(open_page, username: str, **tab):
    """A new tab (own cookies) where ``username`` has logged in through the form."""
    page = open_page(**tab)
    page.goto("/auth/login")
    form = page.locator("#login-form")  # by name: the labels are in the tab's language
    form.locator("[name=login]").fill(username)
    form.locator("[name=password]").fill(PASSWORD)
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(path_is("/"))
    return page


def in_room(page, path: str, room_id: int, here: int) -> ChatTab:
    """``page`` opened at ``path`` (a coffee or the room's page), once its socket is in the
    room: the presence count includes it (``here`` people, this tab's among them)."""
    page.goto(path)
    tab = ChatTab(page, room_id)
    expect(tab.presence).to_have_text(re.compile(rf"^\s*{here}\s"))
    return tab


def mark_document(page) -> None:
    """Mark the document shown, so that ``same_document`` tells whether it was replaced."""
    page.evaluate("window.chatTestMark = true")


def same_document(page) -> bool:
    return page.evaluate("window.chatTestMark === true")


def stored_messages(room_id: int) -> int:
    return fresh(db).scalar(select(func.count(Message.id)).where(Message.room_id == room_id))


def add_messages(room_id: int, user_id: int, n: int) -> None:
    """``n`` messages stored directly, past the flood control."""
    db.session.add_all(Message(room_id=room_id, user_id=user_id, body=f"Message number {i}")
                       for i in range(1, n + 1))
    db.session.commit()


# Two people, live ---------------------------------------------------------------

REPLY = "Yes: 18 g in, 40 g out.\nLovely."


def test_two_people_talk_live_on_a_coffee_page(open_page, alice, bob, coffee, room):
    a = in_room(logged_in(open_page, "alice"), f"/coffees/{coffee.id}", room.id, here=1)
    b = in_room(logged_in(open_page, "bob"), f"/coffees/{coffee.id}", room.id, here=2)
    expect(a.presence).to_have_text("2 here")
    expect(b.presence).to_have_text("2 here")
    mark_document(b.page)

    a.send("Anyone tried this one as espresso?")
    expect(a.message("Anyone tried this one as espresso?")).to_have_count(1)
    expect(a.composer).to_have_value("")
    expect(b.message("Anyone tried this one as espresso?")).to_have_count(1)
    assert same_document(b.page)  # no reload
    question = a.message_id("Anyone tried this one as espresso?")

    b.message("Anyone tried this one as espresso?").get_by_role("link", name="Reply").click()
    expect(b.replying).to_be_visible()
    expect(b.replying).to_contain_text("Replying to Alice: Anyone tried this one as espresso?")
    expect(b.composer).to_be_focused()
    b.replying.get_by_role("link", name="Cancel reply").click()
    expect(b.replying).to_be_hidden()
    expect(b.page.locator(f"#reply-to-{room.id}")).to_have_value("")
    b.message("Anyone tried this one as espresso?").get_by_role("link", name="Reply").click()
    expect(b.replying).to_be_visible()
    # Shift+Enter starts a new line; Enter would send.
    b.composer.press_sequentially("Yes: 18 g in, 40 g out.")
    b.composer.press("Shift+Enter")
    b.composer.press_sequentially("Lovely.")
    expect(b.composer).to_have_value(REPLY)
    b.room.get_by_role("button", name="Send").click()
    expect(b.composer).to_have_value("")
    expect(b.replying).to_be_hidden()

    answer = a.message("Yes: 18 g in, 40 g out.")
    expect(answer).to_have_count(1)
    expect(answer.locator(".msg-body")).to_have_js_property("textContent", REPLY)
    quote = answer.locator(".msg-quote")
    expect(quote).to_contain_text("Anyone tried this one as espresso?")
    link = quote.get_by_role("link", name="Reply to Alice")
    original = re.compile(rf"/chat/{room.id}\?before=\d+#msg-{question}$")
    expect(link).to_have_attribute("href", original)
    expect(a.messages).to_have_count(2)
    expect(b.messages).to_have_count(2)

    # The same text again at once is refused: the reason shows, the text stays.
    b.send(REPLY)
    expect(b.status).to_have_text("You sent this a moment ago.")
    expect(b.composer).to_have_value(REPLY)
    expect(b.messages).to_have_count(2)
    assert stored_messages(room.id) == 2

    link.click()  # the original, in the room's own page
    expect(a.page).to_have_url(original)
    expect(a.page.locator(f"#msg-{question}")).to_contain_text("Anyone tried this one as espresso?")


# A lost link and the catch-up ---------------------------------------------------

class FlakyNetwork:
    """A tab whose chat sockets go through Playwright's WebSocket routing, so that the
    test can lose them.

    ``go_down()``: the tab goes offline; what the server sends on the open socket never
    arrives, as on a half-open link. ``come_back()``: online again, the tab finds its
    socket dead (close code 1006, as a browser reports a lost connection) and htmx's
    extension reconnects on its own, through a link that works.
    """

    def __init__(self, page) -> None:
        self.page = page
        self.connections = 0
        self._open: list[tuple] = []
        page.route_web_socket(SOCKET_URL, self._connect)

    def _connect(self, ws) -> None:
        server = ws.connect_to_server()
        self.connections += 1
        state = {"broken": False}

        def to_page(message):
            if not state["broken"]:
                ws.send(message)

        def to_server(message):
            if not state["broken"]:
                server.send(message)

        server.on_message(to_page)
        ws.on_message(to_server)
        ws.on_close(lambda code, reason: server.close())
        self._open.append((ws, state))

    def go_down(self) -> None:
        self.page.context.set_offline(True)
        for _ws, state in self._open:
            state["broken"] = True

    def come_back(self) -> None:
        self.page.context.set_offline(False)
        broken, self._open = self._open, []
        for ws, _state in broken:
            ws.close(code=1006)


def test_a_lost_link_catches_up_once_in_order(open_page, app, alice, bob, coffee, room):
    app.config["RATE_LIMITS"]["chat-post"] = "100 per 10 seconds"
    a = in_room(logged_in(open_page, "alice"), f"/coffees/{coffee.id}", room.id, here=1)
    b_page = logged_in(open_page, "bob")
    network = FlakyNetwork(b_page)
    b = in_room(b_page, f"/coffees/{coffee.id}", room.id, here=2)
    mark_document(b_page)
    a.send("Before the tunnel")
    expect(b.message("Before the tunnel")).to_have_count(1)

    network.go_down()
    sent = ["One: the bloom", "Two: the first pour", "Three: the drawdown"]
    for text in sent:
        a.send(text)
        expect(a.message(text)).to_have_count(1)
    expect(a.bodies).to_have_text(["Before the tunnel", *sent])
    expect(b.bodies).to_have_text(["Before the tunnel"])

    network.come_back()
    expect(b.bodies).to_have_text(["Before the tunnel", *sent])
    assert same_document(b_page)
    assert network.connections == 2  # it reconnected, once
    # Live again: the next message arrives once, after the others.
    a.send("Four: out of the tunnel")
    expect(b.bodies).to_have_text(["Before the tunnel", *sent, "Four: out of the tunnel"])


# Edit, delete, flood ------------------------------------------------------------

def test_an_edit_and_a_delete_reach_the_others(open_page, alice, bob, coffee, room):
    a = in_room(logged_in(open_page, "alice"), f"/coffees/{coffee.id}", room.id, here=1)
    b = in_room(logged_in(open_page, "bob"), f"/coffees/{coffee.id}", room.id, here=2)
    a.send("Brewed at 96 degrees")
    expect(b.message("Brewed at 96 degrees")).to_have_count(1)
    # Only the author may edit: Bob sees no Edit link on Alice's message.
    expect(b.message("Brewed at 96 degrees").get_by_role("link", name="Edit")).to_have_count(0)

    mine = a.message("Brewed at 96 degrees")
    mine.get_by_role("link", name="Edit").click()
    field = a.page.get_by_label("Edit your message")
    expect(field).to_have_value("Brewed at 96 degrees")
    field.fill("Brewed at 92 degrees, sorry")
    a.page.get_by_role("button", name="Save").click()
    expect(a.message("Brewed at 92 degrees, sorry")).to_contain_text("edited")

    edited = b.message("Brewed at 92 degrees, sorry")
    expect(edited).to_contain_text("edited")
    expect(b.message("Brewed at 96 degrees")).to_have_count(0)

    a.message("Brewed at 92 degrees, sorry").get_by_role("button", name="Delete").click()
    expect(a.messages.filter(has_text="This message was removed.")).to_have_count(1)
    expect(b.messages).to_have_count(1)
    expect(b.messages.first).to_have_text(re.compile("This message was removed."))
    expect(b.message("Brewed at 92 degrees")).to_have_count(0)
    expect(b.messages.first.get_by_role("link", name="Reply")).to_have_count(0)


def test_a_flood_is_refused_inline_and_nothing_is_added(open_page, app, alice, bob, coffee,
                                                        room):
    app.config["RATE_LIMITS"]["chat-post"] = "2 per minute"
    a = in_room(logged_in(open_page, "alice"), f"/coffees/{coffee.id}", room.id, here=1)
    b = in_room(logged_in(open_page, "bob"), f"/coffees/{coffee.id}", room.id, here=2)
    for text in ("First", "Second"):
        a.send(text)
        expect(b.message(text)).to_have_count(1)
    expect(a.composer).to_have_value("")

    a.send("Third, too fast")
    expect(a.status).to_have_text(re.compile(r"^You are sending messages too fast\. Wait \d+ s\.$"))
    expect(a.status).to_have_attribute("role", "alert")
    expect(a.composer).to_have_value("Third, too fast")
    expect(a.bodies).to_have_text(["First", "Second"])
    assert stored_messages(room.id) == 2
    # Bob may still talk: the limit is Alice's.
    b.send("Slow down!")
    expect(a.message("Slow down!")).to_have_count(1)
    expect(b.bodies).to_have_text(["First", "Second", "Slow down!"])


# The list of rooms --------------------------------------------------------------

def test_the_room_list_counts_what_is_unread(open_page, alice, bob, coffee, room):
    for text in ("Fresh bag today", "Tasting notes later"):
        chat.post_message(room.id, alice.id, text)
    page = logged_in(open_page, "bob")
    page.goto("/chat")
    entry = page.locator(".room-item").filter(has=page.get_by_role("link", name="Guji Natural"))
    expect(entry.locator(".unread")).to_have_text("2 unread")
    expect(entry.locator(".room-last")).to_contain_text("Alice: Tasting notes later")

    entry.get_by_role("link", name="Guji Natural").click()
    expect(page).to_have_url(path_is(f"/chat/{room.id}"))
    tab = ChatTab(page, room.id)
    expect(tab.bodies).to_have_text(["Fresh bag today", "Tasting notes later"])
    page.locator(".crumbs").get_by_role("link", name="Chat").click()
    expect(page).to_have_url(path_is("/chat"))
    expect(entry.locator(".room-last")).to_contain_text("Alice: Tasting notes later")
    expect(entry.locator(".unread")).to_have_count(0)


# Without JavaScript -------------------------------------------------------------

def test_posting_without_javascript(open_page, alice, coffee, room):
    page = logged_in(open_page, "alice", javascript=False)
    tab = ChatTab(page, room.id)

    page.goto(f"/chat/{room.id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Guji Natural")
    tab.composer.fill("Posted from the room's page")
    tab.room.get_by_role("button", name="Send").click()
    expect(page).to_have_url(re.compile(rf"/chat/{room.id}#msg-\d+$"))
    expect(tab.bodies).to_have_text(["Posted from the room's page"])
    expect(tab.composer).to_have_value("")

    tab.message("Posted from the room's page").get_by_role("link", name="Reply").click()
    expect(page).to_have_url(re.compile(rf"/chat/{room.id}\?reply_to=\d+#composer-{room.id}$"))
    expect(tab.replying).to_contain_text("Replying to Alice: Posted from the room's page")
    tab.composer.fill("A reply without scripts")
    tab.room.get_by_role("button", name="Send").click()
    expect(page).to_have_url(re.compile(rf"/chat/{room.id}#msg-\d+$"))
    reply = tab.message("A reply without scripts")
    expect(reply.locator(".msg-quote")).to_contain_text("Reply to Alice: Posted from the room's page")
    expect(tab.replying).to_be_hidden()

    so_far = ["Posted from the room's page", "A reply without scripts", "Posted under the coffee"]
    page.goto(f"/coffees/{coffee.id}")
    tab.composer.fill("Posted under the coffee")
    tab.room.get_by_role("button", name="Send").click()
    expect(page).to_have_url(re.compile(rf"/coffees/{coffee.id}#msg-\d+$"))
    expect(tab.bodies).to_have_text(so_far)

    # Only whitespace, under the coffee and in the room: refused with 422, the page again
    # with the reason under the composer and the text kept.
    for path, blank in ((f"/coffees/{coffee.id}", "   "), (f"/chat/{room.id}", "\t \n ")):
        page.goto(path)
        tab.composer.fill(blank)
        with page.expect_response(lambda r: r.request.method == "POST") as answer:
            tab.room.get_by_role("button", name="Send").click()
        assert answer.value.status == 422
        expect(tab.status).to_have_text("Write a message.")
        expect(tab.composer).to_have_value(blank)
        expect(tab.composer).to_have_attribute("aria-invalid", "true")
        expect(page.get_by_role("heading", level=1)).to_have_text("Guji Natural")
        expect(tab.bodies).to_have_text(so_far)
    assert stored_messages(room.id) == 3


# Older messages -----------------------------------------------------------------

def test_older_messages_load_on_scrolling_up(open_page, alice, bob, room):
    add_messages(room.id, alice.id, 60)
    a = in_room(logged_in(open_page, "bob"), f"/chat/{room.id}", room.id, here=1)
    everything = [f"Message number {i}" for i in range(1, 61)]
    expect(a.bodies).to_have_text(everything[10:])
    older = a.page.locator(f"#older-{room.id}")
    expect(older.get_by_role("link", name="Older messages")).to_be_attached()

    a.page.locator(f"#log-{room.id}").hover()
    a.page.mouse.wheel(0, -20_000)
    expect(a.bodies).to_have_text(everything)
    expect(older).to_have_text("The start of the conversation")


# Leaving a room -----------------------------------------------------------------

def test_a_boosted_navigation_away_closes_the_socket(open_page, app, alice, bob, coffee, room):
    a = in_room(logged_in(open_page, "alice"), f"/chat/{room.id}", room.id, here=1)
    b_page = logged_in(open_page, "bob")
    sockets = []
    # The room's sockets (the bell in the header has one of its own on every page).
    b_page.on("websocket", lambda ws: SOCKET_URL.search(ws.url) and sockets.append(ws))
    b = in_room(b_page, f"/chat/{room.id}", room.id, here=2)
    expect(a.presence).to_have_text("2 here")
    assert len(sockets) == 1

    mark_document(b_page)
    b_page.locator(".site-header").get_by_role("link", name="Coffees").click()
    expect(b_page).to_have_url(path_is("/coffees"))
    assert same_document(b_page)  # a boosted swap, not a page load
    expect(b.room).to_have_count(0)
    expect(a.presence).to_have_text("1 here")

    # Nothing keeps reconnecting in the background (htmx-ext-ws 2.0.2 and 2.0.3 did):
    # time for several reconnects, then the server still has Alice's socket alone.
    a.send("Still here?")
    expect(a.message("Still here?")).to_have_count(1)
    b_page.wait_for_timeout(2500)
    expect(a.presence).to_have_text("1 here")
    assert len(sockets) == 1 and sockets[0].is_closed()
    assert len(get_hub(app).members(room.id)) == 1


# In Russian ---------------------------------------------------------------------

def test_a_room_in_russian(open_page, alice, coffee, room):
    visitor = open_page(locale="ru-RU")
    visitor.goto(f"/coffees/{coffee.id}")
    expect(visitor.locator("#discussion-title")).to_have_text("Обсуждение")
    expect(visitor.locator(f"#presence-{room.id}")).to_have_text("1 здесь")
    expect(visitor.get_by_role("link", name="Войдите, чтобы присоединиться к разговору.")
           ).to_be_visible()

    page = logged_in(open_page, "alice", locale="ru-RU")
    a = in_room(page, f"/chat/{room.id}", room.id, here=2)
    expect(a.page.locator("html")).to_have_attribute("lang", "ru")
    expect(a.presence).to_have_text("2 здесь")
    expect(visitor.locator(f"#presence-{room.id}")).to_have_text("2 здесь")
    expect(a.page.get_by_label("Ваше сообщение")).to_be_visible()
    a.send("Привет! Кто пил эту Гуджи?")
    mine = a.message("Привет! Кто пил эту Гуджи?")
    expect(mine.get_by_role("link", name="Ответить")).to_be_visible()
    expect(mine.get_by_role("button", name="Удалить")).to_be_visible()
    expect(visitor.locator(f"#messages-{room.id}")).to_contain_text("Привет! Кто пил эту Гуджи?")
    a.send("   ")
    expect(a.status).to_have_text("Напишите сообщение.")
