"""Flood control: the limiter itself, and log-in, sign-up and password checks under it.

The parallel tests send real concurrent requests to a running server; run the
suite with TEST_DATABASE_URL and TEST_REDIS_URL to do the same on PostgreSQL + Redis.
"""
import threading
import time

import pytest
import requests
from limits.storage import MemoryStorage, RedisStorage

from tests.conftest import PASSWORD, LiveServer, make_app
from webapp import create_app
from webapp.config import ConfigError
from webapp.config import TestConfig as Settings  # not collected as a test class
from webapp.extensions import limiter

WRONG = "wrong-password!"
WRONG_MESSAGE = b"Wrong username, email or password."


def login_in_parallel(url: str, attempts: list[dict]) -> list[requests.Response]:
    """POST every attempt (form data plus an optional ``ip``) at once, one thread each."""
    barrier = threading.Barrier(len(attempts))
    responses: list = [None] * len(attempts)

    def attempt(i: int, data: dict) -> None:
        headers = {"X-Forwarded-For": data.pop("ip")} if "ip" in data else {}
        barrier.wait()
        responses[i] = requests.post(url + "/auth/login", data=data, headers=headers, timeout=60,
                                     allow_redirects=False)

    threads = [threading.Thread(target=attempt, args=(i, dict(a))) for i, a in enumerate(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    return responses


def statuses(responses) -> dict[int, int]:
    counts: dict[int, int] = {}
    for response in responses:
        counts[response.status_code] = counts.get(response.status_code, 0) + 1
    return counts


class TestLimiter:
    def test_allows_the_rate_then_refuses_with_the_wait(self, app):
        app.config["RATE_LIMITS"]["login-ip"] = "3 per 10 minutes"
        verdicts = [limiter.consume("login-ip", "10.0.0.1") for _ in range(4)]
        assert [v.allowed for v in verdicts] == [True, True, True, False]
        assert 590 <= verdicts[-1].retry_after <= 600 and verdicts[-1].retry_minutes == 10
        assert limiter.consume("login-ip", "10.0.0.2").allowed  # another identifier

    def test_clear_forgets_the_attempts(self, app):
        app.config["RATE_LIMITS"]["password-check"] = "1 per hour"
        assert limiter.consume("password-check", 7).allowed
        assert not limiter.consume("password-check", 7).allowed
        limiter.clear("password-check", 7)
        assert limiter.consume("password-check", 7).allowed

    def test_identifiers_with_slashes_do_not_share_a_key(self, app):
        app.config["RATE_LIMITS"]["login-account-ip"] = "1 per hour"
        assert limiter.consume("login-account-ip", "a/b", "c").allowed
        assert limiter.consume("login-account-ip", "a", "b/c").allowed

    def test_names_do_not_share_counters(self, app):
        app.config["RATE_LIMITS"]["login-ip"] = "1 per hour"
        app.config["RATE_LIMITS"]["register-ip"] = "1 per hour"
        assert limiter.consume("login-ip", "10.0.0.1").allowed
        assert limiter.consume("register-ip", "10.0.0.1").allowed

    def test_unknown_name_is_a_key_error(self, app):
        with pytest.raises(KeyError):
            limiter.consume("no-such-limit", "x")

    def test_each_app_has_its_own_memory(self, database_url, _schema):
        first, second = (make_app(database_url, REDIS_URL=None) for _ in range(2))
        for each in (first, second):
            each.config["RATE_LIMITS"]["login-ip"] = "1 per hour"
        with first.app_context():
            assert isinstance(first.extensions["limiter"].storage, MemoryStorage)
            assert limiter.consume("login-ip", "10.0.0.1").allowed
            assert not limiter.consume("login-ip", "10.0.0.1").allowed
        with second.app_context():
            assert limiter.consume("login-ip", "10.0.0.1").allowed

    def test_counts_live_in_redis_when_configured(self, app):
        # The suite's Redis run (TEST_REDIS_URL) checks the keys; the embedded run, memory.
        limiter.consume("login-ip", "10.0.0.9")
        storage = app.extensions["limiter"].storage
        redis = app.extensions["redis"]
        if app.config["REDIS_URL"]:
            assert isinstance(storage, RedisStorage)
            keys = [k.decode() for k in redis.scan_iter(app.config["REDIS_PREFIX"] + "*")]
            assert len(keys) == 1
            assert keys[0].startswith(app.config["REDIS_PREFIX"] + "rl:")
            assert "login-ip/10.0.0.9" in keys[0]
        else:
            assert redis is None and isinstance(storage, MemoryStorage)

    def test_rates_come_from_the_environment(self, monkeypatch):
        monkeypatch.setenv("LOGIN_LIMIT_IP", "3 per minute")
        monkeypatch.setenv("PASSWORD_CHECK_LIMIT", "2/hour")
        limits = Settings().RATE_LIMITS
        assert limits["login-ip"] == "3 per minute" and limits["password-check"] == "2/hour"

    def test_a_bad_rate_stops_start_up(self, database_url):
        config = Settings(database_url)
        config.RATE_LIMITS = {**config.RATE_LIMITS, "login-ip": "20"}
        with pytest.raises(ConfigError, match="login-ip"):
            create_app(config)


class TestParallelLogIn:
    @pytest.fixture(autouse=True)
    def slow_hash(self, app):
        """A hash as slow as a real one: a check-then-count limiter lets every guess in."""
        app.config["PASSWORD_HASH_METHOD"] = "pbkdf2:sha256:200000"

    def test_forty_parallel_guesses_get_exactly_the_limit_of_checks(
            self, proxied_app, make_user, password_checks):
        make_user("alice")
        proxied_app.config["RATE_LIMITS"]["login-account-ip"] = "5 per 15 minutes"
        with LiveServer(proxied_app) as server:
            responses = login_in_parallel(
                server.url, [{"login": "alice", "password": WRONG, "ip": "203.0.113.7"}] * 40)
        assert statuses(responses) == {422: 5, 429: 35}
        assert password_checks.count == 5
        assert all(WRONG_MESSAGE in r.content for r in responses if r.status_code == 422)
        refused = [r for r in responses if r.status_code == 429]
        assert all(b"Too many log-in attempts." in r.content for r in refused)
        assert all(0 < int(r.headers["Retry-After"]) <= 900 for r in refused)

    def test_parallel_guesses_from_many_ips_stop_at_the_account_ceiling(
            self, proxied_app, make_user, password_checks):
        make_user("alice")
        proxied_app.config["RATE_LIMITS"]["login-account"] = "8 per 15 minutes"
        attempts = [{"login": "alice", "password": WRONG, "ip": f"198.51.100.{i}"}
                    for i in range(1, 41)]
        with LiveServer(proxied_app) as server:
            responses = login_in_parallel(server.url, attempts)
        assert statuses(responses) == {422: 8, 429: 32}
        assert password_checks.count == 8


def login_from(client, ip: str, password: str = PASSWORD, login: str = "alice"):
    return client.post("/auth/login", data={"login": login, "password": password},
                       headers={"X-Forwarded-For": ip})


class TestLogInLimits:
    def test_a_strangers_failures_do_not_lock_the_owner_out(self, proxied_app, make_user):
        make_user("alice")
        attacker, owner = proxied_app.test_client(), proxied_app.test_client()
        for _ in range(5):
            assert login_from(attacker, "203.0.113.7", WRONG).status_code == 422
        # The attacker's address is refused, even with the right password...
        assert login_from(attacker, "203.0.113.7").status_code == 429
        # ...while the owner, elsewhere, logs in.
        assert login_from(owner, "198.51.100.20").status_code == 303

    def test_the_account_ceiling_eventually_stops_everyone(self, proxied_app, make_user):
        make_user("alice")
        proxied_app.config["RATE_LIMITS"]["login-account"] = "8 per 15 minutes"
        client = proxied_app.test_client()
        for ip, tries in (("203.0.113.1", 5), ("203.0.113.2", 3)):
            for _ in range(tries):
                assert login_from(client, ip, WRONG).status_code == 422
        response = login_from(client, "198.51.100.20")
        assert response.status_code == 429
        assert b"Too many log-in attempts. Try again in 15 minutes." in response.data

    def test_refused_at_account_and_ip_does_not_use_up_the_ceiling(self, proxied_app, make_user):
        make_user("alice")
        proxied_app.config["RATE_LIMITS"]["login-account"] = "8 per 15 minutes"
        client = proxied_app.test_client()
        for _ in range(5):
            login_from(client, "203.0.113.7", WRONG)
        for _ in range(20):  # refused per account and IP: not counted against the account
            assert login_from(client, "203.0.113.7", WRONG).status_code == 429
        for _ in range(2):
            assert login_from(client, "203.0.113.8", WRONG).status_code == 422
        assert login_from(client, "198.51.100.20").status_code == 303

    def test_a_refused_attempt_never_checks_the_password(self, app, client, user, password_checks):
        app.config["RATE_LIMITS"]["login-account-ip"] = "2 per 15 minutes"
        for _ in range(2):
            client.post("/auth/login", data={"login": "alice", "password": WRONG})
        assert password_checks.count == 2
        response = client.post("/auth/login", data={"login": "alice", "password": PASSWORD})
        assert response.status_code == 429
        assert password_checks.count == 2

    def test_the_ip_limit_counts_every_account(self, proxied_app, make_user):
        make_user("alice")
        proxied_app.config["RATE_LIMITS"]["login-ip"] = "3 per 15 minutes"
        client = proxied_app.test_client()
        for name in ("x1", "x2", "x3"):
            assert login_from(client, "203.0.113.7", WRONG, login=name).status_code == 422
        assert login_from(client, "203.0.113.7").status_code == 429
        assert login_from(client, "203.0.113.8").status_code == 303

    def test_retry_after_says_when_a_slot_frees(self, app, client, user):
        app.config["RATE_LIMITS"]["login-account-ip"] = "1 per 2 seconds"
        client.post("/auth/login", data={"login": "alice", "password": WRONG})
        response = client.post("/auth/login", data={"login": "alice", "password": PASSWORD})
        assert response.status_code == 429
        assert response.headers["Retry-After"] in ("1", "2")
        time.sleep(int(response.headers["Retry-After"]) + 0.1)
        assert client.post("/auth/login", data={"login": "alice", "password": PASSWORD}
                           ).status_code == 303


    @pytest.mark.parametrize("rate, message", [
        ("1 per 15 minutes", "Слишком много попыток входа. Попробуйте снова через 15 минут."),
        ("1 per 2 minutes", "Слишком много попыток входа. Попробуйте снова через 2 минуты."),
        ("1 per minute", "Слишком много попыток входа. Попробуйте снова через 1 минуту."),
    ])
    def test_the_message_in_russian(self, app, client, user, rate, message):
        app.config["RATE_LIMITS"]["login-account-ip"] = rate
        data, headers = {"login": "alice", "password": WRONG}, {"Accept-Language": "ru"}
        client.post("/auth/login", data=data, headers=headers)
        response = client.post("/auth/login", data=data, headers=headers)
        assert response.status_code == 429
        assert message in response.get_data(as_text=True)


class TestSignUpLimit:
    def test_failed_sign_ups_count(self, app, client, db):
        from webapp.models import User

        app.config["RATE_LIMITS"]["register-ip"] = "3 per hour"
        bad = {"username": "a!", "email": "nope", "password": "short", "confirm": "other"}
        for _ in range(3):
            assert client.post("/auth/register", data=bad).status_code == 422
        good = {"username": "newbie", "email": "newbie@example.com",
                "password": "a-long-password", "confirm": "a-long-password"}
        response = client.post("/auth/register", data=good)
        assert response.status_code == 429
        assert b"Too many sign-ups from your network." in response.data
        assert 3500 < int(response.headers["Retry-After"]) <= 3600
        assert db.session.query(User).count() == 0


class TestPasswordCheckLimit:
    def change(self, client, current):
        return client.post("/settings/password", data={
            "current_password": current, "new_password": "brand-new-password",
            "confirm": "brand-new-password"})

    def test_the_current_password_check_is_limited(self, app, logged_in, user, db,
                                                   password_checks):
        app.config["RATE_LIMITS"]["password-check"] = "3 per 15 minutes"
        for _ in range(3):
            assert self.change(logged_in, "not-my-password").status_code == 422
        checks = password_checks.count
        response = self.change(logged_in, PASSWORD)
        assert response.status_code == 429
        assert b"Too many password attempts. Try again in 15 minutes." in response.data
        assert 0 < int(response.headers["Retry-After"]) <= 900
        assert password_checks.count == checks
        db.session.refresh(user)
        assert user.check_password(PASSWORD)

    def test_the_limit_is_per_user(self, app, client, auth, make_user):
        app.config["RATE_LIMITS"]["password-check"] = "1 per 15 minutes"
        make_user("alice")
        make_user("bob")
        auth.login("alice")
        assert self.change(client, "not-my-password").status_code == 422
        assert self.change(client, "not-my-password").status_code == 429
        auth.logout()
        auth.login("bob")
        assert self.change(client, PASSWORD).status_code == 303
