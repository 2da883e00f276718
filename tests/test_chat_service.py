"""The chat core (webapp/services/chat.py): rooms, posting rules, flood control, edits,
deletes, history, catch-up, read marks, events and the demo conversations."""
import threading
from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import func, select, update

from tests.conftest import make_app
from webapp.errors.handlers import handle_service_error
from webapp.extensions import db
from webapp.models import Mention, Message, Room
from webapp.models.base import utcnow
from webapp.services import Forbidden, NotFound, RateLimited, ServiceError
from webapp.services import chat


@pytest.fixture
def general(topic_rooms):
    return topic_rooms["general"]


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def bob(make_user):
    return make_user("Bob_Brews")


def messages_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Message))


def add_messages(room_id: int, user_id: int, n: int) -> list[int]:
    """``n`` messages stored directly (past the flood control); their ids in order."""
    rows = [Message(room_id=room_id, user_id=user_id, body=f"message {i}") for i in range(n)]
    db.session.add_all(rows)
    db.session.commit()
    return [m.id for m in rows]


def age(message_id: int, delta: timedelta) -> None:
    """Move a message's creation ``delta`` into the past (instead of freezing time)."""
    db.session.execute(update(Message).where(Message.id == message_id)
                       .values(created_at=utcnow() - delta))
    db.session.commit()


# Rooms --------------------------------------------------------------------------

def test_migration_seeds_the_topic_rooms(empty_database_url):
    app = make_app(empty_database_url)
    with app.app_context():
        command.upgrade(app.extensions["migrate"].migrate.get_config(), "head")
        rooms = [(r.kind, r.slug, r.title) for r in chat.topic_rooms()]
        db.session.remove()
        db.engine.dispose()
    assert rooms == [("topic", "general", "General"), ("topic", "brewing", "Brewing"),
                     ("topic", "gear", "Gear")]


def test_topic_rooms_and_get_room(general, topic_rooms):
    assert [r.slug for r in chat.topic_rooms()] == ["general", "brewing", "gear"]
    assert chat.get_room(general.id).slug == "general"
    assert chat.room_title(general) == "General"
    with pytest.raises(NotFound):
        chat.get_room(999_999)
    assert chat.ensure_topic_rooms() == 0


def test_room_for_coffee_is_created_once(make_coffee):
    coffee = make_coffee("Guji")
    room = chat.room_for_coffee(coffee.id)
    assert (room.kind, room.coffee_id, chat.room_title(room)) == ("coffee", coffee.id, "Guji")
    assert chat.room_for_coffee(coffee.id).id == room.id
    with pytest.raises(NotFound):
        chat.room_for_coffee(999_999)


def test_room_for_coffee_race_creates_one_room(app, make_coffee, monkeypatch):
    """Threads that all find no room, then all create it: one row, every caller gets it."""
    coffee_id = make_coffee("Guji").id
    threads_n = 4
    barrier = threading.Barrier(threads_n, timeout=10)
    original = chat._coffee_room
    first_look = threading.local()

    def look_then_wait(cid):
        room = original(cid)
        if not getattr(first_look, "done", False):
            first_look.done = True
            barrier.wait()  # every thread has seen "no room" before any creates one
        return room

    monkeypatch.setattr(chat, "_coffee_room", look_then_wait)
    results, errors = [], []

    def worker():
        with app.app_context():
            try:
                results.append(chat.room_for_coffee(coffee_id).id)
            except Exception as exc:  # reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert len(results) == threads_n and len(set(results)) == 1
    assert db.session.scalar(select(func.count()).select_from(Room)
                             .where(Room.coffee_id == coffee_id)) == 1


# Posting ------------------------------------------------------------------------

@pytest.mark.parametrize("length", [1, 2000])
def test_body_lengths_accepted(general, alice, length):
    message = chat.post_message(general.id, alice.id, "x" * length)
    assert len(message.body) == length and message.user.username == "alice"


def test_body_over_2000_refused(general, alice):
    with pytest.raises(ServiceError) as refused:
        chat.post_message(general.id, alice.id, "x" * 2001)
    assert refused.value.field == "body" and "2000" in str(refused.value.message)
    assert messages_count() == 0


@pytest.mark.parametrize("body", ["", "   ", "\n\t \r\n", "\u200b\u00a0"])
def test_whitespace_only_refused(general, alice, body):
    with pytest.raises(ServiceError) as refused:
        chat.post_message(general.id, alice.id, body)
    assert refused.value.field == "body"
    assert messages_count() == 0


@pytest.mark.parametrize("body", ["hi\x00there", "bell\x07", "c1\x85", "esc\x1b[31m",
                                  "trailing\x1c"])
def test_control_characters_refused(general, alice, body):
    with pytest.raises(ServiceError) as refused:
        chat.post_message(general.id, alice.id, body)
    assert refused.value.field == "body"
    assert messages_count() == 0


def test_body_is_nfc_with_trailing_whitespace_removed(general, alice):
    message = chat.post_message(general.id, alice.id, "  Cafe\u0301\r\nline two \n\n ")
    assert message.body == "  Caf\u00e9\nline two"


def test_trailing_spaces_do_not_count_towards_the_limit(general, alice):
    assert len(chat.post_message(general.id, alice.id, "y" * 2000 + "   \n").body) == 2000


def test_unknown_user_and_unknown_room_refused(general, alice):
    assert chat.may_post(alice.id) and not chat.may_post(None) and not chat.may_post(999_999)
    with pytest.raises(Forbidden):
        chat.post_message(general.id, 999_999, "hello")
    with pytest.raises(NotFound):
        chat.post_message(999_999, alice.id, "hello")
    assert messages_count() == 0


def test_reply_in_the_same_room(general, alice, bob):
    original = chat.post_message(general.id, alice.id, "Which grinder?")
    reply = chat.post_message(general.id, bob.id, "A hand grinder.", reply_to_id=original.id)
    assert reply.reply_to.id == original.id and reply.reply_to.user.username == "alice"


def test_reply_to_another_room_or_missing_message_refused(topic_rooms, alice, bob):
    elsewhere = chat.post_message(topic_rooms["gear"].id, alice.id, "In Gear")
    for target in (elsewhere.id, 999_999):
        with pytest.raises(ServiceError) as refused:
            chat.post_message(topic_rooms["general"].id, bob.id, "reply", reply_to_id=target)
        assert refused.value.field == "reply_to"
    assert messages_count() == 1


def test_reply_to_deleted_message_refused(general, alice, bob):
    original = chat.post_message(general.id, alice.id, "soon gone")
    chat.delete_message(original.id, alice.id)
    with pytest.raises(ServiceError) as refused:
        chat.post_message(general.id, bob.id, "reply", reply_to_id=original.id)
    assert refused.value.field == "reply_to"


def test_mentions_stored_case_insensitively_unknown_and_self_ignored(general, alice, bob,
                                                                     make_user):
    carol = make_user("carol")
    message = chat.post_message(
        general.id, alice.id,
        "@bob_brews and @CAROL, meet @nobody_here; mail me at x@alice.example, @alice")
    mentioned = set(db.session.scalars(select(Mention.user_id)
                                       .where(Mention.message_id == message.id)))
    assert mentioned == {bob.id, carol.id}


# Flood control ------------------------------------------------------------------

def test_sixth_message_in_ten_seconds_refused_and_not_stored(general, alice, bob, chat_events):
    for n in range(5):
        chat.post_message(general.id, alice.id, f"message {n}")
    with pytest.raises(RateLimited) as refused:
        chat.post_message(general.id, alice.id, "one too many")
    assert refused.value.field == "body" and 1 <= refused.value.retry_after <= 10
    assert messages_count() == 5 and len(chat_events) == 5
    chat.post_message(general.id, bob.id, "others still post")  # the limit is per user


def test_same_text_within_30_seconds_refused_in_any_room(topic_rooms, alice, chat_events):
    first = chat.post_message(topic_rooms["general"].id, alice.id, "Hello!")
    with pytest.raises(RateLimited) as refused:
        chat.post_message(topic_rooms["gear"].id, alice.id, "Hello!")
    assert 1 <= refused.value.retry_after <= 30
    assert messages_count() == 1 and len(chat_events) == 1
    age(first.id, timedelta(seconds=31))
    chat.post_message(topic_rooms["gear"].id, alice.id, "Hello!")
    assert messages_count() == 2


def test_same_text_from_another_user_is_fine(general, alice, bob):
    chat.post_message(general.id, alice.id, "Good morning")
    chat.post_message(general.id, bob.id, "Good morning")
    assert messages_count() == 2


def test_rate_limited_maps_to_429_with_retry_after(app):
    with app.test_request_context(headers={"Accept": "application/json"}):
        response = handle_service_error(RateLimited("Slow down.", 7, field="body"))
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.get_json() == {"error": {"status": 429, "message": "Slow down.",
                                             "field": "body"}}


# Idempotency and events ---------------------------------------------------------

def test_repeated_client_id_returns_the_stored_message(general, alice, bob, chat_events):
    first = chat.post_message(general.id, alice.id, "sent once", client_id="c-1")
    again = chat.post_message(general.id, alice.id, "sent once", client_id="c-1")
    assert again.id == first.id
    assert messages_count() == 1 and len(chat_events) == 1
    # Client ids are per user.
    assert chat.post_message(general.id, bob.id, "mine", client_id="c-1").id != first.id


def _post_in_parallel(app, monkeypatch, calls):
    """Run ``post_message(*args, **kwargs)`` for each of ``calls`` in its own thread and
    app context, all past the body checks before any takes the user's lock."""
    barrier = threading.Barrier(len(calls), timeout=10)
    original = chat.clean_body

    def clean_then_wait(body):
        cleaned = original(body)
        barrier.wait()
        return cleaned

    monkeypatch.setattr(chat, "clean_body", clean_then_wait)
    results = []

    def worker(args, kwargs):
        with app.app_context():
            try:
                results.append(chat.post_message(*args, **kwargs).id)
            except Exception as exc:  # compared below
                results.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=call) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_parallel_resends_of_one_client_id_store_one_message(app, general, alice, chat_events,
                                                             monkeypatch):
    call = ((general.id, alice.id, "resent"), {"client_id": "c-9"})
    results = _post_in_parallel(app, monkeypatch, [call, call, call])
    assert len(results) == 3 and len(set(results)) == 1 and isinstance(results[0], int)
    assert messages_count() == 1 and len(chat_events) == 1


def test_parallel_repeats_of_one_text_store_it_once(app, general, alice, monkeypatch):
    calls = [((general.id, alice.id, "same words"), {"client_id": f"c-{n}"}) for n in range(3)]
    results = _post_in_parallel(app, monkeypatch, calls)
    assert sorted(type(r).__name__ for r in results) == ["RateLimited", "RateLimited", "int"]
    assert messages_count() == 1


def test_invalid_client_id_refused(general, alice):
    for client_id in ("", "x" * 65, "bad\x00id"):
        with pytest.raises(ServiceError) as refused:
            chat.post_message(general.id, alice.id, "hello", client_id=client_id)
        assert refused.value.field == "client_id"
    assert messages_count() == 0


def test_events_are_delivered_after_commit(general, alice, chat_events, app):
    """The subscriber reads the message through another connection: it is committed."""
    seen = []

    def check(_app, room_id, message_id, user_id):
        with db.engine.connect() as other:
            seen.append(other.scalar(select(Message.body).where(Message.id == message_id)))

    from webapp import events
    events.connect(app, events.message_posted, check)
    message = chat.post_message(general.id, alice.id, "committed first")
    assert seen == ["committed first"]
    assert chat_events == [("message-posted", {"room_id": general.id, "message_id": message.id,
                                               "user_id": alice.id})]


def test_refused_posts_record_no_event(general, alice, chat_events):
    for body in ("", "x" * 2001, "bad\x00"):
        with pytest.raises(ServiceError):
            chat.post_message(general.id, alice.id, body)
    db.session.commit()
    assert chat_events == []


# Edit and delete ----------------------------------------------------------------

def test_edit_own_message_within_15_minutes(general, alice, chat_events):
    message = chat.post_message(general.id, alice.id, "typo hree")
    age(message.id, timedelta(minutes=14))
    edited = chat.edit_message(message.id, alice.id, "typo here\u0301  ")
    assert edited.body == "typo her\u00e9" and edited.edited_at is not None
    assert chat_events[-1] == ("message-edited", {"room_id": general.id,
                                                  "message_id": message.id,
                                                  "user_id": alice.id})


def test_edit_after_15_minutes_refused(general, alice):
    message = chat.post_message(general.id, alice.id, "old words")
    age(message.id, timedelta(minutes=16))
    with pytest.raises(ServiceError) as refused:
        chat.edit_message(message.id, alice.id, "new words")
    assert refused.value.field == "body"
    assert chat.load_message(message.id).body == "old words"


def test_edit_others_or_deleted_or_invalid_refused(general, alice, bob):
    message = chat.post_message(general.id, alice.id, "mine")
    with pytest.raises(Forbidden):
        chat.edit_message(message.id, bob.id, "hijacked")
    with pytest.raises(ServiceError):
        chat.edit_message(message.id, alice.id, "   ")
    with pytest.raises(NotFound):
        chat.edit_message(999_999, alice.id, "x")
    chat.delete_message(message.id, alice.id)
    with pytest.raises(ServiceError):
        chat.edit_message(message.id, alice.id, "back")
    assert chat.load_message(message.id).body == ""


def test_edit_adds_new_mentions(general, alice, bob):
    message = chat.post_message(general.id, alice.id, "hello all")
    chat.edit_message(message.id, alice.id, "hello @bob_brews")
    assert db.session.scalars(select(Mention.user_id)
                              .where(Mention.message_id == message.id)).all() == [bob.id]


def test_delete_own_blanks_it_and_is_idempotent(general, alice, chat_events):
    message = chat.post_message(general.id, alice.id, "regret")
    age(message.id, timedelta(days=2))  # own messages: any time
    deleted = chat.delete_message(message.id, alice.id)
    assert deleted.deleted and deleted.body == ""
    assert chat.delete_message(message.id, alice.id).deleted
    assert [name for name, _ in chat_events] == ["message-posted", "message-deleted"]
    assert messages_count() == 1  # the row stays


def test_delete_others_refused_for_users_allowed_for_moderators(general, alice, bob,
                                                                make_user):
    message = chat.post_message(general.id, alice.id, "spam?")
    with pytest.raises(Forbidden):
        chat.delete_message(message.id, bob.id)
    assert not chat.load_message(message.id).deleted
    for role in ("moderator", "admin"):
        target = chat.post_message(general.id, alice.id, f"spam for the {role}")
        chat.delete_message(target.id, make_user(role=role).id)
        assert chat.load_message(target.id).deleted
    with pytest.raises(NotFound):
        chat.delete_message(999_999, alice.id)


# History, catch-up, read marks --------------------------------------------------

def test_history_newest_50_then_pages_back_oldest_first(topic_rooms, alice):
    general, gear = topic_rooms["general"], topic_rooms["gear"]
    ids = add_messages(general.id, alice.id, 60)
    add_messages(gear.id, alice.id, 3)
    page = chat.history(general.id)
    assert [m.id for m in page] == ids[10:]
    assert page[0].user.username == "alice"  # loaded eagerly
    older = chat.history(general.id, before_id=page[0].id)
    assert [m.id for m in older] == ids[:10]
    assert chat.history(general.id, before_id=ids[0]) == []
    assert [m.id for m in chat.history(general.id, limit=5)] == ids[-5:]
    with pytest.raises(NotFound):
        chat.history(999_999)


def test_history_loads_reply_targets(general, alice, bob):
    original = chat.post_message(general.id, alice.id, "question")
    chat.post_message(general.id, bob.id, "answer", reply_to_id=original.id)
    page = chat.history(general.id)
    assert page[1].reply_to.body == "question" and page[1].reply_to.user.username == "alice"


def test_since_returns_everything_after_an_id_in_order(topic_rooms, alice):
    general = topic_rooms["general"]
    ids = add_messages(general.id, alice.id, 8)
    add_messages(topic_rooms["gear"].id, alice.id, 2)
    assert [m.id for m in chat.since(general.id, ids[2])] == ids[3:]
    assert [m.id for m in chat.since(general.id, 0, limit=3)] == ids[:3]
    assert chat.since(general.id, ids[-1]) == []


def test_unread_counts(topic_rooms, alice, bob):
    general, gear = topic_rooms["general"], topic_rooms["gear"]
    ids = add_messages(general.id, alice.id, 3)
    add_messages(gear.id, alice.id, 2)
    add_messages(general.id, bob.id, 1)  # bob's own: never unread for him
    unread = {s.room.slug: s.unread for s in chat.rooms_overview(bob.id)}
    assert unread == {"general": 3, "brewing": 0, "gear": 2}
    chat.mark_read(general.id, bob.id, ids[1])
    assert {s.room.slug: s.unread for s in chat.rooms_overview(bob.id)}["general"] == 1
    chat.mark_read(general.id, bob.id, ids[0])  # never moves back
    assert {s.room.slug: s.unread for s in chat.rooms_overview(bob.id)}["general"] == 1
    chat.delete_message(ids[2], alice.id)
    assert {s.room.slug: s.unread for s in chat.rooms_overview(bob.id)}["general"] == 0
    assert all(s.unread == 0 for s in chat.rooms_overview(None))
    with pytest.raises(NotFound):
        chat.mark_read(general.id, bob.id, add_messages(gear.id, alice.id, 1)[0])


def test_rooms_overview_last_message_and_order(topic_rooms, alice, make_coffee):
    quiet = chat.room_for_coffee(make_coffee("Quiet").id)
    busy = chat.room_for_coffee(make_coffee("Busy").id)
    add_messages(quiet.id, alice.id, 1)
    last = add_messages(busy.id, alice.id, 2)[-1]
    overview = chat.rooms_overview(alice.id)
    assert [s.title for s in overview] == ["General", "Brewing", "Gear", "Busy", "Quiet"]
    assert overview[3].last_message.id == last
    assert overview[3].last_message.user.username == "alice"
    assert overview[0].last_message is None


def test_rooms_overview_runs_a_fixed_number_of_queries(topic_rooms, alice, bob, make_coffee,
                                                       count_queries):
    alice_id, bob_id = alice.id, bob.id
    coffee_ids = [make_coffee(f"C{n}").id for n in range(4)]
    add_messages(topic_rooms["general"].id, alice_id, 2)
    add_messages(chat.room_for_coffee(coffee_ids[0]).id, alice_id, 2)
    db.session.expunge_all()  # nothing comes from the identity map
    with count_queries() as few:
        chat.rooms_overview(bob_id)
    for coffee_id in coffee_ids[1:]:
        add_messages(chat.room_for_coffee(coffee_id).id, alice_id, 2)
    db.session.expunge_all()
    with count_queries() as many:
        overview = chat.rooms_overview(bob_id)
        assert len([s.last_message.user.username for s in overview if s.last_message]) == 5
        assert sum(s.unread for s in overview) == 10
        assert len({s.title for s in overview}) == 7
    assert many[0] == few[0] == 6


# Demo data ----------------------------------------------------------------------

def test_seed_chat_adds_conversations_once(app, make_user, make_coffee):
    from webapp.seed import DEMO_MESSAGES, DEMO_USERS, seed_chat

    for username, *_ in DEMO_USERS:
        make_user(username)
    make_coffee("First")
    make_coffee("Second")
    seed_chat()
    count = messages_count()
    assert count == len(DEMO_MESSAGES)
    seed_chat()
    assert messages_count() == count
    assert db.session.scalar(select(func.count()).select_from(Room)
                             .where(Room.kind == "coffee")) == 2
    assert db.session.scalar(select(func.count()).select_from(Mention)) == 2
    replies = db.session.scalars(select(Message).where(Message.reply_to_id.is_not(None))).all()
    assert replies and all(r.room_id == db.session.get(Message, r.reply_to_id).room_id
                           for r in replies)


def test_rooms_overview_leaves_out_silent_coffee_rooms_and_keeps_the_latest(topic_rooms, alice,
                                                                            make_coffee):
    silent = chat.room_for_coffee(make_coffee("Silent").id)
    rooms = [chat.room_for_coffee(make_coffee(f"Talked {n}").id) for n in range(4)]
    for room in rooms:
        add_messages(room.id, alice.id, 1)
    overview = chat.rooms_overview(None, limit=2)
    assert [s.title for s in overview] == ["General", "Brewing", "Gear", "Talked 3", "Talked 2"]
    assert silent.id not in {s.room.id for s in chat.rooms_overview(None)}
