"""GET /healthz reports the database and Redis."""
from tests.conftest import make_app


def test_healthy(client, app):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["database"] == "ok" and body["status"] == "ok"
    expected_redis = "ok" if app.config["REDIS_URL"] else "disabled"
    assert body["redis"] == expected_redis


def test_database_down_is_503(tmp_path):
    # A SQLite file inside a directory that does not exist cannot be opened.
    app = make_app(f"sqlite:///{tmp_path}/missing/dir/db.sqlite")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["database"].startswith("error") and body["status"] == "error"


def test_redis_down_is_503(database_url, _schema):
    app = make_app(database_url, REDIS_URL="redis://127.0.0.1:1/0")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["redis"].startswith("error")
    assert response.get_json()["database"] == "ok"
