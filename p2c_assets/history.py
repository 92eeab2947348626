"""`p2c history` as text: past runs with their counts per outcome, and every error of one run.

Plain functions returning strings, so the CLI only parses options and prints, and tests read the
same text a user sees. Tables are rendered by pandas, already a dependency.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from p2c_assets.engine.ledger import RUN_OUTCOMES, WRITTEN, Ledger, RecordEvent, RunSummary


def history_text(ledger: Ledger, flow: str | None = None, run: int | None = None, limit: int = 20) -> str:
    """What `p2c history [--flow F] [--run N]` prints."""
    if run is not None:
        return run_errors_table(ledger.run(run), ledger.run_errors(run))
    return history_table(ledger.history(flow=flow, limit=limit))


def history_table(runs: list[RunSummary]) -> str:
    if not runs:
        return "No runs recorded yet."
    frame = pd.DataFrame(
        [
            {
                "run": run.id,
                "flow": run.flow,
                "started": _time(run.started_at),
                "seconds": _seconds(run),
                "status": _status(run),
                "extracted": run.extracted,
                "filtered out": run.filtered_out,
                **run.counts,
                "requests": run.requests,
            }
            for run in runs
        ],
        columns=["run", "flow", "started", "seconds", "status", "extracted", "filtered out", *RUN_OUTCOMES,
                 "requests"],
    )
    return _render(frame)


def run_errors_table(run: RunSummary, errors: list[RecordEvent]) -> str:
    where = f" on {run.host}, pid {run.pid}" if run.host else ""  # runs recorded before runs had a host
    title = f"Run {run.id} of {run.flow} ({_status(run)}, started {_time(run.started_at)}{where})"
    lines = [f"{title}: {len(errors)} record error(s)" if errors else f"{title}: no record errors."]
    if run.died:
        written = sum(run.counts[outcome] for outcome in WRITTEN)
        lines.append(f"Its process is gone (last heartbeat {_time(run.heartbeat_at or run.started_at)}); "
                     f"{written} row(s) were recorded as written before it died.")
    if run.error:
        lines.append(f"It failed with: {run.error}")
    if errors:
        lines.append(_render(pd.DataFrame(
            [
                {
                    "key": error.key,
                    "legal entity": error.legal_entity or "",
                    "outcome": error.outcome,
                    "code": error.error_code or "",
                    # one line per record, whatever the service put in its message
                    "message": " ".join((error.error_message or "").split()),
                }
                for error in errors
            ]
        )))
    return "\n".join(lines)


def _render(frame: pd.DataFrame) -> str:
    """pandas right-aligns text; keys, names and messages read better left-aligned."""
    formatters = {
        column: f"{{:<{frame[column].str.len().max()}}}".format for column in frame.select_dtypes("object").columns
    }
    table = frame.to_string(index=False, justify="left", formatters=formatters)
    return "\n".join(line.rstrip() for line in table.splitlines())


def _status(run: RunSummary) -> str:
    """A killed or crashed run never finishes: "running" would be a lie once its process is gone."""
    return "died" if run.died else run.status


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _seconds(run: RunSummary) -> str:
    return f"{(run.finished_at - run.started_at).total_seconds():.1f}" if run.finished_at else ""


def problems_frame(ledger: Ledger, flow: str | None = None, outcome: str | None = None) -> pd.DataFrame:
    """Every problem record (rejected, failed, blocked, parked) with what a user needs to fix it."""
    return pd.DataFrame(
        [
            {
                "flow": p.flow,
                "key": p.key,
                "legal entity": p.legal_entity or "",
                "outcome": p.outcome,
                "attempts": p.attempts,
                "since": _time(p.since) if p.since else "",
                "last landed": _time(p.last_synced) if p.last_synced else "never",
                "code": p.error_code or "",
                "reason": " ".join((p.error_message or "").split()),
            }
            for p in ledger.problems(flow=flow, outcome=outcome)
        ],
        columns=["flow", "key", "legal entity", "outcome", "attempts", "since", "last landed", "code", "reason"],
    )


def problems_text(frame: pd.DataFrame) -> str:
    """What `p2c problems` prints: the rows, then how many of each outcome."""
    if frame.empty:
        return "No problem records: every record's last outcome landed."
    totals = ", ".join(f"{n} {o}" for o, n in frame["outcome"].value_counts().items())
    return f"{_render(frame)}\n{len(frame)} problem record(s): {totals}"
