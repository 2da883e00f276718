"""Friendly error pages in both renders; a 500 rolls back and hides the traceback."""
import pytest
from sqlalchemy import func, select
from werkzeug.exceptions import abort as wz_abort

from tests.conftest import HX, make_app
from webapp.extensions import db
from webapp.models import User


@pytest.fixture
def error_app(database_url, _schema):
    """An app with routes that fail on purpose, exceptions not propagated."""
    app = make_app(database_url, PROPAGATE_EXCEPTIONS=False)

    @app.get("/_fail/<int:code>")
    def fail(code):
        wz_abort(code)

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
