"""Search words normalised once (case, accents, ё, NFKC): rebuild search_text and coffee_terms.

The words of a coffee come from its own fields (name, roaster, region, producer,
variety) and from the labels of its origin and notes in every language. The own
fields are read from the row and normalised afresh. The label words come from the
stored search_text, as revision 0003 took them: they follow the own words there,
and recomputing them would need the app's country and flavour translations, which
a migration must not import. Labels are NFC text, so normalising their stored
words gives the words of the labels themselves. A stored text that does not start
with the row's own words (written by hand, or stale) is normalised as it is.
``flask coffees reindex`` computes the same from the app's code.

Downgrade keeps the normalised words: the old code searches them as they are
(accented queries then find nothing); ``flask coffees reindex`` on the old code
writes the old ones.

Revision ID: 0006_search_normalise
Revises: 0005_user_sessions
Create Date: 2026-11-24
"""
import re
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0006_search_normalise"
down_revision = "0005_user_sessions"
branch_labels = None
depends_on = None

TERM_MAX = 64
BATCH = 1000
OWN_FIELDS = ("name", "roaster", "region", "producer", "variety")

# A frozen copy of webapp/searchtext.py's normalise() and words() as of this revision.
_NOT_WORD = re.compile(r"[\W_]+")
_STROKES = str.maketrans({"đ": "d", "ł": "l", "ø": "o", "ħ": "h", "ŧ": "t", "ƀ": "b",
                          "ı": "i", "æ": "ae", "œ": "oe"})
_BREVE = "\u0306"
_DROPPED = frozenset({"Mn", "Cf"})


def _fold(token: str) -> str:
    if token.isascii():
        return token.lower()
    text = unicodedata.normalize("NFKC", token).casefold().translate(_STROKES)
    kept = []
    for char in unicodedata.normalize("NFD", text):
        if unicodedata.category(char) not in _DROPPED or (char == _BREVE and kept[-1:] == ["и"]):
            kept.append(char)
    return unicodedata.normalize("NFC", "".join(kept))


def words(text: str) -> list[str]:
    return _NOT_WORD.sub(" ", " ".join(_fold(t) for t in text.split())).split()


def old_words(text: str) -> list[str]:
    """The words as revisions up to 0005 stored them."""
    return re.sub(r"[\W_]+", " ", text.lower()).split()


def new_words(own: str, stored: str) -> list[str]:
    """The normalised words of a coffee from its own fields and its stored text."""
    stored_words, own_words = stored.split(), old_words(own)
    if stored_words[:len(own_words)] != own_words:
        return words(stored)
    return words(own) + words(" ".join(stored_words[len(own_words):]))


def upgrade():
    connection = op.get_bind()
    select_batch = sa.text(
        f"SELECT id, {', '.join(OWN_FIELDS)}, search_text FROM coffees "
        "WHERE id > :after ORDER BY id LIMIT :limit")
    delete_terms = sa.text("DELETE FROM coffee_terms WHERE coffee_id IN :ids").bindparams(
        sa.bindparam("ids", expanding=True))
    after = 0
    while True:
        rows = connection.execute(select_batch, {"after": after, "limit": BATCH}).all()
        if not rows:
            break
        after = rows[-1].id
        texts, terms = [], []
        for row in rows:
            own = " ".join(row._mapping[f] or "" for f in OWN_FIELDS)
            found = new_words(own, row.search_text or "")
            text = " " + " ".join(found)
            if text != row.search_text:
                texts.append({"id": row.id, "text": text})
                terms.extend({"term": t, "coffee_id": row.id}
                             for t in sorted({w[:TERM_MAX] for w in found}))
        if not texts:
            continue
        connection.execute(sa.text("UPDATE coffees SET search_text = :text WHERE id = :id"),
                           texts)
        connection.execute(delete_terms, {"ids": [t["id"] for t in texts]})
        if terms:
            connection.execute(sa.text(
                "INSERT INTO coffee_terms (term, coffee_id) VALUES (:term, :coffee_id)"), terms)


def downgrade():
    pass
