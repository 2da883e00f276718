"""Telegram: the messages the bot sent about a notification, so a reply can find its room.

Revision ID: 0012_telegram_messages
Revises: 0011_telegram
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = "0012_telegram_messages"
down_revision = "0011_telegram"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "telegram_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=True),
        sa.Column("room_id", sa.Integer(), nullable=True),
        sa.Column("chat_message_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name="fk_telegram_messages_user_id_users", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["notification_id"], ["notifications.id"],
                                name="fk_telegram_messages_notification_id_notifications",
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["room_id"], ["rooms.id"],
                                name="fk_telegram_messages_room_id_rooms", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["chat_message_id"], ["messages.id"],
                                name="fk_telegram_messages_chat_message_id_messages",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("chat_id", "message_id",
                            name="uq_telegram_messages_chat_id_message_id"),
    )
    op.create_index("ix_telegram_messages_user_id", "telegram_messages", ["user_id"])


def downgrade():
    op.drop_table("telegram_messages")
