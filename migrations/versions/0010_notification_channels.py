"""Notification preferences, mutes, deliveries; confirmed e-mail and the digest choice.

Revision ID: 0010_notification_channels
Revises: 0009_notifications
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = "0010_notification_channels"
down_revision = "0009_notifications"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMNs (no batch copy of the tables on SQLite, so no cascade fires).
    op.add_column("users", sa.Column("email_confirmed_at", sa.DateTime(timezone=True),
                                     nullable=True))
    op.add_column("users", sa.Column("email_digest", sa.Boolean(), nullable=False,
                                     server_default=sa.false()))
    op.add_column("notifications", sa.Column("in_app", sa.Boolean(), nullable=False,
                                             server_default=sa.true()))
    op.create_table(
        "notification_prefs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.CheckConstraint("kind IN ('chat', 'mentions', 'reviews')",
                           name="ck_notification_prefs_kind"),
        sa.CheckConstraint("channel IN ('in_app', 'email', 'telegram')",
                           name="ck_notification_prefs_channel"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name="fk_notification_prefs_user_id_users", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "kind", "channel",
                            name="uq_notification_prefs_user_id_kind_channel"),
    )
    op.create_table(
        "mutes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=True),
        sa.Column("coffee_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("(room_id IS NULL) <> (coffee_id IS NULL)",
                           name="ck_mutes_one_target"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_mutes_user_id_users",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["room_id"], ["rooms.id"], name="fk_mutes_room_id_rooms",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["coffee_id"], ["coffees.id"], name="fk_mutes_coffee_id_coffees",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "room_id", name="uq_mutes_user_id_room_id"),
        sa.UniqueConstraint("user_id", "coffee_id", name="uq_mutes_user_id_coffee_id"),
    )
    op.create_index("ix_mutes_room_id", "mutes", ["room_id"])
    op.create_index("ix_mutes_coffee_id", "mutes", ["coffee_id"])
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_deliveries_user_id_users",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "key", name="uq_deliveries_channel_key"),
    )
    op.create_index("ix_deliveries_user_id", "deliveries", ["user_id"])


def downgrade():
    op.drop_table("deliveries")
    op.drop_table("mutes")
    op.drop_table("notification_prefs")
    # Plain DROP COLUMNs (SQLite 3.35+): a batch copy of users would trip over the
    # index on lower(username) and fire the cascades of every table referring to it.
    op.drop_column("notifications", "in_app")
    op.drop_column("users", "email_digest")
    op.drop_column("users", "email_confirmed_at")
