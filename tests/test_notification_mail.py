"""Notification email (webapp/services/channels.py) against a real SMTP server: each
mail once, only to confirmed addresses with email on, the daily digest, the recipient's
language, and unsubscribing by a signed link (a page, and RFC 8058's one-click POST)."""
import logging
import os
import smtplib
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.conftest import clean_up, make_app
from tests.fixtures.embedded import embedded_app  # noqa: F401 (this module's app)
from tests.fixtures.smtp import body
from webapp.extensions import db
from webapp.models import Delivery, Notification, NotificationPref
from webapp.models.base import utcnow
from webapp.services import channels, chat, notification_prefs, notifications
from webapp.services import reviews as review_service

ROOT = Path(__file__).resolve().parent.parent
BASE = "https://crema.example"


@pytest.fixture
def people(app, make_user):
    app.config["BASE_URL"] = BASE
    return {name: make_user(name, display_name=name.capitalize(), email_confirmed_at=utcnow())
            for name in ("ana", "bob")}


@pytest.fixture
def general(topic_rooms):
    return topic_rooms["general"]


def only(notification_kind: str, user_id: int) -> Notification:
    db.session.expire_all()
    return db.session.scalars(select(Notification).where(
        Notification.kind == notification_kind, Notification.user_id == user_id)).one()


def sent() -> int:
    return db.session.scalar(select(func.count()).select_from(Delivery))


class TestImmediate:
    def test_a_mention_is_mailed_once_even_when_the_jobs_run_again(self, mailbox, general,
                                                                   people):
        message = chat.post_message(general.id, people["ana"].id, "@bob try the Guji & co")
        [mail] = mailbox.wait_for(1)
        assert mail["To"] == "bob@example.com"
        assert mail["Subject"] == "Ana mentioned you in General"
        link = f"{BASE}/chat/{general.id}?before={message.id + 1}#msg-{message.id}"
        assert link in body(mail) and "try the Guji & co" in body(mail)
        assert f'href="{link}"' in body(mail, "html") and "Guji &amp; co" in body(mail, "html")
        notification = only("mention", people["bob"].id)
        notifications.notify_message(message.id)
        channels.send_email_notifications([notification.id])
        assert len(mailbox.messages) == 1 and sent() == 1

    def test_a_refused_mail_fails_the_job_and_the_retry_sends_it_once(self, mailbox, general,
                                                                      people, caplog):
        mailbox.refuse = 1
        chat.post_message(general.id, people["ana"].id, "@bob refused at first")
        assert "job send_email_notifications" in caplog.text  # logged, the post went on
        assert mailbox.messages == [] and sent() == 0
        notification = only("mention", people["bob"].id)
        mailbox.refuse = 1
        with pytest.raises(smtplib.SMTPDataError):
            channels.send_email_notifications([notification.id])
        assert sent() == 0
        channels.send_email_notifications([notification.id])
        channels.send_email_notifications([notification.id])
        assert len(mailbox.wait_for(1)) == 1 and sent() == 1

    def test_a_review_mail_leads_to_the_review(self, mailbox, people, make_coffee):
        coffee = make_coffee("Kochere", by=people["bob"])
        review, _ = review_service.save_review(coffee.id, people["ana"].id, 4, "pour-over", [],
                                               "Juicy, like blueberries.")
        [mail] = mailbox.wait_for(1)
        assert mail["Subject"] == "Ana reviewed Kochere"
        assert f"{BASE}/coffees/{coffee.id}#review-{review.id}" in body(mail)
        assert "Juicy, like blueberries." in body(mail)

    def test_an_unconfirmed_address_gets_no_mail(self, mailbox, general, people):
        bob = people["bob"]
        bob.email_confirmed_at = None
        db.session.commit()
        chat.post_message(general.id, people["ana"].id, "@bob unconfirmed")
        channels.send_email_notifications([only("mention", bob.id).id])
        assert mailbox.messages == [] and sent() == 0

    def test_e_mail_off_for_the_kind_means_no_mail(self, mailbox, general, people):
        bob = people["bob"]
        notification_prefs.save_prefs(bob.id, {("mentions", "in_app")}, ["in_app", "email"], False)
        chat.post_message(general.id, people["ana"].id, "@bob in the app only")
        channels.send_email_notifications([only("mention", bob.id).id])
        assert mailbox.messages == [] and notifications.unread_count(bob.id) == 1

    def test_chat_activity_is_mailed_once_per_window_not_per_message(self, mailbox, general,
                                                                     people):
        ana, bob = people["ana"], people["bob"]
        chat.post_message(general.id, bob.id, "Anyone?")
        notification_prefs.save_prefs(bob.id, {("chat", "email")}, ["in_app", "email"], False)
        for n in range(3):
            chat.post_message(general.id, ana.id, f"Yes {n}")
        assert only("chat", bob.id).count == 3
        [mail] = mailbox.wait_for(1)
        assert mail["Subject"] == "1 new message in General"

    def test_in_russian_for_a_russian_reader(self, mailbox, general, people):
        bob = people["bob"]
        bob.locale = "ru"
        db.session.commit()
        chat.post_message(general.id, people["ana"].id, "@bob привет")
        [mail] = mailbox.wait_for(1)
        assert mail["Subject"] == "Ana упоминает вас в комнате «Общий»"
        assert "Открыть в Crema" in body(mail) and "Отписаться от этих писем" in body(mail)
        assert 'lang="ru"' in body(mail, "html") and "Open it in Crema" not in body(mail, "html")

    def test_every_mail_says_how_to_unsubscribe_in_one_click(self, mailbox, general, people):
        chat.post_message(general.id, people["ana"].id, "@bob headers")
        [mail] = mailbox.wait_for(1)
        url = mail["List-Unsubscribe"].strip("<>")
        assert url.startswith(f"{BASE}/unsubscribe/")
        assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert url in body(mail) and url in body(mail, "html")
        assert channels.read_unsubscribe_token(url.rsplit("/", 1)[1])[1] == ("mentions",)


class TestDigest:
    @pytest.fixture
    def reader(self, people):
        bob = people["bob"]
        bob.email_digest = True
        db.session.commit()
        return bob

    def test_the_days_notifications_in_one_mail_sent_once(self, mailbox, general, people,
                                                          reader, make_coffee, runner):
        ana = people["ana"]
        chat.post_message(general.id, ana.id, "@bob one")
        chat.post_message(general.id, ana.id, "@bob two")
        coffee = make_coffee("Kochere", by=reader)
        review_service.save_review(coffee.id, ana.id, 4, "pour-over", [], "")
        read = chat.post_message(general.id, ana.id, "@bob read already")
        notifications.mark_read(reader.id, only_key(reader.id, f"mention:{read.id}"))
        assert mailbox.messages == []  # nothing as it happens
        today = utcnow().date().isoformat()
        result = runner.invoke(args=["notifications", "send-digests", "--day", today])
        assert result.exit_code == 0 and "1 digest job(s)" in result.output
        [mail] = mailbox.wait_for(1)
        assert mail["Subject"] == "Your Crema digest: 3 notifications"
        text = body(mail)
        assert text.count("Ana mentioned you in General") == 2 and "Ana reviewed Kochere" in text
        assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        channels.send_digest(reader.id, today)
        runner.invoke(args=["notifications", "send-digests", "--day", today])
        assert len(mailbox.messages) == 1

    def test_only_kinds_with_e_mail_on_and_only_that_day(self, mailbox, general, people,
                                                         reader, make_coffee):
        coffee = make_coffee("Kochere", by=reader)
        review_service.save_review(coffee.id, people["ana"].id, 4, "pour-over", [], "")
        chat.post_message(general.id, people["ana"].id, "@bob hello")
        notification_prefs.save_prefs(reader.id, {("mentions", "email")}, ["in_app", "email"], True)
        yesterday = (utcnow() - timedelta(days=1)).date().isoformat()
        channels.send_digest(reader.id, yesterday)
        assert mailbox.messages == []
        channels.send_digest(reader.id, utcnow().date().isoformat())
        [mail] = mailbox.wait_for(1)
        assert mail["Subject"] == "Your Crema digest: 1 notification"
        assert "reviewed" not in body(mail)

    def test_without_redis_the_command_sends_and_default_is_yesterday(self, mailbox, reader,
                                                                      runner):
        result = runner.invoke(args=["notifications", "send-digests"])
        yesterday = (utcnow() - timedelta(days=1)).date().isoformat()
        assert result.output.strip() == f"0 digest job(s) for {yesterday} run."


def only_key(user_id: int, key: str) -> int:
    return db.session.scalar(select(Notification.id).where(Notification.user_id == user_id,
                                                           Notification.key == key))


class TestUnsubscribe:
    def url(self, user_id: int, kind: str = "mentions") -> str:
        return f"/unsubscribe/{channels.unsubscribe_token(user_id, kind)}"

    def email_on(self, user_id: int) -> dict:
        db.session.expire_all()
        return {kind: on["email"] for kind, on in notification_prefs.prefs(user_id).items()}

    def test_the_link_asks_and_changes_nothing(self, client, people):
        bob = people["bob"]
        for headers in ({}, {"HX-Request": "true"}):
            page = client.get(self.url(bob.id), headers=headers)
            assert page.status_code == 200 and "Mentions and replies" in page.text
            assert f'<form method="post" action="{self.url(bob.id)}">' in page.text
        assert "<html" in client.get(self.url(bob.id)).text
        assert self.email_on(bob.id) == {"chat": False, "mentions": True, "reviews": True}
        assert db.session.scalar(select(func.count()).select_from(NotificationPref)) == 0

    def test_the_button_turns_that_kind_off_and_again_says_so(self, client, people):
        bob = people["bob"]
        done = client.post(self.url(bob.id))
        assert done.status_code == 200 and "no more emails about this" in done.text
        assert self.email_on(bob.id) == {"chat": False, "mentions": False, "reviews": True}
        for again in (client.get(self.url(bob.id)), client.post(self.url(bob.id))):
            assert again.status_code == 200 and "already unsubscribed" in again.text
            assert f'action="{self.url(bob.id)}"' not in again.text

    def test_one_click_from_a_mail_client_without_session_or_csrf_token(self, csrf_app,
                                                                        people):
        bob = people["bob"]
        client = csrf_app.test_client()
        assert client.post("/settings/notifications").status_code == 400  # CSRF is on
        response = client.post(self.url(bob.id, channels.ALL_KINDS),
                               data={"List-Unsubscribe": "One-Click"})
        assert response.status_code == 200
        assert self.email_on(bob.id) == {"chat": False, "mentions": False, "reviews": False}

    @pytest.mark.parametrize("token", ["nonsense", "WzIsIm1lbnRpb25zIl0.forged",
                                       "x" * 500])
    def test_a_forged_link_is_refused_and_changes_nothing(self, client, people, token):
        for method in ("GET", "POST"):
            response = client.open(f"/unsubscribe/{token}", method=method)
            assert response.status_code == 400
            assert "This unsubscribe link is not valid" in response.text
        assert db.session.scalar(select(func.count()).select_from(NotificationPref)) == 0

    def test_a_token_signed_for_something_else_is_refused(self, client, app, people):
        from itsdangerous import URLSafeSerializer

        other_salt = URLSafeSerializer(app.config["SECRET_KEY"], salt="another-purpose")
        token = other_salt.dumps([people["bob"].id, "mentions"])
        assert client.post(f"/unsubscribe/{token}").status_code == 400
        for payload in ([people["bob"].id, "gossip"], ["1", "mentions"], [999_999, "chat"], 7):
            token = channels._signer().dumps(payload)
            assert client.post(f"/unsubscribe/{token}").status_code == 400
        assert db.session.scalar(select(func.count()).select_from(NotificationPref)) == 0


class TestBadInput:
    def test_jobs_for_what_is_gone_finish_quietly_and_say_why(self, mailbox, people, caplog):
        caplog.set_level(logging.INFO, logger="webapp.services.channels")
        channels.send_email_notifications([999_999])
        channels.send_digest(999_999, "2026-11-25")
        channels.send_digest(people["bob"].id, "not a day")
        assert "notifications [999999] are gone" in caplog.text
        assert "user 999999 is gone" in caplog.text and "'not a day' is not a day" in caplog.text
        assert mailbox.messages == []


def test_a_real_worker_mails_a_mention_exactly_once(database_url, _schema, shared_redis_url,
                                                    smtp_server):
    """Redis, ``python -m worker`` and the SMTP server: the mention's job writes the row
    and queues the email job, which mails once; the job again (a retry) mails nothing."""
    from rq import Queue

    from webapp import jobs
    from webapp.services import users as user_service

    smtp_server.clear()
    app = make_app(database_url, REDIS_URL=shared_redis_url, BASE_URL=BASE)
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": shared_redis_url,
           "REDIS_PREFIX": app.config["REDIS_PREFIX"], "BASE_URL": BASE,
           "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp_server.port)}

    def work() -> None:
        done = subprocess.run([sys.executable, "-m", "worker", "--burst"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr

    try:
        with app.app_context():
            ana = user_service.register_user("ana", "ana@example.com", "correct-horse-battery")
            bob = user_service.register_user("bob", "bob@example.com", "correct-horse-battery")
            bob.email_confirmed_at = utcnow()
            db.session.commit()
            chat.ensure_topic_rooms()
            room = chat.topic_rooms()[0]
            message = chat.post_message(room.id, ana.id, "@bob over the queue")
            assert smtp_server.messages == []  # queued, not run
            work()
            [mail] = smtp_server.wait_for(1)
            assert mail["To"] == "bob@example.com" and f"#msg-{message.id}" in body(mail)
            jobs.enqueue(notifications.notify_message, message.id)
            work()
            assert len(smtp_server.messages) == 1
            assert Queue(jobs.queue_name(app), connection=jobs.connection(app)).count == 0
            db.session.remove()
    finally:
        smtp_server.clear()
        clean_up(app)


class TestDigestRound:
    """The worker's own daily round (with Redis), instead of cron."""

    @pytest.fixture
    def redis_app(self, database_url, _schema, shared_redis_url):
        app = make_app(database_url, REDIS_URL=shared_redis_url, DIGEST_HOUR=6)
        with app.app_context():
            yield app
            db.session.remove()
        clean_up(app)

    @staticmethod
    def scheduled(app) -> list[tuple]:
        from rq import Queue
        from rq.job import Job

        from webapp import jobs

        queue = Queue(jobs.queue_name(app), connection=jobs.connection(app))
        registry = queue.scheduled_job_registry
        return [(job_id, registry.get_scheduled_time(job_id),
                 Job.fetch(job_id, connection=queue.connection).args)
                for job_id in registry.get_job_ids()]

    def test_the_next_round_is_scheduled_once_at_the_hour_for_the_day_before(self, redis_app):
        from datetime import datetime, timezone

        before_six = datetime(2026, 11, 25, 5, 30, tzinfo=timezone.utc)
        after_six = datetime(2026, 11, 25, 6, 0, tzinfo=timezone.utc)
        first = channels.schedule_digest_round(redis_app, after=before_six)
        again = channels.schedule_digest_round(redis_app, after=before_six)  # another worker
        assert first == again
        [(job_id, at, args)] = self.scheduled(redis_app)
        assert (at, args) == (datetime(2026, 11, 25, 6, 0, tzinfo=timezone.utc), ("2026-11-24",))
        later = channels.schedule_digest_round(redis_app, after=after_six)
        assert later != first
        assert sorted((at, args) for _, at, args in self.scheduled(redis_app)) == [
            (datetime(2026, 11, 25, 6, 0, tzinfo=timezone.utc), ("2026-11-24",)),
            (datetime(2026, 11, 26, 6, 0, tzinfo=timezone.utc), ("2026-11-25",))]

    def test_a_round_queues_the_days_digests_and_schedules_the_next(self, redis_app):
        from rq import Queue, SimpleWorker

        from webapp import jobs
        from webapp.services import users as user_service

        reader = user_service.register_user("bob", "bob@example.com", "correct-horse-battery")
        reader.email_digest, reader.email_confirmed_at = True, utcnow()
        ana = user_service.register_user("ana", "ana@example.com", "correct-horse-battery")
        db.session.commit()
        chat.ensure_topic_rooms()
        chat.post_message(chat.topic_rooms()[0].id, ana.id, "@bob a digest for you")
        queue = Queue(jobs.queue_name(redis_app), connection=jobs.connection(redis_app))
        SimpleWorker([queue], connection=queue.connection).work(burst=True)  # the mention

        today = utcnow().date().isoformat()
        channels.digest_round(today)
        assert [(j.func_name, j.args) for j in queue.jobs] == [
            ("webapp.services.channels.send_digest", (reader.id, today))]
        now = utcnow()
        next_six = now.replace(hour=6, minute=0, second=0, microsecond=0)
        next_six += timedelta(days=1) if next_six <= now else timedelta()
        [(_, at, args)] = self.scheduled(redis_app)
        assert (at, args) == (next_six, ((next_six - timedelta(days=1)).date().isoformat(),))

    def test_a_real_worker_schedules_the_next_round_when_it_starts(self, redis_app,
                                                                    database_url, monkeypatch):
        from tests.fixtures.jobs import WorkerProcess, wait_for

        monkeypatch.setenv("DIGEST_HOUR", "6")
        worker = WorkerProcess(redis_app, database_url)
        try:
            wait_for(lambda: self.scheduled(redis_app), 30, "no digest round scheduled", worker)
        finally:
            worker.stop()  # SIGTERM, then SIGKILL if it is still starting up 20 s later
        [(_, at, args)] = self.scheduled(redis_app)
        assert at > utcnow() and (at.hour, at.minute) == (6, 0)
        assert args == ((at - timedelta(days=1)).date().isoformat(),)

    def test_without_redis_nothing_is_scheduled(self, app):
        assert channels.schedule_digest_round(app, after=utcnow()) is None
