"""Coffee terms for prefix search; the "top rated" index in the sort's full order.

Revision ID: 0003_coffee_terms
Revises: 0002_coffees_reviews
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "0003_coffee_terms"
down_revision = "0002_coffees_reviews"
branch_labels = None
depends_on = None

TERM_MAX = 64
BATCH = 5000


def upgrade():
    terms = op.create_table(
        "coffee_terms",
        sa.Column("term", sa.String(TERM_MAX).with_variant(
            sa.String(TERM_MAX, collation="C"), "postgresql"), nullable=False),
        sa.Column("coffee_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["coffee_id"], ["coffees.id"],
                                name="fk_coffee_terms_coffee_id_coffees", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("term", "coffee_id"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_coffee_terms_coffee_id", "coffee_terms", ["coffee_id"])
    # The words of the search text written so far (the same split as search_terms()).
    connection = op.get_bind()
    rows = []
    for coffee_id, text in connection.execute(sa.text("SELECT id, search_text FROM coffees")):
        rows.extend({"term": t, "coffee_id": coffee_id}
                    for t in sorted({w[:TERM_MAX] for w in (text or "").split()}))
        if len(rows) >= BATCH:
            op.bulk_insert(terms, rows)
            rows = []
    if rows:
        op.bulk_insert(terms, rows)
    # "Top rated" sorts by Bayesian average, then count, then id: one index in that order.
    op.drop_index("ix_coffees_rating_bayes", table_name="coffees")
    op.create_index("ix_coffees_rating_bayes", "coffees", ["rating_bayes", "rating_count", "id"])
    # Fresh statistics, so that the planners pick these indexes; not on an empty
    # database, where they would tell PostgreSQL that every table stays empty and
    # make the foreign-key checks of a first bulk load scan whole tables.
    if connection.execute(sa.text("SELECT 1 FROM coffees LIMIT 1")).first():
        op.execute("ANALYZE")


def downgrade():
    op.drop_index("ix_coffees_rating_bayes", table_name="coffees")
    op.create_index("ix_coffees_rating_bayes", "coffees", ["rating_bayes", "id"])
    op.drop_index("ix_coffee_terms_coffee_id", table_name="coffee_terms")
    op.drop_table("coffee_terms")
