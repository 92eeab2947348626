"""Turns validation results and sync reports into what a user reads in the Dagster UI.

Severity follows what an integration engineer needs: some rejected rows is a warning (they are kept
and retried), more than the allowed share is an error that blocks downstream assets, and any write
failure, blocked line or run that moved nothing while rows were pending is an error too. A run is never
green while nothing moved.
"""

from __future__ import annotations

from collections import Counter

import dagster as dg
import pandas as pd
import pandera.pandas as pa

from p2c_assets.engine.ledger import RUN_OUTCOMES as OUTCOMES
from p2c_assets.engine.validate import validate


def table(frame: pd.DataFrame, limit: int = 20) -> dg.MetadataValue:
    sample = frame.head(limit).astype(str)
    return dg.MetadataValue.table(
        records=[dg.TableRecord(r) for r in sample.to_dict(orient="records")],
        schema=dg.TableSchema(columns=[dg.TableColumn(str(c), "string") for c in sample.columns]),
    )


def column_schema(schema: pa.DataFrameSchema) -> dg.TableSchema:
    """The entity's pandera columns as the asset's Columns tab (before the first run too)."""
    return dg.TableSchema(columns=[
        dg.TableColumn(name, (column.metadata or {}).get("kind", "string"), description=column.description,
                       constraints=dg.TableColumnConstraints(
                           nullable=column.nullable, other=[str(c.error) for c in column.checks if c.error]))
        for name, column in schema.columns.items()])


def source_check(schema: pa.DataFrameSchema, frame: pd.DataFrame, asset_key: dg.AssetKey) -> dg.AssetCheckResult:
    """Source data quality, reported not enforced: the target schema decides what is sent."""
    checked = validate(schema, frame)
    failures = len(checked.reasons)
    return dg.AssetCheckResult(
        asset_key=asset_key, check_name="pandera_schema", passed=failures == 0,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{failures} of {len(frame)} source rows fail {schema.name}" if failures else None,
        metadata={"rows": len(frame), "failing_rows": failures,
                  "failures_by_rule": dg.MetadataValue.md(_md(checked.by_rule)),
                  "failure_sample": table(checked.sample)},
    )


def target_checks(reports, asset_key: dg.AssetKey, max_share: float) -> list[dg.AssetCheckResult]:
    counts = sum((r.counts for r in reports), Counter())
    considered = sum(counts[o] for o in OUTCOMES) or 1
    share = counts["rejected"] / considered
    rejected = pd.concat([r.rejected.assign(flow=r.flow) for r in reports], ignore_index=True)
    by_rule = pd.concat([r.by_rule for r in reports], ignore_index=True)
    valid = dg.AssetCheckResult(
        asset_key=asset_key, check_name="valid_rows", passed=counts["rejected"] == 0,
        severity=dg.AssetCheckSeverity.ERROR if share > max_share else dg.AssetCheckSeverity.WARN,
        description=(f"{counts['rejected']} rows rejected ({share:.1%}; error above {max_share:.0%})"
                     if counts["rejected"] else None),
        metadata={"rejected": counts["rejected"], "rejected_share": round(share, 4),
                  "failures_by_rule": dg.MetadataValue.md(_md(by_rule)),
                  "rejected_sample": table(rejected)},
    )
    failed = pd.concat([r.failed.assign(flow=r.flow) for r in reports], ignore_index=True)
    pending = sum(r.pending for r in reports)
    moved = counts["created"] + counts["updated"]
    stalled = pending > 0 and moved == 0 and not any(r.dry_run for r in reports)
    problems = []
    if counts["failed"]:
        problems.append(f"{counts['failed']} rows failed on the target")
    if counts["blocked"]:
        problems.append(f"{counts['blocked']} lines blocked by their header")
    if counts["parked"]:
        problems.append(f"{counts['parked']} rows parked after repeated failures (retry_failed job or p2c unpark)")
    if stalled:
        problems.append(f"{pending} rows were pending and nothing moved")
    # lines blocked by a rejected header are that rejection's echo (a warning); anything the target
    # refused, rows parked, or a run that moved nothing while rows were pending is an error
    serious = counts["failed"] or counts["parked"] or stalled
    landed = dg.AssetCheckResult(
        asset_key=asset_key, check_name="writes_landed", passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR if serious else dg.AssetCheckSeverity.WARN,
        description="; ".join(problems) or None,
        metadata={"failed": counts["failed"], "blocked": counts["blocked"], "parked": counts["parked"], "failed_sample": table(failed)},
    )
    return [valid, landed]


def report_metadata(reports) -> dict:
    counts = sum((r.counts for r in reports), Counter())
    written = counts["created"] + counts["updated"]
    metadata: dict = {"result": (f"{counts['created']} created, {counts['updated']} updated, "
                                 f"{counts['unchanged']} unchanged" if written else
                                 f"no changes: {counts['unchanged']} rows unchanged, nothing written")}
    metadata.update({f"rows_{o}": counts[o] for o in OUTCOMES})
    metadata.update({
        "rows_extracted": sum(r.extracted for r in reports),
        "http_requests": sum(r.requests for r in reports),
        "duration_s": round(sum(r.duration_s for r in reports), 2),
        "dry_run": any(r.dry_run for r in reports),
        "summary": dg.MetadataValue.md(_md(pd.DataFrame(
            [{"flow": r.flow, **{o: r.counts[o] for o in OUTCOMES}, "requests": r.requests} for r in reports]))),
        "preview": dg.MetadataValue.md(_md(pd.concat([r.preview for r in reports]).head(5))),
    })
    diff = pd.concat([r.field_diff for r in reports if not r.field_diff.empty] or [pd.DataFrame()])
    if not diff.empty:
        metadata["dry_run_field_diff"] = table(diff)
    if any(r.run_id for r in reports):
        metadata["ledger_runs"] = ", ".join(str(r.run_id) for r in reports if r.run_id)
    return metadata


def _md(frame: pd.DataFrame) -> str:
    return frame.to_markdown(index=False) if not frame.empty else "(none)"
