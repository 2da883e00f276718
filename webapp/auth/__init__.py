from flask import Blueprint

bp = Blueprint("auth", __name__)

from webapp.auth import routes  # noqa: E402,F401
from webapp.auth import telegram  # noqa: E402,F401
