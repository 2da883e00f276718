"""One normalisation of search words, for the words stored and the words searched.

``normalise`` makes the spellings people type interchangeable:

- Unicode NFKC first, so compatibility forms become plain letters and digits
  (full-width ``ｅｔｈｉｏｐｉａ`` is ``ethiopia``, the ligature ``ﬁ`` is ``fi``);
- case folding (``str.casefold``: ``ß`` is ``ss``, ``Ё`` is ``ё``);
- accents removed: decompose (NFD), drop the nonspacing marks, recompose (NFC),
  so ``Tarrazú`` is ``tarrazu`` and ``Nariño`` is ``narino``. Letters with a
  stroke, which do not decompose, are mapped by hand (``Đắk Lắk`` is ``dak lak``).
  Nonspacing marks go in every script: they are the accents of the Latin, Greek
  and Cyrillic alphabets, and elsewhere the search split words at them anyway.
  Invisible format characters (a soft hyphen, a zero-width space) go too;
- ``ё`` is ``е``: the dots are optional in Russian writing ("Мёд" and "Мед" are
  the same word), and dropping them is what the mark removal does;
- but ``й`` stays ``й``: it is a letter of its own, never written as ``и``, and
  folding it would make "мой" and "мои" (two forms of "my") one word. Its breve
  is the one mark kept, so the letter recomposes.

``words`` then splits on everything that is not a letter or a digit, as the
search always has. Stored search texts (webapp.services.coffees.search_text)
and queries both go through it, so a query word matches exactly when it is a
prefix of a stored word. Migration 0006 holds a frozen copy of these two
functions: change them here, and add a migration that rebuilds the words.
"""
import difflib
import re
import unicodedata
from bisect import bisect_left
from collections import defaultdict
from functools import lru_cache

_NOT_WORD = re.compile(r"[\W_]+")
# Letters with a stroke or a bar have no decomposition: the plain letter people type.
_STROKES = str.maketrans({"đ": "d", "ł": "l", "ø": "o", "ħ": "h", "ŧ": "t", "ƀ": "b",
                          "ı": "i", "æ": "ae", "œ": "oe"})
_BREVE = "\u0306"
# Nonspacing marks (accents) and invisible format characters (soft hyphen, zero-width
# space): dropped, so they neither tell words apart nor split them.
_DROPPED = frozenset({"Mn", "Cf"})
# "Did you mean": how alike a word and a correction must be (difflib's ratio), and
# the shortest word worth correcting (two letters are a prefix being typed).
SIMILARITY = 0.8
MIN_CORRECTED = 3


def normalise(text: str) -> str:
    """``text`` folded for search: NFKC, case folded, accents and ``ё`` dots removed,
    ``й`` kept. Words keep their separators; ``words`` splits them."""
    return " ".join(_fold(token) for token in text.split())


def words(text: str) -> list[str]:
    """The normalised words of ``text``: runs of letters and digits."""
    return _NOT_WORD.sub(" ", normalise(text)).split()


@lru_cache(maxsize=65536)
def _fold(token: str) -> str:
    # Whitespace never joins two characters in any of these steps, so folding
    # token by token is folding the text; catalogs repeat their words, hence the cache.
    if token.isascii():
        return token.lower()
    text = unicodedata.normalize("NFKC", token).casefold().translate(_STROKES)
    kept = []
    for char in unicodedata.normalize("NFD", text):
        if unicodedata.category(char) not in _DROPPED or (char == _BREVE and kept[-1:] == ["и"]):
            kept.append(char)
    return unicodedata.normalize("NFC", "".join(kept))


class Lexicon:
    """The distinct words of a catalog with how many coffees have each, for
    correcting a search that found nothing."""

    def __init__(self, counts: dict[str, int]) -> None:
        self._sorted = sorted(counts)
        self._counts = counts
        # Candidates for a correction share its first letter: one bucket per letter.
        # Words with digits (lot numbers, "74110") are never offered as corrections.
        self._by_first: dict[str, list[str]] = defaultdict(list)
        for word in self._sorted:
            if word.isalpha():
                self._by_first[word[0]].append(word)

    def __len__(self) -> int:
        return len(self._sorted)

    def has_prefix(self, word: str) -> bool:
        """Whether some word starts with ``word`` (what a query word matches)."""
        i = bisect_left(self._sorted, word)
        return i < len(self._sorted) and self._sorted[i].startswith(word)

    def closest(self, word: str) -> str | None:
        """The word most like ``word`` (then the most common), among those with
        its first letter and a length within two of it; None when none is alike,
        and for words with digits (a lot number is right or wrong, never near)."""
        if len(word) < MIN_CORRECTED or not word.isalpha():
            return None
        matcher = difflib.SequenceMatcher(b=word)
        best, best_key = None, (SIMILARITY, -1)
        for candidate in self._by_first.get(word[0], ()):
            if abs(len(candidate) - len(word)) > 2:
                continue
            matcher.set_seq1(candidate)
            if matcher.real_quick_ratio() < best_key[0] or matcher.quick_ratio() < best_key[0]:
                continue
            key = (matcher.ratio(), self._counts[candidate])
            if key > best_key:  # ties: the first in alphabetical order
                best, best_key = candidate, key
        return best

    def correct(self, words: list[str]) -> list[str] | None:
        """``words`` with each one that starts no word replaced by its closest;
        None when nothing needs correcting or some word has no correction."""
        fixed = [w if self.has_prefix(w) else self.closest(w) for w in words]
        if None in fixed or fixed == words:
            return None
        return fixed
