"""Notifications (webapp/services/notifications.py, with follows.py and
notification_prefs.py): who is told of a mention, a reply, chat activity and a new
review; exactly once, coalesced where they should be."""
import logging
from datetime import datetime, timedelta, timezone

import pytest
from rq import SimpleWorker
from sqlalchemy import func, select

from tests.conftest import clean_up, make_app
from tests.fixtures.embedded import embedded_app  # noqa: F401 (this module's app)
from webapp import jobs
from webapp.extensions import db
from webapp.models import Message, Notification, NotificationPref
from webapp.services import ServiceError, chat, follows, notification_prefs, notifications
from webapp.services import reviews as review_service

# Inside one 5-minute window, whatever the clock says when the tests run.
WINDOW_START = datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)


@pytest.fixture
def people(make_user):
    return {name: make_user(name) for name in ("ana", "bob", "cyd", "dee")}


@pytest.fixture
def general(topic_rooms):
    return topic_rooms["general"]


def told() -> list[tuple]:
    """(username-free) rows: (user id, kind, key, count), by user then key."""
    db.session.expire_all()
    return [tuple(r) for r in db.session.execute(
        select(Notification.user_id, Notification.kind, Notification.key, Notification.count)
        .order_by(Notification.user_id, Notification.key))]


def add(room_id: int, user_id: int, body: str = "hello", at: datetime = WINDOW_START,
        reply_to: int | None = None) -> int:
    """A message stored directly (no event), at a chosen time."""
    message = Message(room_id=room_id, user_id=user_id, body=body, created_at=at,
                      reply_to_id=reply_to)
    db.session.add(message)
    db.session.commit()
    return message.id


class TestMessages:
    def test_a_posted_mention_tells_the_mentioned_user_at_once(self, general, people):
        ana, bob = people["ana"], people["bob"]
        message = chat.post_message(general.id, ana.id, "@bob have you tried the Guji?")
        assert told() == [(bob.id, "mention", f"mention:{message.id}", 1)]

    def test_a_reply_tells_the_author_of_the_original(self, general, people):
        ana, bob = people["ana"], people["bob"]
        original = chat.post_message(general.id, bob.id, "Which grinder?")
        reply = chat.post_message(general.id, ana.id, "A hand grinder", reply_to_id=original.id)
        assert (bob.id, "reply", f"reply:{reply.id}", 1) in told()
        assert not [row for row in told() if row[0] == ana.id and row[1] == "reply"]

    def test_a_mentioned_author_of_the_original_gets_one_notification(self, general, people):
        ana, bob = people["ana"], people["bob"]
        original = add(general.id, bob.id)
        reply = add(general.id, ana.id, "@bob this one", reply_to=original)
        db.session.add(chat.Mention(message_id=reply, user_id=bob.id))
        db.session.commit()
        notifications.notify_message(reply)
        assert [row for row in told() if row[0] == bob.id] == [
            (bob.id, "mention", f"mention:{reply}", 1)]

    def test_nobody_is_told_of_their_own_message(self, general, people):
        ana = people["ana"]
        chat.post_message(general.id, ana.id, "@ana talking to myself")
        assert told() == []

    def test_chat_activity_is_one_notification_per_room_and_window_counted_in_place(
            self, general, people):
        ana, bob, cy = people["ana"], people["bob"], people["cyd"]
        add(general.id, bob.id, at=WINDOW_START - timedelta(hours=1))  # bob posted here
        ids = [add(general.id, who.id, f"message {n}", at=WINDOW_START + timedelta(seconds=n))
               for n, who in enumerate((ana, ana, cy))]
        for message_id in ids:
            notifications.notify_message(message_id)
        window = int(WINDOW_START.timestamp() // notifications.CHAT_WINDOW_SECONDS)
        key = f"chat:{general.id}:{window}"
        assert told() == [(ana.id, "chat", key, 1), (bob.id, "chat", key, 3),
                          (cy.id, "chat", key, 2)]
        latest = db.session.scalar(select(Notification).where(Notification.user_id == bob.id))
        assert latest.last_message_id == ids[-1] and latest.actor_id == cy.id

    def test_a_job_run_again_changes_nothing(self, general, people):
        ana, bob = people["ana"], people["bob"]
        add(general.id, bob.id, at=WINDOW_START - timedelta(hours=1))
        first = add(general.id, ana.id, "@bob one", at=WINDOW_START)
        db.session.add(chat.Mention(message_id=first, user_id=bob.id))
        db.session.commit()
        second = add(general.id, ana.id, "two", at=WINDOW_START + timedelta(seconds=5))
        for message_id in (first, second, first, second, second):
            notifications.notify_message(message_id)
        rows = told()
        assert [r for r in rows if r[1] == "mention"] == [(bob.id, "mention", f"mention:{first}", 1)]
        assert [r[3] for r in rows if r[1] == "chat"] == [1]  # bob: the second message only

    def test_the_next_window_is_a_new_notification_and_unread_again(self, general, people):
        ana, bob = people["ana"], people["bob"]
        add(general.id, bob.id, at=WINDOW_START - timedelta(hours=1))
        notifications.notify_message(add(general.id, ana.id, "one", at=WINDOW_START))
        notifications.mark_read(bob.id)
        notifications.notify_message(add(general.id, ana.id, "two",
                                         at=WINDOW_START + timedelta(minutes=6)))
        assert [r[3] for r in told() if r[0] == bob.id] == [1, 1]
        assert notifications.unread_count(bob.id) == 1

    def test_followers_are_told_and_unfollowing_stops_it(self, general, people):
        ana, dee = people["ana"], people["dee"]
        follows.follow(dee.id, room_id=general.id)
        follows.follow(dee.id, room_id=general.id)  # twice: one follow
        notifications.notify_message(add(general.id, ana.id, at=WINDOW_START))
        assert [r[:2] for r in told()] == [(dee.id, "chat")]
        follows.unfollow(dee.id, room_id=general.id)
        notifications.notify_message(add(general.id, ana.id, at=WINDOW_START + timedelta(hours=1)))
        assert len(told()) == 1

    def test_a_deleted_or_missing_message_tells_nobody(self, general, people, caplog):
        caplog.set_level(logging.INFO, logger="webapp.services.notifications")
        ana, bob = people["ana"], people["bob"]
        message = chat.post_message(general.id, ana.id, "Oops")
        chat.delete_message(message.id, ana.id)
        add(general.id, bob.id)
        notifications.notify_message(message.id)
        notifications.notify_message(999_999)
        assert told() == []
        assert "message 999999 is gone or deleted" in caplog.text

    def test_a_thousand_followers_in_a_fixed_number_of_queries(self, general, people,
                                                               make_user, count_queries):
        def followers(n):
            for _ in range(n):
                follows.follow(make_user().id, room_id=general.id)
        few, many = statements(general.id, people["ana"].id, followers, count_queries, 10, 1000)
        assert db.session.scalar(select(func.count()).select_from(Notification)) == 1010
        assert few == many

    def test_still_a_fixed_number_of_queries_with_choices_and_mutes(
            self, general, people, make_user, count_queries):
        """Followers who turned the app off (a row for email), everything off (no row),
        muted the room, or chose nothing: the same statements for 12 as for 1,200."""
        def followers(n):
            for i in range(n):
                uid = make_user().id
                follows.follow(uid, room_id=general.id)
                if i % 4 == 0:
                    choose(uid, "chat", in_app=False, email=True)
                elif i % 4 == 1:
                    choose(uid, "chat", in_app=False, email=False)
                elif i % 4 == 2:
                    follows.mute(uid, room_id=general.id)
        few, many = statements(general.id, people["ana"].id, followers, count_queries, 12, 1200)
        rows = db.session.execute(select(Notification.in_app, func.count())
                                  .group_by(Notification.in_app)).all()
        assert dict(rows) == {False: 3 + 300, True: 3 + 300}
        assert few == many


def statements(room_id: int, author_id: int, followers, count_queries, few: int,
               many: int) -> tuple[int, int]:
    """The statements notify_message runs with ``few`` followers (``followers(n)`` adds
    n), then in the next hour with ``many``."""
    followers(few)
    with count_queries() as first:
        notifications.notify_message(add(room_id, author_id, at=WINDOW_START))
    followers(many - few)
    with count_queries() as second:
        notifications.notify_message(add(room_id, author_id, "@nobody",
                                         at=WINDOW_START + timedelta(hours=1)))
    return first[0], second[0]


def choose(user_id: int, kind: str, **channels: bool) -> None:
    """Store the user's choice for ``kind`` on each channel given."""
    for channel, enabled in channels.items():
        db.session.add(NotificationPref(user_id=user_id, kind=kind, channel=channel,
                                        enabled=enabled))
    db.session.commit()


def shown(user_id: int) -> list[str]:
    return [n.key for n in notifications.latest(user_id)]


class TestPreferences:
    def test_the_defaults(self, people):
        assert notification_prefs.prefs(people["ana"].id) == {
            "chat": {"in_app": True, "email": False, "telegram": False},
            "mentions": {"in_app": True, "email": True, "telegram": True},
            "reviews": {"in_app": True, "email": True, "telegram": True}}

    def test_every_channel_of_a_kind_off_means_no_row(self, general, people, make_coffee):
        ana, bob = people["ana"], people["bob"]
        choose(bob.id, "mentions", in_app=False, email=False)
        choose(bob.id, "reviews", in_app=False, email=False)
        chat.post_message(general.id, ana.id, "@bob are you there?")
        coffee = make_coffee("Kochere", by=bob)
        review_service.save_review(coffee.id, ana.id, 4, "pour-over", [], "")
        assert [r for r in told() if r[0] == bob.id] == []

    def test_the_app_off_keeps_a_hidden_row_for_e_mail(self, general, people):
        ana, bob = people["ana"], people["bob"]
        choose(bob.id, "mentions", in_app=False)
        message = chat.post_message(general.id, ana.id, "@bob for your inbox only")
        row = db.session.scalar(select(Notification).where(Notification.user_id == bob.id))
        assert (row.key, row.in_app) == (f"mention:{message.id}", False)
        assert notifications.unread_count(bob.id) == 0
        assert shown(bob.id) == []
        assert notifications.get(bob.id, row.id) is None
        assert notifications.mark_read(bob.id) == 0  # the digest still sees it unread

    def test_chat_on_for_e_mail_only_is_counted_in_a_hidden_row(self, general, people):
        ana, bob = people["ana"], people["bob"]
        add(general.id, bob.id, at=WINDOW_START - timedelta(hours=1))
        choose(bob.id, "chat", in_app=False, email=True)
        for n in range(2):
            notifications.notify_message(add(general.id, ana.id, f"m{n}",
                                             at=WINDOW_START + timedelta(seconds=n)))
        row = db.session.scalar(select(Notification).where(Notification.user_id == bob.id))
        assert (row.kind, row.count, row.in_app) == ("chat", 2, False)
        assert notifications.unread_count(bob.id) == 0

    def test_chat_off_means_no_activity_but_mentions_still_come(self, general, people):
        ana, bob = people["ana"], people["bob"]
        add(general.id, bob.id, at=WINDOW_START - timedelta(hours=1))
        choose(bob.id, "chat", in_app=False)
        notifications.notify_message(add(general.id, ana.id, at=WINDOW_START))
        assert told() == []
        chat.post_message(general.id, ana.id, "@bob but this one")
        assert [r[1] for r in told()] == ["mention"]

    def test_saving_choices_and_the_digest(self, people):
        bob = people["bob"]
        notification_prefs.save_prefs(bob.id, {("chat", "email"), ("reviews", "in_app")},
                                 ["in_app", "email"], email_digest=True)
        assert notification_prefs.prefs(bob.id) == {  # telegram untouched: its defaults
            "chat": {"in_app": False, "email": True, "telegram": False},
            "mentions": {"in_app": False, "email": False, "telegram": True},
            "reviews": {"in_app": True, "email": False, "telegram": True}}
        db.session.expire_all()
        assert bob.email_digest is True
        notification_prefs.save_prefs(bob.id, {("mentions", "in_app")}, ["in_app"],
                                      email_digest=False)
        assert notification_prefs.prefs(bob.id)["mentions"] == {"in_app": True, "email": False,
                                                           "telegram": True}
        assert notification_prefs.prefs(bob.id)["chat"] == {"in_app": False, "email": True,
                                                       "telegram": False}

    @pytest.mark.parametrize("enabled, channels", [
        ({("gossip", "in_app")}, ["in_app"]), ({("chat", "pigeon")}, ["in_app"]),
        ({("chat", "email")}, ["in_app"]), (set(), ["in_app", "fax"])])
    def test_an_unknown_choice_saves_nothing(self, people, enabled, channels):
        bob = people["bob"]
        with pytest.raises(ServiceError):
            notification_prefs.save_prefs(bob.id, enabled, channels, email_digest=True)
        assert db.session.scalar(select(func.count()).select_from(NotificationPref)) == 0
        db.session.expire_all()
        assert bob.email_digest is False


class TestMutes:
    def test_a_muted_room_is_quiet_but_mentions_come_and_follows_stay(self, general, people,
                                                                      topic_rooms):
        ana, dee = people["ana"], people["dee"]
        brewing = topic_rooms["brewing"]
        for room in (general, brewing):
            follows.follow(dee.id, room_id=room.id)
        follows.mute(dee.id, room_id=general.id)
        follows.mute(dee.id, room_id=general.id)  # twice: one mute
        assert follows.watching(dee.id, room_id=general.id).muted_room
        assert not follows.watching(dee.id, room_id=brewing.id).muted_room
        notifications.notify_message(add(general.id, ana.id, at=WINDOW_START))
        notifications.notify_message(add(brewing.id, ana.id, at=WINDOW_START))
        assert [r[2] for r in told()] == [f"chat:{brewing.id}:{window()}"]
        mention = chat.post_message(general.id, ana.id, "@dee still for you")
        assert (dee.id, "mention", f"mention:{mention.id}", 1) in told()
        assert follows.following(dee.id, general.id) == (True, False)
        follows.unmute(dee.id, room_id=general.id)
        notifications.notify_message(add(general.id, ana.id, at=WINDOW_START + timedelta(hours=1)))
        assert len([r for r in told() if r[1] == "chat"]) == 2

    def test_a_muted_coffee_silences_its_reviews_and_its_room(self, people, make_coffee):
        ana, bob, dee = people["ana"], people["bob"], people["dee"]
        muted, other = make_coffee("Kochere", by=ana), make_coffee("Guji", by=ana)
        room = chat.room_for_coffee(muted.id)
        for coffee in (muted, other):
            follows.follow(dee.id, coffee_id=coffee.id)
        follows.follow(dee.id, room_id=room.id)
        follows.mute(dee.id, coffee_id=muted.id)
        review_service.save_review(muted.id, bob.id, 4, "pour-over", [], "")
        heard, _ = review_service.save_review(other.id, bob.id, 4, "pour-over", [], "")
        notifications.notify_message(add(room.id, bob.id, at=WINDOW_START))
        assert [(r[1], r[2]) for r in told() if r[0] == dee.id] == [
            ("review", f"review:{heard.id}")]
        reply_to = add(room.id, dee.id, "my note", at=WINDOW_START + timedelta(seconds=1))
        reply = chat.post_message(room.id, bob.id, "agreed", reply_to_id=reply_to)
        assert (dee.id, "reply", f"reply:{reply.id}", 1) in told()

    def test_the_mutes_listed_with_their_names(self, general, people, make_coffee):
        dee = people["dee"]
        coffee = make_coffee("Kochere")
        follows.mute(dee.id, room_id=general.id)
        follows.mute(dee.id, coffee_id=coffee.id)
        follows.mute(dee.id, room_id=chat.room_for_coffee(coffee.id).id)
        assert [m.title for m in follows.mutes(dee.id)] == ["Kochere", "Kochere", "General"]


def window(at: datetime = WINDOW_START) -> int:
    return int(at.timestamp() // notifications.CHAT_WINDOW_SECONDS)


class TestReviews:
    def test_a_new_review_tells_who_added_the_coffee_and_its_followers(
            self, people, make_coffee):
        ana, bob, cy, dee = (people[n] for n in ("ana", "bob", "cyd", "dee"))
        coffee = make_coffee("Kochere", by=ana)
        follows.follow(dee.id, coffee_id=coffee.id)
        review, _ = review_service.save_review(coffee.id, bob.id, 4, "pour-over", [], "Juicy")
        assert [(r[0], r[1]) for r in told()] == [(ana.id, "review"), (dee.id, "review")]
        review_service.save_review(coffee.id, bob.id, 4.5, "pour-over", [], "Even better")
        assert len(told()) == 2  # an edit tells nobody again
        review_service.save_review(coffee.id, ana.id, 3, "espresso", [], "")
        assert (dee.id, "review") in [(r[0], r[1]) for r in told()]
        assert (ana.id, "review") in [(r[0], r[1]) for r in told()]
        assert len(told()) == 3  # ana is not told of her own review


class TestReading:
    def test_unread_count_list_and_marking(self, general, people):
        ana, bob = people["ana"], people["bob"]
        first = chat.post_message(general.id, ana.id, "@bob one")
        second = chat.post_message(general.id, ana.id, "@bob two")
        assert notifications.unread_count(bob.id) == 2
        listed = notifications.latest(bob.id)
        assert [n.message_id for n in listed] == [second.id, first.id]
        assert notifications.mark_read(bob.id, listed[0].id) == 1
        assert notifications.mark_read(ana.id, listed[1].id) == 0  # not ana's
        assert notifications.unread_count(bob.id) == 1
        assert notifications.mark_read(bob.id) == 1
        assert notifications.unread_count(bob.id) == 0


def test_with_redis_the_job_is_queued_and_a_worker_runs_it_once(database_url, _schema,
                                                                 shared_redis_url):
    from webapp.services import users as user_service

    app = make_app(database_url, REDIS_URL=shared_redis_url)
    try:
        with app.app_context():
            ana = user_service.register_user("ana", "ana@example.com", "correct-horse-battery")
            bob = user_service.register_user("bob", "bob@example.com", "correct-horse-battery")
            chat.ensure_topic_rooms()
            room = chat.topic_rooms()[0]
            message = chat.post_message(room.id, ana.id, "@bob over the queue")
            assert told() == []  # queued, not run
            worker = SimpleWorker([jobs.queue_name(app)], connection=jobs.connection(app))
            worker.work(burst=True)
            assert told() == [(bob.id, "mention", f"mention:{message.id}", 1)]
            # Run again, as after a worker died mid-job: nothing more.
            jobs.enqueue(notifications.notify_message, message.id)
            worker.work(burst=True)
            assert told() == [(bob.id, "mention", f"mention:{message.id}", 1)]
            db.session.remove()
    finally:
        clean_up(app)
