"""The bell in a real browser: a mention in the chat lights it up live on another page,
and clicking through lands on the message. The worker is real when Redis is (a
``python -m worker`` process), else jobs run in the web process after the commit."""
import os
import re
import subprocess
import sys

import pytest

from tests.browser.steps import expect
from tests.browser.test_chat import in_room, logged_in
from tests.fixtures.chat_servers import ROOT
from webapp import jobs
from webapp.services import chat


@pytest.fixture
def site(csrf_app, live_server):
    return live_server


@pytest.fixture
def worker(app, database_url, tmp_path):
    """With Redis, a real worker on the test's database and queue; without, none is
    needed (jobs run at once)."""
    if jobs.connection(app) is None:
        yield None
        return
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": app.config["REDIS_URL"],
           "REDIS_PREFIX": app.config["REDIS_PREFIX"]}
    with open(tmp_path / "worker.log", "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "worker"], cwd=ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
        yield process
        process.terminate()
        process.wait(30)


@pytest.fixture
def people(make_user):
    return make_user("alice", display_name="Alice"), make_user("bob", display_name="Bob")


def test_a_mention_lights_the_bell_live_and_clicking_through_lands_on_the_message(
        open_page, worker, people, topic_rooms):
    room = topic_rooms["general"]
    alice = logged_in(open_page, "alice")
    alice.goto("/coffees")
    bell = alice.locator("#bell")
    expect(bell.locator(".badge")).to_have_count(0)
    expect(alice.locator(".bell-live")).to_have_attribute("hx-ext", "ws")

    bob = in_room(logged_in(open_page, "bob"), f"/chat/{room.id}", room.id, here=1)
    bob.send("@alice the new Guji is in")
    expect(bob.message("the new Guji is in")).to_have_count(1)

    expect(bell.locator(".badge")).to_have_text(re.compile(r"^1\s*unread$"))  # no reload
    bell.get_by_role("link").click()
    expect(alice).to_have_url(re.compile(r"/notifications$"))
    item = alice.get_by_role("link", name=re.compile("Bob mentioned you"))
    item.click()
    message_id = chat.latest_id(room.id)
    expect(alice).to_have_url(re.compile(rf"/chat/{room.id}\?before={message_id + 1}#msg-{message_id}$"))
    expect(alice.locator(f"#msg-{message_id}")).to_contain_text("the new Guji is in")
    expect(alice.locator("#bell .badge")).to_have_count(0)
