"""Believable demo data for a fresh database."""
from flask import current_app

from webapp import seed_catalog
from webapp.extensions import db
from webapp.models import User
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
    return lines


def seed_benchmark(coffees: int, reviews: int) -> list[str]:
    """The benchmark data set: many generated coffees and reviews on top of the demo."""
    return seed_catalog.seed_benchmark(coffees, reviews, _tasters_hash())


def _tasters_hash() -> str:
    # Generated tasters share the demo password, hashed once: hashing is the slow part.
    return seed_catalog.shared_password_hash(DEMO_PASSWORD, current_app.config["PASSWORD_HASH_METHOD"])
