"""Webhook mode: ``POST /telegram/webhook`` feeds Telegram's updates to the bot's handlers,
which answer through the fake Bot API (tests/fixtures/telegram.py); `flask telegram
set-webhook` and `delete-webhook`."""
import pytest
from sqlalchemy import select

from tests.conftest import clean_up, make_app
from tests.test_bot import HELP_EN  # the same handlers answer
from webapp.extensions import db
from webapp.models import TelegramLink
from webapp.services import telegram
from webapp.telegram import updates

URL = "/telegram/webhook"
SECRET = "webhook-Secret_123"
HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET}


def with_bot(app, api_url: str) -> None:
    app.config.update(TELEGRAM_BOT_TOKEN="123456:webhook-bot", TELEGRAM_BOT_USERNAME="crema_test_bot",
                      TELEGRAM_API_URL=api_url, TELEGRAM_WEBHOOK_SECRET=SECRET,
                      BASE_URL="https://crema.example")


@pytest.fixture
def tg(app, telegram_api):
    with_bot(app, telegram_api.url)
    return telegram_api


def update(tg, text: str, **who) -> dict:
    return {"update_id": tg.next_update_id(), **tg.message(text, **who)}


def links() -> list[tuple[int, int]]:
    db.session.expire_all()
    return [(r.user_id, r.telegram_id) for r in db.session.scalars(select(TelegramLink))]


def test_the_right_secret_gets_the_update_handled(client, tg):
    response = client.post(URL, json=update(tg, "/help"), headers=HEADERS)
    assert response.status_code == 200
    assert tg.wait_for_reply(5001)[0]["text"] == HELP_EN


def test_linking_through_the_webhook(client, tg, make_user):
    alice = make_user("alice", display_name="Alice")
    token = telegram.new_token("link", alice.id)
    response = client.post(URL, json=update(tg, f"/start {token}"), headers=HEADERS)
    assert response.status_code == 200
    assert tg.wait_for_reply(5001)[0]["text"] == (
        "Hello, Alice! Your Telegram is now connected to Crema as @alice.")
    assert links() == [(alice.id, 5001)]


@pytest.mark.parametrize("headers", [
    {}, {"X-Telegram-Bot-Api-Secret-Token": ""},
    {"X-Telegram-Bot-Api-Secret-Token": "webhook-Secret_12"},
    {"X-Telegram-Bot-Api-Secret-Token": SECRET + "4"},
    {"X-Telegram-Bot-Api-Secret-Token": SECRET.upper()}])
def test_a_missing_or_wrong_secret_is_refused(client, tg, make_user, headers):
    alice = make_user("alice")
    token = telegram.new_token("link", alice.id)
    response = client.post(URL, json=update(tg, f"/start {token}"), headers=headers)
    assert response.status_code == 403
    assert links() == []
    assert tg.calls == []


def test_a_refused_update_is_not_remembered_as_handled(client, tg):
    body = update(tg, "/help")
    assert client.post(URL, json=body).status_code == 403
    assert client.post(URL, json=body, headers=HEADERS).status_code == 200
    assert len(tg.wait_for_reply(5001)) == 1


def test_the_same_update_twice_is_handled_once(client, tg, make_user):
    alice = make_user("alice")
    body = update(tg, f"/start {telegram.new_token('link', alice.id)}")
    assert client.post(URL, json=body, headers=HEADERS).status_code == 200
    assert client.post(URL, json=body, headers=HEADERS).status_code == 200
    # Handled in the request: both answers are back, so a second reply ("This link was
    # used already") would have been sent by now.
    assert [p["text"] for p in tg.sent()] == [
        "Hello, Ana! Your Telegram is now connected to Crema as @alice."]
    assert links() == [(alice.id, 5001)]


@pytest.mark.parametrize("body, kind", [
    ("not json", "text/plain"), ("{broken", "application/json"), ("[1, 2]", "application/json"),
    ('{"message": {}}', "application/json"), ('{"update_id": "7"}', "application/json"),
    ('{"update_id": true}', "application/json")])
def test_a_body_that_is_not_an_update_is_400(client, tg, body, kind):
    response = client.post(URL, data=body, content_type=kind, headers=HEADERS)
    assert response.status_code == 400
    assert tg.calls == []


def test_a_malformed_update_with_an_id_is_skipped(client, tg, caplog):
    body = {"update_id": tg.next_update_id(), "message": {"text": "/help"}}
    assert client.post(URL, json=body, headers=HEADERS).status_code == 200
    assert "malformed update skipped" in caplog.text
    assert client.post(URL, json=update(tg, "/help"), headers=HEADERS).status_code == 200
    assert tg.wait_for_reply(5001)[0]["text"] == HELP_EN


def test_without_a_bot_the_webhook_is_not_there(client, app, telegram_api):
    app.config.update(TELEGRAM_WEBHOOK_SECRET=SECRET)  # TestConfig has no bot token
    assert client.post(URL, json={"update_id": 1}, headers=HEADERS).status_code == 404


def test_without_a_secret_the_webhook_is_not_there(client, tg):
    tg_secretless = {"TELEGRAM_WEBHOOK_SECRET": None}
    client.application.config.update(tg_secretless)
    assert client.post(URL, json=update(tg, "/help"), headers=HEADERS).status_code == 404
    assert client.post(URL, json=update(tg, "/help")).status_code == 404
    assert tg.calls == []


def test_telegram_sends_no_csrf_token_and_needs_none(csrf_app, tg):
    client = csrf_app.test_client()
    assert client.post(URL, json=update(tg, "/help"), headers=HEADERS).status_code == 200


class TestDedupe:
    def test_with_redis_every_web_process_shares_what_was_handled(self, database_url, _schema,
                                                                  shared_redis_url):
        first = make_app(database_url, REDIS_URL=shared_redis_url)
        second = make_app(database_url, REDIS_URL=shared_redis_url,
                          REDIS_PREFIX=first.config["REDIS_PREFIX"])
        try:
            with first.app_context():
                assert updates.first_time(41) is True
                assert updates.first_time(41) is False
            with second.app_context():
                assert updates.first_time(41) is False
                assert updates.first_time(42) is True
                key = f"{first.config['REDIS_PREFIX']}telegram:update:41"
                ttl = first.extensions["redis"].ttl(key)
                assert 0 < ttl <= updates.SEEN_TTL
        finally:
            clean_up(first)
            clean_up(second)

    def test_without_redis_the_process_remembers_the_latest_ids(self, database_url, _schema,
                                                               monkeypatch):
        monkeypatch.setattr(updates, "SEEN_MAX", 2)
        app = make_app(database_url, REDIS_URL=None)
        try:
            with app.app_context():
                assert [updates.first_time(i) for i in (1, 2, 1, 3)] == [True, True, False, True]
                assert updates.first_time(2) is False and updates.first_time(3) is False
                assert updates.first_time(1) is True  # the oldest was forgotten
        finally:
            clean_up(app)


class TestCommands:
    def test_set_webhook_registers_the_url_and_the_secret(self, app, tg, runner):
        result = runner.invoke(args=["telegram", "set-webhook", "https://crema.example/hook"])
        assert result.exit_code == 0, result.output
        assert "Telegram now sends updates to https://crema.example/hook." in result.output
        params = tg.wait_for("setWebhook")[0].params
        assert (params["url"], params["secret_token"]) == ("https://crema.example/hook", SECRET)
        assert params["allowed_updates"] == ["message", "callback_query"]

    def test_set_webhook_defaults_to_the_sites_webhook(self, app, tg, runner):
        result = runner.invoke(args=["telegram", "set-webhook"])
        assert result.exit_code == 0, result.output
        assert tg.wait_for("setWebhook")[0].params["url"] == "https://crema.example/telegram/webhook"

    def test_set_webhook_needs_the_secret(self, app, tg, runner):
        app.config["TELEGRAM_WEBHOOK_SECRET"] = None
        result = runner.invoke(args=["telegram", "set-webhook", "https://crema.example/hook"])
        assert result.exit_code == 1
        assert "Set TELEGRAM_WEBHOOK_SECRET first" in result.output
        assert tg.calls == []

    def test_the_commands_need_a_bot(self, app, telegram_api, runner):
        for command in ("set-webhook", "delete-webhook"):
            result = runner.invoke(args=["telegram", command])
            assert result.exit_code == 1
            assert "Set TELEGRAM_BOT_TOKEN and TELEGRAM_BOT_USERNAME first" in result.output
        assert telegram_api.calls == []

    def test_delete_webhook(self, app, tg, runner):
        result = runner.invoke(args=["telegram", "delete-webhook"])
        assert result.exit_code == 0, result.output
        assert "Webhook removed" in result.output
        assert [c.method for c in tg.calls] == ["deleteWebhook"]

    def test_a_refusal_from_telegram_is_reported(self, app, tg, runner):
        tg.fail("setWebhook", 400)
        result = runner.invoke(args=["telegram", "set-webhook", "https://crema.example/hook"])
        assert result.exit_code == 1
        assert "Telegram refused" in result.output
