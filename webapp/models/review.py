"""One taster's review of one coffee."""
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import UTCDateTime, utcnow
from webapp.vocabulary import Vocabulary
from webapp.vocabulary import lazy_label as _l
from webapp.vocabulary import lazy_plabel as _p
from webapp.models.coffee import TEXT_MAX, _in

BREW_METHODS = Vocabulary({
    "espresso": _l("Espresso"), "pour-over": _l("Pour-over"), "aeropress": _l("AeroPress"),
    "french-press": _l("French press"), "moka-pot": _l("Moka pot"),
    "cold-brew": _l("Cold brew"), "other": _p("brew method", "Other"),
})


class Review(db.Model):
    __tablename__ = "reviews"
    __table_args__ = (
        UniqueConstraint("coffee_id", "user_id"),
        # Half-stars: 1 is 0.5 stars, 10 is 5 stars.
        CheckConstraint("rating BETWEEN 1 AND 10", name="rating"),
        CheckConstraint(_in("brew_method", BREW_METHODS), name="brew_method"),
        CheckConstraint(f"length(body) <= {TEXT_MAX}", name="body_length"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    coffee_id: Mapped[int] = mapped_column(ForeignKey("coffees.id", ondelete="CASCADE"))
    # Deleting a user removes their reviews; run recompute_aggregates afterwards.
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    rating: Mapped[int] = mapped_column(SmallInteger)
    brew_method: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    user = relationship("User", lazy="raise_on_sql")
    coffee = relationship("Coffee", lazy="raise_on_sql")
    tag_links: Mapped[list["ReviewTag"]] = relationship(
        back_populates="review", cascade="all, delete-orphan", passive_deletes=True,
        order_by="ReviewTag.position", lazy="raise_on_sql")

    def __repr__(self) -> str:
        return f"<Review {self.user_id} on {self.coffee_id}: {self.stars}>"

    @property
    def stars(self) -> float:
        return self.rating / 2

    @property
    def tags(self) -> list[str]:
        return [link.tag for link in self.tag_links]

    @property
    def brew_label(self) -> str:
        return BREW_METHODS.label(self.brew_method)


class ReviewTag(db.Model):
    """A flavour a taster found; ``coffee_id`` is copied so a coffee's tags group on one index."""

    __tablename__ = "review_tags"

    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"),
                                           primary_key=True)
    tag: Mapped[str] = mapped_column(String(32), primary_key=True)
    coffee_id: Mapped[int] = mapped_column(ForeignKey("coffees.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(SmallInteger, default=0)

    review: Mapped[Review] = relationship(back_populates="tag_links")


# The coffee page lists reviews newest or highest first; a profile lists a user's.
Index("ix_reviews_coffee_created", Review.coffee_id, Review.created_at, Review.id)
Index("ix_reviews_coffee_rating", Review.coffee_id, Review.rating, Review.id)
Index("ix_reviews_coffee_brew", Review.coffee_id, Review.brew_method, Review.rating)
Index("ix_reviews_user_created", Review.user_id, Review.created_at, Review.id)
Index("ix_reviews_created", Review.created_at, Review.id)
Index("ix_review_tags_coffee_tag", ReviewTag.coffee_id, ReviewTag.tag)
