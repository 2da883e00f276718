"""Language choice: the user's setting, else the session, else Accept-Language."""
from flask import current_app, has_request_context, request, session
from flask_babel import force_locale, get_locale
from flask_login import current_user


def select_locale() -> str:
    """Outside a request (CLI, workers, the bot) the default language applies."""
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    if session.get("lang") in languages:
        return session["lang"]
    return request.accept_languages.best_match(list(languages)) or "en"


def init_app(app, babel) -> None:
    babel.init_app(app, locale_selector=select_locale)

    @app.context_processor
    def language_context():
        return {"LANGUAGES": app.config["LANGUAGES"], "current_locale": str(get_locale())}


class Vocabulary(dict):
    """Slugs mapped to lazy labels, translated once per language and then looked up.

    Catalog pages show hundreds of labels; a gettext call for each was a large
    part of their rendering time.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._translated: dict[str, dict[str, str]] = {}

    def label(self, key: str, locale: str | None = None) -> str:
        """``key``'s label in ``locale`` (the request's language by default)."""
        locale = locale or str(get_locale() or "en")
        labels = self._translated.get(locale)
        if labels is None:
            with force_locale(locale):
                labels = {k: str(v) for k, v in self.items()}
            self._translated[locale] = labels
        return labels.get(key, key)
