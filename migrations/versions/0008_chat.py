"""Chat: rooms, messages, mentions, read marks; the topic rooms General, Brewing, Gear.

Revision ID: 0008_chat
Revises: 0007_unknown_process_roast
Create Date: 2026-11-24
"""
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0008_chat"
down_revision = "0007_unknown_process_roast"
branch_labels = None
depends_on = None

TOPIC_ROOMS = [("general", "General"), ("brewing", "Brewing"), ("gear", "Gear")]


def upgrade():
    rooms = op.create_table(
        "rooms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("coffee_id", sa.Integer(), nullable=True),
        sa.Column("slug", sa.String(length=32), nullable=True),
        sa.Column("title", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('coffee', 'topic')", name="ck_rooms_kind"),
        sa.CheckConstraint("(kind = 'coffee' AND coffee_id IS NOT NULL AND slug IS NULL) OR "
                           "(kind = 'topic' AND coffee_id IS NULL AND slug IS NOT NULL "
                           "AND title IS NOT NULL)", name="ck_rooms_kind_fields"),
        sa.ForeignKeyConstraint(["coffee_id"], ["coffees.id"], name="fk_rooms_coffee_id_coffees",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("coffee_id", name="uq_rooms_coffee_id"),
        sa.UniqueConstraint("slug", name="uq_rooms_slug"),
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("reply_to_id", sa.Integer(), nullable=True),
        sa.Column("client_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("length(body) <= 2000", name="ck_messages_body_length"),
        sa.ForeignKeyConstraint(["room_id"], ["rooms.id"], name="fk_messages_room_id_rooms",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_messages_user_id_users",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["reply_to_id"], ["messages.id"],
                                name="fk_messages_reply_to_id_messages", ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "client_id", name="uq_messages_user_id_client_id"),
    )
    op.create_index("ix_messages_room_id_id", "messages", ["room_id", "id"])
    op.create_index("ix_messages_user_id_created_at", "messages", ["user_id", "created_at"])
    op.create_index("ix_messages_reply_to_id", "messages", ["reply_to_id"])
    op.create_table(
        "mentions",
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"],
                                name="fk_mentions_message_id_messages", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_mentions_user_id_users",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("message_id", "user_id"),
    )
    op.create_index("ix_mentions_user_id", "mentions", ["user_id"])
    op.create_table(
        "room_reads",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("last_read_message_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_room_reads_user_id_users",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["room_id"], ["rooms.id"], name="fk_room_reads_room_id_rooms",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "room_id"),
    )
    op.create_index("ix_room_reads_room_id", "room_reads", ["room_id"])
    now = datetime.now(timezone.utc)
    op.bulk_insert(rooms, [{"kind": "topic", "slug": slug, "title": title, "created_at": now}
                           for slug, title in TOPIC_ROOMS])


def downgrade():
    op.drop_index("ix_room_reads_room_id", table_name="room_reads")
    op.drop_table("room_reads")
    op.drop_index("ix_mentions_user_id", table_name="mentions")
    op.drop_table("mentions")
    op.drop_index("ix_messages_reply_to_id", table_name="messages")
    op.drop_index("ix_messages_user_id_created_at", table_name="messages")
    op.drop_index("ix_messages_room_id_id", table_name="messages")
    op.drop_table("messages")
    op.drop_table("rooms")
