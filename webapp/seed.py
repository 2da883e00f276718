"""Believable demo data for a fresh database."""
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from webapp import seed_catalog
from webapp.extensions import db
from webapp.models import Coffee, Mention, Message, User
from webapp.models.base import utcnow
from webapp.services import chat
from webapp.services import users as user_service

# Demo accounts share one documented password; `flask seed` refuses production.
DEMO_PASSWORD = "crema-demo-2026"
DEMO_USERS = [
    # username, email, display name, role, locale, bio
    ("admin", "admin@example.com", "Ada Roastwell", "admin", "en",
     "Keeps the catalog tidy. Espresso before anything else."),
    ("moderator", "moderator@example.com", "Mila Gorshkova", "moderator", "ru",
     "Модерирую обсуждения. Люблю мытые эфиопские лоты и воронку V60."),
    ("lena_brews", "lena@example.com", "Lena Park", "user", "en",
     "Home barista. AeroPress, a hand grinder and too many bags of Kenyan coffee."),
    ("ivan-v60", "ivan@example.com", "Иван Смирнов", "user", "ru",
     "Пуровер каждое утро. Ищу идеальную Колумбию."),
    ("tomas", "tomas@example.com", "Tomás Herrera", "user", None,
     "Grew up on a farm in Huila. Now I taste other people's coffee for a living."),
]


def seed_demo() -> list[str]:
    """Create the demo users that are missing; return lines to print."""
    lines = []
    method = current_app.config["PASSWORD_HASH_METHOD"]
    created = 0
    for username, email, display, role, locale, bio in DEMO_USERS:
        if user_service.find_by_username(username) is not None:
            continue
        user = User(username=username, email=email, display_name=display, role=role,
                    locale=locale, bio=bio)
        user.set_password(DEMO_PASSWORD, method)
        db.session.add(user)
        created += 1
    db.session.commit()
    lines.append(f"Demo users: {created} created, {len(DEMO_USERS) - created} already there.")
    lines.append(f"Log in as any of {', '.join(u[0] for u in DEMO_USERS)} "
                 f"with the password {DEMO_PASSWORD!r} (admin is an admin, moderator a moderator).")
    lines += seed_catalog.seed_catalog([u[0] for u in DEMO_USERS], _tasters_hash())
    lines.append(seed_chat())
    return lines


# Demo conversations: room ("general", "brewing", "gear", or "coffee-1"/"coffee-2", the
# first two coffees), author, text, index of the message replied to, minutes ago.
DEMO_MESSAGES = [
    ("general", "lena_brews", "Morning everyone! What is in your cup today?", None, 180),
    ("general", "ivan-v60", "Колумбия из Уилы, V60, 15 граммов на 250.", 0, 170),
    ("general", "tomas", "Huila! Tell me how it tastes, @ivan-v60.", 1, 160),
    ("brewing", "tomas",
     "Does anyone rinse paper filters with cold water? I never noticed a difference.", None, 120),
    ("brewing", "lena_brews",
     "Hot water: it also warms the brewer. Cold only rinses the paper taste.", 3, 110),
    ("gear", "ivan-v60", "Сменил жернова в ручной кофемолке, помол стал заметно ровнее.", None, 90),
    ("gear", "admin", "Which grinder? Worth a note in the Brewing room too.", 5, 80),
    ("coffee-1", "lena_brews", "Tried it as a pour-over this morning: sweet and clean.", None, 60),
    ("coffee-1", "moderator", "Согласна, особенно на AeroPress.", 7, 50),
    ("coffee-2", "tomas", "Anyone tried this one as espresso?", None, 30),
    ("coffee-2", "admin", "Yes, 18 g in, 40 g out: chocolate and a little orange. @tomas", 9, 20),
]


def seed_chat() -> str:
    """The topic rooms and the demo conversations that are missing (idempotent: each demo
    message has a client id of its own). Skips messages whose author or coffee is absent."""
    chat.ensure_topic_rooms()
    rooms = {room.slug: room.id for room in chat.topic_rooms()}
    coffee_ids = db.session.scalars(select(Coffee.id).order_by(Coffee.id).limit(2)).all()
    for n, coffee_id in enumerate(coffee_ids, 1):
        rooms[f"coffee-{n}"] = chat.room_for_coffee(coffee_id).id
    users = {u.username: u.id for u in db.session.scalars(
        select(User).where(User.username.in_({m[1] for m in DEMO_MESSAGES})))}
    ids, created, now = {}, 0, utcnow()
    for index, (room, author, body, reply_to, minutes) in enumerate(DEMO_MESSAGES):
        if room not in rooms or author not in users:
            continue
        client_id = f"demo-{index}"
        message = db.session.scalar(select(Message).where(Message.user_id == users[author],
                                                          Message.client_id == client_id))
        if message is None:
            message = Message(room_id=rooms[room], user_id=users[author], body=body,
                              reply_to_id=ids.get(reply_to), client_id=client_id,
                              created_at=now - timedelta(minutes=minutes))
            db.session.add(message)
            db.session.flush()
            for name in chat.mentioned_names(body):
                if name in users:
                    db.session.add(Mention(message_id=message.id, user_id=users[name]))
            created += 1
        ids[index] = message.id
    db.session.commit()
    return f"Demo chat: {created} messages created in {len(rooms)} rooms."


def seed_benchmark(coffees: int, reviews: int) -> list[str]:
    """The benchmark data set: many generated coffees and reviews on top of the demo."""
    return seed_catalog.seed_benchmark(coffees, reviews, _tasters_hash())


def _tasters_hash() -> str:
    # Generated tasters share the demo password, hashed once: hashing is the slow part.
    return seed_catalog.shared_password_hash(DEMO_PASSWORD, current_app.config["PASSWORD_HASH_METHOD"])
