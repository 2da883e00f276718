"""Errors mapped once: friendly pages, htmx fragments and JSON, for HTTP errors and
the services' refusals; a 500 rolls back and hides the traceback."""
import pytest
from sqlalchemy import func, select
from werkzeug.exceptions import abort as wz_abort

from tests.conftest import HX, PASSWORD, make_app
from webapp.errors.handlers import MESSAGES
from webapp.extensions import db
from webapp.models import User
from webapp.services import Forbidden, NotFound, ServiceError

JSON = {"Accept": "application/json"}


@pytest.fixture
def error_app(database_url, _schema):
    """An app with routes that fail on purpose, exceptions not propagated."""
    app = make_app(database_url, PROPAGATE_EXCEPTIONS=False)

    @app.get("/_fail/<int:code>")
    def fail(code):
        wz_abort(code)

    @app.get("/_refuse/<kind>")
    def refuse(kind):
        raise REFUSALS[kind][0]

    @app.get("/_boom")
    def boom():
        db.session.add(User(username="ghost", email="ghost@example.com", password_hash="x"))
        db.session.flush()
        raise RuntimeError("secret internals")

    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


TITLES = {400: b"Bad request", 403: b"Not allowed", 404: b"Page not found",
          405: b"Method not allowed", 413: b"Too large", 422: b"Cannot process this",
          429: b"Slow down", 500: b"Something went wrong"}


@pytest.mark.parametrize("code", sorted(TITLES))
def test_full_page(error_app, code):
    response = error_app.test_client().get(f"/_fail/{code}")
    assert response.status_code == code
    assert b"<html" in response.data and TITLES[code] in response.data
    assert b"Back to the home page" in response.data


@pytest.mark.parametrize("code", sorted(TITLES))
def test_fragment_goes_to_the_flash_area(error_app, code):
    response = error_app.test_client().get(f"/_fail/{code}", headers=HX)
    assert response.status_code == code
    assert b"<html" not in response.data and TITLES[code] in response.data
    assert response.headers["HX-Retarget"] == "#flashes"
    assert response.headers["HX-Reswap"] == "innerHTML"


def test_500_rolls_back_and_hides_the_traceback(error_app):
    response = error_app.test_client().get("/_boom")
    assert response.status_code == 500
    assert b"Something went wrong" in response.data
    assert b"secret internals" not in response.data and b"Traceback" not in response.data
    assert db.session.scalar(select(func.count(User.id)).where(User.username == "ghost")) == 0


def test_unknown_url_is_404(client):
    assert client.get("/no/such/page").status_code == 404


def test_wrong_method_is_405(client):
    response = client.delete("/auth/login")
    assert response.status_code == 405 and b"Method not allowed" in response.data


def test_too_large_body_is_413(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = client.post("/auth/login", data={"login": "x" * 5000, "password": "y"})
    assert response.status_code == 413 and b"Too large" in response.data


# What a service raises, and the status and JSON error it becomes.
REFUSALS = {
    "not-found": (NotFound("No such coffee."), 404,
                  {"status": 404, "message": "No such coffee.", "field": None}),
    "forbidden": (Forbidden("You cannot edit this coffee."), 403,
                  {"status": 403, "message": "You cannot edit this coffee.", "field": None}),
    "invalid": (ServiceError("Choose a process.", field="process"), 422,
                {"status": 422, "message": "Choose a process.", "field": "process"}),
}


class TestServiceErrors:
    @pytest.mark.parametrize("kind", sorted(REFUSALS))
    def test_full_page(self, error_app, kind):
        _error, code, body = REFUSALS[kind]
        response = error_app.test_client().get(f"/_refuse/{kind}")
        assert response.status_code == code
        page = response.get_data(as_text=True)
        assert "<html" in page and TITLES[code].decode() in page and body["message"] in page

    @pytest.mark.parametrize("kind", sorted(REFUSALS))
    def test_fragment_goes_to_the_flash_area(self, error_app, kind):
        _error, code, body = REFUSALS[kind]
        response = error_app.test_client().get(f"/_refuse/{kind}", headers=HX)
        assert response.status_code == code
        fragment = response.get_data(as_text=True)
        assert "<html" not in fragment and body["message"] in fragment
        assert response.headers["HX-Retarget"] == "#flashes"
        assert response.headers["HX-Reswap"] == "innerHTML"

    @pytest.mark.parametrize("kind", sorted(REFUSALS))
    @pytest.mark.parametrize("headers", [JSON, {**JSON, **HX}], ids=["json", "json-htmx"])
    def test_json(self, error_app, kind, headers):
        _error, code, body = REFUSALS[kind]
        response = error_app.test_client().get(f"/_refuse/{kind}", headers=headers)
        assert response.status_code == code
        assert response.mimetype == "application/json"
        assert response.get_json() == {"error": body}
        assert "Accept" in response.headers["Vary"]

    def test_json_message_in_the_readers_language(self, client):
        response = client.get("/coffees/999999", headers={**JSON, "Accept-Language": "ru"})
        assert response.status_code == 404
        assert response.get_json()["error"]["message"] == "Такого кофе нет."


@pytest.mark.parametrize("accept, mimetype", [
    ("application/json", "application/json"),
    ("application/json, text/html;q=0.9", "application/json"),
    ("text/html, application/json", "text/html"),
    ("text/html;q=0.5, application/json", "application/json"),
    ("*/*", "text/html"),
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "text/html"),
    (None, "text/html"),
])
def test_json_only_when_preferred_to_html(error_app, accept, mimetype):
    headers = {"Accept": accept} if accept else {}
    response = error_app.test_client().get("/_refuse/not-found", headers=headers)
    assert response.status_code == 404 and response.mimetype == mimetype


@pytest.mark.parametrize("code", sorted(TITLES))
def test_http_errors_answer_json_when_asked(error_app, code):
    response = error_app.test_client().get(f"/_fail/{code}", headers=JSON)
    assert response.status_code == code
    assert response.get_json() == {"error": {"status": code, "message": str(MESSAGES[code]),
                                              "field": None}}


def test_500_json_hides_the_traceback(error_app):
    response = error_app.test_client().get("/_boom", headers=JSON)
    assert response.status_code == 500
    assert response.get_json()["error"]["message"] == str(MESSAGES[500])
    assert b"secret internals" not in response.data


def test_405_json_keeps_the_allow_header(client):
    response = client.delete("/auth/login", headers=JSON)
    assert response.status_code == 405 and response.get_json()["error"]["status"] == 405
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


class TestRaisedFromRealServices:
    """Routes let the services' refusals through to the one mapping."""

    @pytest.fixture
    def coffee(self, make_coffee):
        return make_coffee("Kochere")

    def test_unknown_coffee(self, client):
        assert client.get("/coffees/999999", headers=JSON).get_json() == {
            "error": {"status": 404, "message": "No such coffee.", "field": None}}

    def test_deleting_without_being_a_moderator(self, client, auth, user, coffee):
        assert auth.login().status_code == 303
        response = client.post(f"/coffees/{coffee.id}/delete", headers=JSON)
        assert response.status_code == 403
        assert response.get_json()["error"]["message"] == "Only moderators can delete coffees."

    def test_editing_someone_elses_coffee_htmx(self, client, auth, user, coffee):
        assert auth.login().status_code == 303
        response = client.get(f"/coffees/{coffee.id}/edit", headers=HX)
        assert response.status_code == 403 and response.headers["HX-Retarget"] == "#flashes"
        assert "You cannot edit this coffee." in response.get_data(as_text=True)

    def test_deleting_an_unknown_review(self, client, auth, user):
        assert auth.login().status_code == 303
        response = client.post("/reviews/999999/delete")
        assert response.status_code == 404 and b"No such review." in response.data

    def test_a_refusal_without_a_form_to_show_it_is_422(self, client, make_user):
        make_user("root", role="admin")
        bob = make_user("bob")
        client.post("/auth/login", data={"login": "root", "password": PASSWORD})
        response = client.post(f"/admin/users/{bob.id}/role", data={"role": "wizard"},
                               headers=JSON)
        assert response.status_code == 422
        assert response.get_json() == {
            "error": {"status": 422, "message": "Unknown role.", "field": "role"}}
