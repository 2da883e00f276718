"""Who may do what: one table of every route that needs permission, for everyone.

Anonymous visitors are sent to log in (htmx requests navigate there with
``HX-Redirect``); a plain user gets 403 on others' coffees and reviews; moderators
and admins moderate; only admins reach /admin. A refused request changes nothing.
Behaviour once allowed is tested in each feature's module.
"""
import pytest
from sqlalchemy import func, select

from tests.conftest import HX, PASSWORD
from webapp.models import (Broadcast, Coffee, Message, Mute, NotificationPref, Review,
                           TelegramLink, TelegramToken, User)
from webapp.services import chat

LOGIN = "login"
ACTORS = ("anonymous", "other", "owner", "moderator", "admin")

NEW_COFFEE = {"name": "Kochere", "roaster": "North Star", "origin": "ET", "process": "washed",
              "roast": "light", "notes": ["jasmine"]}
REVIEW = {"rating": "4.5", "brew_method": "pour-over", "tags": ["blueberry"], "body": "Juicy."}
PROFILE = {"display_name": "Someone", "bio": "", "locale": ""}
NOTIFICATION_PREFS = {"enabled": ["mentions.in_app"], "email_mode": "digest"}
WRONG_PASSWORD = {"current_password": "not-the-password", "new_password": "a-new-password-1",
                  "confirm": "a-new-password-1"}

# {coffee} and {review} are owner's; {other} is the plain user's id; {session} is nobody's.
TABLE = [
    # method  url                                   form data     anonymous other owner moderator admin
    ("GET", "/coffees/new", None,                                 (LOGIN, 200, 200, 200, 200)),
    ("POST", "/coffees/new", NEW_COFFEE,                          (LOGIN, 303, 303, 303, 303)),
    ("GET", "/coffees/{coffee}/edit", None,                       (LOGIN, 403, 200, 200, 200)),
    ("POST", "/coffees/{coffee}/edit", NEW_COFFEE,                (LOGIN, 403, 303, 303, 303)),
    ("POST", "/coffees/{coffee}/delete", None,                    (LOGIN, 403, 403, 303, 303)),
    ("POST", "/coffees/{coffee}/reviews", REVIEW,                 (LOGIN, 303, 303, 303, 303)),
    ("GET", "/coffees/{coffee}/review/edit", None,                (LOGIN, 200, 200, 200, 200)),
    ("POST", "/reviews/{review}/delete", None,                    (LOGIN, 403, 303, 303, 303)),
    ("GET", "/settings", None,                                    (LOGIN, 200, 200, 200, 200)),
    ("POST", "/settings", PROFILE,                                (LOGIN, 303, 303, 303, 303)),
    # Mails the confirmation link again (tests/test_account_mail.py).
    ("POST", "/auth/email/confirm/resend", None,                  (LOGIN, 303, 303, 303, 303)),
    ("GET", "/settings/password", None,                           (LOGIN, 200, 200, 200, 200)),
    # Let through to the password check, which refuses the wrong one inline.
    ("POST", "/settings/password", WRONG_PASSWORD,                (LOGIN, 422, 422, 422, 422)),
    ("GET", "/settings/sessions", None,                           (LOGIN, 200, 200, 200, 200)),
    ("POST", "/settings/sessions/sign-out-others", None,          (LOGIN, 303, 303, 303, 303)),
    # Not one of the account's sessions.
    ("POST", "/settings/sessions/{session}/sign-out", None,       (LOGIN, 404, 404, 404, 404)),
    ("POST", "/auth/logout", None,                                (LOGIN, 303, 303, 303, 303)),
    ("GET", "/admin/users", None,                                 (LOGIN, 403, 403, 403, 200)),
    ("POST", "/admin/users/{other}/role", {"role": "moderator"},  (LOGIN, 403, 403, 403, 303)),
    ("GET", "/admin/jobs", None,                                  (LOGIN, 403, 403, 403, 200)),
    # {job} is no job: an admin gets 404 (tests/test_admin_jobs.py requeues real ones).
    ("POST", "/admin/jobs/{job}/requeue", None,                   (LOGIN, 403, 403, 403, 404)),
    ("POST", "/admin/jobs/requeue", None,                         (LOGIN, 403, 403, 403, 303)),
    ("GET", "/admin/broadcast", None,                             (LOGIN, 403, 403, 403, 200)),
    # Finds coffees for the form; sending is tested in tests/test_broadcasts.py.
    ("POST", "/admin/broadcast", {"text": "Hi", "action": "search"}, (LOGIN, 403, 403, 403, 200)),
    # {broadcast} is no broadcast: an admin gets 404.
    ("GET", "/admin/broadcast/{broadcast}", None,                 (LOGIN, 403, 403, 403, 404)),
    ("GET", "/admin/broadcasts", None,                            (LOGIN, 403, 403, 403, 200)),
    ("POST", "/chat/{room}/messages", {"body": "Hello there"},     (LOGIN, 303, 303, 303, 303)),
    # {message} is owner's: only its author edits it; moderators delete any message.
    ("GET", "/chat/messages/{message}/edit", None,                (LOGIN, 403, 200, 403, 403)),
    ("POST", "/chat/messages/{message}/edit", {"body": "Changed"}, (LOGIN, 403, 303, 403, 403)),
    ("POST", "/chat/messages/{message}/delete", None,             (LOGIN, 403, 303, 303, 303)),
    ("GET", "/notifications", None,                               (LOGIN, 200, 200, 200, 200)),
    ("POST", "/notifications/read", None,                         (LOGIN, 303, 303, 303, 303)),
    # Nobody's notification: only its user may open one (tests/test_notification_pages.py).
    ("GET", "/notifications/{notification}", None,                (LOGIN, 404, 404, 404, 404)),
    ("POST", "/follow/rooms/{room}", {"following": "1"},          (LOGIN, 303, 303, 303, 303)),
    ("POST", "/follow/coffees/{coffee}", {"following": "1"},      (LOGIN, 303, 303, 303, 303)),
    ("POST", "/mute/rooms/{room}", {"muted": "1"},                (LOGIN, 303, 303, 303, 303)),
    ("POST", "/mute/coffees/{coffee}", {"muted": "1"},            (LOGIN, 303, 303, 303, 303)),
    ("GET", "/settings/notifications", None,                      (LOGIN, 200, 200, 200, 200)),
    ("POST", "/settings/notifications", NOTIFICATION_PREFS,       (LOGIN, 303, 303, 303, 303)),
    # The scene has a bot; without one these answer 404 (tests/test_telegram_settings.py).
    ("GET", "/settings/telegram", None,                           (LOGIN, 200, 200, 200, 200)),
    ("POST", "/settings/telegram/connect", None,                  (LOGIN, 200, 200, 200, 200)),
    ("GET", "/settings/telegram/status", None,                    (LOGIN, 200, 200, 200, 200)),
    ("POST", "/settings/telegram/disconnect", None,               (LOGIN, 303, 303, 303, 303)),
]

# Routes anyone may use; every other route must be in TABLE.
PUBLIC = {
    ("GET", "/"), ("GET", "/healthz"), ("POST", "/language"), ("GET", "/static/<path:filename>"),
    ("GET", "/auth/login"), ("POST", "/auth/login"), ("GET", "/auth/register"),
    ("POST", "/auth/register"), ("GET", "/auth/check-username"),
    # A forgotten password, and the links mailed for it and to confirm an address
    # (tests/test_account_mail.py).
    ("GET", "/auth/password/forgot"), ("POST", "/auth/password/forgot"),
    ("GET", "/auth/password/reset/<token>"), ("POST", "/auth/password/reset/<token>"),
    ("GET", "/auth/email/confirm/<token>"),
    ("GET", "/coffees"), ("GET", "/coffees/similar"), ("GET", "/coffees/<int:coffee_id>"),
    ("GET", "/coffees/<int:coffee_id>/reviews"),
    ("GET", "/users/<username>"), ("GET", "/users/<username>/reviews"),
    ("GET", "/chat"), ("GET", "/chat/<int:room_id>"), ("GET", "/chat/<int:room_id>/older"),
    ("GET", "/chat/messages/<int:message_id>"),
    # Anyone may watch; posting over it re-checks the session (tests/test_chat_socket.py).
    ("GET", "/chat/<int:room_id>/ws"),
    # A signed link in a mail: no log-in, no session (tests/test_notification_mail.py).
    ("GET", "/unsubscribe/<token>"), ("POST", "/unsubscribe/<token>"),
    # Telegram's deliveries, authenticated by the webhook secret (tests/test_telegram_webhook.py).
    ("POST", "/telegram/webhook"),
    # Log in with Telegram: the widget's signed answer, and the bot's one-time link bound
    # to the browser that asked (tests/test_telegram_login.py).
    ("GET", "/auth/telegram/callback"), ("GET", "/auth/telegram/unlinked"),
    ("POST", "/auth/telegram/forget"), ("POST", "/auth/telegram/start"),
    ("GET", "/auth/telegram/wait"), ("GET", "/auth/telegram/status"),
    ("POST", "/auth/telegram/continue"),
}

# Sockets whose handshake checks the session itself (a socket cannot follow a redirect to
# log in), each with the status a visitor's handshake gets; tested end to end with real
# WebSocket clients in the module named.
SOCKETS = {
    ("GET", "/notifications/ws"): 401,  # tests/test_notification_socket.py
}

CASES = [pytest.param(method, url, data, actor, expected, id=f"{method} {url} as {actor}")
         for method, url, data, expectations in TABLE
         for actor, expected in zip(ACTORS, expectations)]


@pytest.fixture
def scene(app, client, auth, make_user, make_coffee, make_review):
    """owner's coffee with owner's review, the other actors, and a way to act as one;
    the site has a Telegram bot."""
    app.config.update(TELEGRAM_BOT_TOKEN="123456:test-token", TELEGRAM_BOT_USERNAME="crema_test_bot")
    owner = make_user("owner")
    coffee = make_coffee("Yirgacheffe", by=owner, notes=["blueberry"])
    review = make_review(coffee, owner, 4)
    other = make_user("other")
    make_user("moderator", role="moderator")
    make_user("admin", role="admin")
    room = chat.room_for_coffee(coffee.id)
    message = chat.post_message(room.id, owner.id, "The owner's message")
    ids = {"coffee": coffee.id, "review": review.id, "other": other.id, "session": 999_999,
           "room": room.id, "message": message.id, "notification": 999_999,
           "job": "no-such-job", "broadcast": 999_999}

    def act(actor):
        if actor != "anonymous":
            assert auth.login(actor, PASSWORD).status_code == 303
        return client

    return {"ids": ids, "act": act}


def state(db) -> tuple:
    """Everything a refused request could have changed."""
    db.session.expire_all()
    return (db.session.execute(select(Coffee.id, Coffee.name, Coffee.roaster,
                                      Coffee.rating_count).order_by(Coffee.id)).all(),
            db.session.scalar(select(func.count(Review.id))),
            db.session.execute(select(User.username, User.role, User.display_name,
                                      User.password_hash, User.email_digest)
                               .order_by(User.id)).all(),
            db.session.execute(select(Message.id, Message.body, Message.deleted_at)
                               .order_by(Message.id)).all(),
            db.session.execute(select(Mute.user_id, Mute.room_id, Mute.coffee_id)
                               .order_by(Mute.id)).all(),
            db.session.execute(select(NotificationPref.user_id, NotificationPref.kind,
                                      NotificationPref.channel, NotificationPref.enabled)
                               .order_by(NotificationPref.id)).all(),
            db.session.execute(select(TelegramToken.token_hash, TelegramToken.used_at)
                               .order_by(TelegramToken.id)).all(),
            db.session.execute(select(TelegramLink.user_id, TelegramLink.telegram_id)
                               .order_by(TelegramLink.id)).all(),
            db.session.scalar(select(func.count(Broadcast.id))))


def send(client, method, url, data, headers=None):
    return client.open(url, method=method, data=data, headers=headers or {})


@pytest.mark.parametrize("method, url, data, actor, expected", CASES)
def test_permission(scene, db, method, url, data, actor, expected):
    client = scene["act"](actor)
    before = state(db)
    response = send(client, method, url.format(**scene["ids"]), data)
    if expected == LOGIN:
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/auth/login?next=")
    else:
        assert response.status_code == expected
    if expected in (LOGIN, 403):
        assert state(db) == before


@pytest.mark.parametrize("method, url, data", [
    pytest.param(method, url, data, id=f"{method} {url}") for method, url, data, _ in TABLE])
def test_anonymous_htmx_request_navigates_to_log_in(scene, db, method, url, data):
    before = state(db)
    response = send(scene["act"]("anonymous"), method, url.format(**scene["ids"]), data, HX)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"].startswith("/auth/login?next=")
    assert state(db) == before


def test_every_route_is_public_or_in_the_table(app):
    """A new route is either listed as public or given its row in TABLE."""
    converters = {"coffee": "<int:coffee_id>", "review": "<int:review_id>",
                  "other": "<int:user_id>", "session": "<int:session_id>",
                  "room": "<int:room_id>", "message": "<int:message_id>",
                  "notification": "<int:notification_id>", "job": "<job_id>",
                  "broadcast": "<int:broadcast_id>"}
    tabled = {(method, url.format(**converters)) for method, url, _data, _ in TABLE}
    routes = {(method, rule.rule) for rule in app.url_map.iter_rules()
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes - PUBLIC - SOCKETS.keys() == tabled


@pytest.mark.parametrize("url, status", [(url, status) for (_, url), status in SOCKETS.items()])
def test_a_visitors_socket_handshake_is_refused(client, url, status):
    headers = {"Origin": "http://localhost", "Connection": "Upgrade", "Upgrade": "websocket",
               "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
    assert client.get(url, headers=headers).status_code == status
