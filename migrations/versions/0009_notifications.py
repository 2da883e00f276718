"""Notifications and follows.

Revision ID: 0009_notifications
Revises: 0008_chat
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = "0009_notifications"
down_revision = "0008_chat"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("room_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("coffee_id", sa.Integer(), nullable=True),
        sa.Column("review_id", sa.Integer(), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("last_message_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('mention', 'reply', 'chat', 'review')",
                           name="ck_notifications_kind"),
        sa.CheckConstraint("count >= 1", name="ck_notifications_count"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name="fk_notifications_user_id_users", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"],
                                name="fk_notifications_actor_id_users", ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["room_id"], ["rooms.id"],
                                name="fk_notifications_room_id_rooms", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"],
                                name="fk_notifications_message_id_messages", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["coffee_id"], ["coffees.id"],
                                name="fk_notifications_coffee_id_coffees", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["review_id"], ["reviews.id"],
                                name="fk_notifications_review_id_reviews", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "key", name="uq_notifications_user_id_key"),
    )
    op.create_index("ix_notifications_user_id_updated_at", "notifications",
                    ["user_id", "updated_at"])
    op.create_index("ix_notifications_user_id_read_at", "notifications", ["user_id", "read_at"])
    op.create_table(
        "follows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=True),
        sa.Column("coffee_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("(room_id IS NULL) <> (coffee_id IS NULL)",
                           name="ck_follows_one_target"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_follows_user_id_users",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["room_id"], ["rooms.id"], name="fk_follows_room_id_rooms",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["coffee_id"], ["coffees.id"],
                                name="fk_follows_coffee_id_coffees", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "room_id", name="uq_follows_user_id_room_id"),
        sa.UniqueConstraint("user_id", "coffee_id", name="uq_follows_user_id_coffee_id"),
    )
    op.create_index("ix_follows_room_id", "follows", ["room_id"])
    op.create_index("ix_follows_coffee_id", "follows", ["coffee_id"])


def downgrade():
    op.drop_table("follows")
    op.drop_table("notifications")
