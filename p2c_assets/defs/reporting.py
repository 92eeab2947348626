"""Turns validation results and sync reports into what a user reads in the Dagster UI.

Severity follows what an integration engineer needs: problem rows (rejected, failed, blocked, parked)
are a warning, listed record by record, and the rest of the flow and the flows after it go on; only a
problem share that looks systemic (above the allowed share of the rows attempted and a minimum count)
is an error that blocks downstream assets.
"""

from __future__ import annotations

from collections import Counter

import dagster as dg
import pandas as pd
import pandera.pandas as pa

from p2c_assets.engine.sync import OUTCOMES, PROBLEM_COLUMNS, PROBLEMS
from p2c_assets.engine.validate import validate

PROBLEM_ROWS = 300  # problem rows shown in the UI; `p2c problems` lists them all


def table(frame: pd.DataFrame, limit: int = 20) -> dg.MetadataValue:
    """A UI table of the first `limit` rows (samples); problem lists use `problems_table`."""
    sample = frame.head(limit).astype(str)
    return dg.MetadataValue.table(
        records=[dg.TableRecord(r) for r in sample.to_dict(orient="records")],
        schema=dg.TableSchema(columns=[dg.TableColumn(str(c), "string") for c in sample.columns]),
    )


def source_check(schema: pa.DataFrameSchema, frame: pd.DataFrame, asset_key: dg.AssetKey) -> dg.AssetCheckResult:
    """Source data quality, reported not enforced: the target schema decides what is sent.

    A lookup is read as its `_x_value` GUID, never as the natural value a write binds it by, so the
    bound columns of an entity set that is written too (Sales orders) are not looked for here."""
    binds = [name for name, column in schema.columns.items() if (column.metadata or {}).get("kind") == "bind"]
    checked = validate(schema.remove_columns(binds), frame)
    failures = len(checked.reasons)
    return dg.AssetCheckResult(
        asset_key=asset_key, check_name="pandera_schema", passed=failures == 0,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{failures} of {len(frame)} source rows fail {schema.name}" if failures else None,
        metadata={"rows": len(frame), "failing_rows": failures,
                  "failures_by_rule": dg.MetadataValue.md(_md(checked.by_rule)),
                  "failure_sample": table(checked.sample)},
    )


def check_summary(check: dg.AssetCheckResult) -> dict:
    """What a source schema check found, kept beside the frames it checked (`LegalEntityFrames`)."""
    return {"passed": check.passed, "description": check.description,
            **{name: check.metadata[name].value for name in ("rows", "failing_rows", "failures_by_rule")}}


def stored_check(schema: pa.DataFrameSchema, summary: dict, asset_key: dg.AssetKey) -> dg.AssetCheckResult:
    """The source schema check of rows stored unchanged since it ran on them: its findings again (the
    failure sample stays with that materialization)."""
    return dg.AssetCheckResult(
        asset_key=asset_key, check_name="pandera_schema", passed=summary["passed"],
        severity=dg.AssetCheckSeverity.WARN, description=summary["description"],
        metadata={"rows": summary["rows"], "failing_rows": summary["failing_rows"],
                  "failures_by_rule": dg.MetadataValue.md(summary["failures_by_rule"]),
                  "checked": f"the same {schema.name} rows, when they were last materialized"})


def target_checks(reports, asset_key: dg.AssetKey, max_share: float, min_rows: int) -> list[dg.AssetCheckResult]:
    """`valid_rows` and `writes_landed`: WARN for problem rows, ERROR (blocking downstream) only when
    the problems look systemic: more than `max_share` of the rows this run attempted AND at least
    `min_rows` of them. One bad account among 20 is that account's problem, not the business's."""
    counts = sum((r.counts for r in reports), Counter())
    attempted = sum(r.attempted for r in reports)
    problems = problem_rows(reports)
    by_rule = pd.concat([r.by_rule for r in reports], ignore_index=True)

    def severity(n: int) -> dg.AssetCheckSeverity:
        systemic = n >= min_rows and n > max_share * attempted
        return dg.AssetCheckSeverity.ERROR if systemic else dg.AssetCheckSeverity.WARN

    def share(n: int) -> str:
        return (f"{n} of {attempted} rows attempted ({n / max(attempted, 1):.0%}); blocks downstream above "
                f"{max_share:.0%} and {min_rows} rows")

    rejected = problems[problems["outcome"] == "rejected"]
    valid = dg.AssetCheckResult(
        asset_key=asset_key, check_name="valid_rows", passed=counts["rejected"] == 0,
        severity=severity(counts["rejected"]),
        description=f"rejected: {share(counts['rejected'])}" if counts["rejected"] else None,
        metadata={"rejected": counts["rejected"], "attempted": attempted,
                  "failures_by_rule": dg.MetadataValue.md(_md(by_rule)),
                  "rejected_rows": problems_table(rejected, reports)},
    )
    found = [f"failed: {share(counts['failed'])}" if counts["failed"] else "",
             f"{counts['parked']} rows parked (retried when their source changes or one row with the same "
             f"error lands; `p2c unpark` retries them now)" if counts["parked"] else "",
             f"{counts['blocked']} lines blocked by a header that did not land" if counts["blocked"] else ""]
    landed = dg.AssetCheckResult(
        asset_key=asset_key, check_name="writes_landed", passed=not any(found),
        severity=severity(counts["failed"]), description="; ".join(f for f in found if f) or None,
        metadata={"failed": counts["failed"], "blocked": counts["blocked"], "parked": counts["parked"],
                  "attempted": attempted,
                  "problem_rows": problems_table(problems[problems["outcome"] != "rejected"], reports)},
    )
    return [valid, landed]


def problem_rows(reports) -> pd.DataFrame:
    frames = [r.problems.assign(flow=r.flow) for r in reports if not r.problems.empty]
    return (pd.concat(frames, ignore_index=True) if frames
            else pd.DataFrame(columns=["flow", *PROBLEM_COLUMNS]))[["flow", *PROBLEM_COLUMNS]]


def problems_table(problems: pd.DataFrame, reports) -> dg.MetadataValue:
    """Every problem row up to PROBLEM_ROWS, then 'N of M' and the command that lists the rest."""
    if len(problems) <= PROBLEM_ROWS:
        return table(problems, PROBLEM_ROWS)
    flows = " ".join(f"--flow {r.flow}" for r in reports[:1])
    return dg.MetadataValue.md(f"{PROBLEM_ROWS} of {len(problems)} rows (all: `p2c problems {flows}`)\n\n"
                               + _md(problems.head(PROBLEM_ROWS)))


def report_metadata(reports) -> dict:
    counts = sum((r.counts for r in reports), Counter())
    extracted = sum(r.extracted for r in reports)
    filtered = sum(r.filtered for r in reports)
    written = counts["created"] + counts["updated"]
    result = (f"{counts['created']} created, {counts['updated']} updated, {counts['unchanged']} unchanged"
              if written else f"no changes: {counts['unchanged']} rows unchanged, nothing written")
    planned = sum(r.planned for r in reports)
    if all(r.settled for r in reports):  # nothing planned: see engine.settled
        result += " (source, rules and ledger as the last run left them: rows not mapped again)"
    elif planned < extracted:  # the rows changed since the flows settled, alone: see engine.settled
        result += f" ({planned} of {extracted} source rows planned: the others as the last run left them)"
    troubles = ", ".join(f"{counts[o]} {o}" for o in PROBLEMS if counts[o])
    metadata: dict = {"result": result + (f"; {troubles}" if troubles else "")}
    metadata.update({"rows_extracted": extracted, "rows_filtered_out": filtered})
    metadata.update({f"rows_{o}": counts[o] for o in OUTCOMES})
    metadata.update({
        "http_requests": sum(r.requests for r in reports),
        "duration_s": round(sum(r.duration_s for r in reports), 2),
        "dry_run": any(r.dry_run for r in reports),
        # extracted = filtered out + every outcome, per flow
        "summary": dg.MetadataValue.md(_md(pd.DataFrame(
            [{"flow": r.flow, "extracted": r.extracted, "filtered out": r.filtered,
              **{o: r.counts[o] for o in OUTCOMES}, "filter": r.filter_rule or "", "requests": r.requests,
              "planned": r.planned, "settled": "yes" if r.settled else ""}
             for r in reports]))),
        "problem_rows": problems_table(problem_rows(reports), reports),
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
