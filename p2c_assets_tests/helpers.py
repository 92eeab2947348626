"""Test helpers: the project's resources pointed at a test sandbox and a temporary ledger."""

import dagster as dg

from p2c_assets.connectors.resources import DataverseResource, FinOpsResource
from p2c_assets.defs.resources import FlowSettingsResource, LedgerResource
from p2c_assets.execution import execute


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
