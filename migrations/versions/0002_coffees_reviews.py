"""Coffees, roaster notes, reviews and review tags.

Revision ID: 0002_coffees_reviews
Revises: 0001_users
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op

revision = "0002_coffees_reviews"
down_revision = "0001_users"
branch_labels = None
depends_on = None

PROCESSES = "process IN ('washed', 'natural', 'honey', 'anaerobic', 'other')"
ROASTS = "roast IN ('light', 'medium-light', 'medium', 'medium-dark', 'dark')"
BREW_METHODS = ("brew_method IN ('espresso', 'pour-over', 'aeropress', 'french-press', "
                "'moka-pot', 'cold-brew', 'other')")


def upgrade():
    op.create_table(
        "coffees",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("roaster", sa.String(length=120), nullable=False),
        sa.Column("origin", sa.String(length=2), nullable=False),
        sa.Column("region", sa.String(length=120), nullable=False),
        sa.Column("producer", sa.String(length=120), nullable=False),
        sa.Column("variety", sa.String(length=120), nullable=False),
        sa.Column("process", sa.String(length=16), nullable=False),
        sa.Column("roast", sa.String(length=16), nullable=False),
        sa.Column("altitude", sa.Integer(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("added_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dedupe_key", sa.String(length=241), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("rating_count", sa.Integer(), nullable=False),
        sa.Column("rating_sum", sa.Integer(), nullable=False),
        sa.Column("rating_mean", sa.Float(), nullable=True),
        sa.Column("rating_bayes", sa.Float(), nullable=False),
        *[sa.Column(f"hist_{n}", sa.SmallInteger(), nullable=False) for n in range(1, 11)],
        sa.CheckConstraint(PROCESSES, name="ck_coffees_process"),
        sa.CheckConstraint(ROASTS, name="ck_coffees_roast"),
        sa.CheckConstraint("length(origin) = 2", name="ck_coffees_origin"),
        sa.CheckConstraint("length(name) BETWEEN 1 AND 120", name="ck_coffees_name_length"),
        sa.CheckConstraint("length(roaster) BETWEEN 1 AND 120", name="ck_coffees_roaster_length"),
        sa.CheckConstraint("length(description) <= 5000", name="ck_coffees_description_length"),
        sa.CheckConstraint("altitude IS NULL OR altitude BETWEEN 0 AND 6000",
                           name="ck_coffees_altitude"),
        sa.CheckConstraint("rating_count >= 0 AND rating_sum >= 0", name="ck_coffees_rating_totals"),
        sa.ForeignKeyConstraint(["added_by_id"], ["users.id"], name="fk_coffees_added_by_id_users",
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key", name="uq_coffees_dedupe_key"),
    )
    op.create_index("ix_coffees_origin", "coffees", ["origin"])
    op.create_index("ix_coffees_process", "coffees", ["process"])
    op.create_index("ix_coffees_roast", "coffees", ["roast"])
    op.create_index("ix_coffees_added_by_id", "coffees", ["added_by_id"])
    op.create_index("ix_coffees_created_at", "coffees", ["created_at"])
    op.create_index("ix_coffees_rating_mean", "coffees", ["rating_mean"])
    op.create_index("ix_coffees_rating_bayes", "coffees", ["rating_bayes", "id"])
    op.create_index("ix_coffees_rating_count", "coffees", ["rating_count", "id"])
    op.create_index("ix_coffees_name_lower", "coffees", [sa.text("lower(name)"), "id"])

    op.create_table(
        "coffee_notes",
        sa.Column("coffee_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=32), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(["coffee_id"], ["coffees.id"], name="fk_coffee_notes_coffee_id_coffees",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("coffee_id", "tag"),
    )
    op.create_index("ix_coffee_notes_tag", "coffee_notes", ["tag", "coffee_id"])

    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("coffee_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=False),
        sa.Column("brew_method", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("rating BETWEEN 1 AND 10", name="ck_reviews_rating"),
        sa.CheckConstraint(BREW_METHODS, name="ck_reviews_brew_method"),
        sa.CheckConstraint("length(body) <= 5000", name="ck_reviews_body_length"),
        sa.ForeignKeyConstraint(["coffee_id"], ["coffees.id"], name="fk_reviews_coffee_id_coffees",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_reviews_user_id_users",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("coffee_id", "user_id", name="uq_reviews_coffee_id_user_id"),
    )
    op.create_index("ix_reviews_coffee_created", "reviews", ["coffee_id", "created_at", "id"])
    op.create_index("ix_reviews_coffee_rating", "reviews", ["coffee_id", "rating", "id"])
    op.create_index("ix_reviews_coffee_brew", "reviews", ["coffee_id", "brew_method", "rating"])
    op.create_index("ix_reviews_user_created", "reviews", ["user_id", "created_at", "id"])
    op.create_index("ix_reviews_created", "reviews", ["created_at", "id"])

    op.create_table(
        "review_tags",
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=32), nullable=False),
        sa.Column("coffee_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(["review_id"], ["reviews.id"], name="fk_review_tags_review_id_reviews",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["coffee_id"], ["coffees.id"], name="fk_review_tags_coffee_id_coffees",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("review_id", "tag"),
    )
    op.create_index("ix_review_tags_coffee_tag", "review_tags", ["coffee_id", "tag"])


def downgrade():
    op.drop_index("ix_review_tags_coffee_tag", table_name="review_tags")
    op.drop_table("review_tags")
    for name in ("ix_reviews_created", "ix_reviews_user_created", "ix_reviews_coffee_brew",
                 "ix_reviews_coffee_rating", "ix_reviews_coffee_created"):
        op.drop_index(name, table_name="reviews")
    op.drop_table("reviews")
    op.drop_index("ix_coffee_notes_tag", table_name="coffee_notes")
    op.drop_table("coffee_notes")
    for name in ("ix_coffees_name_lower", "ix_coffees_rating_count", "ix_coffees_rating_bayes",
                 "ix_coffees_rating_mean", "ix_coffees_created_at", "ix_coffees_added_by_id",
                 "ix_coffees_roast", "ix_coffees_process", "ix_coffees_origin"):
        op.drop_index(name, table_name="coffees")
    op.drop_table("coffees")
