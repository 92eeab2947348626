"""Entry point: the Definitions, built from the flow graph with the effective settings."""

import os

import dagster as dg

from p2c_assets.automation import Automation, flow_jobs, prospect_to_cash, retry_failed
from p2c_assets.defs.assets import build_assets
from p2c_assets.defs.checks import build_checks
from p2c_assets.defs.graph import GRAPH
from p2c_assets.defs.partitions import LegalEntityFrames
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
        asset_checks=build_checks(settings.companies),
        jobs=[prospect_to_cash, retry_failed, *flow_jobs],
        schedules=automation.schedules(list(settings.companies)),
        sensors=automation.sensors(),
        resources={"io_manager": LegalEntityFrames(), **(resources or build_resources())},
        executor=executor_from_env(),
    )


def executor_from_env() -> dg.ExecutorDefinition:
    """In-process by default: steps mostly wait on the two services, the connectors parallelise their own
    requests, and one process per run starts in seconds where a process per step costs minutes on a
    small host. `P2C_EXECUTOR=multiprocess` runs steps that wait on different services at the same time
    (a Dataverse extract beside an F&O write), up to `P2C_MAX_CONCURRENT` steps (default 4), each
    service limited by its pool (`dataverse_api`, `finops_api` in dagster.yaml); it needs an instance
    with storage (DAGSTER_HOME), since the steps hand their rows over through it."""
    chosen = os.environ.get("P2C_EXECUTOR", "in_process").strip().lower().replace("-", "_")
    if chosen == "in_process":
        return dg.in_process_executor
    if chosen == "multiprocess":
        return dg.multiprocess_executor.configured({"max_concurrent": int(os.environ.get("P2C_MAX_CONCURRENT", "4"))})
    raise ValueError(f"P2C_EXECUTOR is {chosen!r}; use in_process (default) or multiprocess")


defs = build_definitions()
