"""The schedule, the failure sensor (with its webhook) and the `p2c` command line."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import dagster as dg
from click.testing import CliRunner

from p2c_assets.automation import run_failures
from p2c_assets.cli import main
from p2c_assets.connectors.resources import DataverseResource, FinOpsResource
from p2c_assets.defs.resources import FlowSettingsResource, LedgerResource
from p2c_assets.definitions import defs
from p2c_assets.engine.ledger import Ledger, RecordOutcome
from p2c_assets.execution import execute


def test_schedule_requests_prospect_to_cash_every_quarter_hour():
    schedule = defs.resolve_schedule_def("prospect_to_cash_schedule")
    context = dg.build_schedule_context()
    [request] = schedule.evaluate_tick(context).run_requests
    assert schedule.job_name == "prospect_to_cash" and schedule.cron_schedule == "*/15 * * * *"
    assert request.run_config == {}


class Webhook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        Webhook.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_failed_run_is_posted_to_the_alert_webhook(tmp_path, monkeypatch):
    server = HTTPServer(("127.0.0.1", 0), Webhook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("P2C_ALERT_WEBHOOK", f"http://127.0.0.1:{server.server_port}/hook")
    dead = "http://127.0.0.1:9"  # nothing listens there: the run fails
    with dg.instance_for_test() as instance:
        result = execute("products_flow", instance=instance, resources={
            "dataverse": DataverseResource(url=dead), "finops": FinOpsResource(url=dead),
            "ledger": LedgerResource(state_url=f"sqlite:///{tmp_path}/state.db"),
            "flow_settings": FlowSettingsResource()})
        assert not result.success
        failure = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
        context = dg.build_run_status_sensor_context(
            sensor_name="p2c_run_failures", dagster_event=failure, dagster_instance=instance,
            dagster_run=instance.get_run_by_id(result.run_id)).for_run_failure()
        run_failures(context)
    server.shutdown()
    [posted] = Webhook.received
    assert posted["run_id"] == result.run_id and posted["job"] == "products_flow"
    assert "fo__released_products" in posted["text"]  # the failing step, from the run's failure event


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
