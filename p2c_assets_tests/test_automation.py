"""The schedule or declarative automation, freshness, run config, the failure sensor (with its webhook)
and the `p2c` command line."""

import datetime as dt
import os
import subprocess
import sys

import dagster as dg
import pytest
from click.testing import CliRunner

from p2c_assets.cli import main
from p2c_assets.defs.resources import DataverseResource, FinOpsResource, FlowSettingsResource, LedgerResource
from p2c_assets.definitions import build_definitions, defs
from p2c_assets.engine.ledger import Ledger, RecordOutcome
from p2c_assets.execution import execute
from p2c_assets_tests.helpers import Webhook, alert_tick


def test_schedule_requests_prospect_to_cash_every_quarter_hour_one_run_per_legal_entity():
    schedule = defs.resolve_schedule_def("prospect_to_cash_schedule")
    context = dg.build_schedule_context(repository_def=defs.get_repository_def(),
                                        scheduled_execution_time=dt.datetime(2026, 3, 2, 9, 15, tzinfo=dt.timezone.utc))
    usmf, demf = schedule.evaluate_tick(context).run_requests
    assert schedule.job_name == "prospect_to_cash" and schedule.cron_schedule == "*/15 * * * *"
    assert (usmf.partition_key, demf.partition_key) == ("usmf", "demf")
    assert (usmf.run_key, usmf.run_config) == ("2026-03-02T09:15:usmf", {})
    assert "P2C_SCHEDULE_ON" in schedule.description


@pytest.mark.parametrize("setting, status", [(None, "STOPPED"), ("1", "RUNNING")])
def test_schedule_is_off_until_turned_on(setting, status):
    """As Dagster ships schedules: a fresh deployment writes nothing until someone turns it on."""
    env = {k: v for k, v in os.environ.items() if k != "P2C_SCHEDULE_ON"} | ({"P2C_SCHEDULE_ON": setting} if setting else {})
    shown = subprocess.run([sys.executable, "-c", "from p2c_assets.definitions import defs; "
                            "print(defs.resolve_schedule_def('prospect_to_cash_schedule').default_status.value)"],
                           env=env, capture_output=True, text=True, check=True).stdout.split()[-1]
    assert shown == status


@pytest.mark.parametrize("cron, stale_after", [(None, dt.timedelta(minutes=15)),
                                                 ("0 2 * * 1-5", dt.timedelta(days=1))])
def test_an_asset_is_stale_once_a_tick_of_the_schedule_passes_without_it(cron, stale_after, monkeypatch):
    """The freshness policy reads the schedule's cron: at each tick the last materialization must be newer
    than the tick before."""
    if cron:
        monkeypatch.setenv("P2C_SCHEDULE_CRON", cron)
    definitions = build_definitions()
    schedule = definitions.resolve_schedule_def("prospect_to_cash_schedule")
    graph = definitions.resolve_asset_graph()
    policies = {graph.get(k).freshness_policy for k in graph.get_all_asset_keys()}
    assert policies == {dg.FreshnessPolicy.cron(deadline_cron=schedule.cron_schedule, lower_bound_delta=stale_after)}


def test_declarative_automation_replaces_the_schedule_and_requests_every_flow_at_a_tick(monkeypatch):
    monkeypatch.setenv("P2C_AUTOMATION", "1")
    definitions = build_definitions()
    assert not definitions.schedules
    sensor = definitions.resolve_sensor_def("p2c_automation")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING and "P2C_AUTOMATION" in sensor.description
    graph = definitions.resolve_asset_graph()
    assert {graph.get(k).automation_condition.get_label() for k in graph.get_all_asset_keys()} == \
        {"on_cron(*/15 * * * *, UTC)"}
    with dg.instance_for_test() as instance:
        moment = dt.datetime(2026, 3, 2, 9, 7, tzinfo=dt.timezone.utc)
        before = dg.evaluate_automation_conditions(definitions, instance, evaluation_time=moment)
        tick = dg.evaluate_automation_conditions(definitions, instance, cursor=before.cursor,
                                                 evaluation_time=moment + dt.timedelta(minutes=9))  # 9:15 passed
    assert (before.total_requested, tick.total_requested) == (0, 44)  # every asset of the seven flows, per company


def test_schedule_and_automation_together_stop_the_load(monkeypatch):
    monkeypatch.setenv("P2C_AUTOMATION", "1")
    monkeypatch.setenv("P2C_SCHEDULE_ON", "1")
    with pytest.raises(ValueError, match="every flow would run twice"):
        build_definitions()


def test_run_config_fields_say_what_they_do():
    """What the launchpad shows next to each field of a source and a target asset's config."""
    ops = defs.resolve_job_def("prospect_to_cash").run_config_schema.config_type.fields["ops"].config_type
    for op, fields in (("sales__accounts", {"full_refresh"}),
                       ("fo__customers", {"full_resync", "max_problem_share", "min_problem_rows"})):
        config = ops.fields[op].config_type.fields["config"].config_type.fields
        assert set(config) == fields and all(len(config[f].description) > 40 for f in fields)
    assert defs.resolve_sensor_def("p2c_alerts").description.startswith("Alerts when a finished run")


def test_a_failed_run_alerts_once_with_flow_asset_cause_and_run_page(tmp_path, monkeypatch):
    webhook = Webhook()
    monkeypatch.setenv("P2C_ALERT_WEBHOOK", webhook.url)
    monkeypatch.setenv("P2C_UI_URL", "http://dagster.example:3000/")
    dead = "http://127.0.0.1:9"  # nothing listens there: the run fails
    resources = {"dataverse": DataverseResource(url=dead), "finops": FinOpsResource(url=dead),
                 "ledger": LedgerResource(state_url=f"sqlite:///{tmp_path}/state.db"),
                 "flow_settings": FlowSettingsResource()}
    try:
        with dg.instance_for_test() as instance:
            cursor = alert_tick(instance, None)  # the sensor starts watching
            result = execute("products_flow", instance=instance, resources=resources)
            cursor = alert_tick(instance, cursor)
            assert not result.success and len(webhook.received) == 1
            again = execute("products_flow", instance=instance, resources=resources)
            alert_tick(instance, cursor)
            assert not again.success and len(webhook.received) == 1  # the same outage: no second alert
    finally:
        webhook.close()
    [posted] = webhook.received
    assert posted["flows"] == ["products"]
    assert posted["assets"][:2] == ["fo/released_products", "sales/products"]
    assert posted["run_url"] == f"http://dagster.example:3000/runs/{result.run_id}"
    [failure] = posted["failures"]
    assert failure["step"] == "fo/released_products" and "SellableReleasedProducts" in failure["cause"]
    assert posted["skipped"] == [{"asset": "sales/products", "reason": "upstream fo/released_products failed"}]
    text = posted["text"]
    assert text.splitlines()[0] == ("p2c run failed in usmf, demf: flow(s) products; "
                                    "asset(s) fo/released_products, sales/products")
    assert posted["legal_entities"] == "usmf, demf"
    assert f"fo/released_products failed: {failure['cause']}" in text and posted["run_url"] in text
    for internal in ("products_flow", "__ASSET_JOB", "Error occurred while executing", "fo__released_products"):
        assert internal not in text


def test_history_command_lists_runs_and_a_runs_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("P2C_STATE_URL", f"sqlite:///{tmp_path}/state.db")
    ledger = Ledger.from_env()
    ledger.upgrade()
    run = ledger.start_run("accounts")
    ledger.record(run, "accounts", [
        RecordOutcome("usmf|ACC-1", "usmf", "h1", "created"),
        RecordOutcome("usmf|ACC-2", "usmf", "h2", "failed", error_code="",
                      error_message="The value '99' in field 'Customer group' is not found")])
    ledger.finish_run(run, counts={"created": 1, "failed": 1}, requests=3, status="failed")
    runner = CliRunner()
    listing = runner.invoke(main, ["history"])
    [row] = [line for line in listing.output.splitlines() if line.split()[:2] == [str(run), "accounts"]]
    assert listing.exit_code == 0 and "failed" in row.split()  # the run's status, on the run's own row
    errors = runner.invoke(main, ["history", "--run", str(run)])
    assert "usmf|ACC-2" in errors.output and "Customer group" in errors.output
