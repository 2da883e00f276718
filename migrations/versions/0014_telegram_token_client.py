"""Telegram: which browser asked for a log-in token (shown in the bot's question).

Revision ID: 0014_telegram_token_client
Revises: 0013_broadcasts
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = "0014_telegram_token_client"
down_revision = "0013_broadcasts"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("telegram_tokens") as batch:
        batch.add_column(sa.Column("user_agent", sa.String(length=300), nullable=True))
        batch.add_column(sa.Column("ip", sa.String(length=45), nullable=True))


def downgrade():
    with op.batch_alter_table("telegram_tokens") as batch:
        batch.drop_column("ip")
        batch.drop_column("user_agent")
