"""Telegram: linked accounts and one-time link tokens.

Revision ID: 0011_telegram
Revises: 0010_notification_channels
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = "0011_telegram"
down_revision = "0010_notification_channels"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "telegram_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("first_name", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=32), nullable=True),
        sa.Column("language_code", sa.String(length=16), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_telegram_links_user_id_users",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", name="uq_telegram_links_user_id"),
        sa.UniqueConstraint("telegram_id", name="uq_telegram_links_telegram_id"),
    )
    op.create_table(
        "telegram_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=8), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("telegram_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("purpose IN ('link', 'login')", name="ck_telegram_tokens_purpose"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name="fk_telegram_tokens_user_id_users", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash", name="uq_telegram_tokens_token_hash"),
    )
    op.create_index("ix_telegram_tokens_user_id", "telegram_tokens", ["user_id"])


def downgrade():
    op.drop_table("telegram_tokens")
    op.drop_table("telegram_links")
