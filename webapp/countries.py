"""Origin countries: ISO 3166 alpha-2 codes, names localised by Babel."""
from functools import cache

from babel import Locale
from flask_babel import get_locale

# Codes Babel knows that are not countries (continents, unions, pseudo-regions).
_NOT_COUNTRIES = {"EU", "EZ", "UN", "QO", "ZZ", "XA", "XB"}

# Countries that grow coffee, offered first in the form's select.
COFFEE_COUNTRIES = (
    "BO", "BR", "BI", "CM", "CN", "CO", "CR", "CU", "CD", "DO", "EC", "SV", "ET", "GT",
    "HT", "HN", "IN", "ID", "JM", "KE", "LA", "MG", "MW", "MX", "MM", "NI", "PA", "PG",
    "PE", "PH", "RW", "TZ", "TH", "TL", "UG", "US", "VE", "VN", "YE", "ZM", "ZW",
)


@cache
def _names(locale: str) -> dict[str, str]:
    territories = Locale.parse(locale).territories
    return {code: name for code, name in territories.items()
            if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES}


def is_country(code: str) -> bool:
    return code in _names("en")


def name(code: str, locale: str | None = None) -> str:
    """The country's name in ``locale`` (the request's language by default)."""
    locale = locale or str(get_locale() or "en")
    return _names(locale).get(code) or _names("en").get(code, code)


def choices(locale: str | None = None) -> list[tuple[str, str]]:
    """Coffee-growing countries as (code, name), sorted by name in ``locale``."""
    return sorted(((code, name(code, locale)) for code in COFFEE_COUNTRIES), key=lambda c: c[1])


def search_words(code: str, locales=("en", "ru")) -> str:
    return " ".join(name(code, locale) for locale in locales)
