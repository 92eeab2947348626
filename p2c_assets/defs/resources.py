"""Resources: the two service connections, the ledger and the flow settings.

Secrets come in as `dg.EnvVar`, so the UI shows the variable name and never the value. With nothing
set, everything points at the bundled sandbox and its well-known demo app registration (public, like
Azurite's account key).
"""


import os

import dagster as dg
from pydantic import Field, PrivateAttr

from p2c_assets.connectors import DataverseClient, FinOpsClient
from p2c_assets.connectors.environment import dataverse_client, finops_client, setting
from p2c_assets.engine.ledger import Ledger
from p2c_assets.flows.settings import Settings, load_settings


class _DynamicsResource(dg.ConfigurableResource):
    """Entra ID app registration settings shared by both services; empty ones are read from the
    environment when the client is built (`connectors.environment`), so the UI never shows a value
    the user did not set. Pass secrets as `dg.EnvVar("AZURE_CLIENT_SECRET")`: shown by name only."""

    tenant_id: str = Field(default="", description="Entra ID tenant; empty: $AZURE_TENANT_ID or the sandbox's.")
    client_id: str = Field(default="", description="App registration client id; empty: $AZURE_CLIENT_ID.")
    client_secret: str = Field(default="", repr=False,
                               description="App registration secret; empty: $AZURE_CLIENT_SECRET.")
    authority_host: str = Field(default="", description="Token authority; empty: $AZURE_AUTHORITY_HOST, "
                                "else the service itself when it runs on loopback (the sandbox), "
                                "else https://login.microsoftonline.com.")
    max_concurrency: int = Field(default=4, description="Requests in flight at once.")
    timeout: float = Field(default=60, description="Seconds per HTTP request.")

    _client = PrivateAttr(default=None)

    def _options(self) -> dict:
        return {"tenant_id": self.tenant_id, "client_id": self.client_id, "client_secret": self.client_secret,
                "authority_host": self.authority_host, "max_concurrency": self.max_concurrency,
                "timeout": self.timeout}

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._client is not None:
            self._client.close()


class DataverseResource(_DynamicsResource):
    """Dynamics 365 Sales (Dataverse Web API)."""

    url: str = Field(default="", description="Environment URL (https://org.crm.dynamics.com); "
                                             "empty: $DATAVERSE_URL or the sandbox.")
    page_size: int = Field(default=5000, description="Rows per page (at most 5,000).")

    def get_client(self) -> DataverseClient:
        """One client per resource instance (shared token, session and request counters)."""
        if self._client is None:
            self._client = dataverse_client(self.url, page_size=self.page_size, **self._options())
        return self._client


class FinOpsResource(_DynamicsResource):
    """Dynamics 365 Finance and Operations (OData data entities)."""

    url: str = Field(default="", description="Environment URL (https://env.operations.dynamics.com); "
                                             "empty: $FINOPS_URL or the sandbox.")
    company: str = Field(default="", description="Default legal entity (dataAreaId) for rows written "
                                                 "without one; empty: $FINOPS_COMPANY or usmf.")

    def get_client(self) -> FinOpsClient:
        """One client per resource instance (shared token, session and request counters)."""
        if self._client is None:
            self._client = finops_client(self.url, company=self.company, **self._options())
        return self._client


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


def _app_registration() -> dict:
    """The app registration as set: tenant, client id and authority by value (empty: the sandbox's demo
    app), the secret by its variable's name only."""
    given = {"tenant_id": "AZURE_TENANT_ID", "client_id": "AZURE_CLIENT_ID", "authority_host": "AZURE_AUTHORITY_HOST"}
    shown = {name: os.environ[env] for name, env in given.items() if os.environ.get(env)}
    if os.environ.get("AZURE_CLIENT_SECRET"):
        shown["client_secret"] = dg.EnvVar("AZURE_CLIENT_SECRET")
    return shown


def build_resources() -> dict:
    """The resources with the settings in effect, so the UI's resource page shows which environments a
    run talks to (the URLs and company as set, else the sandbox's); secrets by variable name only."""
    return {
        "dataverse": DataverseResource(url=setting("", "DATAVERSE_URL"), **_app_registration()),
        "finops": FinOpsResource(url=setting("", "FINOPS_URL"), company=setting("", "FINOPS_COMPANY"),
                                 **_app_registration()),
        "ledger": LedgerResource(state_url=dg.EnvVar("P2C_STATE_URL") if os.environ.get("P2C_STATE_URL") else None),
        "flow_settings": FlowSettingsResource(),
    }
