from flask import Blueprint

bp = Blueprint("notifications", __name__)

from webapp.notifications import live, routes  # noqa: E402,F401
