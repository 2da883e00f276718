"""Languages: how one is chosen, the footer switcher, Russian text, dates, plurals, the catalog."""
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from sqlalchemy import func, select

from tests.conftest import HX, PASSWORD
from webapp.models import User

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "webapp" / "translations" / "ru" / "LC_MESSAGES"
RU = {"Accept-Language": "ru-RU,ru;q=0.9"}
EN = {"Accept-Language": "en-US,en;q=0.9"}
JOINED = datetime(2025, 3, 14, 12, 0, tzinfo=timezone.utc)


def html_lang(response) -> str:
    return re.search(r'<html lang="([^"]+)"', response.get_data(as_text=True)).group(1)


def text(response) -> str:
    return response.get_data(as_text=True)


def switch(client, lang, next_url="/", headers=None):
    return client.post("/language", data={"lang": lang, "next": next_url}, headers=headers or {})


class TestLanguageChoice:
    def test_english_without_any_preference(self, client):
        page = client.get("/")
        assert html_lang(page) == "en"
        assert "Newest members" in text(page)

    def test_accept_language_russian(self, client):
        page = client.get("/", headers=RU)
        assert html_lang(page) == "ru"
        assert "Новые участники" in text(page) and "Newest members" not in text(page)

    def test_accept_language_best_match_among_supported(self, client):
        page = client.get("/", headers={"Accept-Language": "de-DE, fr;q=0.9, ru;q=0.8, en;q=0.5"})
        assert html_lang(page) == "ru"

    def test_unsupported_accept_language_falls_back_to_english(self, client):
        page = client.get("/", headers={"Accept-Language": "fr-FR, de;q=0.8"})
        assert html_lang(page) == "en"
        assert "Newest members" in text(page)

    def test_session_choice_beats_accept_language(self, client):
        switch(client, "ru")
        page = client.get("/", headers=EN)
        assert html_lang(page) == "ru"

    def test_user_setting_beats_session_and_accept_language(self, client, make_user, auth):
        make_user("alice", locale="ru")
        auth.login()
        with client.session_transaction() as session:
            session["lang"] = "en"
        page = client.get("/", headers=EN)
        assert html_lang(page) == "ru"

    def test_user_without_setting_follows_session_then_browser(self, client, make_user, auth):
        make_user("alice")
        auth.login()
        assert html_lang(client.get("/", headers=RU)) == "ru"
        assert html_lang(client.get("/", headers=EN)) == "en"
        with client.session_transaction() as session:
            session["lang"] = "ru"
        assert html_lang(client.get("/", headers=EN)) == "ru"

    def test_unknown_saved_setting_is_ignored(self, client, make_user, auth):
        make_user("alice", locale="xx")
        auth.login()
        assert html_lang(client.get("/", headers=RU)) == "ru"
        assert html_lang(client.get("/", headers=EN)) == "en"


class TestSwitcher:
    def test_footer_offers_every_language_and_marks_the_current_one(self, client):
        page = text(client.get("/users/nobody-here", headers=RU))
        form = re.search(r'<form[^>]*action="/language".*?</form>', page, re.S).group(0)
        assert 'name="lang" value="en"' in form and 'name="lang" value="ru"' in form
        assert re.search(r'value="ru"\s+class="link-button"\s+aria-current="true"', form)
        assert not re.search(r'value="en"\s+class="link-button"\s+aria-current', form)
        assert 'name="next" value="/users/nobody-here"' in form

    def test_anonymous_switch_to_russian_and_back(self, client, db):
        response = switch(client, "ru", "/auth/login")
        assert response.status_code == 303
        assert response.headers["Location"] == "/auth/login"
        page = client.get("/auth/login")
        assert html_lang(page) == "ru"
        assert "Вход в Crema" in text(page)
        assert switch(client, "en", "/auth/login").status_code == 303
        page = client.get("/auth/login", headers=RU)
        assert html_lang(page) == "en"
        assert "Log in to Crema" in text(page)
        assert db.session.scalar(select(func.count(User.id))) == 0

    def test_current_page_from_referer_beats_a_stale_next(self, client):
        # After htmx pushed a new URL, the rendered ``next`` is stale; the Referer is not.
        response = client.post("/language", data={"lang": "ru", "next": "/admin/users"},
                               headers={"Referer": "http://localhost/admin/users?q=bob&page=2"})
        assert response.headers["Location"] == "/admin/users?q=bob&page=2"

    @pytest.mark.parametrize("referer", [
        "https://evil.example/users/x", "http://localhost//evil.example/", "not a url"])
    def test_foreign_or_odd_referer_falls_back_to_next(self, client, referer):
        response = client.post("/language", data={"lang": "ru", "next": "/auth/login"},
                               headers={"Referer": referer})
        assert response.headers["Location"] == "/auth/login"

    def test_next_keeps_the_query_string(self, client):
        response = switch(client, "ru", "/auth/login?next=%2Fsettings")
        assert response.headers["Location"] == "/auth/login?next=%2Fsettings"

    def test_logged_in_switch_updates_saved_setting(self, client, make_user, auth, db, app):
        user = make_user("alice")
        auth.login()
        response = switch(client, "ru", "/users/alice")
        assert response.status_code == 303 and response.headers["Location"] == "/users/alice"
        db.session.expire_all()
        assert db.session.get(User, user.id).locale == "ru"
        assert html_lang(client.get("/users/alice", headers=EN)) == "ru"
        # A new browser (no session, English Accept-Language) gets Russian after log-in.
        other = app.test_client()
        other.post("/auth/login", data={"login": "alice", "password": PASSWORD})
        page = other.get("/users/alice", headers=EN)
        assert html_lang(page) == "ru" and "Редактировать профиль" in text(page)

    def test_logged_in_switch_back_to_english(self, client, make_user, auth, db):
        user = make_user("alice", locale="ru")
        auth.login()
        switch(client, "en")
        db.session.expire_all()
        assert db.session.get(User, user.id).locale == "en"
        assert html_lang(client.get("/", headers=RU)) == "en"

    def test_htmx_request_navigates_with_hx_redirect(self, client):
        response = switch(client, "ru", "/auth/register", headers=HX)
        assert response.status_code == 204
        assert response.headers["HX-Redirect"] == "/auth/register"
        assert html_lang(client.get("/auth/register")) == "ru"

    @pytest.mark.parametrize("lang", ["de", "xx", "", "RU", "ru-RU", "../ru"])
    def test_unknown_language_is_422_and_changes_nothing(self, client, make_user, auth, db, lang):
        user = make_user("alice")
        auth.login()
        response = switch(client, lang)
        assert response.status_code == 422
        assert "Unknown language." in text(response)
        with client.session_transaction() as session:
            assert "lang" not in session
        db.session.expire_all()
        assert db.session.get(User, user.id).locale is None

    def test_missing_language_is_422(self, client):
        assert client.post("/language", data={"next": "/"}).status_code == 422

    def test_unknown_language_message_is_translated(self, client):
        response = switch(client, "xx", headers=RU)
        assert response.status_code == 422
        assert "Неизвестный язык." in text(response)

    @pytest.mark.parametrize("target", [
        "//evil.example", "//evil.example/path", "https://evil.example", "http://evil.example/",
        "/\\evil.example", "\\\\evil.example", "javascript:alert(1)", "evil.example",
        " //evil.example", "/\t/evil.example", "",
    ])
    def test_offsite_next_is_not_followed(self, client, target):
        response = switch(client, "ru", target)
        assert response.status_code == 303
        assert response.headers["Location"] == "/"
        assert html_lang(client.get("/")) == "ru"

    def test_offsite_next_is_not_followed_by_htmx_either(self, client):
        response = switch(client, "ru", "https://evil.example", headers=HX)
        assert response.headers["HX-Redirect"] == "/"

    def test_needs_csrf_token(self, csrf_app):
        client = csrf_app.test_client()
        assert switch(client, "ru").status_code == 400
        page = text(client.get("/"))
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        response = client.post("/language", data={"lang": "ru", "next": "/", "csrf_token": token})
        assert response.status_code == 303

    def test_get_is_not_allowed(self, client):
        assert client.get("/language?lang=ru").status_code == 405


class TestRussianPages:
    def test_profile_member_since_uses_month_names(self, client, make_user):
        make_user("alice", created_at=JOINED)
        assert "Member since March 14, 2025" in text(client.get("/users/alice", headers=EN))
        page = text(client.get("/users/alice", headers=RU))
        assert "Участник с 14 марта 2025" in page

    def test_home_member_dates_follow_language(self, client, make_user):
        make_user("alice", created_at=JOINED)
        assert "Mar 14, 2025" in text(client.get("/", headers=EN))
        assert "14 мар. 2025" in text(client.get("/", headers=RU))

    def test_register_errors_in_russian(self, client, db):
        data = {"username": "ab", "email": "not-an-email", "password": "short", "confirm": "other"}
        response = client.post("/auth/register", data=data, headers={**RU, **HX})
        assert response.status_code == 422
        body = text(response)
        assert "Пароли не совпадают." in body
        assert "Неверный адрес электронной почты." in body
        assert "от 3 до 32 символов" in body
        assert "Passwords do not match." not in body
        assert db.session.scalar(select(func.count(User.id))) == 0

    def test_required_fields_in_russian(self, client):
        response = client.post("/auth/register", data={}, headers=RU)
        assert response.status_code == 422
        assert text(response).count("Обязательное поле.") == 4

    def test_taken_username_in_russian(self, client, make_user):
        make_user("alice")
        data = {"username": "Alice", "email": "a2@example.test", "password": PASSWORD,
                "confirm": PASSWORD}
        response = client.post("/auth/register", data=data, headers=RU)
        assert response.status_code == 422
        assert "Это имя пользователя уже занято." in text(response)

    def test_username_check_in_russian(self, client, make_user):
        make_user("alice")
        free = client.get("/auth/check-username?username=newbie", headers={**RU, **HX})
        assert "Имя newbie свободно." in text(free)
        taken = client.get("/auth/check-username?username=alice", headers={**RU, **HX})
        assert "Это имя пользователя уже занято." in text(taken)

    def test_settings_errors_in_russian(self, client, make_user, auth):
        make_user("alice", locale="ru")
        auth.login()
        response = client.post("/settings", data={"display_name": "x" * 65, "bio": "", "locale": "ru"})
        assert response.status_code == 422
        assert "Значение не должно содержать более 64 символов." in text(response)

    def test_login_failure_and_flash_in_russian(self, client, make_user):
        make_user("alice")
        bad = client.post("/auth/login", data={"login": "alice", "password": "wrong"}, headers=RU)
        assert bad.status_code == 422
        assert "Неверное имя пользователя, почта или пароль." in text(bad)
        client.post("/auth/login", data={"login": "alice", "password": PASSWORD}, headers=RU)
        assert "С возвращением, alice!" in text(client.get("/", headers=RU))

    def test_login_required_flash_in_russian(self, client):
        response = client.get("/settings", headers=RU)
        assert response.status_code == 302
        page = client.get(response.headers["Location"], headers=RU)
        assert "Войдите, чтобы открыть эту страницу." in text(page)

    def test_error_page_in_russian(self, client):
        response = client.get("/users/nobody-here", headers=RU)
        assert response.status_code == 404
        assert "Страница не найдена" in text(response)
        assert "Вернуться на главную" in text(response)

    def test_role_label_in_russian(self, client, make_user):
        make_user("mila", role="moderator")
        assert "модератор" in text(client.get("/users/mila", headers=RU))

    @pytest.mark.parametrize("count, expected", [
        (1, "1 пользователь"), (2, "2 пользователя"), (4, "4 пользователя"),
        (5, "5 пользователей"), (11, "11 пользователей"), (12, "12 пользователей"),
        (21, "21 пользователь"), (22, "22 пользователя"),
    ])
    def test_plural_forms(self, client, make_user, auth, count, expected):
        make_user("alice", role="admin", locale="ru")
        for _ in range(count - 1):
            make_user()
        auth.login()
        page = text(client.get("/admin/users"))
        assert re.search(rf"<small>{expected}</small>", page), page[:2000]

    def test_plural_forms_in_english(self, client, make_user, auth):
        make_user("alice", role="admin", locale="en")
        auth.login()
        assert "<small>1 user</small>" in text(client.get("/admin/users"))
        make_user()
        assert "<small>2 users</small>" in text(client.get("/admin/users"))


def _source_messages() -> set[tuple[str | None, str]]:
    """Every (context, msgid) in the sources, extracted as ``make translations-update`` does."""
    with open(ROOT / "babel.cfg") as f:
        method_map, options_map = parse_mapping_cfg(f)
    keywords = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None,
                "_p": ((1, "c"), 2), "lazy_pgettext": ((1, "c"), 2)}
    ids = set()
    for _file, _line, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords,
        directory_filter=lambda path: not Path(path).name.startswith(".")
        and Path(path).name not in {"__pycache__", "node_modules", "tests"},
    ):
        ids.add((context, message if isinstance(message, str) else message[0]))
    return ids


def _as_key(value):
    return value if isinstance(value, str) else tuple(value)


@pytest.fixture(scope="module")
def catalog():
    with open(CATALOG / "messages.po", "rb") as f:
        return read_po(f, locale="ru")


class TestCatalog:
    def test_plural_rule_has_three_forms(self, catalog):
        assert catalog.num_plurals == 3

    def test_every_source_string_is_translated(self, catalog):
        translated = {
            (m.context, m.id if isinstance(m.id, str) else m.id[0])
            for m in catalog
            if m.id and "fuzzy" not in m.flags
            and (all(m.string) if isinstance(m.string, (list, tuple)) else m.string)
        }
        missing = sorted(_source_messages() - translated)
        assert not missing, f"untranslated (run make translations-update): {missing}"

    def test_placeholders_survive_translation(self, catalog):
        problems = [(m.id, errors) for m in catalog if m.id for errors in [m.check(catalog)] if errors]
        assert not problems

    def test_compiled_catalog_matches_po(self, catalog):
        with open(CATALOG / "messages.mo", "rb") as f:
            compiled = read_mo(f)
        expected = {(m.context, _as_key(m.id)): _as_key(m.string)
                    for m in catalog if m.id and not m.fuzzy}
        # read_mo leaves a message context as bytes
        actual = {(m.context.decode() if isinstance(m.context, bytes) else m.context,
                   _as_key(m.id)): _as_key(m.string) for m in compiled if m.id}
        assert actual == expected, "run make translations"


def test_message_contexts_keep_same_words_apart(app):
    """'Honey' the process and 'Honey' the flavour translate differently."""
    from flask_babel import force_locale

    from webapp import flavours
    from webapp.models import BREW_METHODS, PROCESSES

    with app.test_request_context(), force_locale("ru"):
        assert PROCESSES.label("honey") == "Хани"
        assert flavours.label("honey") == "Мёд"
        assert PROCESSES.label("other") == "Другая"
        assert BREW_METHODS.label("other") == "Другой способ"
    with app.test_request_context(), force_locale("en"):
        assert PROCESSES.label("honey") == "Honey" == flavours.label("honey")
