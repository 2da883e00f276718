"""Steps shared by the browser tests: what a person does, in a few lines each."""
import re

from playwright.sync_api import Locator, Page
from playwright.sync_api import expect as playwright_expect
from sqlalchemy import func, select

from tests.browser.axe_guard import guard_of
from tests.conftest import PASSWORD
from webapp.models import User


def expect(target, message: str | None = None):
    """Playwright's ``expect``; once an assertion holds, axe checks the page it looked at.

    What a test waits for (a swapped fragment, a new page) is a state people see.
    """
    page = target if isinstance(target, Page) else target.page if isinstance(target, Locator) else None
    return _Checked(playwright_expect(target, message), page)


class _Checked:
    def __init__(self, assertions, page):
        self._assertions, self._page = assertions, page

    def __getattr__(self, name):
        attr = getattr(self._assertions, name)
        if not callable(attr):  # ``expect(x).not_``: more assertions
            return _Checked(attr, self._page)

        def assert_then_check(*args, **kwargs):
            result = attr(*args, **kwargs)
            guard = guard_of(self._page) if self._page is not None else None
            if guard is not None:
                guard.check()
            return result
        return assert_then_check


def path_is(path: str) -> re.Pattern:
    """A URL pattern for ``path`` on the live server (any host, no query)."""
    return re.compile(r"^https?://[^/]+" + re.escape(path) + r"$")


def fresh(db):
    """End the test thread's transaction so it sees what the live server committed."""
    db.session.rollback()
    return db.session


def find_user(db, username: str) -> User | None:
    return fresh(db).scalar(select(User).where(func.lower(User.username) == username.lower()))


def user_count(db) -> int:
    return fresh(db).scalar(select(func.count(User.id)))


def fill_signup(page: Page, username: str, email: str, password=PASSWORD, confirm=None) -> None:
    """Fill the sign-up form, typing the username key by key as a person would."""
    page.get_by_label("Username", exact=True).press_sequentially(username, delay=30)
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Repeat password", exact=True).fill(confirm or password)


def log_in(page: Page, login: str, password=PASSWORD) -> None:
    page.get_by_role("link", name="Log in", exact=True).first.click()
    expect(page).to_have_url(path_is("/auth/login"))
    page.get_by_label("Username or email").fill(login)
    page.get_by_label("Password", exact=True).fill(password)
    page.locator("#login-form").get_by_role("button", name="Log in").click()


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(path_is("/"))
    expect(page.locator("#flashes")).to_contain_text("You have been logged out.")
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)


def edit_profile(page: Page, display_name: str, bio: str) -> None:
    page.get_by_role("link", name="Settings").click()
    expect(page).to_have_url(path_is("/settings"))
    page.get_by_label("Display name").fill(display_name)
    page.get_by_label("About you").fill(bio)
    page.locator("#settings-form").get_by_role("button", name="Save").click()
