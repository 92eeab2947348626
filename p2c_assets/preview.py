"""`p2c preview`: what a run would write, computed by the engine outside Dagster.

A dry run made as a Dagster run recorded a materialization of every target asset (a green asset
that wrote nothing, a moved freshness, an alert for its warnings). The preview instead reads each
flow's source the way the source assets do and calls `sync(dry_run=True)`, which compares with the
target and the ledger and writes nothing anywhere: not the services, not the ledger, not Dagster.
Dataverse sources are read in full, because the incremental read moves the change-tracking cursor.
"""

from __future__ import annotations

import pandas as pd

from p2c_assets.defs.assets import HEADER_FLOW, SOURCES, TARGETS, key
from p2c_assets.engine.extract import extract
from p2c_assets.engine.ledger import RUN_OUTCOMES
from p2c_assets.engine.sync import SyncReport, sync
from p2c_assets.flows.settings import Settings

_SOURCE = {s.name: s for s in SOURCES}
_TARGET_OF_FLOW = {flow: t for t in TARGETS for flow in t.flows}


def flows_of_job(op_names: set[str]) -> list[str]:
    """The flows a job's target assets run, in dependency order (`op_names`: the job's nodes)."""
    return [flow for t in TARGETS if f"{t.system}__{t.name}" in op_names for flow in t.flows]


def preview(flows: list[str], *, settings: Settings, dataverse, finops, ledger) -> list[tuple[str, SyncReport]]:
    """(target asset, report) per flow: what a run would create, update, leave unchanged or reject."""
    clients = {"sales": dataverse, "fo": finops}
    frames: dict[str, pd.DataFrame] = {}

    def source(name: str) -> pd.DataFrame:
        if name not in frames:
            spec = _SOURCE[name]
            headers = None
            if spec.header:  # only lines of headers the header flow sends, as the source asset does
                headers = source(spec.header)
                row_filter = settings.templates[HEADER_FLOW[spec.header]].row_filter
                headers = headers.query(row_filter) if row_filter else headers
            frames[name] = extract(clients[spec.system], settings.templates[spec.flow].source,
                                   companies=settings.companies, headers=headers)
        return frames[name]

    reports = []
    for flow in flows:
        target = _TARGET_OF_FLOW[flow]
        report = sync(settings.templates[flow], source(target.flows[flow]), client=clients[target.system],
                      ledger=ledger, companies=settings.companies, dry_run=True)
        reports.append((key(target.system, target.name).to_user_string(), report))
    return reports


def preview_text(reports: list[tuple[str, SyncReport]], diff_rows: int = 50) -> str:
    table = pd.DataFrame([{"asset": asset, "flow": r.flow, "extracted": r.extracted,
                           **{o: r.counts[o] for o in RUN_OUTCOMES}} for asset, r in reports])
    lines = ["Preview: nothing was written. Lines whose header is not in the target yet show as blocked;",
             "a run lands the header first.", "", table.to_string(index=False)]
    diffs = [r.field_diff.assign(flow=r.flow) for _, r in reports if not r.field_diff.empty]
    if diffs:
        diff = pd.concat(diffs, ignore_index=True)
        shown = f"first {diff_rows} of {len(diff)}" if len(diff) > diff_rows else f"{len(diff)}"
        lines += ["", f"Field changes ({shown}; '(record)' is a record the target does not have yet):",
                  diff[["flow", "key", "field", "source", "target"]].head(diff_rows).to_string(index=False)]
    return "\n".join(lines)
