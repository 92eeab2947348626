"""Runs: one row per sync of one flow, with its counts per outcome, and every record error it had.

Why: Data Integrator users see errors cut to the first five and runs that say "completed" while
nothing moved. A run row opened before the first write and finished with its counts, plus the
per-record events of `records.py`, lets `p2c history` prove what each run did, record by record.

A run also says where its process lives (host, pid) and keeps a heartbeat, because a killed or
crashed process cannot finish its own run: without them such a run would read "running" forever.
A run still "running" whose process is gone from this host, or whose heartbeat stopped (it ran
elsewhere), is reported as died, with the counts of the records it had recorded.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
import sqlalchemy as sa

from p2c_assets.connectors.protocol import TEXT
from p2c_assets.engine.ledger.database import Database
from p2c_assets.engine.ledger.tables import ERRORS, RUN_OUTCOMES, STATUSES, WRITTEN, now, record_events, runs

HOST = socket.gethostname()
HEARTBEAT_S = 15  # how often a held run says it is alive
KEYS_AT_ONCE = 50_000  # keys `written_in` fetches at a time
# silence after which a run counts as died: generous, so a busy database or a slow record() of a big
# run never makes a live run look dead; on its own host a dead run is seen at once from its pid
STALE_AFTER = timedelta(seconds=120)


@dataclass(frozen=True)
class RunSummary:
    id: int
    flow: str
    dagster_run_id: str | None
    dry_run: bool
    started_at: datetime
    finished_at: datetime | None
    status: str  # "running" until finish_run() or fail_run()
    counts: dict[str, int]  # of an unfinished run: from the record events it wrote so far
    requests: int
    host: str | None
    pid: int | None
    heartbeat_at: datetime | None
    error: str | None  # why a run that raised ended as failed
    died: bool  # "running", but its process is gone: it will never finish
    extracted: int = 0  # source rows read; = filtered_out + the counts for a finished run
    filtered_out: int = 0  # dropped by the template's row filter or routing rule


@dataclass(frozen=True)
class RecordEvent:
    """One record's outcome in one run (`parked` when that outcome parked it)."""

    run: int
    key: str
    legal_entity: str | None
    outcome: str
    error_code: str | None
    error_message: str | None


class Runs(Database):
    """Opening, finishing and reading back runs."""

    def start_run(self, flow: str, dagster_run_id: str | None = None, dry_run: bool = False) -> int:
        with self._writing() as conn:
            return self._insert_run(conn, flow, dagster_run_id, dry_run)

    def finish_run(self, run: int, counts: Mapping[str, int], requests: int = 0, status: str = "success",
                   extracted: int = 0, filtered_out: int = 0) -> None:
        if status not in STATUSES:
            raise ValueError(f"run {run}: status {status!r} is not one of {', '.join(STATUSES)}")
        unknown = sorted(set(counts) - set(RUN_OUTCOMES))
        if unknown:
            raise ValueError(f"run {run}: counts name unknown outcome(s) {unknown}; expected {', '.join(RUN_OUTCOMES)}")
        values = {outcome: int(counts.get(outcome, 0)) for outcome in RUN_OUTCOMES}
        with self._writing() as conn:
            updated = conn.execute(
                runs.update()
                .where(runs.c.id == run)
                .values(**values, requests=requests, status=status, finished_at=now(), extracted=extracted,
                        filtered_out=filtered_out)
            ).rowcount
        if not updated:
            raise ValueError(f"run {run} does not exist")

    def fail_run(self, run: int, error: BaseException | str) -> None:
        """End a run that raised before `finish_run()`: failed, with the error and the counts of the
        records it did record. A run that already finished is left as it is."""
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        with self._writing() as conn:
            counts = _event_counts(conn, [run]).get(run, {})
            conn.execute(
                runs.update()
                .where(runs.c.id == run, runs.c.status == "running")
                .values(**{o: counts.get(o, 0) for o in RUN_OUTCOMES}, status="failed", finished_at=now(), error=text)
            )

    def beat(self, run: int) -> None:
        """Say that the run's process is alive (see `HEARTBEAT_S`)."""
        with self._writing() as conn:
            conn.execute(runs.update().where(runs.c.id == run, runs.c.status == "running").values(heartbeat_at=now()))

    def run(self, run: int) -> RunSummary:
        with self._engine.connect() as conn:
            found = summaries(conn, runs.select().where(runs.c.id == run))
        if not found:
            raise ValueError(f"run {run} does not exist")
        return found[0]

    def history(self, flow: str | None = None, limit: int = 20) -> list[RunSummary]:
        """The latest runs, newest first."""
        query = runs.select().order_by(runs.c.id.desc()).limit(limit)
        if flow is not None:
            query = query.where(runs.c.flow == flow)
        with self._engine.connect() as conn:
            return summaries(conn, query)

    def run_errors(self, run: int) -> list[RecordEvent]:
        """Every rejected, failed, blocked or parked record of a run (not only the first five)."""
        self.run(run)  # a clear error for a run that does not exist
        query = (
            record_events.select()
            .where(record_events.c.run_id == run, record_events.c.outcome.in_(ERRORS))
            .order_by(record_events.c.natural_key)
        )
        with self._engine.connect() as conn:
            return [
                RecordEvent(row.run_id, row.natural_key, row.legal_entity, row.outcome, row.error_code, row.error_message)
                for row in conn.execute(query)
            ]

    def written_in(self, flow: str, dagster_run_id: str) -> pd.Index:
        """Keys of the records of `flow` that the ledger runs of one Dagster run created or updated:
        what that run's reconciliation needs to compare, without the records it left unchanged. Held
        by pyarrow (`TEXT`), `KEYS_AT_ONCE` made Python strings at a time on their way: a set of the
        765,000 contact persons' keys took 100 MB for the whole reconciliation."""
        events = record_events.c
        query = (sa.select(events.natural_key).distinct()
                 .join_from(record_events, runs, runs.c.id == events.run_id)
                 .where(runs.c.flow == flow, runs.c.dagster_run_id == dagster_run_id, events.outcome.in_(WRITTEN)))
        parts = [pd.Series([], dtype=TEXT)]
        with self._engine.connect() as conn:
            for chunk in conn.execution_options(yield_per=KEYS_AT_ONCE).scalars(query).partitions():
                parts.append(pd.Series(chunk, dtype=TEXT))
        return pd.Index(pd.concat(parts, ignore_index=True))

    @staticmethod
    def _insert_run(conn: sa.Connection, flow: str, dagster_run_id: str | None, dry_run: bool) -> int:
        started = now()
        return conn.execute(
            runs.insert()
            .values(flow=flow, dagster_run_id=dagster_run_id, dry_run=dry_run, started_at=started, status="running",
                    host=HOST, pid=os.getpid(), heartbeat_at=started)
            .returning(runs.c.id)
        ).scalar_one()


def died(row: sa.Row, at: datetime) -> bool:
    """Whether a run row still "running" at `at` belongs to a process that is gone.

    On this host the pid tells at once. Anywhere, a heartbeat silent for `STALE_AFTER` means the run's
    machine or process is lost (and covers a pid since reused by another process). Runs recorded
    before runs had a heartbeat fall back to their start time.
    """
    if row.status != "running":
        return False
    if at - (row.heartbeat_at or row.started_at) > STALE_AFTER:
        return True
    return row.host == HOST and row.pid is not None and not _process_exists(row.pid)


def _process_exists(pid: int) -> bool:
    if os.name == "nt":  # os.kill would terminate the process there: rely on the heartbeat alone
        return True
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def summaries(conn: sa.Connection, query: sa.Select) -> list[RunSummary]:
    rows = conn.execute(query).all()
    unfinished = _event_counts(conn, [row.id for row in rows if row.status == "running"])
    at = now()
    return [
        RunSummary(
            id=row.id,
            flow=row.flow,
            dagster_run_id=row.dagster_run_id,
            dry_run=row.dry_run,
            started_at=row.started_at,
            finished_at=row.finished_at,
            status=row.status,
            counts={o: unfinished[row.id].get(o, 0) if row.id in unfinished else row._mapping[o] for o in RUN_OUTCOMES},
            requests=row.requests,
            host=row.host,
            pid=row.pid,
            heartbeat_at=row.heartbeat_at,
            error=row.error,
            died=died(row, at),
            extracted=row.extracted,
            filtered_out=row.filtered_out,
        )
        for row in rows
    ]


def _event_counts(conn: sa.Connection, run_ids: list[int]) -> dict[int, dict[str, int]]:
    """Outcome counts of runs from their record events: what an unfinished run had recorded."""
    counts: dict[int, dict[str, int]] = {run: {} for run in run_ids}
    if run_ids:
        events = record_events.c
        query = (sa.select(events.run_id, events.outcome, sa.func.count())
                 .where(events.run_id.in_(run_ids)).group_by(events.run_id, events.outcome))
        for run, outcome, count in conn.execute(query):
            counts[run][outcome] = count
    return counts
