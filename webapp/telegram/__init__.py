from flask import Blueprint

bp = Blueprint("telegram", __name__, cli_group="telegram")

from webapp.telegram import commands, routes  # noqa: E402,F401
