from flask import Blueprint

bp = Blueprint("coffees", __name__)

from webapp.coffees import commands, routes  # noqa: E402,F401
