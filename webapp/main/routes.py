"""Home page, health check and the language switcher."""
from urllib.parse import urlsplit

from flask import abort, current_app, jsonify, request, session
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select, text

from webapp import htmx
from webapp.extensions import db
from webapp.main import bp
from webapp.models import User
from webapp.redis_client import get_redis
from webapp.services import coffees as coffee_service
from webapp.services import reviews as review_service
from webapp.services import users as user_service


@bp.get("/")
def index():
    newest = db.session.scalars(select(User).order_by(User.created_at.desc()).limit(6)).all()
    return htmx.render("main/index.html", "main/_home.html", newest_members=newest,
                       top_coffees=coffee_service.top_rated(4),
                       new_coffees=coffee_service.newest(4),
                       latest_reviews=review_service.latest_reviews(5))


@bp.post("/language")
def set_language():
    """Switch language for this visitor (and in the account's settings when logged in)."""
    lang = request.form.get("lang", "")
    if lang not in current_app.config["LANGUAGES"]:
        abort(422, description=_("Unknown language."))
    session["lang"] = lang
    if current_user.is_authenticated:
        user_service.set_locale(current_user.id, lang)
    return htmx.see_other(_back_to_page())


def _back_to_page() -> str:
    """The page the switcher was used on.

    The Referer is the browser's current URL even after htmx pushed a new one,
    so it wins over the ``next`` field written when the page was rendered.
    """
    fallback = htmx.safe_next(request.form.get("next"), "/")
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc != request.host:
        return fallback
    page = referrer.path + (f"?{referrer.query}" if referrer.query else "")
    return htmx.safe_next(page, fallback)


@bp.get("/healthz")
def healthz():
    """State of the database and of Redis; 503 when a configured part fails."""
    status = {"database": "ok", "redis": "disabled"}
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "down"
        db.session.rollback()
        status["database"] = f"error: {type(exc).__name__}"
    redis = get_redis()
    if redis is not None:
        try:
            redis.ping()
            status["redis"] = "ok"
        except Exception as exc:
            status["redis"] = f"error: {type(exc).__name__}"
    healthy = status["database"] == "ok" and status["redis"] in ("ok", "disabled")
    status["status"] = "ok" if healthy else "error"
    return jsonify(status), 200 if healthy else 503
