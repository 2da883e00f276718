"""Accounts in a real browser with htmx: sign up, log out and in, edit, switch language."""
import pytest

from tests.browser.steps import (edit_profile, expect, fill_signup, find_user, log_in, log_out,
                                 path_is, user_count)
from tests.conftest import PASSWORD


@pytest.fixture
def page(csrf_app, page):
    """The browser tab, against the app with CSRF protection on, as in production."""
    return page


def test_username_check_updates_while_typing(page, make_user):
    make_user("alice")
    page.goto("/auth/register")
    field, check = page.get_by_label("Username", exact=True), page.locator("#username-check")
    expect(check).to_be_empty()
    field.press_sequentially("al", delay=30)
    expect(check).to_have_text("3 to 32 characters: letters, digits, _ and - only.")
    expect(check.locator(".field-error")).to_have_count(1)
    field.press_sequentially("ice", delay=30)
    expect(check).to_have_text("This username is already taken.")
    field.press_sequentially("2", delay=30)
    expect(check).to_have_text("alice2 is available.")
    expect(check.locator(".field-ok")).to_have_count(1)
    expect(page).to_have_url(path_is("/auth/register"))


def test_sign_up_log_in_edit_and_switch_language(page, db):
    page.goto("/")
    page.locator(".site-header").get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(path_is("/auth/register"))
    fill_signup(page, "newbie", "newbie@example.com")
    expect(page.locator("#username-check")).to_have_text("newbie is available.")
    page.locator("#register-form").get_by_role("button", name="Sign up").click()

    expect(page).to_have_url(path_is("/users/newbie"))
    expect(page.locator("#flashes")).to_contain_text("Welcome to Crema, newbie!")
    expect(page.get_by_role("heading", level=1)).to_have_text("newbie")
    expect(page.get_by_role("button", name="Edit profile")).to_be_visible()
    user = find_user(db, "newbie")
    assert user is not None and user.email == "newbie@example.com"

    log_out(page)
    log_in(page, "newbie")
    expect(page).to_have_url(path_is("/"))
    expect(page.locator("#flashes")).to_contain_text("Welcome back, newbie.")
    expect(page.locator(".nav-user")).to_contain_text("newbie")

    log_out(page)
    log_in(page, "NewBie@Example.com")
    expect(page.locator("#flashes")).to_contain_text("Welcome back, newbie.")

    edit_profile(page, "Nina Brewer", "V60 in the morning,\nespresso after lunch.")
    expect(page).to_have_url(path_is("/users/newbie"))
    expect(page.locator("#flashes")).to_contain_text("Your profile has been saved.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Nina Brewer")
    expect(page.locator(".bio")).to_have_text("V60 in the morning,\nespresso after lunch.")
    expect(page.locator(".nav-user")).to_contain_text("Nina Brewer")
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("Nina Brewer")

    page.get_by_role("button", name="Русский").click()
    expect(page).to_have_url(path_is("/users/newbie"))
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.get_by_role("button", name="Редактировать профиль")).to_be_visible()
    expect(page.get_by_role("button", name="Выйти")).to_be_visible()
    expect(page.locator("#profile")).to_contain_text("Участник с")
    expect(page.get_by_role("button", name="Русский")).to_have_attribute("aria-current", "true")
    assert find_user(db, "newbie").locale == "ru"

    # Boosted navigation keeps the language.
    page.get_by_role("link", name="Настройки").click()
    expect(page).to_have_url(path_is("/settings"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Ваш профиль")
    expect(page.get_by_label("Отображаемое имя")).to_have_value("Nina Brewer")

    page.get_by_role("button", name="English").click()
    expect(page).to_have_url(path_is("/settings"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your profile")
    assert find_user(db, "newbie").locale == "en"


def test_anonymous_visitor_switches_language(page, db):
    page.goto("/auth/login")
    page.get_by_role("button", name="Русский").click()
    expect(page).to_have_url(path_is("/auth/login"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Вход в Crema")
    page.locator(".site-header").get_by_role("button", name="Зарегистрироваться").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Регистрация в Crema")
    page.get_by_label("Имя пользователя").press_sequentially("newbie", delay=30)
    expect(page.locator("#username-check")).to_have_text("Имя newbie свободно.")
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Create your Crema account")
    assert user_count(db) == 0


def test_bad_sign_up_shows_inline_errors_and_creates_nobody(page, db, make_user):
    make_user("alice")
    page.goto("/auth/register")
    fill_signup(page, "alice", "someone@example.com", PASSWORD, "a-different-password")
    expect(page.locator("#username-check")).to_have_text("This username is already taken.")
    page.locator("#register-form").get_by_role("button", name="Sign up").click()

    confirm = page.get_by_label("Repeat password", exact=True)
    expect(page.locator("#confirm-help")).to_have_text("Passwords do not match.")
    expect(confirm).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#username-check .field-error")).to_have_text(
        "This username is already taken.")
    expect(page.get_by_label("Username", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Email", exact=True)).to_have_value("someone@example.com")
    expect(page.get_by_label("Email", exact=True)).not_to_have_attribute("aria-invalid", "true")
    expect(page).to_have_url(path_is("/auth/register"))
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    assert user_count(db) == 1

    # The same form, corrected, goes through.
    username = page.get_by_label("Username", exact=True)
    username.fill("")
    username.press_sequentially("alice2", delay=30)
    expect(page.locator("#username-check")).to_have_text("alice2 is available.")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    confirm.fill(PASSWORD)
    page.locator("#register-form").get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(path_is("/users/alice2"))
    assert user_count(db) == 2


def test_wrong_password_shows_inline_error(page, make_user):
    make_user("alice")
    page.goto("/auth/login")
    page.get_by_label("Username or email").fill("alice")
    page.get_by_label("Password", exact=True).fill("not-the-password")
    page.locator("#login-form").get_by_role("button", name="Log in").click()
    expect(page.locator("#login-form .form-error")).to_have_text(
        "Wrong username, email or password.")
    expect(page).to_have_url(path_is("/auth/login"))
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
