from flask import Blueprint

bp = Blueprint("profiles", __name__)

from webapp.profiles import routes, telegram  # noqa: E402,F401
