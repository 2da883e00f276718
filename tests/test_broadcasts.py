"""Broadcasts to linked Telegram users (webapp/services/broadcasts.py, /admin/broadcast):
the audience, the preview, 429s and 403s, a worker killed mid-way, two workers on one
broadcast, the pages and bad input. Against the fake Bot API (tests/fixtures/telegram.py),
whose per-chat counters find duplicates and the lost; real ``python -m worker``
processes on the real Redis where a worker matters. Who may open the pages:
tests/test_permissions.py.
"""
import os
import re
import signal
import uuid

import pytest
import requests
from rq import Worker
from rq.job import Job
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event, func, insert, select

from tests import jobs as test_jobs
from tests.conftest import HX, PASSWORD
from tests.fixtures.jobs import WorkerProcess, gone, queue, rq_app, wait_for  # noqa: F401
from tests.test_fuzz import FUZZ, field
from webapp import jobs
from webapp.extensions import db
from webapp.models import Broadcast, BroadcastRecipient, Follow, TelegramLink, User
from webapp.services import ServiceError
from webapp.services import broadcasts as service

TOKEN = "123456:broadcast"
CHAT_BASE = 9_100_000
HEARTBEAT, MAINTENANCE = 2, 1  # seconds: a dead worker's job is abandoned after 4 s
FAST = ("--heartbeat", str(HEARTBEAT), "--maintenance-interval", str(MAINTENANCE))


def with_bot(app, api) -> None:
    app.config.update(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_BOT_USERNAME="crema_test_bot",
                      TELEGRAM_API_URL=api.url)


@pytest.fixture
def tg(app, telegram_api):
    """The fake Bot API; jobs run in this process (no queue), even with TEST_REDIS_URL
    (the outbox's limits and pauses still use that Redis)."""
    with_bot(app, telegram_api)
    redis_url, app.config["REDIS_URL"] = app.config["REDIS_URL"], None
    yield telegram_api
    app.config["REDIS_URL"] = redis_url  # for clean_up


def linked_users(count: int, start: int = 0, active: bool = True) -> list[int]:
    """``count`` users with linked Telegram (chat ``CHAT_BASE + n``), in two statements."""
    names = [f"tg{n}" for n in range(start, start + count)]
    db.session.execute(insert(User), [
        {"username": n, "email": f"{n}@example.com", "password_hash": "x", "display_name": "",
         "bio": "", "role": "user", "session_token": uuid.uuid4().hex} for n in names])
    ids = dict(db.session.execute(select(User.username, User.id)
                                  .where(User.username.in_(names))).all())
    db.session.execute(insert(TelegramLink), [
        {"user_id": ids[f"tg{n}"], "telegram_id": CHAT_BASE + n, "chat_id": CHAT_BASE + n,
         "first_name": "T", "active": active} for n in range(start, start + count)])
    db.session.commit()
    return [ids[f"tg{n}"] for n in range(start, start + count)]


def chat(n: int) -> str:
    return str(CHAT_BASE + n)


def states(broadcast_id: int) -> dict[str, int]:
    db.session.expire_all()
    return dict(db.session.execute(select(BroadcastRecipient.status, func.count())
                                   .where(BroadcastRecipient.broadcast_id == broadcast_id)
                                   .group_by(BroadcastRecipient.status)).all())


def saved() -> tuple:
    db.session.expire_all()
    return (db.session.scalar(select(func.count()).select_from(Broadcast)),
            db.session.scalar(select(func.count()).select_from(BroadcastRecipient)))


@pytest.fixture
def admin(app, make_user):
    """root, an admin, logged in: (client, user)."""
    root = make_user("root", role="admin")
    client = app.test_client()
    assert client.post("/auth/login", data={"login": "root", "password": PASSWORD}).status_code == 303
    return client, root


def link(user, chat_id: int = 4242) -> None:
    db.session.add(TelegramLink(user_id=user.id, telegram_id=chat_id, chat_id=chat_id,
                                first_name="Root"))
    db.session.commit()


# The service, without Redis: the job runs in this process ----------------------------

class TestAudience:
    def test_everyone_linked_and_active_gets_it_once(self, tg, make_user):
        root = make_user("root", role="admin")
        linked_users(3)
        linked_users(1, start=3, active=False)  # blocked the bot earlier
        make_user("unlinked")
        made = service.create(root.id, "Hello\r\nall", "all")
        assert made.total == 3
        assert dict(tg.delivered) == {chat(0): 1, chat(1): 1, chat(2): 1}
        assert {p["text"] for p in tg.sent()} == {"Hello\nall"}
        assert states(made.id) == {"sent": 3}
        db.session.refresh(made)
        assert made.status == "done" and made.finished_at is not None

    def test_followers_of_a_coffee_only(self, tg, make_user, make_coffee):
        root = make_user("root", role="admin")
        ids = linked_users(4)
        coffee, other = make_coffee("Kochere"), make_coffee("Guji")
        loner = make_user("loner")  # follows, but has no Telegram
        db.session.execute(insert(Follow), [{"user_id": ids[0], "coffee_id": coffee.id},
                                            {"user_id": ids[2], "coffee_id": coffee.id},
                                            {"user_id": ids[3], "coffee_id": other.id},
                                            {"user_id": loner.id, "coffee_id": coffee.id}])
        db.session.commit()
        assert service.audience_size("coffee", coffee.id) == 2
        made = service.create(root.id, "Kochere news", "coffee", coffee.id)
        assert made.total == 2
        assert dict(tg.delivered) == {chat(0): 1, chat(2): 1}
        assert service.followed_coffees() == [(coffee.id, "Kochere", "Test Roasters", 2),
                                              (other.id, "Guji", "Test Roasters", 1)]
        assert [c[0] for c in service.followed_coffees("guj")] == [other.id]

    def test_the_recipients_are_written_by_one_statement(self, app, tg, make_user):
        root = make_user("root", role="admin")
        linked_users(50)
        seen = []
        listen = (lambda _c, _cur, statement, *_a: seen.append(statement)
                  if "INSERT INTO broadcast_recipients" in statement else None)
        event.listen(db.engine, "before_cursor_execute", listen)
        try:
            service.create(root.id, "Hi", "all")
        finally:
            event.remove(db.engine, "before_cursor_execute", listen)
        assert len(seen) == 1 and "SELECT" in seen[0]
        assert len(tg.sent()) == 50

    def test_nobody_linked_is_refused_and_nothing_saved(self, tg, make_user):
        root = make_user("root", role="admin")
        with pytest.raises(ServiceError, match="Nobody in this audience"):
            service.create(root.id, "Hi", "all")
        assert saved() == (0, 0)


class TestTelegramAnswers:
    def test_429s_are_waited_out_and_nobody_is_lost(self, tg, make_user):
        root = make_user("root", role="admin")
        linked_users(3)
        tg.fail("sendMessage", 429, times=2, retry_after=1)
        made = service.create(root.id, "Patience", "all")
        statuses = [c.status for c in tg.calls_of("sendMessage")]
        assert statuses[:2] == [429, 429] and statuses.count(200) == 3
        assert dict(tg.delivered) == {chat(0): 1, chat(1): 1, chat(2): 1}
        assert states(made.id) == {"sent": 3}

    def test_a_sender_faster_than_telegram_is_slowed_by_429s_and_loses_nobody(
            self, app, tg, make_user):
        """The site's limit set above Telegram's: the fake server answers 429s, which the
        outbox waits out."""
        app.config["RATE_LIMITS"]["telegram-send"] = "1000 per second"
        tg.enforce(rate_per_second=5, per_chat=1)
        root = make_user("root", role="admin")
        linked_users(12)
        made = service.create(root.id, "Fast", "all")
        assert tg.throttled >= 1
        assert dict(tg.delivered) == {chat(n): 1 for n in range(12)}
        assert states(made.id) == {"sent": 12}

    def test_a_403_marks_that_user_blocked_and_the_others_go_on(self, tg, make_user):
        root = make_user("root", role="admin")
        ids = linked_users(3)
        tg.fail("sendMessage", 403)  # the first recipient (lowest id) blocked the bot
        made = service.create(root.id, "Still here?", "all")
        assert states(made.id) == {"blocked": 1, "sent": 2}
        assert dict(tg.delivered) == {chat(1): 1, chat(2): 1}
        row = db.session.execute(select(BroadcastRecipient.user_id, BroadcastRecipient.error)
                                 .where(BroadcastRecipient.status == "blocked")).one()
        assert row.user_id == ids[0] and "blocked" in row.error
        active = dict(db.session.execute(select(TelegramLink.user_id, TelegramLink.active)).all())
        assert active == {ids[0]: False, ids[1]: True, ids[2]: True}

    def test_a_500_fails_that_recipient_only(self, tg, make_user):
        root = make_user("root", role="admin")
        linked_users(2)
        tg.fail("sendMessage", 500)
        made = service.create(root.id, "Hm", "all")
        assert states(made.id) == {"failed": 1, "sent": 1}
        progress = service.progress(made.id)
        assert (progress.done, progress.remaining, progress.unconfirmed) == (True, 0, 0)

    def test_a_finished_broadcast_run_again_sends_nothing(self, tg, make_user):
        root = make_user("root", role="admin")
        linked_users(2)
        made = service.create(root.id, "Once", "all")
        service.deliver_broadcast(made.id)
        assert dict(tg.delivered) == {chat(0): 1, chat(1): 1}


class TestEnforcedFakeServer:
    def test_over_the_overall_rate_or_twice_a_second_to_one_chat_gets_429(self, tg, app):
        import requests

        tg.enforce(rate_per_second=3, per_chat=1)
        url = f"{tg.url}/bot{TOKEN}/sendMessage"
        answers = [requests.post(url, json={"chat_id": n, "text": "x"}).status_code
                   for n in (1, 2, 1)]
        assert answers == [200, 200, 429]  # chat 1 again within its second
        answers += [requests.post(url, json={"chat_id": n, "text": "x"}).status_code
                    for n in (3, 4)]
        assert answers[3:] == [200, 429]  # the 4th in one second
        body = requests.post(url, json={"chat_id": 5, "text": "x"}).json()
        assert body["error_code"] == 429 and body["parameters"]["retry_after"] >= 1
        assert dict(tg.delivered) == {"1": 1, "2": 1, "3": 1} and tg.duplicates() == {}


class TestPreview:
    def test_the_preview_goes_to_the_admins_own_telegram(self, tg, admin):
        client, root = admin
        link(root)
        response = client.post("/admin/broadcast", data={"text": "Draft", "audience": "all",
                                                         "action": "preview"})
        assert response.status_code == 200
        assert "The preview is in your Telegram." in response.get_data(as_text=True)
        assert [(p["chat_id"], p["text"]) for p in tg.sent()] == [("4242", "Draft")]
        assert saved() == (0, 0)

    def test_without_a_linked_telegram_a_clear_message(self, tg, admin):
        client, _root = admin
        response = client.post("/admin/broadcast", data={"text": "Draft", "action": "preview"},
                               headers=HX)
        assert response.status_code == 422
        assert "Your account has no linked Telegram" in response.get_data(as_text=True)
        assert tg.calls_of("sendMessage") == [] and saved() == (0, 0)

    def test_a_blocked_bot_is_said_so(self, tg, admin):
        client, root = admin
        link(root)
        tg.fail("sendMessage", 403)
        response = client.post("/admin/broadcast", data={"text": "Draft", "action": "preview"})
        assert response.status_code == 422
        assert "you blocked the bot" in response.get_data(as_text=True)
        assert db.session.scalar(select(TelegramLink.active)) is False


# The pages -----------------------------------------------------------------------------

class TestPages:
    def test_the_form_both_ways(self, tg, admin, make_coffee):
        client, _root = admin
        ids = linked_users(1)
        coffee = make_coffee("Kochere")
        db.session.add(Follow(user_id=ids[0], coffee_id=coffee.id))
        db.session.commit()
        page = client.get("/admin/broadcast").get_data(as_text=True)
        assert "<html" in page and 'id="broadcast-form"' in page
        assert f'<option value="{coffee.id}">Kochere (Test Roasters) · 1</option>' in page
        assert 'href="/admin/broadcasts"' in page and 'aria-current="page"' in page
        fragment = client.get("/admin/broadcast", headers=HX).get_data(as_text=True)
        assert "<html" not in fragment and fragment.lstrip().startswith('<section id="broadcast-form">')

    def test_the_admin_nav_links_to_it(self, admin):
        client, _root = admin
        assert 'href="/admin/broadcast"' in client.get("/admin/users").get_data(as_text=True)

    def test_send_asks_to_confirm_with_the_count_then_sends_once(self, tg, admin):
        client, _root = admin
        linked_users(3)
        form = {"text": "Big news", "audience": "all", "action": "send"}
        asked = client.post("/admin/broadcast", data=form, headers=HX)
        html = asked.get_data(as_text=True)
        assert asked.status_code == 200 and "This message goes to 3 people on Telegram." in html
        assert saved() == (0, 0) and tg.sent() == []
        code = re.search(r'name="confirm" value="([^"]+)"', html).group(1)
        sent = client.post("/admin/broadcast", data={**form, "confirm": code})
        assert sent.status_code == 303
        made = db.session.scalar(select(Broadcast))
        assert sent.headers["Location"] == f"/admin/broadcast/{made.id}"
        assert len(tg.sent()) == 3
        # The same confirmation again (a double click, a reload): refused, nothing more.
        again = client.post("/admin/broadcast", data={**form, "confirm": code})
        assert again.status_code == 422
        assert "This confirmation was used or has expired" in again.get_data(as_text=True)
        assert saved() == (1, 3) and len(tg.sent()) == 3

    def test_a_message_changed_after_confirming_is_asked_again(self, tg, admin):
        client, _root = admin
        linked_users(2)
        form = {"text": "Big news", "audience": "all", "action": "send"}
        html = client.post("/admin/broadcast", data=form).get_data(as_text=True)
        code = re.search(r'name="confirm" value="([^"]+)"', html).group(1)
        changed = client.post("/admin/broadcast", data={**form, "text": "Other news",
                                                         "confirm": code})
        html = changed.get_data(as_text=True)
        assert changed.status_code == 200 and "This message goes to 2 people" in html
        assert saved() == (0, 0) and tg.sent() == []
        new_code = re.search(r'name="confirm" value="([^"]+)"', html).group(1)
        assert new_code != code
        done = client.post("/admin/broadcast", data={**form, "text": "Other news",
                                                      "confirm": new_code})
        assert done.status_code == 303
        assert [p["text"] for p in tg.sent()] == ["Other news", "Other news"]

    def test_the_final_report_both_ways_without_polling(self, tg, admin):
        client, root = admin
        linked_users(2)
        tg.fail("sendMessage", 403)
        made = service.create(root.id, "Report", "all")
        page = client.get(f"/admin/broadcast/{made.id}").get_data(as_text=True)
        assert "<html" in page and "Report" in page
        assert '<progress value="2" max="2">' in page
        assert "Sent: <strong>1</strong>" in page and "Blocked the bot: <strong>1</strong>" in page
        assert "Unconfirmed: <strong>0</strong>" in page and "Done." in page
        assert "hx-trigger" not in page[page.index('id="broadcast-progress"'):]
        fragment = client.get(f"/admin/broadcast/{made.id}", headers=HX).get_data(as_text=True)
        assert fragment.lstrip().startswith('<section id="broadcast-progress">')

    def test_while_sending_it_polls_and_offers_a_refresh_link(self, tg, admin):
        client, root = admin
        ids = linked_users(3)
        made = Broadcast(author_id=root.id, text="Going", audience="all", total=3)
        db.session.add(made)
        db.session.flush()
        db.session.execute(insert(BroadcastRecipient), [
            {"broadcast_id": made.id, "user_id": uid, "chat_id": CHAT_BASE + n,
             "status": status} for n, (uid, status) in enumerate(zip(ids, ["sent", "sending",
                                                                          "pending"]))])
        db.session.commit()
        fragment = client.get(f"/admin/broadcast/{made.id}", headers=HX).get_data(as_text=True)
        assert f'hx-get="/admin/broadcast/{made.id}" hx-trigger="every 1s"' in fragment
        assert '<progress value="1" max="3">' in fragment
        assert "Remaining: <strong>2</strong>" in fragment and "Unconfirmed" not in fragment
        assert f'<a href="/admin/broadcast/{made.id}">Refresh</a>' in fragment

    def test_the_list_of_past_broadcasts(self, tg, admin):
        client, root = admin
        linked_users(2)
        first = service.create(root.id, "First one", "all")
        second = service.create(root.id, "Second one", "all")
        page = client.get("/admin/broadcasts").get_data(as_text=True)
        assert page.index(f'id="broadcast-{second.id}"') < page.index(f'id="broadcast-{first.id}"')
        assert "First one" in page and f'href="/admin/broadcast/{first.id}"' in page
        fragment = client.get("/admin/broadcasts", headers=HX).get_data(as_text=True)
        assert fragment.lstrip().startswith('<section id="broadcasts">')

    def test_an_unknown_broadcast_is_404(self, admin):
        client, _root = admin
        assert client.get("/admin/broadcast/999").status_code == 404

    def test_in_russian(self, tg, admin):
        client, _root = admin
        client.post("/language", data={"lang": "ru"})
        html = client.get("/admin/broadcast").get_data(as_text=True)
        assert "Рассылка" in html and "Отправить пробное сообщение себе в Telegram" in html


class TestBadInput:
    @pytest.mark.parametrize("data, message", [
        ({"text": "", "audience": "all"}, "Write the message."),
        ({"text": " \n\t", "audience": "all"}, "Write the message."),
        ({"text": "x" * 4097, "audience": "all"}, "Telegram takes at most 4096"),
        ({"text": "\U0001f600" * 2049, "audience": "all"}, "4098 characters long"),
        ({"text": "Hi", "audience": "nobody"}, "Choose who gets the message."),
        ({"text": "Hi", "audience": "coffee"}, "Choose a coffee whose followers"),
        ({"text": "Hi", "audience": "coffee", "coffee": "999999"}, "Choose a coffee whose"),
        ({"text": "Hi", "audience": "coffee", "coffee": "x"}, "Choose a coffee whose"),
        ({"text": "Hi", "audience": "all", "confirm": "forged"}, "This confirmation was used"),
    ])
    @pytest.mark.parametrize("htmx", [False, True])
    def test_422_with_the_message_and_nothing_saved_or_sent(self, tg, admin, data, message, htmx):
        client, _root = admin
        linked_users(1)
        response = client.post("/admin/broadcast", data={**data, "action": "send"},
                               headers=HX if htmx else {})
        assert response.status_code == 422
        html = response.get_data(as_text=True)
        assert message in html and ("<html" in html) is not htmx
        assert saved() == (0, 0) and tg.calls_of("sendMessage") == []

    def test_a_control_character_is_refused(self, tg, admin):
        client, _root = admin
        linked_users(1)
        response = client.post("/admin/broadcast", data={"text": "a\x00b", "action": "send"})
        assert response.status_code == 422 and saved() == (0, 0)
        with pytest.raises(ServiceError, match="control characters"):
            service.clean_text("a\x1bb")

    def test_without_a_bot_nothing_can_be_sent(self, app, admin):
        client, _root = admin
        app.config["TELEGRAM_BOT_TOKEN"] = ""
        linked_users(1)
        page = client.get("/admin/broadcast").get_data(as_text=True)
        assert "The site has no Telegram bot" in page
        asked = client.post("/admin/broadcast", data={"text": "Hi", "audience": "all",
                                                      "action": "send"})
        code = re.search(r'name="confirm" value="([^"]+)"', asked.get_data(as_text=True)).group(1)
        response = client.post("/admin/broadcast", data={"text": "Hi", "audience": "all",
                                                         "action": "send", "confirm": code})
        assert response.status_code == 422 and saved() == (0, 0)


def test_fuzzing_the_form_gives_no_5xx_and_saves_nothing_refused(tg, admin, make_coffee):
    client, root = admin
    link(root)
    linked_users(2)
    coffee = make_coffee("Kochere")
    fields = {"text": ("Hello", "Строка\nдве"), "audience": ("all", "coffee"),
              "coffee": (str(coffee.id), ""), "coffee_q": ("", "koch"),
              "action": ("send", "search", "preview"), "confirm": ("", "x")}

    @FUZZ
    @given(draw=st.data(), htmx=st.booleans())
    def fuzz(draw, htmx):
        data = {name: valid[0] for name, valid in fields.items()}
        for name in sorted(draw.draw(st.sets(st.sampled_from(sorted(fields)), min_size=1))):
            data[name] = draw.draw(field(name, fields[name]), label=name)
        before = saved()
        response = client.post("/admin/broadcast", data=data, headers=HX if htmx else {})
        assert response.status_code < 500, (data, response.status_code)
        if response.status_code >= 400 or data.get("action") != "send" or not data.get("confirm"):
            assert saved() == before, (data, response.status_code)

    fuzz()


# Real workers on Redis -------------------------------------------------------------------

@pytest.fixture
def worker_env(rq_app, telegram_api, monkeypatch):
    """The rq_app and the worker processes started after this talk to the fake Bot API."""
    with_bot(rq_app, telegram_api)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TELEGRAM_BOT_USERNAME", "crema_test_bot")
    monkeypatch.setenv("TELEGRAM_API_URL", telegram_api.url)
    return telegram_api


def finished(broadcast_id: int) -> bool:
    db.session.expire_all()
    return db.session.scalar(select(Broadcast.status).where(Broadcast.id == broadcast_id)) == "done"


def test_a_worker_killed_mid_broadcast_is_resumed_and_nobody_gets_it_twice(
        rq_app, database_url, worker_env, monkeypatch):
    api, recipients = worker_env, 60
    monkeypatch.setattr(service, "deliver_broadcast", test_jobs.deliver_broadcast_telling)
    root, *_ = linked_users(recipients)
    redis = jobs.connection(rq_app)
    first = WorkerProcess(rq_app, database_url, *FAST)
    second = horse = None
    try:
        made = service.create(root, "Survive this", "all")
        horse = int(wait_for(lambda: redis.get(f"{rq_app.config['REDIS_PREFIX']}horse"), 30,
                             "the job did not start", first))
        wait_for(lambda: sum(api.delivered.values()) >= 15, 30, "15 messages not sent", first)
        os.kill(horse, signal.SIGKILL)
        os.kill(first.pid, signal.SIGKILL)
        first.proc.wait(10)
        wait_for(lambda: gone(horse), 10, "the work horse did not die")
        at_kill = sum(api.delivered.values())
        assert 15 <= at_kill < recipients and not finished(made.id)

        second = WorkerProcess(rq_app, database_url, *FAST)
        wait_for(lambda: finished(made.id), 90, "the broadcast was not resumed to its end", second)
        progress = service.progress(made.id)
        assert api.duplicates() == {}
        assert progress.unconfirmed <= 1
        assert progress.sent + progress.unconfirmed == recipients
        assert (progress.pending, progress.failed, progress.blocked) == (0, 0, 0)
        # Everyone else got it exactly once; the unconfirmed one at most once.
        unconfirmed = {str(c) for c in db.session.scalars(select(BroadcastRecipient.chat_id)
                                                          .where(BroadcastRecipient.status == "sending"))}
        assert {c: n for c, n in api.delivered.items() if c not in unconfirmed} == \
            {chat(n): 1 for n in range(recipients) if chat(n) not in unconfirmed}
    finally:
        if horse is not None and not gone(horse):
            os.kill(horse, signal.SIGKILL)
        for worker in (first, second):
            if worker is not None:
                worker.stop()


def test_two_workers_share_one_broadcast_without_duplicates(
        rq_app, database_url, worker_env):
    api, recipients = worker_env, 50
    root, *_ = linked_users(recipients)
    workers = [WorkerProcess(rq_app, database_url) for _ in range(2)]
    try:
        wait_for(lambda: Worker.count(queue=queue(rq_app)) == 2, 60, "two workers did not start",
                 workers[1])
        made = service.create(root, "Together", "all")
        again = jobs.enqueue(service.deliver_broadcast, made.id)  # a second job on it
        wait_for(lambda: finished(made.id) and again.get_status(refresh=True) == "finished",
                 90, "the broadcast was not delivered", workers[0])
    finally:
        for worker in workers:
            worker.stop()
    assert dict(api.delivered) == {chat(n): 1 for n in range(recipients)}
    assert states(made.id) == {"sent": recipients}
    # Both jobs ran while the broadcast was sending.
    one = Job.fetch(service.job_id(made.id), connection=jobs.connection(rq_app))
    again.refresh()
    finished_at = db.session.scalar(select(Broadcast.finished_at))
    assert one.get_status() == "finished"
    assert max(one.started_at, again.started_at).timestamp() < finished_at.timestamp()


# A double click on a running server ------------------------------------------------------

def test_parallel_confirmations_make_one_broadcast(app, telegram_api, make_user, gunicorn_env,
                                                   start_gunicorn):
    """The same confirmed form posted six times at once (two worker processes, one
    cookie): one broadcast with its recipients; the other posts get 422."""
    from tests.fixtures.chat_servers import csrf_token, login
    from tests.test_concurrency import in_parallel
    from tests.test_telegram_login import _free_port

    make_user("root", role="admin")
    linked_users(3)
    env = {**gunicorn_env, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_BOT_USERNAME": "crema_test_bot",
           "TELEGRAM_API_URL": telegram_api.url, "WEB_CONCURRENCY": "2"}
    server = start_gunicorn(_free_port(), env)
    http = login(server.url, "root")
    page = http.get(f"{server.url}/admin/broadcast", timeout=30)
    form = {"text": "One of these only", "audience": "all", "action": "send",
            "csrf_token": csrf_token(page.text)}
    asked = http.post(f"{server.url}/admin/broadcast", data=form, timeout=30)
    assert "This message goes to 3 people on Telegram." in asked.text
    confirmed = {**form, "confirm": re.search(r'name="confirm" value="([^"]+)"', asked.text)[1]}
    cookies = http.cookies.get_dict()
    http.close()

    def press():
        return requests.post(f"{server.url}/admin/broadcast", data=confirmed, cookies=cookies,
                             allow_redirects=False, timeout=60)

    answers = in_parallel([press] * 6)
    assert sorted(r.status_code for r in answers) == [303] + [422] * 5
    # Each carried the confirmation in its own copy of the cookie: the database decided.
    assert all("This broadcast was sent already (by another click)" in r.text
               for r in answers if r.status_code == 422)
    assert saved() == (1, 3)
