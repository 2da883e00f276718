"""Text from people: the one place that says which characters Crema accepts.

Forms, services and (later) the bot and the API share these rules: control
characters are refused (PostgreSQL cannot even store NUL), text is stored
NFC-normalised, and names lose the invisible characters that would let two
names look the same yet differ.
"""
import re
import unicodedata

# C0 controls except tab, newline and carriage return; DEL; C1 controls; lone
# surrogates (UTF-8 cannot encode them).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# Zero-width characters and bidi embeddings, overrides and isolates.
_INVISIBLE = re.compile("[\u200b-\u200d\u2060\ufeff\u202a-\u202e\u2066-\u2069]")
# Unicode categories that draw nothing by themselves: spaces, separators, controls,
# formatting, combining marks, and unassigned or private code points.
_BLANK_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn", "Mn", "Me"})
# Letters and symbols that render as blank (Hangul fillers, the braille blank).
_BLANK_CHARACTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def has_control(value: str) -> bool:
    """True when ``value`` holds a character no text field accepts."""
    return _CONTROL.search(value) is not None


def normalise(value: str) -> str:
    """``value`` in Unicode NFC, the form text is stored and compared in."""
    return unicodedata.normalize("NFC", value)


def clean_name(value: str) -> str:
    """A name as stored: NFC, without invisible characters, whitespace runs made
    one space, trimmed."""
    return " ".join(_INVISIBLE.sub("", normalise(value)).split())


def is_visible(value: str) -> bool:
    """True when ``value`` has at least one character that shows on screen."""
    return any(unicodedata.category(c) not in _BLANK_CATEGORIES and c not in _BLANK_CHARACTERS
               for c in value)


def compare_key(value: str) -> str:
    """``value`` as names are compared: cleaned, case-folded, without whitespace."""
    return normalise("".join(clean_name(value).casefold().split()))
