"""Jobs, the schedule and the failure sensor.

`prospect_to_cash` materializes the whole graph in dependency order; one job per flow lets an
engineer re-run only quotes, say. The schedule runs every 15 minutes (`P2C_SCHEDULE_CRON`) and is on
by default (`P2C_SCHEDULE_OFF=1` turns the default off). Failed runs are logged and, when
`P2C_ALERT_WEBHOOK` is set, posted there as JSON (Teams/Slack incoming webhooks accept it).
"""

from __future__ import annotations

import os

import dagster as dg
import requests

from p2c_assets.defs.assets import RETRY_PARKED_TAG, SOURCES, TARGETS, key

FLOW_ASSETS = {
    "accounts": ["sales/accounts", "sales/contacts", "fo/customers", "fo/contacts"],
    "products": ["fo/released_products", "sales/products"],
    "quotes": ["sales/quotes", "sales/quote_lines", "fo/quotations", "fo/quotation_lines"],
    "orders": ["fo/sales_orders", "fo/sales_order_lines", "sales/orders", "sales/order_lines"],
    "invoices": ["fo/sales_invoices", "fo/sales_invoice_lines", "sales/invoices", "sales/invoice_lines"],
}
ALL_KEYS = [key(s.system, s.name) for s in SOURCES] + [key(t.system, t.name) for t in TARGETS]

prospect_to_cash = dg.define_asset_job("prospect_to_cash", selection=dg.AssetSelection.assets(*ALL_KEYS),
                                       description="All six Prospect-to-cash flows, in dependency order.")
flow_jobs = [
    dg.define_asset_job(f"{flow}_flow", selection=dg.AssetSelection.assets(
        *(dg.AssetKey(k.split("/")) for k in keys)), description=f"The {flow} flow only.")
    for flow, keys in FLOW_ASSETS.items()
]
retry_failed = dg.define_asset_job(
    "retry_failed", selection=dg.AssetSelection.assets(*ALL_KEYS), tags={RETRY_PARKED_TAG: "true"},
    description="Every flow, with parked rows (failed too often) given new attempts. Failed and blocked "
                "rows below the attempt limit are retried by any run.")

schedule = dg.ScheduleDefinition(
    name="prospect_to_cash_schedule", job=prospect_to_cash,
    cron_schedule=os.environ.get("P2C_SCHEDULE_CRON", "*/15 * * * *"),
    default_status=(dg.DefaultScheduleStatus.STOPPED if os.environ.get("P2C_SCHEDULE_OFF")
                    else dg.DefaultScheduleStatus.RUNNING),
)


@dg.run_failure_sensor(name="p2c_run_failures", default_status=dg.DefaultSensorStatus.RUNNING)
def run_failures(context: dg.RunFailureSensorContext) -> None:
    """Logs every failed run; posts it to P2C_ALERT_WEBHOOK when set."""
    message = f"p2c run {context.dagster_run.run_id} ({context.dagster_run.job_name}) failed: " \
              f"{context.failure_event.message}"
    context.log.error(message)
    webhook = os.environ.get("P2C_ALERT_WEBHOOK")
    if webhook:
        requests.post(webhook, json={"text": message, "run_id": context.dagster_run.run_id,
                                     "job": context.dagster_run.job_name}, timeout=10).raise_for_status()
