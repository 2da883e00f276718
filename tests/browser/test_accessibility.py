"""axe-core over every page and fragment state, in English and Russian, logged out,
as a user and as an admin, on the seeded demo site: zero violations.

The tab's axe guard checks each state once the step's ``expect`` holds and fails
the test listing every violation (see tests/browser/axe_guard.py).
"""
import re

import pytest
from sqlalchemy import select

from tests.browser.axe_guard import guard_of
from tests.browser.steps import expect, path_is
from tests.conftest import PASSWORD
from webapp.extensions import db
from webapp.models import Coffee
from webapp.services import reviews as review_service
from webapp.services import users as user_service

LANGUAGES = {"en": "en-US", "ru": "ru-RU"}


@pytest.fixture
def site(demo_site):
    return demo_site


@pytest.fixture(scope="module")
def walk(demo_site):
    """Accounts of the walk's own, one per role and language (their setting decides the
    language once logged in), each with a review of the first coffee; the ids of a
    coffee they reviewed (and its name) and one they did not."""
    with demo_site.app.app_context():
        (reviewed, name), (fresh, _) = db.session.execute(
            select(Coffee.id, Coffee.name).order_by(Coffee.id).limit(2)).all()
        for lang in LANGUAGES:
            for role in ("user", "admin"):
                user = user_service.register_user(f"{role}_{lang}", f"{role}_{lang}@example.com",
                                                  PASSWORD, role=role)
                user.locale = lang
                db.session.commit()
                review_service.save_review(reviewed, user.id, 4, "pour-over", ["blueberry"],
                                           "Bright and sweet.")
        db.session.remove()
    return {"reviewed": reviewed, "fresh": fresh, "name": name}


def open_in(open_page, lang: str):
    page = open_page(locale=LANGUAGES[lang])
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    return page


def log_in_as(page, username: str) -> None:
    page.goto("/auth/login")
    page.locator("#login").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.locator("#login-form button[type=submit]").click()
    expect(page).to_have_url(path_is("/"))
    expect(page.locator(".nav-user")).to_contain_text(username)


def visit_public_pages(page, walk) -> None:
    """What everyone sees: home, the catalog (results, none, more), a coffee, a profile."""
    expect(page.locator("h1")).to_have_count(1)
    page.goto("/coffees")
    cards = page.locator("#coffee-list .coffee-card")
    expect(cards).to_have_count(20)
    page.locator("#q").press_sequentially("zzqx", delay=20)
    expect(page.locator("#results .empty-state")).to_be_visible()
    page.goto("/coffees?sort=name")
    page.locator(".load-more").click()
    expect(cards).to_have_count(40)

    page.goto(f"/coffees/{walk['reviewed']}")
    expect(page.locator("#rating-summary")).to_be_visible()
    page.locator(".sort-tabs a").last.click()
    expect(page).to_have_url(re.compile(r"sort=highest"))
    expect(page.locator(".sort-tabs a").last).to_have_attribute("aria-current", "true")

    page.goto("/users/lena_brews")
    expect(page.locator("#user-reviews article.review").first).to_be_visible()
    response = page.goto("/coffees/999999")
    assert response.status == 404
    expect(page.locator(".error-page h1")).to_contain_text("404")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_pages_logged_out(open_page, walk, lang):
    page = open_in(open_page, lang)
    visit_public_pages(page, walk)

    page.goto(f"/coffees/{walk['fresh']}")
    expect(page.locator("#my-review a")).to_have_count(2)  # log in or sign up to rate

    page.goto("/auth/login")
    page.locator("#login").fill("nobody")
    page.locator("#password").fill("not-the-password")
    page.locator("#login-form button[type=submit]").click()
    expect(page.locator("#login-form .form-error")).to_be_visible()

    page.goto("/auth/register")
    page.locator("#username").press_sequentially("lena_brews", delay=20)
    expect(page.locator("#username-check .field-error")).to_be_visible()
    page.locator("#register-form button[type=submit]").click()
    expect(page.locator("#register-form [aria-invalid=true]").first).to_be_visible()

    page.goto("/auth/check-username?username=lena_brews")
    expect(page.locator("main .field-error")).to_be_visible()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_pages_as_a_user(open_page, walk, lang):
    page = open_in(open_page, lang)
    log_in_as(page, f"user_{lang}")
    visit_public_pages(page, walk)

    page.goto(f"/coffees/{walk['fresh']}")
    page.locator("#my-review form button[type=submit]").click()  # no rating chosen
    expect(page.locator("#my-review .field-error").first).to_be_visible()
    page.goto(f"/coffees/{walk['reviewed']}")
    expect(page.locator("#my-review .review-actions")).to_be_visible()
    page.locator("#my-review .review-actions a").click()
    expect(page.locator("#my-review form .star-input")).to_be_visible()

    page.goto("/coffees/new")
    page.locator("#name").press_sequentially(walk["name"], delay=10)
    expect(page.locator("#similar li").first).to_be_visible()
    page.locator("#coffee-form button[type=submit]").click()
    expect(page.locator("#coffee-form .field-error").first).to_be_visible()

    for path in (f"/users/user_{lang}", "/settings", "/settings/password", "/settings/sessions"):
        page.goto(path)
        expect(page.locator("h1")).to_have_count(1)
    response = page.goto("/admin/users")
    assert response.status == 403
    expect(page.locator(".error-page h1")).to_contain_text("403")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_pages_as_an_admin(open_page, walk, lang):
    page = open_in(open_page, lang)
    log_in_as(page, f"admin_{lang}")
    visit_public_pages(page, walk)

    page.goto(f"/coffees/{walk['fresh']}/edit")
    expect(page.locator(".danger-zone")).to_be_visible()
    page.locator("#name").fill("")
    page.locator("#coffee-form button[type=submit]").click()
    expect(page.locator("#coffee-form .field-error").first).to_be_visible()

    page.goto("/admin/users")
    rows = page.locator("#users-table tbody tr")
    expect(rows.first).to_be_visible()
    page.locator("main input[type=search]").press_sequentially("lena", delay=20)
    expect(rows).to_have_count(1)


BROKEN = """<!doctype html><html lang="en"><head><title>Broken</title></head><body>
<main><h1>Broken</h1><img src="/static/img/crema.svg"><p style="color: #bbb">faint</p></main>
</body></html>"""


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
def test_the_guard_reports_violations(open_page, javascript):
    """The guard is no rubber stamp: a page with an image without alt text and faint
    text fails, with JavaScript on or off."""
    page = open_page(javascript=javascript)
    page.route("**/broken", lambda route: route.fulfill(content_type="text/html", body=BROKEN))
    page.goto("/broken")
    guard = guard_of(page)
    assert {(v.rule, v.targets) for v in guard.violations} == {
        ("image-alt", ("img",)), ("color-contrast", ("p",))}
    assert "https://dequeuniversity.com/rules/axe/4.14/image-alt" in guard.report()
    guard.violations.clear()  # seen; the rest of the test must stay clean
    page.goto("/")
    assert guard.violations == []
