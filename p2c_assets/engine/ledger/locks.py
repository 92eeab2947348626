"""One run at a time per flow, across processes and machines.

Why: two runs of a flow started together both read the ledger before either has recorded, so both
send the same new records; the target answers the second with "already exists" and that run records
rows that landed as failed. So a run holds its flow from its first read of the ledger to its last
record, and a second run waits for it, or stops saying which run holds the flow.

A flow is held per legal entity: a run names the companies it syncs and holds the flow in each of
them (`accounts@usmf`), so runs of different legal entities (partitions) go side by side, and a run
over every company waits for, and holds off, each one-company run of the flow. A run that names no
company (a test, a script) holds the flow in every one.

How: the lock lives in the ledger's own database, so it holds for every process that shares the
ledger (several machines with PostgreSQL). `p2c_flow_locks` has one row per flow naming the run that
took it last; that run holds the flow while it is running and alive (see `runs.died`: its pid on its
own host, its heartbeat anywhere). Nothing has to release a lock: a finished run holds nothing, and the
lock of a killed run is taken over at once on the same host, or once its heartbeat is stale elsewhere.
Taking the lock is one short transaction, serialised per flow: BEGIN IMMEDIATE on SQLite, and on
PostgreSQL a transaction-level advisory lock on a key derived from the flow name (transaction-level,
so a dead session never leaves it behind and it works behind PgBouncer's transaction pooling).
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from p2c_assets.engine.ledger.runs import HEARTBEAT_S, Runs, RunSummary, summaries
from p2c_assets.engine.ledger.tables import flow_locks, runs

WAIT_ENV = "P2C_LOCK_WAIT_S"
DEFAULT_WAIT_S = 600.0  # shorter than a schedule interval would let runs pile up behind a slow one
_POLL_S = 1.0

log = logging.getLogger(__name__)


class FlowLocked(RuntimeError):
    """Another run held the flow for longer than this one would wait; this one wrote nothing of it."""

    def __init__(self, flow: str, holder: RunSummary, waited_s: float, companies: tuple[str, ...] = ()):
        self.flow, self.holder, self.waited_s = flow, holder, waited_s
        where = f" (legal entities {', '.join(companies)})" if companies else ""
        super().__init__(
            f"flow {flow!r} is being synced by ledger run {holder.id} on host {holder.host} (pid {holder.pid}), "
            f"started {holder.started_at:%Y-%m-%d %H:%M:%S} UTC; gave up after waiting {waited_s:g} s "
            f"({WAIT_ENV}). Nothing of this flow was written by this run{where}; see `p2c history --flow {flow}`."
        )


class Locks(Runs):
    """Runs that hold their flow: `running()`."""

    heartbeat_s: float = HEARTBEAT_S  # an attribute, so a test can watch a few beats in a second

    @contextmanager
    def running(self, flow: str, dagster_run_id: str | None = None, *, companies: Iterable[str] = (),
                wait_s: float | None = None) -> Iterator[int]:
        """Hold `flow` (in each of `companies`) and an open run of it for the block; yields the run id.

        Waits while another run holds the flow, up to `wait_s` seconds (default: `P2C_LOCK_WAIT_S`,
        else 600), then raises `FlowLocked` naming that run. While the block lasts the run keeps a
        heartbeat. The block ends the run with `finish_run()`; if it raises instead (or returns
        without finishing), the run ends as failed with the error, so it never stays "running".
        """
        run = self._claim_within(flow, tuple(sorted(companies)), dagster_run_id, _wait_s(wait_s))
        stop = threading.Event()
        heart = threading.Thread(target=self._keep_beating, args=(run, stop), name=f"p2c-run-{run}", daemon=True)
        heart.start()
        try:
            yield run
        except BaseException as error:
            self.fail_run(run, error)
            raise
        finally:
            stop.set()
            heart.join()
        self.fail_run(run, "the run ended without recording its result")  # no-op once finish_run() ran

    def _claim_within(self, flow: str, companies: tuple[str, ...], dagster_run_id: str | None, wait_s: float) -> int:
        deadline = time.monotonic() + wait_s
        claimed = self._claim(flow, companies, dagster_run_id)
        if isinstance(claimed, RunSummary) and wait_s > 0:
            log.info("flow %r is held by ledger run %s (host %s, pid %s); waiting up to %g s",
                     flow, claimed.id, claimed.host, claimed.pid, wait_s)
        while isinstance(claimed, RunSummary):
            left = deadline - time.monotonic()
            if left <= 0:
                raise FlowLocked(flow, claimed, wait_s, companies)
            time.sleep(min(_POLL_S, left))
            claimed = self._claim(flow, companies, dagster_run_id)
        return claimed

    def _claim(self, flow: str, companies: tuple[str, ...], dagster_run_id: str | None) -> int | RunSummary:
        """Open a run holding `flow` in `companies` (the whole flow without any) and return its id, or
        return a live run that holds it there."""
        names = [f"{flow}@{company}" for company in companies] or [flow]
        with self._writing() as conn:
            if self._dialect is postgresql:  # claims of one flow, short transactions, go one at a time
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_lock_key(flow))))
            held = conn.execute(sa.select(flow_locks.c.flow, flow_locks.c.run_id).where(
                (flow_locks.c.flow == flow) | flow_locks.c.flow.startswith(f"{flow}@", autoescape=True))).all()
            # the whole flow's holder and ours in common conflict; a whole-flow claim conflicts with all
            clashing = [run for name, run in held if not companies or name == flow or name in names]
            for holder in summaries(conn, sa.select(runs).where(runs.c.id.in_(clashing))):
                if holder.status == "running" and not holder.died:
                    return holder
            run = self._insert_run(conn, flow, dagster_run_id, dry_run=False)
            take = self._dialect.insert(flow_locks).values([{"flow": name, "run_id": run} for name in names])
            conn.execute(take.on_conflict_do_update(index_elements=[flow_locks.c.flow],
                                                    set_={"run_id": take.excluded.run_id}))
            return run

    def _keep_beating(self, run: int, stop: threading.Event) -> None:
        while not stop.wait(self.heartbeat_s):
            try:
                self.beat(run)
            except sa.exc.SQLAlchemyError as error:  # the next beat may get through; the run goes on
                log.warning("ledger run %s: heartbeat not written: %s", run, error)


def _lock_key(flow: str) -> int:
    """The PostgreSQL advisory lock key of a flow: a signed 64-bit number, the same in every process."""
    digest = hashlib.blake2b(f"p2c flow lock {flow}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _wait_s(given: float | None) -> float:
    if given is None:
        raw = os.environ.get(WAIT_ENV) or str(DEFAULT_WAIT_S)
        try:
            given = float(raw)
        except ValueError:
            raise ValueError(f"{WAIT_ENV}={raw!r}: expected a number of seconds") from None
    if not math.isfinite(given) or given < 0:
        raise ValueError(f"lock wait must be a finite number of seconds, at least 0; got {given} ({WAIT_ENV})")
    return given
