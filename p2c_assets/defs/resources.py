"""Resources: the two service connections, the ledger and the flow settings.

Secrets come in as `dg.EnvVar`, so the UI shows the variable name and never the value. With nothing
set, everything points at the bundled sandbox and its well-known demo app registration (public, like
Azurite's account key).
"""


import os

import dagster as dg
from pydantic import Field, PrivateAttr

from p2c_assets.connectors.resources import DataverseResource, FinOpsResource
from p2c_assets.engine.ledger import Ledger
from p2c_assets.flows.settings import Settings, load_settings


class LedgerResource(dg.ConfigurableResource):
    """Durable per-record sync state: SQLite beside the Dagster home, or PostgreSQL (P2C_STATE_URL)."""

    state_url: str | None = Field(None, description="SQLAlchemy URL of the ledger database; empty: "
                                  "$P2C_STATE_URL, else SQLite beside the Dagster home.")
    max_attempts: int = Field(5, description="Failed writes in a row after which a record is parked (sent "
                              "again when its source changes or a row with the same error lands).")

    _ledger = PrivateAttr(default=None)

    def get(self) -> Ledger:
        if self._ledger is None:
            self._ledger = (Ledger(self.state_url, max_attempts=self.max_attempts) if self.state_url
                            else Ledger.from_env(max_attempts=self.max_attempts))
            self._ledger.upgrade()
        return self._ledger


class FlowSettingsResource(dg.ConfigurableResource):
    """Template overrides file (P2C_FLOWS_CONFIG); validated when definitions load, read again per run."""

    config_path: str | None = None

    def get(self) -> Settings:
        return load_settings(self.config_path)


def _secret_kwargs() -> dict:
    """Real secrets by env-var reference only; the sandbox default otherwise."""
    return {"client_secret": dg.EnvVar("AZURE_CLIENT_SECRET")} if os.environ.get("AZURE_CLIENT_SECRET") else {}


def build_resources() -> dict:
    return {
        "dataverse": DataverseResource(**_secret_kwargs()),
        "finops": FinOpsResource(**_secret_kwargs()),
        "ledger": LedgerResource(state_url=dg.EnvVar("P2C_STATE_URL") if os.environ.get("P2C_STATE_URL") else None),
        "flow_settings": FlowSettingsResource(),
    }
