"""Run a job in-process with the same run config the UI would send, and summarise what it did."""

from __future__ import annotations

import dagster as dg

from p2c_assets.defs.assets import SOURCES, TARGETS

COLUMNS = ("rows_extracted", "rows_created", "rows_updated", "rows_unchanged", "rows_rejected",
           "rows_failed", "rows_blocked", "http_requests")


def execute(job: str = "prospect_to_cash", *, resources: dict | None = None,
            instance: dg.DagsterInstance | None = None, log_level: str = "WARNING",
            **config) -> dg.ExecuteInProcessResult:
    """`config` (dry_run, full_resync, max_reject_share) goes to every target asset the job selects;
    `full_resync` also makes the source assets read everything again."""
    from p2c_assets.definitions import build_definitions

    job_def = build_definitions(resources).resolve_job_def(job)
    selected = set(job_def.graph.node_names())
    ops = {f"{t.system}__{t.name}": {"config": config} for t in TARGETS if f"{t.system}__{t.name}" in selected}
    if config.get("full_resync"):
        ops.update({f"{s.system}__{s.name}": {"config": {"full_refresh": True}} for s in SOURCES
                    if f"{s.system}__{s.name}" in selected})
    run_config = {"ops": ops, "loggers": {"console": {"config": {"log_level": log_level}}}}
    return job_def.execute_in_process(run_config=run_config, instance=instance or dg.DagsterInstance.ephemeral(),
                                      raise_on_error=False)


def materialization_metadata(result: dg.ExecuteInProcessResult) -> dict[str, dict]:
    """Asset key -> materialization metadata values, for every asset of a run."""
    return {event.materialization.asset_key.to_user_string():
            {k: v.value for k, v in event.materialization.metadata.items()}
            for event in result.get_asset_materialization_events()}


def target_metadata(result: dg.ExecuteInProcessResult) -> dict[str, dict]:
    """The same, for the target assets (the ones that write) only."""
    return {k: m for k, m in materialization_metadata(result).items() if "rows_created" in m}


def failed_checks(result: dg.ExecuteInProcessResult) -> list[str]:
    return [f"{e.asset_key.to_user_string()} {e.check_name} ({e.severity.value}): {e.description or ''}"
            for e in result.get_asset_check_evaluations() if not e.passed]


def summary(result: dg.ExecuteInProcessResult) -> str:
    header = f"{'asset':<22}" + "".join(f"{c.removeprefix('rows_').removeprefix('http_'):>10}" for c in COLUMNS)
    lines = [header]
    for asset, meta in target_metadata(result).items():
        lines.append(f"{asset:<22}" + "".join(f"{meta[c]:>10}" for c in COLUMNS))
    lines += [f"check failed: {c}" for c in failed_checks(result)]
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            lines.append(f"step failed: {event.step_key}: {event.event_specific_data.error.message.strip()[:500]}")
    green = result.success and not failed_checks(result)
    lines.append(f"{result.job_def.name}: {'success' if green else 'needs attention'} (run {result.run_id})")
    return "\n".join(lines)
