"""`p2c preview`: what a run would write, computed by the engine outside Dagster.

A dry run made as a Dagster run recorded a materialization of every target asset (a green asset
that wrote nothing, a moved freshness, an alert for its warnings). The preview instead reads each
flow's source the way the source assets do and calls `sync(dry_run=True)`, which compares with the
target and the ledger and writes nothing anywhere: not the services, not the ledger, not Dagster.
Dataverse sources are read in full, because the incremental read moves the change-tracking cursor.
"""

from __future__ import annotations

import pandas as pd

from p2c_assets.defs.graph import GRAPH
from p2c_assets.engine.extract import extract
from p2c_assets.engine.ledger import RUN_OUTCOMES
from p2c_assets.engine.sync import SyncReport, sync
from p2c_assets.flows.settings import Settings


def flows_of_job(op_names: set[str]) -> list[str]:
    """The flows a job's target assets run, in dependency order (`op_names`: the job's nodes)."""
    return [flow for node in GRAPH.nodes.values() if node.role == "target" and node.op_name in op_names
            for flow in node.flows]


def preview(flows: list[str], *, settings: Settings, dataverse, finops, ledger) -> list[tuple[str, SyncReport]]:
    """(target asset, report) per flow: what a run would create, update, leave unchanged or reject."""
    clients = {"sales": dataverse, "fo": finops}
    frames: dict[str, pd.DataFrame] = {}

    def source(flow: str) -> pd.DataFrame:
        node = GRAPH.source_of(flow)
        if node.name not in frames:
            headers = None
            if node.inputs:  # only lines of headers the header flow sends, as the source asset does
                header_flow = GRAPH.nodes[node.inputs[0]].flows[0]
                headers = source(header_flow)
                row_filter = settings.templates[header_flow].row_filter
                headers = headers.query(row_filter) if row_filter else headers
            frames[node.name] = extract(clients[node.system], settings.templates[node.flows[0]].source,
                                        companies=settings.companies, headers=headers)
        return frames[node.name]

    reports = []
    for flow in flows:
        target = GRAPH.target_of(flow)
        report = sync(settings.templates[flow], source(flow), client=clients[target.system],
                      ledger=ledger, companies=settings.companies, dry_run=True)
        reports.append((target.name, report))
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
