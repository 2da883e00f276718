"""The data model, shared by the web app, the workers and the bot."""
from webapp.models.broadcast import AUDIENCES, Broadcast, BroadcastRecipient
from webapp.models.chat import Mention, Message, Room, RoomRead
from webapp.models.coffee import PROCESSES, ROASTS, Coffee, CoffeeNote, CoffeeTerm
from webapp.models.notification import (CHANNELS, NOTIFICATION_KINDS, PREF_KINDS, Delivery,
                                       Follow, Mute, Notification, NotificationPref)
from webapp.models.review import BREW_METHODS, Review, ReviewTag
from webapp.models.session import UserSession
from webapp.models.telegram import TelegramLink, TelegramMessage, TelegramToken
from webapp.models.user import ROLES, User

__all__ = ["AUDIENCES", "BREW_METHODS", "CHANNELS", "NOTIFICATION_KINDS", "PREF_KINDS",
           "PROCESSES", "ROASTS", "ROLES", "Broadcast", "BroadcastRecipient", "Coffee",
           "CoffeeNote", "CoffeeTerm", "Delivery", "Follow", "Mention", "Message", "Mute",
           "Notification", "NotificationPref", "Review", "ReviewTag", "Room", "RoomRead",
           "TelegramLink", "TelegramMessage", "TelegramToken", "User", "UserSession"]
