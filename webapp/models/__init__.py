"""The data model, shared by the web app, the workers and the bot."""
from webapp.models.chat import Mention, Message, Room, RoomRead
from webapp.models.coffee import PROCESSES, ROASTS, Coffee, CoffeeNote, CoffeeTerm
from webapp.models.notification import NOTIFICATION_KINDS, Follow, Notification
from webapp.models.review import BREW_METHODS, Review, ReviewTag
from webapp.models.session import UserSession
from webapp.models.user import ROLES, User

__all__ = ["BREW_METHODS", "NOTIFICATION_KINDS", "PROCESSES", "ROASTS", "ROLES", "Coffee",
           "CoffeeNote", "CoffeeTerm", "Follow", "Mention", "Message", "Notification", "Review",
           "ReviewTag", "Room", "RoomRead", "User", "UserSession"]
