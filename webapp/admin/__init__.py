from flask import Blueprint

bp = Blueprint("admin", __name__)

from webapp.admin import broadcasts, routes  # noqa: E402,F401
