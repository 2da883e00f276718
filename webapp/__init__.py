"""Crema: a coffee-tasting community."""
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from webapp import broker
from webapp.config import Config
from webapp.extensions import babel, csrf, db, limiter, login_manager, migrate, sock
from webapp.redis_client import init_redis


def create_app(config: object | None = None) -> Flask:
    """Build the app; ``config`` is a settings object, else the environment (and ``.env``,
    which Config() loads) decides."""
    app = Flask(__name__, template_folder="../templates", static_folder="../static",
                instance_relative_config=True)
    app.config.from_object(config or Config())
    if app.config.get("TRUSTED_PROXIES"):
        n = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)
    register_hooks(app)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    register_subscribers(app)
    return app


def register_extensions(app: Flask) -> None:
    from webapp import database, i18n, security, templating

    init_redis(app)
    broker.init_app(app)  # after init_redis: publishes through the app's client
    db.init_app(app)
    database.init_app(app)
    migrate.init_app(app, db, directory=str(app.root_path + "/../migrations"))
    csrf.init_app(app)
    sock.init_app(app)
    limiter.init_app(app)
    security.init_login(app, login_manager)
    i18n.init_app(app, babel)
    templating.init_app(app)


def register_blueprints(app: Flask) -> None:
    from webapp.admin import bp as admin_bp
    from webapp.auth import bp as auth_bp
    from webapp.chat import bp as chat_bp
    from webapp.coffees import bp as coffees_bp
    from webapp.main import bp as main_bp
    from webapp.notifications import bp as notifications_bp
    from webapp.profiles import bp as profiles_bp
    from webapp.reviews import bp as reviews_bp
    from webapp.telegram import bp as telegram_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(auth_bp, url_prefix="/auth")
    app.register_blueprint(profiles_bp)
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(coffees_bp)
    app.register_blueprint(reviews_bp)
    app.register_blueprint(chat_bp)
    app.register_blueprint(notifications_bp)
    app.register_blueprint(telegram_bp)


def register_errorhandlers(app: Flask) -> None:
    from webapp.errors import handlers

    handlers.init_app(app)


def register_commands(app: Flask) -> None:
    from webapp import commands

    commands.init_app(app)


def register_hooks(app: Flask) -> None:
    from webapp import forms, security

    security.init_headers(app)
    forms.init_app(app)  # refuses control characters in any input, before every view


def register_subscribers(app: Flask) -> None:
    """Who hears the domain events (webapp.events), after each commit.

    Every catalog change bumps the catalog version (webapp.caches), which keys the
    totals and result fragments of every web process. A chat message posted, edited
    or deleted is published on its room's broker channel. A posted message and a new
    review become notification jobs (webapp.services.notifications).
    """
    from webapp import events
    from webapp.services import coffees, notifications

    for signal in (events.coffee_changed, events.review_saved, events.review_deleted,
                   events.ratings_recomputed):
        events.connect(app, signal, coffees.catalog_changed)
    broker.connect_chat_events(app)  # a chat message's change goes to its room's channel
    events.connect(app, events.message_posted, notifications.on_message_posted)
    events.connect(app, events.review_saved, notifications.on_review_saved)
