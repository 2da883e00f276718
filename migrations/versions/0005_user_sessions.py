"""Server-side sessions: one row per signed-in device.

Revision ID: 0005_user_sessions
Revises: 0004_check_names
Create Date: 2026-11-24
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0005_user_sessions"
down_revision = "0004_check_names"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
