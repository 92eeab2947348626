"""Microsoft's official Dataverse SDK (PowerPlatform-Dataverse-Client) against the sandbox.

The SDK insists on HTTPS, so this runs against the TLS sandbox, trusted through its CA bundle.
"""

from __future__ import annotations

import time

import pytest
import requests
from azure.core.credentials import AccessToken
from PowerPlatform.Dataverse.client import DataverseClient
from PowerPlatform.Dataverse.models.upsert import UpsertItem


class SandboxCredential:
    """A TokenCredential that gets a real token from the sandbox's Entra-shaped endpoint."""

    def __init__(self, sandbox):
        self.sandbox = sandbox

    def get_token(self, *scopes, **kwargs) -> AccessToken:
        response = requests.post(self.sandbox.token_url, verify=self.sandbox.ca_bundle, timeout=10, data={
            "grant_type": "client_credentials", "client_id": self.sandbox.client_id,
            "client_secret": self.sandbox.client_secret, "scope": scopes[0]})
        response.raise_for_status()
        body = response.json()
        return AccessToken(body["access_token"], int(time.time()) + body["expires_in"])


@pytest.fixture
def client(tls_sandbox, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls_sandbox.ca_bundle)
    with DataverseClient(tls_sandbox.dataverse_url, SandboxCredential(tls_sandbox)) as sdk:
        yield sdk


def test_official_sdk_crud_upsert_and_query(client, unique):
    tag = unique("SDK")
    account_id = client.records.create("account", {"name": f"{tag} Contoso", "accountnumber": f"{tag}-1"})
    assert client.records.retrieve("account", account_id)["name"] == f"{tag} Contoso"

    client.records.update("account", account_id, {"telephone1": "+1 555 0100"})
    assert client.records.retrieve("account", account_id, select=["telephone1"])["telephone1"] == "+1 555 0100"

    client.records.upsert("account", [UpsertItem(alternate_key={"accountnumber": f"{tag}-1"},
                                                 record={"name": f"{tag} Contoso Ltd"}),
                                      UpsertItem(alternate_key={"accountnumber": f"{tag}-2"},
                                                 record={"name": f"{tag} Fabrikam"})])
    found = client.records.list("account", filter=f"startswith(accountnumber,'{tag}-')",
                                select=["name", "accountnumber"], orderby=["accountnumber"], page_size=1)
    assert [r["name"] for r in found] == [f"{tag} Contoso Ltd", f"{tag} Fabrikam"]

    client.records.delete("account", account_id)
    remaining = client.records.list("account", filter=f"startswith(accountnumber,'{tag}-')", select=["name"])
    assert [r["name"] for r in remaining] == [f"{tag} Fabrikam"]
