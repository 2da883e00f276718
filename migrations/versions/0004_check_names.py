"""CHECK constraints named once (ck_coffees_process, not ck_coffees_ck_coffees_process).

Revision ID: 0004_check_names
Revises: 0003_coffee_terms
Create Date: 2026-11-24
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0004_check_names"
down_revision = "0003_coffee_terms"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
