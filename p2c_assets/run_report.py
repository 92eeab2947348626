"""What a run did, read back from its events in the Dagster instance.

`p2c run` prints it and the alert sensor posts it, so the terminal and the alert tell the same story:
the counts of every target asset, the failed checks with their first problem records, the cause of
every failed step (the error the connector raised, not Dagster's "Error occurred while executing op"
wrapper) and why a step did not run at all. Dagster records no event for a step it skips, so skipped
steps are the planned assets that never started, explained by their upstream assets.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from p2c_assets.connectors.errors import ConnectorError, ServiceError
from p2c_assets.defs.graph import GRAPH
from p2c_assets.flows.settings import TemplateConfigError, load_settings

#: Outcomes that are a row's problem: what an alert counts, run after run.
PROBLEM_OUTCOMES = ("rejected", "failed", "parked")

#: Upstream assets of every asset, in dependency order, as the flow graph wires them.
PARENTS: dict[str, list[str]] = {node.name: [k.to_user_string() for k in node.upstream]
                                  for node in GRAPH.nodes.values()}
#: Flows (template names, as in `p2c history --flow`) that read or write each asset.
FLOWS: dict[str, list[str]] = {node.name: list(node.flows) for node in GRAPH.nodes.values()}
_OP_NAMES = {name.replace("/", "__"): name for name in PARENTS}


def _subclass_names(cls: type) -> set[str]:
    return {cls.__name__, *(n for sub in cls.__subclasses__() for n in _subclass_names(sub))}


#: Errors that mean the setup is wrong, not the data: service unreachable, credentials refused, a bad
#: overrides file. Any ConnectorError except an HTTP answer (ServiceError), which is the service
#: refusing a request and is reported as a failed sync.
SETUP_ERRORS = (_subclass_names(ConnectorError) - _subclass_names(ServiceError)) | {TemplateConfigError.__name__}


@dataclass(frozen=True)
class Cause:
    """The innermost error user code raised in a step: its class name and its own message."""

    kind: str
    message: str

    @property
    def setup(self) -> bool:
        return self.kind in SETUP_ERRORS

    @classmethod
    def of(cls, error) -> Cause:
        """Unwraps Dagster's wrappers (DagsterExecutionStepExecutionError ...) to the error raised inside."""
        while error.cause is not None and error.cls_name.startswith("Dagster"):
            error = error.cause
        text = error.message.strip()
        prefix, _, rest = text.partition(": ")
        if prefix.rsplit(".", 1)[-1] == error.cls_name:  # "p2c_assets.connectors.errors.AuthenticationError: ..."
            text = rest
        return cls(error.cls_name, " ".join(text.split()))

    def line(self) -> str:
        """`AuthenticationError: token request ... refused: invalid_client ...`; a `dg.Failure` is the
        asset's own words and needs no class name."""
        return self.message if self.kind == "Failure" else f"{self.kind}: {self.message}"


@dataclass(frozen=True)
class CheckFailure:
    """A failed asset check with its integer metadata and the rows of its sample tables."""

    asset: str
    check: str
    severity: str  # "ERROR" or "WARN"
    blocking: bool
    description: str
    counts: dict[str, int]
    records: list[dict[str, str]]

    def line(self) -> str:
        return f"{self.asset} {self.check} ({self.severity}): {self.description or 'failed'}"

    def problem_lines(self, limit: int) -> list[str]:
        """The first problem records, one line each: `key: reason`."""
        return [record_line(r) for r in self.records[:limit]]


def record_line(record: dict[str, str]) -> str:
    """`usmf|ACC-9 (failed): The value 'GBP' in field 'Currency' is not found`, from whatever columns
    the check's table has (tables are rendered as text, so a missing value reads "None")."""
    given = {k: v for k, v in record.items() if v not in ("", "None", "nan")}
    reason = given.get("reason") or given.get("error_message") or ", ".join(
        f"{k}={v}" for k, v in given.items() if k not in ("key", "flow", "outcome"))
    outcome = f" ({given['outcome']})" if "outcome" in given else ""
    return f"{given['key']}{outcome}: {reason}" if "key" in given else reason


@dataclass(frozen=True)
class RunReport:
    run_id: str
    job: str
    finished_ok: bool  # Dagster's own verdict: no step failed
    planned: list[str]  # assets the run set out to materialize, in dependency order
    materialized: dict[str, dict]  # asset -> materialization metadata values
    checks: list[CheckFailure]  # failed checks only
    failures: dict[str, Cause]  # failed step (asset, or "asset check" for a separate check) -> cause
    skipped: dict[str, str]  # asset -> why it did not run
    legal_entities: str = ""  # the run's partitions: "usmf", or "usmf, demf" for a range

    @classmethod
    def read(cls, instance: dg.DagsterInstance, run_id: str) -> RunReport:
        run = instance.get_run_by_id(run_id)
        planned, started, materialized, checks, failures = [], set(), {}, [], {}
        for entry in instance.all_logs(run_id):
            event = entry.dagster_event
            if event is None:
                continue
            kind = event.event_type
            if kind == dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED:  # once per legal entity of the run
                if event.asset_key.to_user_string() not in planned:
                    planned.append(event.asset_key.to_user_string())
            elif kind == dg.DagsterEventType.STEP_START:
                started.add(event.step_key)
            elif kind == dg.DagsterEventType.ASSET_MATERIALIZATION:  # per legal entity, each with the run's metadata
                materialization = event.event_specific_data.materialization
                materialized[materialization.asset_key.to_user_string()] = {
                    k: v.value for k, v in materialization.metadata.items()}
            elif kind == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
                evaluation = event.event_specific_data
                if not evaluation.passed:
                    checks.append(_check_failure(evaluation))
            elif kind == dg.DagsterEventType.STEP_FAILURE:
                cause = Cause.of(event.event_specific_data.error)
                if cause.kind != "DagsterAssetCheckFailedError":  # the failed check says it better
                    failures[_step_label(event.step_key)] = cause
        planned.sort(key=list(PARENTS).index)  # in dependency order
        skipped = _skipped(planned, started, checks, failures)
        return cls(run_id=run_id, job=run.job_name, finished_ok=run.status == dg.DagsterRunStatus.SUCCESS,
                   planned=planned, materialized=materialized, checks=checks, failures=failures, skipped=skipped,
                   legal_entities=_legal_entities(run.tags))

    @property
    def errors(self) -> list[CheckFailure]:
        return [c for c in self.checks if c.severity == "ERROR"]

    @property
    def warnings(self) -> list[CheckFailure]:
        return [c for c in self.checks if c.severity != "ERROR"]

    @property
    def exit_code(self) -> int:
        """0: synced (warnings allowed); 1: something failed to sync; 2: setup or connection error."""
        if any(cause.setup for cause in self.failures.values()):
            return 2
        return 1 if self.failures or self.errors or not self.finished_ok else 0

    @property
    def status(self) -> str:
        return {0: "success with warnings" if self.warnings else "success", 1: "failed",
                2: "stopped by a configuration or connection error"}[self.exit_code]

    def problem_rows(self) -> dict[str, int]:
        """Rejected, failed and parked rows per target asset this run synced."""
        return {asset: sum(int(meta.get(f"rows_{o}", 0)) for o in PROBLEM_OUTCOMES)
                for asset, meta in self.materialized.items() if "rows_created" in meta}

    def assets_in_trouble(self) -> list[str]:
        """Assets with a failed check, a failed step or a skipped step, in plan order."""
        troubled = {c.asset for c in self.checks} | {label.split(" ")[0] for label in self.failures} | set(self.skipped)
        return [a for a in self.planned if a in troubled] + sorted(troubled - set(self.planned))


def flows_of(assets: list[str]) -> list[str]:
    return list(dict.fromkeys(f for a in assets for f in FLOWS.get(a, [])))


def _check_failure(evaluation) -> CheckFailure:
    counts, records = {}, []
    for name, value in evaluation.metadata.items():
        if isinstance(value, dg.TableMetadataValue):
            records += [{k: str(v) for k, v in r.data.items()} for r in value.records]
        elif isinstance(value.value, int) and not isinstance(value.value, bool):
            counts[name] = value.value
    return CheckFailure(asset=evaluation.asset_key.to_user_string(), check=evaluation.check_name,
                        severity=evaluation.severity.value, blocking=evaluation.blocking,
                        description=" ".join((evaluation.description or "").split()), counts=counts,
                        records=records)


def _step_label(step_key: str) -> str:
    """`fo__customers` -> `fo/customers`; a separate check step `sales__products_reconciliation` ->
    `sales/products reconciliation`."""
    if step_key in _OP_NAMES:
        return _OP_NAMES[step_key]
    for op, asset in _OP_NAMES.items():
        if step_key.startswith(op + "_"):
            return f"{asset} {step_key.removeprefix(op + '_')}"
    return step_key


def _skipped(planned: list[str], started: set[str], checks: list[CheckFailure],
             failures: dict[str, Cause]) -> dict[str, str]:
    blocked_by = {c.asset: c.check for c in checks if c.blocking and c.severity == "ERROR"}

    def never_started(asset: str) -> bool:
        return asset in planned and asset.replace("/", "__") not in started

    def reason(asset: str) -> str:
        for parent in (p for p in PARENTS.get(asset, []) if p in planned):
            if parent in blocked_by:
                return f"upstream {parent} failed its blocking check {blocked_by[parent]}"
            if parent in failures:
                return f"upstream {parent} failed"
            if never_started(parent):
                return f"upstream {parent} did not run"
        return "the run ended before it started"

    return {asset: reason(asset) for asset in planned if never_started(asset)}


def _legal_entities(tags: dict[str, str]) -> str:
    """The legal entities (partitions) a run covered, as the mapping names them, in its order."""
    if "dagster/partition" in tags:
        return tags["dagster/partition"]
    start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    companies = list(load_settings().companies)
    if start in companies and end in companies:
        return ", ".join(companies[companies.index(start):companies.index(end) + 1])
    return f"{start}...{end}" if start else ""
