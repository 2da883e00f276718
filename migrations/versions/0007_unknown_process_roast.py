"""Process and roast may be unknown (NULL) instead of a silent default.

Revision ID: 0007_unknown_process_roast
Revises: 0006_search_normalise
Create Date: 2026-11-24
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0007_unknown_process_roast"
down_revision = "0006_search_normalise"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
