"""Schema steps that several component databases take alike (their plumbing tables, declared
once in `common/`), or that one database takes more than once (a table dropped by one migration
is created again when that migration is undone), written once and called by each migration.

A function here is part of every migration that calls it: never change one once a migration
has shipped with it; a later change is a new function, called by a new migration.
"""

import sqlalchemy as sa
from alembic import op


def create_idempotency_keys_20261123() -> None:
    """`idempotency_keys` as `common.idempotency` first declared it."""
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("client", "key", name=op.f("uq_idempotency_keys_client_key")),
    )


def create_event_consumption_20261130() -> None:
    """What a consumer of another component's events keeps: the events it has taken in, and
    how far it has read each source."""
    op.create_table(
        "consumed_events",
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("consumed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", "event_id", name=op.f("pk_consumed_events")),
    )
    op.create_table(
        "event_cursors",
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_event_cursors")),
    )


def drop_event_consumption_20261130() -> None:
    op.drop_table("event_cursors")
    op.drop_table("consumed_events")


_UNSEQUENCED = sa.text("position IS NULL")


def create_outbox_events_20261130() -> None:
    """`outbox_events` as `common.outbox` first declared it."""
    op.create_table(
        "outbox_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("scope", sa.JSON(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_events_event_id")),
        sa.UniqueConstraint("position", name=op.f("uq_outbox_events_position")),
    )
    op.create_index(
        "ix_outbox_events_unsequenced",
        "outbox_events",
        ["id"],
        unique=False,
        postgresql_where=_UNSEQUENCED,
        sqlite_where=_UNSEQUENCED,
    )


def drop_outbox_events_20261130() -> None:
    op.drop_index(
        "ix_outbox_events_unsequenced",
        table_name="outbox_events",
        postgresql_where=_UNSEQUENCED,
        sqlite_where=_UNSEQUENCED,
    )
    op.drop_table("outbox_events")


def add_offline_sync_20261206(synced: list[str]) -> None:
    """A change stamp on each of the `synced` tables, the SQLite change counter and the
    tombstones of removed rows.

    The triggers that write the stamps are (re)installed after every migration run
    (`common.sync.install_triggers`), since SQLite's batch migrations rebuild tables without
    them.
    """
    for table in synced:
        op.add_column(table, sa.Column("sync_stamp", sa.BigInteger(), nullable=True))
        op.create_index(f"ix_{table}_sync_stamp", table, ["sync_stamp"], unique=False)
    op.create_table(
        "sync_clock",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("tick", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_clock")),
        comment="SQLite's change counter; PostgreSQL stamps transaction ids instead.",
    )
    op.create_table(
        "sync_tombstones",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("collection", sa.String(length=40), nullable=False),
        sa.Column("row_id", sa.Integer(), nullable=False),
        sa.Column("club_id", sa.Integer(), nullable=True),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sync_stamp", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_tombstones")),
    )
    op.create_index("ix_sync_tombstones_club_id", "sync_tombstones", ["club_id"], unique=False)
    op.create_index(
        "ix_sync_tombstones_sync_stamp", "sync_tombstones", ["sync_stamp"], unique=False
    )


def drop_offline_sync_20261206(synced: list[str]) -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in [*synced, "sync_tombstones"]:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_sync_stamp ON {table}")
        op.execute("DROP FUNCTION IF EXISTS ishc_sync_stamp()")
    else:
        for table in [*synced, "sync_tombstones"]:
            for event in ("insert", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_sync_{event}")
    op.drop_index("ix_sync_tombstones_sync_stamp", table_name="sync_tombstones")
    op.drop_index("ix_sync_tombstones_club_id", table_name="sync_tombstones")
    op.drop_table("sync_tombstones")
    op.drop_table("sync_clock")
    for table in synced:
        op.drop_index(f"ix_{table}_sync_stamp", table_name=table)
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("sync_stamp")


def create_access_log_members_20261206() -> None:
    """The gateway's `access_log_members`: created with the access log, and again when the
    migration that folds it into `access_log.member_ids` is undone."""
    op.create_table(
        "access_log_members",
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("entry_id", "member_id"),
    )
    op.create_index(
        "ix_access_log_members_member_id_entry_id",
        "access_log_members",
        ["member_id", "entry_id"],
    )


def create_outbox_relays_20261207() -> None:
    """How far each outbox is published to NATS JetStream, and by which relay."""
    op.create_table(
        "outbox_relays",
        sa.Column("stream", sa.String(length=40), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("holder", sa.String(length=40), nullable=True),
        sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("stream", name=op.f("pk_outbox_relays")),
    )


def drop_outbox_relays_20261207() -> None:
    op.drop_table("outbox_relays")


def add_event_request_ids_20261207() -> None:
    """An event keeps the id of the request that caused it."""
    with op.batch_alter_table("outbox_events") as batch:
        batch.add_column(sa.Column("request_id", sa.String(length=64), nullable=True))


def drop_event_request_ids_20261207() -> None:
    with op.batch_alter_table("outbox_events") as batch:
        batch.drop_column("request_id")


def create_dead_letters_20261207() -> None:
    """Events that keep failing, put aside to be replayed by an admin."""
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("event", sa.JSON(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replayed_by", sa.String(length=120), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
        sa.UniqueConstraint("source", "event_id", name=op.f("uq_dead_letters_source_event_id")),
    )


def drop_dead_letters_20261207() -> None:
    op.drop_table("dead_letters")


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


def drop_jobs_20261207() -> None:
    op.drop_table("jobs")


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
