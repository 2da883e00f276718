"""Linking a Crema account to Telegram (webapp/services/telegram.py): the one-time token,
the link and its refusals (unknown, expired, used, taken: each changes nothing),
re-linking, unlinking, and the same token or Telegram account raced from two
connections (on PostgreSQL when TEST_DATABASE_URL is set, else SQLite)."""
import base64
import hashlib
import re
import threading
from datetime import timedelta
from functools import partial

import pytest
from sqlalchemy import event, func, select, update

from tests.test_concurrency import in_parallel
from webapp.extensions import db
from webapp.models import TelegramLink, TelegramToken
from webapp.models.base import utcnow
from webapp.services import telegram as service
from webapp.services.telegram import LinkError

TG = {"telegram_id": 7001, "chat_id": 7001, "first_name": "Alice", "username": "alice_tg",
      "language_code": "ru"}


@pytest.fixture
def with_bot(app):
    app.config.update(TELEGRAM_BOT_TOKEN="123456:test-token", TELEGRAM_BOT_USERNAME="crema_test_bot")
    return app


@pytest.fixture
def alice(with_bot, make_user):
    return make_user("alice")


def refusal(token: str, **who) -> str:
    with pytest.raises(LinkError) as caught:
        service.link(token, **{**TG, **who})
    return caught.value.reason


def links() -> list[tuple]:
    db.session.expire_all()
    return db.session.execute(select(TelegramLink.user_id, TelegramLink.telegram_id,
                                     TelegramLink.chat_id).order_by(TelegramLink.id)).all()


def token_row(token: str) -> TelegramToken:
    db.session.expire_all()
    return db.session.scalar(select(TelegramToken).where(
        TelegramToken.token_hash == service.hash_token(token)))


class TestToken:
    def test_at_least_128_bits_fits_the_start_payload_and_differs_each_time(self, alice):
        tokens = [service.new_token("link", alice.id) for _ in range(20)]
        for token in tokens:
            assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", token)
            assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) * 8 >= 128
        assert len(set(tokens)) == 20

    def test_only_its_hash_is_stored(self, alice):
        token = service.new_token("link", alice.id)
        rows = db.session.execute(select(TelegramToken.__table__)).all()
        assert len(rows) == 1
        assert token not in repr(rows)
        assert rows[0].token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert rows[0].user_id == alice.id and rows[0].purpose == "link"
        assert rows[0].used_at is None

    def test_valid_for_the_configured_time(self, alice):
        before = utcnow()
        service.new_token("link", alice.id)
        expires_at = service.pending_link(alice.id)
        ttl = timedelta(seconds=600)
        assert before + ttl <= expires_at <= utcnow() + ttl

    def test_the_deep_link_opens_the_bot_with_the_token(self, alice):
        token = service.new_token("link", alice.id)
        assert service.deep_link(token) == f"https://t.me/crema_test_bot?start={token}"


class TestLink:
    def test_a_good_token_links_once(self, alice):
        token = service.new_token("link", alice.id)

        user = service.link(token, **TG)

        assert user.id == alice.id
        found = service.link_of(alice.id)
        assert (found.telegram_id, found.chat_id, found.first_name, found.username,
                found.language_code, found.active) == (7001, 7001, "Alice", "alice_tg", "ru", True)
        assert service.user_of(7001).id == alice.id
        assert token_row(token).used_at is not None
        assert service.pending_link(alice.id) is None

    def test_an_expired_token_is_refused_and_changes_nothing(self, alice):
        token = service.new_token("link", alice.id)
        db.session.execute(update(TelegramToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()

        assert refusal(token) == "expired"
        assert links() == [] and token_row(token).used_at is None
        assert service.pending_link(alice.id) is None

    def test_a_used_token_is_refused_and_changes_nothing(self, alice):
        token = service.new_token("link", alice.id)
        service.link(token, **TG)

        assert refusal(token) == "used"
        assert refusal(token, telegram_id=7002, chat_id=7002) == "used"
        assert links() == [(alice.id, 7001, 7001)]

    @pytest.mark.parametrize("token", ["", "not-a-token", "A" * 32, "x" * 65, "é" * 64])
    def test_an_unknown_token_is_refused(self, alice, token):
        service.new_token("link", alice.id)
        assert refusal(token) == "unknown"
        assert links() == []

    def test_a_login_token_does_not_link(self, alice):
        token = service.new_token("login")
        assert refusal(token) == "unknown"
        assert links() == []

    def test_a_telegram_account_linked_elsewhere_is_taken_and_nothing_changes(self, alice,
                                                                               make_user):
        bob = make_user("bob")
        service.link(service.new_token("link", bob.id), **TG)
        token = service.new_token("link", alice.id)

        assert refusal(token) == "taken"

        assert links() == [(bob.id, 7001, 7001)]
        assert token_row(token).used_at is None  # still good, with another Telegram account
        service.link(token, **{**TG, "telegram_id": 7002, "chat_id": 7002})
        assert links() == [(bob.id, 7001, 7001), (alice.id, 7002, 7002)]

    def test_relinking_the_same_telegram_account_keeps_one_link(self, alice):
        service.link(service.new_token("link", alice.id), **TG)
        service.link(service.new_token("link", alice.id), **{**TG, "first_name": "Ali"})
        assert links() == [(alice.id, 7001, 7001)]
        assert service.link_of(alice.id).first_name == "Ali"

    def test_linking_another_telegram_account_moves_the_link(self, alice):
        service.link(service.new_token("link", alice.id), **TG)

        service.link(service.new_token("link", alice.id), telegram_id=7002, chat_id=8002,
                     first_name="Alice")

        assert links() == [(alice.id, 7002, 8002)]
        assert service.user_of(7001) is None and service.user_of(7002).id == alice.id

    def test_a_new_token_makes_the_earlier_unused_one_stop_working(self, alice):
        first = service.new_token("link", alice.id)
        second = service.new_token("link", alice.id)

        assert refusal(first) == "unknown"
        service.link(second, **TG)
        assert links() == [(alice.id, 7001, 7001)]

    def test_long_names_are_cut_to_their_columns(self, alice):
        service.link(service.new_token("link", alice.id), telegram_id=1, chat_id=1,
                     first_name="A" * 100, username="u" * 40, language_code="x" * 20)
        found = service.link_of(alice.id)
        assert (len(found.first_name), len(found.username), len(found.language_code)) == (64, 32, 16)


class TestUnlink:
    def test_unlink_from_the_site(self, alice):
        service.link(service.new_token("link", alice.id), **TG)
        assert service.unlink(alice.id) is True
        assert links() == [] and service.user_of(7001) is None
        assert service.unlink(alice.id) is False

    def test_unlink_from_telegram(self, alice):
        service.link(service.new_token("link", alice.id), **TG)
        assert service.unlink_telegram(7001).id == alice.id
        assert links() == [] and service.link_of(alice.id) is None
        assert service.unlink_telegram(7001) is None

    def test_unlinking_one_account_leaves_the_others(self, alice, make_user):
        bob = make_user("bob")
        service.link(service.new_token("link", alice.id), **TG)
        service.link(service.new_token("link", bob.id), **{**TG, "telegram_id": 7002})
        service.unlink(alice.id)
        assert links() == [(bob.id, 7002, 7001)]


# Races: each contender runs in its own thread, app context and database connection.

def contend(app, token: str, telegram_id: int) -> str:
    with app.app_context():
        try:
            service.link(token, **{**TG, "telegram_id": telegram_id, "chat_id": telegram_id})
        except LinkError as err:
            return err.reason
        finally:
            db.session.remove()
    return "linked"


@pytest.fixture
def before_statement(app):
    """``before_statement(prefix, run)``: ``run()`` once, in this thread, just before this
    thread's first statement that starts with ``prefix`` goes to the database."""
    hooks = []

    def install(prefix: str, run) -> None:
        me, fired = threading.get_ident(), []

        def hook(_conn, _cursor, statement, *_args):
            if threading.get_ident() == me and not fired and statement.startswith(prefix):
                fired.append(True)
                run()

        event.listen(db.engine, "before_cursor_execute", hook)
        hooks.append(hook)

    yield install
    for hook in hooks:
        event.remove(db.engine, "before_cursor_execute", hook)


def test_a_token_used_between_the_read_and_the_claim_is_used(app, alice, before_statement):
    """Another connection links with the token after this one found it unused and before
    this one marks it used: this one is refused and its Telegram account is not linked."""
    token = service.new_token("link", alice.id)
    other = []
    before_statement("UPDATE telegram_tokens",
                     lambda: other.append(contend(app, token, telegram_id=7002)))

    assert refusal(token) == "used"

    assert other == ["linked"]
    assert links() == [(alice.id, 7002, 7002)]


def test_the_same_telegram_account_linked_at_once_by_two_users_links_one(app, alice, make_user,
                                                                         before_statement):
    """Bob's link of the same Telegram account runs while Alice's is between its "taken"
    check and its insert. On PostgreSQL Bob commits first, and the unique telegram_id
    refuses Alice's insert: 'taken', not a 500. SQLite locks the whole database from
    Alice's claim on, so Bob waits and finds the account taken by her."""
    bob = make_user("bob")
    alices, bobs = service.new_token("link", alice.id), service.new_token("link", bob.id)
    postgres = db.engine.dialect.name == "postgresql"
    threads, outcome = [], {}

    def bob_links():
        outcome["bob"] = contend(app, bobs, telegram_id=7001)

    def start_bob():
        thread = threading.Thread(target=bob_links)
        thread.start()
        threads.append(thread)
        if postgres:  # nothing Bob needs is locked by Alice yet: let him finish first
            thread.join()

    before_statement("INSERT INTO telegram_links", start_bob)

    outcome["alice"] = contend(app, alices, telegram_id=7001)
    threads[0].join()

    winner, loser = (bob, alice) if postgres else (alice, bob)
    assert outcome == ({"bob": "linked", "alice": "taken"} if postgres
                       else {"alice": "linked", "bob": "taken"})
    assert links() == [(winner.id, 7001, 7001)]
    loser_token = alices if loser is alice else bobs
    assert token_row(loser_token).used_at is None


def test_parallel_uses_of_one_token_link_once(app, alice):
    """Four connections send the same token at once, ten times over: each time exactly
    one links, the others are told it was used."""
    for round_ in range(10):
        token = service.new_token("link", alice.id)
        ids = [9000 + 10 * round_ + n for n in range(4)]

        results = in_parallel([partial(contend, app, token, telegram_id) for telegram_id in ids])

        assert sorted(results) == ["linked", "used", "used", "used"]
        winner = ids[results.index("linked")]
        assert links() == [(alice.id, winner, winner)]
        assert db.session.scalar(select(func.count()).select_from(TelegramToken)
                                 .where(TelegramToken.used_at.is_not(None))) == round_ + 1
