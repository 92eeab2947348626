"""Test helpers: the project's resources pointed at a test sandbox and a temporary ledger; an alert
webhook receiver and one tick of the alert sensor."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import dagster as dg

from p2c_assets.automation import run_alerts
from p2c_assets.defs.resources import DataverseResource, FinOpsResource, FlowSettingsResource, LedgerResource
from p2c_assets.execution import execute

# `dagster job execute` options for a run over every legal entity of the default mapping (usmf, demf)
EVERY_COMPANY = ["--tags", json.dumps({"dagster/asset_partition_range_start": "usmf",
                                       "dagster/asset_partition_range_end": "demf"})]


# what a Sales account needs to sync to usmf: its business unit and currency, bound by alternate key
USMF = {"owningbusinessunit@odata.bind": "/businessunits(name='USMF Sales')",
        "transactioncurrencyid@odata.bind": "/transactioncurrencies(isocurrencycode='USD')"}


def new_accounts(dv, prefix: str, count: int, **fields) -> list[str]:
    """`count` new Sales accounts `<prefix>-000`... in usmf, created; their account numbers."""
    numbers = [f"{prefix}-{i:03d}" for i in range(count)]
    outcomes = dv.upsert_many("accounts", [{"accountnumber": n, "name": f"{prefix} customer {i}", **USMF, **fields}
                                           for i, n in enumerate(numbers)], key=["accountnumber"])
    assert {o.status for o in outcomes} == {"created"}, outcomes
    return numbers


def sandbox_resources(sandbox, state_db) -> dict:
    auth = {"tenant_id": sandbox.tenant, "client_id": sandbox.client_id, "client_secret": sandbox.client_secret,
            "authority_host": sandbox.authority_host}
    return {
        "dataverse": DataverseResource(url=sandbox.dataverse_url, **auth),
        "finops": FinOpsResource(url=sandbox.finops_url, **auth),
        "ledger": LedgerResource(state_url=f"sqlite:///{state_db}"),
        "flow_settings": FlowSettingsResource(),
    }


def run_prospect_to_cash(resources: dict, job: str = "prospect_to_cash", **config) -> dg.ExecuteInProcessResult:
    return execute(job, resources=resources, **config)


class Webhook:
    """A real HTTP server on loopback that keeps the JSON bodies posted to it (the alert webhook)."""

    def __init__(self):
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def alert_tick(instance: dg.DagsterInstance, cursor: str | None) -> str:
    """One evaluation of the alert sensor, as the daemon makes it; returns the new cursor."""
    return run_alerts.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=cursor)).cursor
