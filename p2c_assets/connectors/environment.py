"""Clients built from settings: an explicit value, else its environment variable, else the sandbox.

`DATAVERSE_URL`, `FINOPS_URL`, `FINOPS_COMPANY` and the `AZURE_*` app registration variables point the
clients at real tenants; with nothing set they point at the bundled sandbox and its well-known demo
app registration (public, like Azurite's account key), so the demo and `dagster dev` work out of the
box. Environment values are read when a client is built, not when a caller declares its settings, so
a default never shows up in a configuration schema, secret included. The Dagster resources
(`p2c_assets.defs.resources`) and the CLI build their clients here.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from .auth import DEFAULT_AUTHORITY, ClientCredentials
from .dataverse import MAX_PAGE, DataverseClient
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


def credentials(service_url: str, *, tenant_id: str = "", client_id: str = "", client_secret: str = "",
                authority_host: str = "") -> ClientCredentials:
    """The app registration for `service_url`; the sandbox's only for a service on loopback.

    The sandbox's demo secret is public: sent to a real tenant's authority it would be a leaked
    credential and a confusing AADSTS error, so a service that is not on loopback needs every
    `AZURE_*` setting given, and the missing ones are named.
    """
    local = urlsplit(service_url).hostname in LOOPBACK
    authority = authority_host or os.environ.get("AZURE_AUTHORITY_HOST") or (service_url if local else DEFAULT_AUTHORITY)
    given = {"AZURE_TENANT_ID": tenant_id, "AZURE_CLIENT_ID": client_id, "AZURE_CLIENT_SECRET": client_secret}
    if not local:
        missing = [env for env, value in given.items() if not (value or os.environ.get(env))]
        if missing:
            raise ValueError(f"{service_url} is not the sandbox: set {', '.join(missing)}")
    return ClientCredentials(*(setting(value, env) for env, value in given.items()), authority)


def dataverse_client(url: str = "", *, page_size: int = MAX_PAGE, max_concurrency: int = 4, timeout: float = 60,
                     **app_registration: str) -> DataverseClient:
    """A Dataverse client for `url` (else $DATAVERSE_URL, else the sandbox); `app_registration` as `credentials`."""
    url = setting(url, "DATAVERSE_URL")
    return DataverseClient(url, credentials(url, **app_registration), page_size=page_size,
                           max_concurrency=max_concurrency, timeout=timeout)


def finops_client(url: str = "", *, company: str = "", max_concurrency: int = 4, timeout: float = 60,
                  **app_registration: str) -> FinOpsClient:
    """An F&O client for `url` (else $FINOPS_URL, else the sandbox), writing rows without a legal entity
    into `company` (else $FINOPS_COMPANY, else usmf); `app_registration` as `credentials`."""
    url = setting(url, "FINOPS_URL")
    return FinOpsClient(url, credentials(url, **app_registration), company=setting(company, "FINOPS_COMPANY"),
                        max_concurrency=max_concurrency, timeout=timeout)
