"""Coffees in the catalog, with their rating aggregates."""
from datetime import datetime

from sqlalchemy import (CheckConstraint, Float, ForeignKey, Index, Integer, SmallInteger, String,
                        Text, UniqueConstraint, func)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import UTCDateTime, utcnow
from webapp.vocabulary import Vocabulary
from webapp.vocabulary import lazy_label as _l
from webapp.vocabulary import lazy_plabel as _p

# "Honey" and "Other" are also flavours and brew methods: a context keeps them apart.
PROCESSES = Vocabulary({
    "washed": _l("Washed"), "natural": _l("Natural"),
    "honey": _p("coffee process", "Honey"), "anaerobic": _l("Anaerobic"),
    "other": _p("coffee process", "Other"),
})
ROASTS = Vocabulary({
    "light": _l("Light"), "medium-light": _l("Medium-light"), "medium": _l("Medium"),
    "medium-dark": _l("Medium-dark"), "dark": _l("Dark"),
})
NAME_MAX = 120
TEXT_MAX = 5000
TERM_MAX = 64
ALTITUDE_MAX = 6000


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Coffee(db.Model):
    __tablename__ = "coffees"
    __table_args__ = (
        CheckConstraint(_in("process", PROCESSES), name="process"),
        CheckConstraint(_in("roast", ROASTS), name="roast"),
        CheckConstraint("length(origin) = 2", name="origin"),
        CheckConstraint(f"length(name) BETWEEN 1 AND {NAME_MAX}", name="name_length"),
        CheckConstraint(f"length(roaster) BETWEEN 1 AND {NAME_MAX}", name="roaster_length"),
        CheckConstraint(f"length(description) <= {TEXT_MAX}", name="description_length"),
        CheckConstraint(f"altitude IS NULL OR altitude BETWEEN 0 AND {ALTITUDE_MAX}",
                        name="altitude"),
        CheckConstraint("rating_count >= 0 AND rating_sum >= 0", name="rating_totals"),
        UniqueConstraint("dedupe_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    roaster: Mapped[str] = mapped_column(String(NAME_MAX))
    origin: Mapped[str] = mapped_column(String(2), index=True)
    region: Mapped[str] = mapped_column(String(NAME_MAX), default="")
    producer: Mapped[str] = mapped_column(String(NAME_MAX), default="")
    variety: Mapped[str] = mapped_column(String(NAME_MAX), default="")
    # NULL when the person adding the coffee did not say (the CHECKs pass on NULL).
    process: Mapped[str | None] = mapped_column(String(16), index=True)
    roast: Mapped[str | None] = mapped_column(String(16), index=True)
    altitude: Mapped[int | None] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")
    added_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Roaster and name, lowercased without spaces: one row per real coffee.
    dedupe_key: Mapped[str] = mapped_column(String(2 * NAME_MAX + 1))
    # Lowercased words of the name, roaster, region, producer, country and note labels
    # in every language; its distinct words are the coffee's rows in coffee_terms.
    search_text: Mapped[str] = mapped_column(Text, default="")

    # Aggregates of the reviews, kept by the review service in the same transaction.
    # Ratings are half-stars 1..10; hist_N counts the ratings of N half-stars.
    rating_count: Mapped[int] = mapped_column(Integer, default=0)
    rating_sum: Mapped[int] = mapped_column(Integer, default=0)
    rating_mean: Mapped[float | None] = mapped_column(Float, index=True)
    # Bayesian average in stars; 0 until the coffee has CATALOG_MIN_RATINGS ratings,
    # so that "top rated" is one index scan.
    rating_bayes: Mapped[float] = mapped_column(Float, default=0.0)
    hist_1: Mapped[int] = mapped_column(SmallInteger, default=0)
    hist_2: Mapped[int] = mapped_column(SmallInteger, default=0)
    hist_3: Mapped[int] = mapped_column(SmallInteger, default=0)
    hist_4: Mapped[int] = mapped_column(SmallInteger, default=0)
    hist_5: Mapped[int] = mapped_column(SmallInteger, default=0)
    hist_6: Mapped[int] = mapped_column(SmallInteger, default=0)
    hist_7: Mapped[int] = mapped_column(SmallInteger, default=0)
    hist_8: Mapped[int] = mapped_column(SmallInteger, default=0)
    hist_9: Mapped[int] = mapped_column(SmallInteger, default=0)
    hist_10: Mapped[int] = mapped_column(SmallInteger, default=0)

    added_by = relationship("User", lazy="raise_on_sql")
    note_links: Mapped[list["CoffeeNote"]] = relationship(
        back_populates="coffee", cascade="all, delete-orphan", passive_deletes=True,
        order_by="CoffeeNote.position", lazy="raise_on_sql")
    term_links: Mapped[list["CoffeeTerm"]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True)

    def __repr__(self) -> str:
        return f"<Coffee {self.roaster} / {self.name}>"

    @property
    def notes(self) -> list[str]:
        """The roaster's tasting notes, as flavour slugs."""
        return [link.tag for link in self.note_links]

    @property
    def histogram(self) -> list[tuple[float, int]]:
        """(stars, count) from 5 down to 0.5."""
        return [(n / 2, getattr(self, f"hist_{n}") or 0) for n in range(10, 0, -1)]

    @property
    def process_label(self) -> str:
        """The process's label, or "" when it is unknown."""
        return PROCESSES.label(self.process) if self.process else ""

    @property
    def roast_label(self) -> str:
        """The roast level's label, or "" when it is unknown."""
        return ROASTS.label(self.roast) if self.roast else ""


class CoffeeNote(db.Model):
    """One of the roaster's tasting notes on the bag."""

    __tablename__ = "coffee_notes"

    coffee_id: Mapped[int] = mapped_column(ForeignKey("coffees.id", ondelete="CASCADE"),
                                           primary_key=True)
    tag: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[int] = mapped_column(SmallInteger, default=0)

    coffee: Mapped[Coffee] = relationship(back_populates="note_links")


# Byte order on PostgreSQL too, so that a word prefix is a plain range of the index
# (SQLite compares bytes already).
TermString = String(TERM_MAX).with_variant(String(TERM_MAX, collation="C"), "postgresql")


class CoffeeTerm(db.Model):
    """One distinct word of a coffee's search text: "et" finds coffees with a term in
    ["et", "eu"), one range of the primary key, for the page and its count alike."""

    __tablename__ = "coffee_terms"
    __table_args__ = {"sqlite_with_rowid": False}

    term: Mapped[str] = mapped_column(TermString, primary_key=True)
    coffee_id: Mapped[int] = mapped_column(ForeignKey("coffees.id", ondelete="CASCADE"),
                                           primary_key=True, index=True)


# Sorts and filters of the catalog, each served by an index.
Index("ix_coffees_rating_bayes", Coffee.rating_bayes, Coffee.rating_count, Coffee.id)
Index("ix_coffees_rating_count", Coffee.rating_count, Coffee.id)
Index("ix_coffees_name_lower", func.lower(Coffee.name), Coffee.id)
Index("ix_coffee_notes_tag", CoffeeNote.tag, CoffeeNote.coffee_id)
