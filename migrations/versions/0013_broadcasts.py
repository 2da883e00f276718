"""Broadcasts: an admin's message to many linked Telegram users, and each recipient's fate.

Revision ID: 0013_broadcasts
Revises: 0012_telegram_messages
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = "0013_broadcasts"
down_revision = "0012_telegram_messages"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "broadcasts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("audience", sa.String(length=8), nullable=False),
        sa.Column("coffee_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("audience IN ('all', 'coffee')", name="ck_broadcasts_audience"),
        sa.CheckConstraint("status IN ('sending', 'done')", name="ck_broadcasts_status"),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"],
                                name="fk_broadcasts_author_id_users", ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["coffee_id"], ["coffees.id"],
                                name="fk_broadcasts_coffee_id_coffees", ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "broadcast_recipients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("broadcast_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed', 'blocked')",
                           name="ck_broadcast_recipients_status"),
        sa.ForeignKeyConstraint(["broadcast_id"], ["broadcasts.id"],
                                name="fk_broadcast_recipients_broadcast_id_broadcasts",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name="fk_broadcast_recipients_user_id_users", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("broadcast_id", "user_id",
                            name="uq_broadcast_recipients_broadcast_id_user_id"),
    )
    op.create_index("ix_broadcast_recipients_broadcast_id_status", "broadcast_recipients",
                    ["broadcast_id", "status"])


def downgrade():
    op.drop_table("broadcast_recipients")
    op.drop_table("broadcasts")
