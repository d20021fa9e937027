"""Schema steps that several component databases take alike (their plumbing tables, declared
once in `common/`), written once and called by each database's migration.

A function here is part of every migration that calls it: never change one once a migration
has shipped with it; a later change is a new function, called by a new migration.
"""

import sqlalchemy as sa
from alembic import op


def create_jobs_20261207() -> None:
    """`jobs` as `common.jobs.JobTable` first declared it."""
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("parameters_key", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("requested_by", sa.String(length=120), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("progress_done", sa.BigInteger(), nullable=False),
        sa.Column("progress_total", sa.BigInteger(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("holder", sa.String(length=36), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index("ix_jobs_status_not_before", "jobs", ["status", "not_before"])
    op.create_index("ix_jobs_kind_parameters_key", "jobs", ["kind", "parameters_key"])


def add_job_subjects_and_inputs_20261207() -> None:
    """A job may concern one object and carry an input until it ends (sealed where the
    component's table says so: the column is text either way)."""
    op.add_column("jobs", sa.Column("subject", sa.String(length=80), nullable=True))
    op.add_column("jobs", sa.Column("input", sa.Text(), nullable=True))
    op.create_index("ix_jobs_subject", "jobs", ["subject"])


def drop_job_subjects_and_inputs_20261207() -> None:
    op.drop_index("ix_jobs_subject", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("input")
        batch.drop_column("subject")


def add_idempotent_locations_20261207() -> None:
    """A retried request gets the first answer's Location too."""
    op.add_column(
        "idempotency_keys", sa.Column("response_location", sa.String(length=500), nullable=True)
    )


def drop_idempotent_locations_20261207() -> None:
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.drop_column("response_location")
