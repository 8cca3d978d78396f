"""Alias history of the model registry: every move or removal of `name@alias`, with who did it and when.

model_alias_history: one row per change of an alias (set_alias, delete_alias, a registration that moved it): the
model, the alias, the version it points at after (NULL: removed) and before (NULL: new), the user and the time. Rows
go with their model (no foreign key: the history of a deleted version stays readable while its model exists; the
registry deletes a model's history with the model).

Revision ID: 0009_model_alias_history
Revises: 0008_schedules
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_model_alias_history"
down_revision = "0008_schedules"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_alias_history",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("alias", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer),
        sa.Column("previous_version", sa.Integer),
        sa.Column("moved_by", sa.String(255)),
        sa.Column("moved_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_model_alias_history"),
    )
    op.create_index("ix_model_alias_history_name_id", "model_alias_history", ["name", "id"])


def downgrade() -> None:
    op.drop_index("ix_model_alias_history_name_id", "model_alias_history")
    op.drop_table("model_alias_history")
