"""Labels of fixed sets of values (processes, roasts, brew methods, flavours).

Models, jobs and the bot import this module, so it imports no request-layer code:
a label is translated from the catalog of the language asked for, whether or not a
request (or an app context) is active.
"""
from functools import cache
from pathlib import Path

from babel import support
from flask import has_app_context
from flask_babel import get_babel, get_locale, gettext, pgettext
from flask_babel.speaklater import LazyString

# Where flask-babel looks by default ("translations" next to the app package).
DEFAULT_DIRECTORY = str(Path(__file__).parent / "translations")


class Label(LazyString):
    """A lazy label (translated in the request's language when shown) that keeps
    its msgid and context, so it can also be translated into a given language."""

    def __init__(self, msgid: str, context: str | None = None) -> None:
        if context is None:
            super().__init__(gettext, msgid)
        else:
            super().__init__(pgettext, context, msgid)
        self.msgid, self.context = msgid, context

    def translate(self, translations: support.NullTranslations) -> str:
        if self.context is None:
            return translations.ugettext(self.msgid)
        return translations.upgettext(self.context, self.msgid)


def lazy_label(msgid: str) -> Label:
    """Mark a label for translation; import it as ``_l`` (the extraction keyword)."""
    return Label(msgid)


def lazy_plabel(context: str, msgid: str) -> Label:
    """A label with a gettext context; import it as ``_p`` (the extraction keyword)."""
    return Label(msgid, context)


def translations(locale: str) -> support.NullTranslations:
    """The catalog of ``locale``: the app's translation directories, or the package's
    own outside an app context."""
    if has_app_context():
        babel = get_babel()
        return _load(tuple(babel.translation_directories), babel.default_domain, locale)
    return _load((DEFAULT_DIRECTORY,), "messages", locale)


@cache
def _load(directories: tuple[str, ...], domain: str, locale: str) -> support.Translations:
    catalog = support.Translations()
    for directory in directories:
        catalog.merge(support.Translations.load(directory, [locale], domain))
    return catalog


def current_locale() -> str:
    """The request's language; the default language in a bare app context; else "en"."""
    return str(get_locale() or "en")


class Vocabulary(dict):
    """Slugs mapped to labels, translated once per language and then looked up.

    Catalog pages show hundreds of labels; a gettext call for each was a large
    part of their rendering time.

    :raise TypeError: when a value is not a :class:`Label`.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        wrong = [key for key, value in self.items() if not isinstance(value, Label)]
        if wrong:
            raise TypeError(f"Vocabulary values must be webapp.vocabulary labels: {wrong}")
        self._translated: dict[str, dict[str, str]] = {}

    def label(self, key: str, locale: str | None = None) -> str:
        """``key``'s label in ``locale`` (the request's language by default)."""
        locale = locale or current_locale()
        labels = self._translated.get(locale)
        if labels is None:
            # The catalog is asked directly: flask-babel's force_locale does nothing
            # outside an app context, and its label would be cached as this language.
            catalog = translations(locale)
            labels = {k: v.translate(catalog) for k, v in self.items()}
            self._translated[locale] = labels
        return labels.get(key, key)
