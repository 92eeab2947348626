"""Dagster resources for the two services.

Every setting can be given explicitly (pass secrets as ``dg.EnvVar("AZURE_CLIENT_SECRET")``: resolved
at run time, shown by name in the UI, never by value). A setting left empty is read from its
environment variable when the client is built, and falls back to the bundled sandbox and its
well-known demo app registration, so ``dagster dev`` works out of the box and the same code runs
against real tenants once ``DATAVERSE_URL``, ``FINOPS_URL`` and the ``AZURE_*`` variables are set.
Environment values are read late on purpose: a default computed at definition time would be shown
in the UI's config schema, secret included.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import dagster as dg
from pydantic import Field, PrivateAttr

from .auth import DEFAULT_AUTHORITY, ClientCredentials
from .dataverse import DataverseClient
from .finops import FinOpsClient

SANDBOX = {
    "DATAVERSE_URL": "http://127.0.0.1:8801",
    "FINOPS_URL": "http://127.0.0.1:8802",
    "FINOPS_COMPANY": "usmf",
    "AZURE_TENANT_ID": "sandbox",
    "AZURE_CLIENT_ID": "p2c-sandbox-client",
    "AZURE_CLIENT_SECRET": "p2c-sandbox-secret",
}
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def setting(value: str, env_var: str) -> str:
    """An explicit value, else the environment variable, else the sandbox default."""
    return value or os.environ.get(env_var) or SANDBOX[env_var]


class _DynamicsResource(dg.ConfigurableResource):
    """Entra ID app registration settings shared by both services."""

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

    def _credentials(self, service_url: str) -> ClientCredentials:
        local = urlsplit(service_url).hostname in LOOPBACK
        authority = self.authority_host or os.environ.get("AZURE_AUTHORITY_HOST") or (
            service_url if local else DEFAULT_AUTHORITY)
        names = {"tenant": (self.tenant_id, "AZURE_TENANT_ID"), "client id": (self.client_id, "AZURE_CLIENT_ID"),
                 "client secret": (self.client_secret, "AZURE_CLIENT_SECRET")}
        if not local:  # the sandbox's public demo app must never be sent to a real tenant's authority
            missing = [env for value, env in names.values() if not (value or os.environ.get(env))]
            if missing:
                raise ValueError(f"{service_url} is not the sandbox: set {', '.join(missing)}")
        return ClientCredentials(*(setting(value, env) for value, env in names.values()), authority)

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
            url = setting(self.url, "DATAVERSE_URL")
            self._client = DataverseClient(url, self._credentials(url), page_size=self.page_size,
                                           max_concurrency=self.max_concurrency, timeout=self.timeout)
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
            url = setting(self.url, "FINOPS_URL")
            self._client = FinOpsClient(url, self._credentials(url), company=setting(self.company, "FINOPS_COMPANY"),
                                        max_concurrency=self.max_concurrency, timeout=self.timeout)
        return self._client
