"""Runs: one row per sync of one flow, with its counts per outcome, and every record error it had.

Why: Data Integrator users see errors cut to the first five and runs that say "completed" while
nothing moved. A run row opened before the first write and finished with its counts, plus the
per-record events of `records.py`, lets `p2c history` prove what each run did, record by record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from p2c_assets.engine.ledger.database import Database
from p2c_assets.engine.ledger.tables import ERRORS, RUN_OUTCOMES, STATUSES, now, record_events, runs


@dataclass(frozen=True)
class RunSummary:
    id: int
    flow: str
    dagster_run_id: str | None
    dry_run: bool
    started_at: datetime
    finished_at: datetime | None
    status: str  # "running" until finish_run()
    counts: dict[str, int]
    requests: int


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
            return conn.execute(
                runs.insert()
                .values(flow=flow, dagster_run_id=dagster_run_id, dry_run=dry_run, started_at=now(), status="running")
                .returning(runs.c.id)
            ).scalar_one()

    def finish_run(self, run: int, counts: Mapping[str, int], requests: int = 0, status: str = "success") -> None:
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
                .values(**values, requests=requests, status=status, finished_at=now())
            ).rowcount
        if not updated:
            raise ValueError(f"run {run} does not exist")

    def run(self, run: int) -> RunSummary:
        with self._engine.connect() as conn:
            row = conn.execute(runs.select().where(runs.c.id == run)).one_or_none()
        if row is None:
            raise ValueError(f"run {run} does not exist")
        return _summary(row)

    def history(self, flow: str | None = None, limit: int = 20) -> list[RunSummary]:
        """The latest runs, newest first."""
        query = runs.select().order_by(runs.c.id.desc()).limit(limit)
        if flow is not None:
            query = query.where(runs.c.flow == flow)
        with self._engine.connect() as conn:
            return [_summary(row) for row in conn.execute(query)]

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


def _summary(row: sa.Row) -> RunSummary:
    return RunSummary(
        id=row.id,
        flow=row.flow,
        dagster_run_id=row.dagster_run_id,
        dry_run=row.dry_run,
        started_at=row.started_at,
        finished_at=row.finished_at,
        status=row.status,
        counts={outcome: row._mapping[outcome] for outcome in RUN_OUTCOMES},
        requests=row.requests,
    )
