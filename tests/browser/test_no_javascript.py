"""The same account flows with JavaScript disabled: plain forms and full page loads."""
import pytest

from tests.browser.steps import (edit_profile, expect, fill_signup, find_user, log_in, log_out,
                                 path_is, user_count)
from tests.conftest import PASSWORD


@pytest.fixture
def page(csrf_app, nojs_page):
    """A JavaScript-free tab, against the app with CSRF protection on."""
    return nojs_page


def test_scripts_really_are_off(page):
    page.goto("/auth/register")
    page.get_by_label("Username", exact=True).press_sequentially("newbie", delay=30)
    page.wait_for_timeout(800)  # longer than the 350 ms htmx trigger delay
    expect(page.locator("#username-check")).to_be_empty()


def test_sign_up_log_in_and_edit_without_javascript(page, db):
    page.goto("/")
    page.locator(".site-header").get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(path_is("/auth/register"))
    fill_signup(page, "newbie", "newbie@example.com")
    page.locator("#register-form").get_by_role("button", name="Sign up").click()

    expect(page).to_have_url(path_is("/users/newbie"))
    expect(page.locator("#flashes")).to_contain_text("Welcome to Crema, newbie!")
    expect(page.get_by_role("heading", level=1)).to_have_text("newbie")
    assert find_user(db, "newbie") is not None

    log_out(page)
    log_in(page, "newbie@example.com")
    expect(page).to_have_url(path_is("/"))
    expect(page.locator("#flashes")).to_contain_text("Welcome back, newbie.")

    edit_profile(page, "Nina Brewer", "Moka pot on weekends.")
    expect(page).to_have_url(path_is("/users/newbie"))
    expect(page.locator("#flashes")).to_contain_text("Your profile has been saved.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Nina Brewer")
    expect(page.locator(".bio")).to_have_text("Moka pot on weekends.")
    user = find_user(db, "newbie")
    assert (user.display_name, user.bio) == ("Nina Brewer", "Moka pot on weekends.")

    log_out(page)
    log_in(page, "newbie")
    expect(page.locator(".nav-user")).to_contain_text("Nina Brewer")


def test_bad_sign_up_without_javascript(page, db, make_user):
    make_user("alice")
    page.goto("/auth/register")
    fill_signup(page, "alice", "someone@example.com", PASSWORD, "a-different-password")
    page.locator("#register-form").get_by_role("button", name="Sign up").click()
    expect(page.locator("#username-check")).to_have_text("This username is already taken.")
    expect(page.locator("#confirm-help")).to_have_text("Passwords do not match.")
    expect(page.get_by_label("Email", exact=True)).to_have_value("someone@example.com")
    expect(page).to_have_url(path_is("/auth/register"))
    assert user_count(db) == 1


def test_username_check_page_without_javascript(page, make_user):
    make_user("alice")
    page.goto("/auth/check-username")
    page.get_by_label("Username").fill("alice")
    page.get_by_role("button", name="Check").click()
    expect(page.locator("main")).to_contain_text("This username is already taken.")
    page.get_by_label("Username").fill("newbie")
    page.get_by_role("button", name="Check").click()
    expect(page.locator("main")).to_contain_text("newbie is available.")


def test_language_switch_without_javascript(page, db, make_user):
    make_user("alice")
    page.goto("/auth/login")
    page.get_by_role("button", name="Русский").click()
    expect(page).to_have_url(path_is("/auth/login"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Вход в Crema")
    page.get_by_label("Имя пользователя или почта").fill("alice")
    page.get_by_label("Пароль", exact=True).fill(PASSWORD)
    page.locator("#login-form").get_by_role("button", name="Войти").click()
    expect(page.locator("#flashes")).to_contain_text("С возвращением, alice!")
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    assert find_user(db, "alice").locale == "en"
