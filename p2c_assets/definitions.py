"""Entry point: builds the Definitions from the assets, checks, automation and resources."""

import dagster as dg

from p2c_assets.automation import flow_jobs, prospect_to_cash, retry_failed, run_alerts, schedule
from p2c_assets.defs.assets import SOURCE_ASSETS, TARGET_ASSETS
from p2c_assets.defs.checks import CHECKS
from p2c_assets.defs.resources import build_resources
from p2c_assets.flows.settings import load_settings


def build_definitions(resources: dict | None = None) -> dg.Definitions:
    """The whole project; tests pass their own resources (a sandbox on other ports, a temp ledger)."""
    load_settings()  # a wrong overrides file fails here, at load time, with its DIPV code
    return dg.Definitions(
        assets=[*SOURCE_ASSETS, *TARGET_ASSETS],
        asset_checks=CHECKS,
        jobs=[prospect_to_cash, retry_failed, *flow_jobs],
        schedules=[schedule],
        sensors=[run_alerts],
        resources=resources or build_resources(),
        # steps mostly wait on the two services, and the connectors parallelise their own requests:
        # one process per run starts in seconds where a process per step costs minutes on a small host
        executor=dg.in_process_executor,
    )


defs = build_definitions()
