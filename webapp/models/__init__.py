"""The data model, shared by the web app, the workers and the bot."""
from webapp.models.user import ROLES, User

__all__ = ["ROLES", "User"]
