"""Jobs, how they run by themselves (a schedule, or declarative automation), freshness, and alerts.

`prospect_to_cash` materializes the whole graph in dependency order; one job per flow (`accounts_flow`,
`quotes_flow` ...) re-runs one flow; both come from the flow graph, like the assets. The graph runs by
itself in one of two ways, never both (each would run every flow):

- the schedule `prospect_to_cash_schedule` (default): every 15 minutes (`P2C_SCHEDULE_CRON`), one run
  per legal entity (the assets are partitioned by the `companies` of the overrides file), and, as
  Dagster ships schedules, stopped until someone turns it on: in the UI (Automation) or with
  `P2C_SCHEDULE_ON=1`;
- declarative automation, with `P2C_AUTOMATION=1`: every asset carries `AutomationCondition.on_cron`
  with the same cron, so each tick requests the whole graph in dependency order (an asset goes once
  everything upstream of it has updated since the tick, or is requested with it), evaluated by the
  sensor `p2c_automation`, running from the start; there is no schedule then.

Either way each asset has a freshness policy on the same cron: an asset that did not materialize
between two ticks is stale in the UI (Catalog, asset page), so a flow that stopped syncing shows.

The sensor `p2c_alerts` reads every finished run and alerts when something new went wrong: a step
failed that did not fail in the previous run, a check started failing, or the rejected, failed and
parked rows of an asset rose. A row that stays parked is alerted once, not every 15 minutes. The
alert is logged and, when `P2C_ALERT_WEBHOOK` is set, posted there as JSON with a `text` field
(Teams/Slack incoming webhooks show it), naming flows, assets, checks, the first problem records and
the run's page in the UI (`P2C_UI_URL`, default http://127.0.0.1:3000).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import cache

import dagster as dg
import requests

from p2c_assets.defs.assets import RETRY_PARKED_TAG
from p2c_assets.defs.checks import RECONCILE_TAG
from p2c_assets.defs.graph import GRAPH
from p2c_assets.run_report import RunReport, flows_of

EVERYTHING = dg.AssetSelection.assets(*GRAPH.nodes)
ON = ("1", "true", "yes", "on")
# every flow reads one service and writes the other: the run queue of a deployment limits runs per service
# with these tags, and per legal entity with the partition tag Dagster adds (deploy/dagster.yaml)
SERVICES = {"p2c/dataverse": "true", "p2c/finops": "true"}

prospect_to_cash = dg.define_asset_job("prospect_to_cash", selection=EVERYTHING,
                                       tags={"p2c/flow": "all", **SERVICES},
                                       description="All seven Prospect-to-cash flows, in dependency order.")
flow_jobs = [
    dg.define_asset_job(
        f"{group}_flow", selection=dg.AssetSelection.assets(*GRAPH.job_selection(group)),
        tags={"p2c/flow": group, **SERVICES},
        description=f"The {group} flow ({', '.join(k.to_user_string() for k in GRAPH.job_selection(group))}): "
                    "its assets, the source rows they read, and other flows' targets that need nothing more.")
    for group in GRAPH.groups
]
# the manual repair run: besides retrying parked rows it reconciles every landed record, finding drift
# on records no scheduled run wrote (those reconcile only what they wrote)
retry_failed = dg.define_asset_job(
    "retry_failed", selection=EVERYTHING,
    tags={RETRY_PARKED_TAG: "true", RECONCILE_TAG: "full", "p2c/flow": "all", **SERVICES},
    description="Every flow, with parked rows (failed too often) given new attempts and a full reconciliation "
                "(every landed record against the whole target). Failed and blocked rows below the attempt "
                "limit are retried by any run.")


@dataclass(frozen=True)
class Automation:
    """How the graph runs by itself, from the environment (see the module docstring)."""

    cron: str = "*/15 * * * *"
    schedule_on: bool = False
    declarative: bool = False

    @classmethod
    def from_env(cls) -> Automation:
        automation = cls(cron=os.environ.get("P2C_SCHEDULE_CRON", cls.cron),
                         schedule_on=os.environ.get("P2C_SCHEDULE_ON", "").lower() in ON,
                         declarative=os.environ.get("P2C_AUTOMATION", "").lower() in ON)
        if automation.schedule_on and automation.declarative:
            raise ValueError("P2C_SCHEDULE_ON and P2C_AUTOMATION are both set: each runs every flow on "
                             f"'{automation.cron}', so every flow would run twice. Set one of them.")
        return automation

    def freshness(self) -> dg.FreshnessPolicy:
        """Stale once a tick passes with the asset's last materialization older than the tick before: one
        missed run shows, whether the schedule is off, a run failed or an asset was skipped. (Dagster
        bounds the look-back by the cron's shortest interval, so a weekday cron shows its assets stale
        on Monday morning until that run lands.)"""
        return dg.FreshnessPolicy.cron(deadline_cron=self.cron, lower_bound_delta=tick_interval(self.cron))

    def apply(self, spec: dg.AssetSpec) -> dg.AssetSpec:
        """The freshness policy, and the automation condition when declarative automation is on."""
        condition = dg.AutomationCondition.on_cron(self.cron) if self.declarative else None
        return spec.replace_attributes(freshness_policy=self.freshness(), automation_condition=condition)

    def schedules(self, companies: list[str]) -> list[dg.ScheduleDefinition]:
        """One run per legal entity at each tick: the companies sync side by side, and one that fails or
        lags holds up no other."""
        if self.declarative:
            return []

        def runs_per_company(context: dg.ScheduleEvaluationContext):
            tick = context.scheduled_execution_time.strftime("%Y-%m-%dT%H:%M")
            for company in companies:
                yield dg.RunRequest(run_key=f"{tick}:{company}", partition_key=company)

        return [dg.ScheduleDefinition(
            name="prospect_to_cash_schedule", job=prospect_to_cash, cron_schedule=self.cron,
            execution_fn=runs_per_company,
            description=f"Every flow, on '{self.cron}' (P2C_SCHEDULE_CRON; default every 15 minutes), one run per "
                        "legal entity. Stopped until someone turns it on, here or with P2C_SCHEDULE_ON=1: nothing "
                        "writes to a tenant before `p2c check` and `p2c preview` have been looked at. "
                        "P2C_AUTOMATION=1 replaces it with declarative automation on the same cron.",
            default_status=dg.DefaultScheduleStatus.RUNNING if self.schedule_on else dg.DefaultScheduleStatus.STOPPED,
        )]

    def sensors(self) -> list[dg.SensorDefinition]:
        if not self.declarative:
            return [run_alerts]
        return [run_alerts, dg.AutomationConditionSensorDefinition(
            "p2c_automation", target=EVERYTHING, default_status=dg.DefaultSensorStatus.RUNNING,
            description=f"Declarative automation (P2C_AUTOMATION=1), instead of the schedule: every tick of "
                        f"'{self.cron}' requests every flow's assets, each once everything upstream of it has "
                        "updated since the tick or is requested with it.")]


@cache
def tick_interval(cron: str) -> timedelta:
    """The shortest time between two ticks of `cron`, from Dagster's own reading of the cron: the
    windows of a time-partitioned definition over the last week (a year for sparser crons)."""
    now = datetime.now(timezone.utc)
    for days in (8, 400):
        windows = dg.TimeWindowPartitionsDefinition(start=now - timedelta(days=days), cron_schedule=cron,
                                                    fmt="%Y-%m-%dT%H:%M")
        keys = windows.get_partition_keys(current_time=now)
        if len(keys) >= 2:
            break
    return min(w.end - w.start for w in map(windows.time_window_for_partition_key, keys))


ALERT_RECORDS = 5  # problem records quoted per failed check


@dataclass
class AlertState:
    """The sensor's cursor: where it stopped reading, and per asset what was wrong at its last run."""

    after: int | None = None  # storage id of the last run-finished event read; None before the first tick
    problem_rows: dict[str, int] = field(default_factory=dict)  # asset -> rejected + failed + parked rows
    failing: dict[str, list[str]] = field(default_factory=dict)  # asset -> failed steps and ERROR checks

    @classmethod
    def load(cls, cursor: str | None) -> AlertState:
        return cls(**json.loads(cursor)) if cursor else cls()

    def dump(self) -> str:
        return json.dumps({"after": self.after, "problem_rows": self.problem_rows, "failing": self.failing})

    def news(self, report: RunReport) -> list[tuple[str, str]]:
        """(asset, what) that is wrong in this run and was not in the previous run of the same asset in
        the same legal entities (runs of usmf and demf alternate: each is compared with its own last);
        this run then becomes the previous one."""
        news = []
        where = f"@{report.legal_entities}" if report.legal_entities else ""
        for asset, rows in report.problem_rows().items():
            before = self.problem_rows.get(asset + where, 0)
            if rows > before:
                news.append((asset, f"problem rows (rejected, failed, parked) rose from {before} to {rows}"))
            self.problem_rows[asset + where] = rows
        failing: dict[str, list[str]] = {}
        for label, cause in report.failures.items():
            asset, _, check_step = label.partition(" ")
            failing.setdefault(asset, []).append(f"{check_step or 'step'} failed ({cause.kind})")
        for check in report.errors:
            failing.setdefault(check.asset, []).append(f"check {check.check} failed")
        for asset in dict.fromkeys([*report.planned, *failing]):
            now = failing.get(asset, [])
            news += [(asset, what) for what in now if what not in self.failing.get(asset + where, [])]
            self.failing[asset + where] = now
        return news


def alert_body(report: RunReport, news: list[tuple[str, str]], ui_url: str) -> dict:
    """The webhook's JSON: the facts as fields, and `text` for a human (what chat webhooks display)."""
    assets = list(dict.fromkeys([*(asset for asset, _ in news), *report.assets_in_trouble()]))
    new = [f"{asset}: {what}" for asset, what in news]
    flows = flows_of(assets)
    run_url = f"{ui_url.rstrip('/')}/runs/{report.run_id}"
    checks = [{"asset": c.asset, "check": c.check, "severity": c.severity, "description": c.description,
               "counts": c.counts, "records": c.problem_lines(ALERT_RECORDS)} for c in report.checks]
    failures = [{"step": label, "cause": cause.line()} for label, cause in report.failures.items()]
    skipped = [{"asset": a, "reason": r} for a, r in report.skipped.items()]
    verdict = "failed" if report.exit_code else "finished with new problem rows"
    entities = f" in {report.legal_entities}" if report.legal_entities else ""
    text = [f"p2c run {verdict}{entities}: flow(s) {', '.join(flows)}; asset(s) {', '.join(assets)}", "",
            "New since the previous run:", *(f"- {n}" for n in new)]
    text += [f"{f['step']} failed: {f['cause']}" for f in failures]
    for c in report.checks:
        counts = ", ".join(f"{k} {v}" for k, v in c.counts.items())
        text.append(c.line() + (f" [{counts}]" if counts else ""))
        text += [f"    {line}" for line in c.problem_lines(ALERT_RECORDS)]
    text += [f"{s['asset']} skipped: {s['reason']}" for s in skipped]
    text.append(f"Run: {run_url}")
    return {"text": "\n".join(text), "status": report.status, "run_id": report.run_id, "run_url": run_url,
            "legal_entities": report.legal_entities,
            "flows": flows, "assets": assets, "new": new, "checks": checks, "failures": failures,
            "skipped": skipped}


@dg.sensor(name="p2c_alerts", minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Alerts when a finished run has something new wrong: a failed step, a failing check, "
                       "more rejected/failed/parked rows than the previous run. Logged, and posted to "
                       "P2C_ALERT_WEBHOOK when set, with the problem records and the run's URL (P2C_UI_URL).")
def run_alerts(context: dg.SensorEvaluationContext):
    state = AlertState.load(context.cursor)
    if state.after is None:  # first tick: alert on what finishes from now on, not on the whole history
        state.after = max((sid for sid, _ in _finished_runs(context.instance, None, latest=True)), default=0)
        context.update_cursor(state.dump())
        return dg.SkipReason("started: watching runs that finish from now on")
    finished = _finished_runs(context.instance, state.after)
    for storage_id, run_id in finished:
        report = RunReport.read(context.instance, run_id)
        news = state.news(report)
        if news:
            _send(context, alert_body(report, news, os.environ.get("P2C_UI_URL", "http://127.0.0.1:3000")))
        state.after = storage_id
    context.update_cursor(state.dump())
    return None if finished else dg.SkipReason("no run finished")


def _finished_runs(instance: dg.DagsterInstance, after: int | None, latest: bool = False) -> list[tuple[int, str]]:
    """(storage id, run id) of run-finished events after `after`, oldest first; a page at a time, never
    skipping one event type's records beyond the other's page. `latest`: only the newest of each type."""
    records, bound = [], None
    for kind in (dg.DagsterEventType.RUN_SUCCESS, dg.DagsterEventType.RUN_FAILURE):
        page = instance.fetch_run_status_changes(
            dg.RunStatusChangeRecordsFilter(event_type=kind, after_storage_id=after),
            limit=1 if latest else 100, ascending=not latest)
        records += page.records
        if page.has_more and not latest:
            last = page.records[-1].storage_id
            bound = last if bound is None else min(bound, last)
    return sorted((r.storage_id, r.run_id) for r in records if bound is None or r.storage_id <= bound)


def _send(context: dg.SensorEvaluationContext, body: dict) -> None:
    """Logs the alert and posts it. A failed post fails the tick, so the cursor stays and the next tick
    sends it again. A client secret never leaves: the messages come from the connectors, which do not
    carry it, and it is masked here in case a service echoed it."""
    payload = json.dumps(body)
    secret = os.environ.get("AZURE_CLIENT_SECRET")
    if secret:
        payload = payload.replace(json.dumps(secret)[1:-1], "***")
    context.log.warning(json.loads(payload)["text"])
    webhook = os.environ.get("P2C_ALERT_WEBHOOK")
    if webhook:
        response = requests.post(webhook, data=payload, headers={"Content-Type": "application/json"}, timeout=10)
        if not response.ok:
            raise RuntimeError(f"the alert webhook (P2C_ALERT_WEBHOOK) answered HTTP {response.status_code}")
