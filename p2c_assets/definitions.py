"""Entry point: the Definitions, built from the flow graph with the effective settings."""

import dagster as dg

from p2c_assets.automation import Automation, flow_jobs, prospect_to_cash, retry_failed
from p2c_assets.defs.assets import build_assets
from p2c_assets.defs.checks import CHECKS
from p2c_assets.defs.graph import GRAPH
from p2c_assets.defs.resources import build_resources
from p2c_assets.flows.settings import load_settings


def build_definitions(resources: dict | None = None) -> dg.Definitions:
    """The whole project; tests pass their own resources (a sandbox on other ports, a temp ledger).

    The settings are read here, so a wrong overrides file fails the load with its DIPV code, and the
    asset descriptions state the rules in effect; the environment says how the graph runs by itself."""
    settings = load_settings()
    automation = Automation.from_env()
    return dg.Definitions(
        assets=dg.map_asset_specs(automation.apply, build_assets(GRAPH, settings)),
        asset_checks=CHECKS,
        jobs=[prospect_to_cash, retry_failed, *flow_jobs],
        schedules=automation.schedules(),
        sensors=automation.sensors(),
        resources=resources or build_resources(),
        # steps mostly wait on the two services, and the connectors parallelise their own requests:
        # one process per run starts in seconds where a process per step costs minutes on a small host
        executor=dg.in_process_executor,
    )


defs = build_definitions()
