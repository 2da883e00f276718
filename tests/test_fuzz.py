"""Property-based fuzzing of every form and search: random Unicode, control characters,
invisible characters and oversized values never cause a 5xx, and a refused request
(4xx) changes nothing in the database.

Deterministic (``derandomize=True``, no example database), so CI sees the same
examples every run; run it on PostgreSQL too, where a NUL reaching the database
would be an error.
"""
import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.conftest import HX, PASSWORD
from webapp.extensions import db
from webapp.models import Coffee, Follow, Message, Mute, NotificationPref, Review, User
from webapp.models.coffee import CoffeeNote
from webapp.services import account_mail
from webapp.services import channels, chat

# The app and its database are made once per test, not per example, on purpose: every
# example compares the database before and after its own request, so what earlier
# examples saved does not matter, and building an app per example would be slow.
FUZZ = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

CONTROLS = "".join(map(chr, [*range(0, 9), 11, 12, *range(14, 32), *range(0x7f, 0xa0)]))
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
TRICKY = CONTROLS + INVISIBLE + "\u0301\u3164\u00a0 \t\r\n%_\\'\"<>&/;ёЁé\U0001f600"

nasty = st.one_of(
    st.text(max_size=40),                                   # any Unicode but surrogates
    st.text(alphabet=TRICKY, max_size=20),                 # controls, invisibles, marks
    st.text(alphabet=TRICKY + "abc", min_size=1, max_size=8).map(lambda s: "Guji" + s),
    st.integers(100, 7000).map(lambda n: "é" * n),        # past every length limit
    st.sampled_from(["\x00", "a\x00b", "\x85", "\u202e", "", " ", "0", "-1", "1e309", "NaN",
                     "99999999999999999999", "None",
                     "//evil.example", "/привет", "http://пример.рф/", "//[", "x" * 300_000,
                     "y" * 1_100_000]),  # the last is past MAX_CONTENT_LENGTH
)


# Fields that hold numbers also get any integer, far past 64 bits either way.
NUMERIC = {"page", "exclude", "altitude", "min_rating", "rating"}
numbers = st.one_of(st.integers(), st.integers(-10**30, 10**30)).map(str)


def field(name: str, valid: tuple[str, ...]):
    """A valid value (so some examples succeed), the same with tricky characters slipped
    in (so they pass the other checks and reach the database), or anything nasty."""
    good = st.sampled_from(valid or ("x",))
    spiked = st.tuples(good, st.text(alphabet=TRICKY, min_size=1, max_size=3),
                       st.integers(0, 40)).map(lambda t: t[0][:t[2]] + t[1] + t[0][t[2]:])
    if name in NUMERIC:
        return st.one_of(good, numbers, spiked, nasty)
    return st.one_of(good, spiked, nasty)


def snapshot() -> tuple:
    """Everything a form can change, read fresh from the database."""
    db.session.expire_all()
    users = db.session.execute(select(
        User.id, User.username, User.email, User.display_name, User.bio, User.locale, User.role,
        User.password_hash).order_by(User.id)).all()
    coffees = db.session.execute(select(
        Coffee.id, Coffee.name, Coffee.roaster, Coffee.origin, Coffee.region, Coffee.producer,
        Coffee.variety, Coffee.process, Coffee.roast, Coffee.altitude, Coffee.description,
        Coffee.dedupe_key).order_by(Coffee.id)).all()
    reviews = db.session.execute(select(
        Review.id, Review.rating, Review.brew_method, Review.body).order_by(Review.id)).all()
    notes = db.session.scalar(select(func.count()).select_from(CoffeeNote))
    messages = db.session.execute(select(
        Message.id, Message.body, Message.reply_to_id, Message.edited_at,
        Message.deleted_at).order_by(Message.id)).all()
    follows = db.session.execute(select(Follow.user_id, Follow.room_id, Follow.coffee_id)
                                 .order_by(Follow.id)).all()
    mutes = db.session.execute(select(Mute.user_id, Mute.room_id, Mute.coffee_id)
                               .order_by(Mute.id)).all()
    prefs = db.session.execute(select(NotificationPref.user_id, NotificationPref.kind,
                                      NotificationPref.channel, NotificationPref.enabled)
                               .order_by(NotificationPref.id)).all()
    digests = db.session.scalars(select(User.email_digest).order_by(User.id)).all()
    db.session.remove()
    return users, coffees, reviews, notes, messages, follows, mutes, prefs, digests


@pytest.fixture
def world(app, make_user, make_coffee):
    """An admin logged in, a user whose role can change, a coffee to edit and review."""
    root = make_user("root", role="admin")
    bob = make_user("bob")
    coffee = make_coffee("Kochere", by=root)
    room = chat.room_for_coffee(coffee.id)
    message = chat.post_message(room.id, root.id, "The first message")
    ids = {"bob": bob.id, "coffee": coffee.id, "room": room.id, "message": message.id,
           "unsubscribe": channels.unsubscribe_token(root.id, "reviews")}
    db.session.remove()
    admin = app.test_client()
    response = admin.post("/auth/login", data={"login": "root", "password": PASSWORD})
    assert response.status_code == 303
    addresses = (f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}" for n in itertools.count(1))
    # A reset link of bob's: examples use it until one succeeds, and then get its 400 page.
    ids["reset"] = account_mail.reset_token(db.session.get(User, bob.id))
    return {"admin": admin, "anonymous": app.test_client(), "ids": ids, "addresses": addresses}


# name: (who, method, url, each field's valid values); the first values make a valid form.
FORMS = {
    "sign-up": ("anonymous", "POST", "/auth/register", {
        "username": ("newbie", "ana-1"), "email": ("new@example.com",),
        "password": ("long enough password",), "confirm": ("long enough password",)}),
    "log-in": ("anonymous", "POST", "/auth/login", {
        "login": ("root", "bob"), "password": (PASSWORD,), "next": ("/coffees",)}),
    "settings": ("admin", "POST", "/settings", {
        "display_name": ("Root",), "bio": ("Likes Kenya.",), "locale": ("", "ru")}),
    "password": ("admin", "POST", "/settings/password", {
        "current_password": (PASSWORD, "not the password"), "new_password": ("another password",),
        "confirm": ("another password",)}),
    "coffee new": ("admin", "POST", "/coffees/new", {
        "name": ("Guji",), "roaster": ("North Star",), "origin": ("ET", "CO"),
        "region": ("Sidama",), "producer": ("",), "variety": ("Heirloom",),
        "process": ("", "washed"), "roast": ("", "light"), "altitude": ("", "1900"),
        "notes": ("blueberry", "jasmine"), "description": ("Bright.",)}),
    "coffee edit": ("admin", "POST", "/coffees/{coffee}/edit", {
        "name": ("Kochere",), "roaster": ("Test Roasters",), "origin": ("ET",),
        "process": ("", "natural"), "roast": ("", "dark"), "altitude": ("2000",),
        "notes": ("blueberry",), "description": ("",)}),
    "review": ("admin", "POST", "/coffees/{coffee}/reviews", {
        "rating": ("4.5", "1"), "brew_method": ("aeropress", ""),
        "tags": ("jasmine",), "body": ("Juicy.",)}),
    "role": ("admin", "POST", "/admin/users/{bob}/role", {"role": ("moderator", "user")}),
    "catalog": ("anonymous", "GET", "/coffees", {
        "q": ("guji", "эф"), "origin": ("ET",), "process": ("washed",),
        "roast": ("light",), "flavour": ("fruity",), "min_rating": ("4",),
        "sort": ("name", "top"), "page": ("2",)}),
    "check-username": ("anonymous", "GET", "/auth/check-username", {
        "username": ("freename", "root")}),
    "forgot password": ("anonymous", "POST", "/auth/password/forgot", {
        "email": ("bob@example.com", "nobody@example.com")}),
    "reset password": ("anonymous", "POST", "/auth/password/reset/{reset}", {
        "password": ("long enough password",), "confirm": ("long enough password",)}),
    "similar": ("anonymous", "GET", "/coffees/similar", {
        "name": ("Kochere",), "roaster": ("Test",), "exclude": ("1",)}),
    "admin users": ("admin", "GET", "/admin/users", {"q": ("bo",), "page": ("1",)}),
    "admin jobs": ("admin", "GET", "/admin/jobs", {"page": ("1", "2")}),
    "profile reviews": ("anonymous", "GET", "/users/root/reviews", {"page": ("1",)}),
    "chat post": ("admin", "POST", "/chat/{room}/messages", {
        "body": ("Hello there", "@bob see https://example.com/a?b=1"), "reply_to": ("", "1"),
        "from": ("coffee", "")}),
    "chat edit": ("admin", "POST", "/chat/messages/{message}/edit", {"body": ("Changed",)}),
    "chat room": ("anonymous", "GET", "/chat/{room}", {"before": ("2",), "reply_to": ("1",)}),
    "chat older": ("anonymous", "GET", "/chat/{room}/older", {"before": ("2",)}),
    "follow room": ("admin", "POST", "/follow/rooms/{room}", {"following": ("1", "0"),
                                                              "next": ("/coffees",)}),
    "follow coffee": ("admin", "POST", "/follow/coffees/{coffee}", {"following": ("1", "0")}),
    "notifications": ("admin", "GET", "/notifications", {"before": ("2026-11-25T10:00:00+00:00",)}),
    "mute room": ("admin", "POST", "/mute/rooms/{room}", {"muted": ("1", "0"),
                                                          "next": ("/settings/notifications",)}),
    "mute coffee": ("admin", "POST", "/mute/coffees/{coffee}", {"muted": ("1", "0")}),
    "notification settings": ("admin", "POST", "/settings/notifications", {
        "enabled": ("mentions.email", "chat.in_app", "reviews.email"),
        "email_mode": ("digest", "immediate")}),
    "unsubscribe": ("anonymous", "POST", "/unsubscribe/{unsubscribe}", {
        "List-Unsubscribe": ("One-Click",)}),
}


@pytest.mark.parametrize("form", FORMS)
def test_no_5xx_and_nothing_saved_when_refused(world, form):
    who, method, url, fields = FORMS[form]
    url = url.format(**world["ids"])

    @FUZZ
    @given(draw=st.data(), htmx=st.booleans())
    def fuzz(draw, htmx):
        # A valid form with one or more of its fields replaced, so each refusal is
        # about the values drawn and some examples succeed.
        data = {name: valid[0] for name, valid in fields.items()}
        for name in sorted(draw.draw(st.sets(st.sampled_from(sorted(fields)), min_size=1))):
            data[name] = draw.draw(field(name, fields[name]), label=name)
        before = snapshot()
        response = world[who].open(
            url, method=method, headers=HX if htmx else {},
            environ_base={"REMOTE_ADDR": next(world["addresses"])},
            **({"query_string": data} if method == "GET" else {"data": data}))
        assert response.status_code < 500, (form, data, response.status_code)
        if method == "GET" or response.status_code >= 400:
            assert snapshot() == before, (form, data, response.status_code)

    fuzz()
