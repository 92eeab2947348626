"""Clients from settings: the environment, else the sandbox; never the sandbox's secret to a real tenant."""

import pytest

from p2c_assets.connectors.environment import dataverse_client, finops_client

AZURE = ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_AUTHORITY_HOST")


@pytest.fixture
def bare_env(monkeypatch):
    for name in (*AZURE, "DATAVERSE_URL", "FINOPS_URL", "FINOPS_COMPANY"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_a_real_tenant_without_its_app_registration_is_refused_naming_what_is_missing(bare_env):
    bare_env.setenv("AZURE_TENANT_ID", "contoso.onmicrosoft.com")
    with pytest.raises(ValueError) as refused:
        dataverse_client("https://contoso.crm.dynamics.com")
    assert str(refused.value) == ("https://contoso.crm.dynamics.com is not the sandbox: "
                                  "set AZURE_CLIENT_ID, AZURE_CLIENT_SECRET")
    with finops_client("https://contoso.operations.dynamics.com", client_id="app-1", client_secret="s3cret") as fo:
        credential = fo.http.token_source.credential
    assert (credential.tenant_id, credential.authority_host) == ("contoso.onmicrosoft.com",
                                                                 "https://login.microsoftonline.com")


def test_with_only_the_urls_set_both_clients_talk_to_the_sandbox_with_its_demo_registration(bare_env, sandbox):
    bare_env.setenv("DATAVERSE_URL", sandbox.dataverse_url)
    bare_env.setenv("FINOPS_URL", sandbox.finops_url)
    with dataverse_client() as dv, finops_client() as fo:
        assert dv.read("businessunits", select=["name"]).shape[1] == 1
        assert fo.company == "usmf"
        assert fo.read("LegalEntities", select=["LegalEntityId"]).shape[1] == 1
    assert sandbox.client_secret not in repr(dv) + repr(fo) + repr(dv.http.token_source)
