"""Run a job in-process with the same run config the UI would send, and summarise what it did."""

from __future__ import annotations

import dagster as dg

from p2c_assets.defs.graph import GRAPH
from p2c_assets.run_report import RunReport


def execute(job: str = "prospect_to_cash", *, resources: dict | None = None,
            instance: dg.DagsterInstance | None = None, log_level: str = "WARNING",
            tags: dict[str, str] | None = None, company: str | None = None, **config) -> dg.ExecuteInProcessResult:
    """`config` (full_resync, max_problem_share, min_problem_rows) goes to every target asset the job
    selects; `full_resync` also makes the source assets read everything again. `tags` go on the run,
    beside the job's own. The run covers one legal entity (`company`, a partition), or every mapped
    company when None (one run over the whole range of partitions)."""
    from p2c_assets.definitions import build_definitions
    from p2c_assets.flows.settings import load_settings

    job_def = build_definitions(resources).resolve_job_def(job)
    selected = set(job_def.graph.node_names())
    nodes = [node for node in GRAPH.nodes.values() if node.op_name in selected]
    ops = {node.op_name: {"config": config} for node in nodes if node.role == "target"}
    if config.get("full_resync"):
        ops.update({node.op_name: {"config": {"full_refresh": True}} for node in nodes if node.role == "source"})
    run_config = {"ops": ops, "loggers": {"console": {"config": {"log_level": log_level}}}}
    return job_def.execute_in_process(run_config=run_config, instance=instance or dg.DagsterInstance.ephemeral(),
                                      tags={**partition_tags(list(load_settings().companies), company), **(tags or {})},
                                      raise_on_error=False)


def partition_tags(companies: list[str], company: str | None) -> dict[str, str]:
    """The run tags of one legal entity's partition, or of the range over all of them."""
    if company is not None:
        if company not in companies:
            raise ValueError(f"legal entity {company!r} is not in 'companies' (p2c_flows.yaml): use one of "
                             f"{', '.join(companies)}")
        return {"dagster/partition": company}
    return {"dagster/asset_partition_range_start": companies[0], "dagster/asset_partition_range_end": companies[-1]}


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


def summary(report: RunReport, ledger_runs: dict[int, str], records_per_check: int = 3) -> str:
    """What `p2c run` prints: one row per target asset (counts) and per asset that failed or did not
    run (the cause or the reason), the warnings and errors with their first problem records, and the
    ledger runs to look up with `p2c history --run N` (`ledger_runs`: ledger run -> flow)."""
    targets = {a: m for a, m in report.materialized.items() if "rows_created" in m}
    columns = list(dict.fromkeys(c for m in targets.values() for c in [*m, "http_requests"]
                                 if c.startswith(("rows_", "http_requests"))))
    width = max([22, *(len(a) + 2 for a in report.planned)])
    lines = [f"{'asset':<{width}}" + "".join(f"{c.removeprefix('rows_').removeprefix('http_'):>13}"
                                            for c in columns)]
    for asset in report.planned:
        if asset in targets:
            lines.append(f"{asset:<{width}}" + "".join(f"{targets[asset].get(c, ''):>13}" for c in columns))
        elif asset in report.failures:
            lines.append(f"{asset:<{width}}failed: {report.failures[asset].line()}")
        elif asset in report.skipped:
            lines.append(f"{asset:<{width}}skipped: {report.skipped[asset]}")
    for label, cause in report.failures.items():
        if label not in report.planned:  # a separate check step (reconciliation ...)
            lines.append(f"{label:<{width}}failed: {cause.line()}")
    for check in report.checks:
        lines.append(f"{'error' if check.severity == 'ERROR' else 'warning'}: {check.line()}")
        lines += [f"  {line}" for line in check.problem_lines(records_per_check)]
    if ledger_runs:
        runs = ", ".join(f"{run} ({flow})" for run, flow in sorted(ledger_runs.items()))
        lines.append(f"ledger runs: {runs}; record by record: p2c history --run {min(ledger_runs)}")
    entities = f" in {report.legal_entities}" if report.legal_entities else ""
    lines.append(f"{report.job}{entities}: {report.status} (run {report.run_id}, exit code {report.exit_code})")
    return "\n".join(lines)
