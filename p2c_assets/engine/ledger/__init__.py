"""The sync ledger: what every flow last did with every record, kept in a real SQL database.

Why: users of Data Integrator and dual-write suffer whole runs re-pushed because one record failed,
errors cut to the first five, and runs that say "completed" while nothing moved. The ledger makes
runs incremental, failures retryable one record at a time, and history provable.

One class for callers, one module per concern behind it, each small enough to read on its own:

- `tables`: the schema (owned by the Alembic revisions in `migrations/`) and the outcome vocabulary
- `database`: which database, safe concurrent writes on SQLite and PostgreSQL, `upgrade()`
- `runs`: one row per sync of a flow, its counts, where its process lives, `history()`, `run_errors()`
- `locks`: one run at a time per flow, across machines: `running()`
- `records`: per-record state and events, `record()`, `states()`, parking
- `cursors`: delta links and the source snapshots behind incremental extraction
"""

from p2c_assets.engine.ledger.cursors import Cursors
from p2c_assets.engine.ledger.database import MIGRATIONS
from p2c_assets.engine.ledger.locks import WAIT_ENV, FlowLocked, Locks
from p2c_assets.engine.ledger.records import ProblemRecord, RecordOutcome, Records, RecordState, States
from p2c_assets.engine.ledger.runs import RecordEvent, RunSummary
from p2c_assets.engine.ledger.tables import OUTCOMES, RUN_OUTCOMES, STATUSES, VERSION_TABLE, WRITTEN, metadata


class Ledger(Locks, Records, Cursors):
    """Durable per-record sync state for all flows, on SQLite or PostgreSQL."""


__all__ = [
    "MIGRATIONS",
    "OUTCOMES",
    "RUN_OUTCOMES",
    "STATUSES",
    "VERSION_TABLE",
    "WAIT_ENV",
    "WRITTEN",
    "FlowLocked",
    "Ledger",
    "RecordEvent",
    "RecordOutcome",
    "ProblemRecord",
    "RecordState",
    "RunSummary",
    "States",
    "metadata",
]
