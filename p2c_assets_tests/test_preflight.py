"""Preflight: `p2c check` and the `preflight` asset check find what a tenant lacks before any write.

Each failure kind a user meets on a first connection is made real on a seeded sandbox (a wrong
secret, a column or an alternate key the tenant does not have, missing reference data) and the
output must name the service, the entity, the field and the fix.
"""

import os
import subprocess
import sys

import pytest
import requests

from p2c_assets.connectors import ClientCredentials, DataverseClient, FinOpsClient
from p2c_assets.execution import target_metadata
from p2c_assets_tests.helpers import run_prospect_to_cash, sandbox_resources
from p2c_sandbox.process import seeded_sandbox


@pytest.fixture(scope="module")
def tenant(tmp_path_factory):
    with seeded_sandbox(tmp_path_factory.mktemp("preflight"), scale=12, seed=3) as handle:
        yield handle


@pytest.fixture
def drift(tenant):
    """Schema drift for one test: the tenant's faults are reset afterwards."""
    yield tenant.set_faults
    tenant.reset_faults()


def p2c_check(tenant, tmp_path, **env) -> subprocess.CompletedProcess:
    environment = {**os.environ, "DATAVERSE_URL": tenant.dataverse_url, "FINOPS_URL": tenant.finops_url,
                   "AZURE_TENANT_ID": tenant.tenant, "AZURE_CLIENT_ID": tenant.client_id,
                   "AZURE_CLIENT_SECRET": tenant.client_secret, **env}
    return subprocess.run([sys.executable, "-m", "p2c_assets.cli", "check"], cwd=tmp_path, env=environment,
                          capture_output=True, text=True, timeout=120)


def failures(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.startswith("FAIL")]


def test_check_passes_on_a_complete_tenant(tenant, tmp_path):
    result = p2c_check(tenant, tmp_path)
    assert failures(result) == [], result.stdout + result.stderr
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert any("schema of CustomersV3" in line for line in lines)
    assert any("price list 'CRM Service USA (sample)' for USD" in line for line in lines)
    assert any("business unit 'USMF Sales' (for usmf)" in line for line in lines)
    assert lines[-1] == f"all {len(lines) - 1} checks passed"


def test_wrong_secret_fails_naming_the_setting_and_never_the_secret(tenant, tmp_path):
    result = p2c_check(tenant, tmp_path, AZURE_CLIENT_SECRET="not-the-secret-xyz")
    assert result.returncode == 1
    token_lines = [line for line in failures(result) if "token for" in line]
    assert len(token_lines) == 2  # one per service
    assert "AZURE_CLIENT_SECRET" in token_lines[0] and "invalid_client" in token_lines[0]
    assert "not-the-secret-xyz" not in result.stdout + result.stderr


def test_missing_column_is_named_with_its_closest_name(tenant, tmp_path, drift):
    drift(hidden_columns={"CustomersV3": ["SalesCurrencyCode"], "contacts": ["msdynce_isactivecustomer"]})
    result = p2c_check(tenant, tmp_path)
    assert result.returncode == 1
    text = "\n".join(failures(result))
    assert "F&O CustomersV3 has no field 'SalesCurrencyCode'" in text
    assert "target field of flow 'accounts'; target field of flow 'contact_customers'" in text
    assert text.count("has no field 'SalesCurrencyCode'") == 1  # one line per missing name, every use on it
    assert "Dataverse contacts has no field 'msdynce_isactivecustomer'" in text
    assert "install the Prospect to cash solution" in text


def test_missing_alternate_key_is_named(tenant, tmp_path, drift):
    drift(hidden_alternate_keys={"salesorders": [["ordernumber"]]})
    result = p2c_check(tenant, tmp_path)
    assert result.returncode == 1
    assert any("Dataverse salesorders has no alternate key on (ordernumber)" in line and "DIPV1003" in line
               for line in failures(result)), result.stdout


def test_missing_customer_group_and_price_list_are_named(tenant, tmp_path):
    creds = ClientCredentials(tenant.tenant, tenant.client_id, tenant.client_secret, tenant.authority_host)
    fo, dv = FinOpsClient(tenant.finops_url, creds), DataverseClient(tenant.dataverse_url, creds)
    group = fo.http.request("GET", fo.api + "CustomerGroups(dataAreaId='demf',CustomerGroupId='10')",
                            params={"cross-company": "true"}).json()
    price_list = dv.read("pricelevels", select=["pricelevelid", "name", "_transactioncurrencyid_value"],
                         filter="name eq 'CRM Service Europe (sample)'").iloc[0]
    fo.http.request("DELETE", fo.api + "CustomerGroups(dataAreaId='demf',CustomerGroupId='10')",
                    params={"cross-company": "true"})
    dv.http.request("DELETE", f"{dv.api}pricelevels({price_list['pricelevelid']})")
    try:
        result = p2c_check(tenant, tmp_path)
    finally:
        fo.http.request("POST", fo.api + "CustomerGroups",
                        json={k: v for k, v in group.items() if not k.startswith("@")})
        dv.http.request("POST", dv.api + "pricelevels", json={
            "pricelevelid": price_list["pricelevelid"], "name": price_list["name"],
            "transactioncurrencyid@odata.bind": f"/transactioncurrencies({price_list['_transactioncurrencyid_value']})"})
    assert result.returncode == 1
    assert any(line.startswith("FAIL") and "CustomerGroupId '10' in demf" in line and "CustomerGroups" in line
               for line in failures(result)), result.stdout
    assert any("price list 'CRM Service Europe (sample)' for EUR" in line and "create the price list" in line
               for line in failures(result)), result.stdout
    assert not any("in usmf" in line for line in failures(result))


def test_preflight_stops_the_flow_before_it_writes(tenant, tmp_path, drift):
    creds = ClientCredentials(tenant.tenant, tenant.client_id, tenant.client_secret, tenant.authority_host)
    fo = FinOpsClient(tenant.finops_url, creds)
    before = len(fo.read("CustomersV3", select=["CustomerAccount"], cross_company=True))
    drift(hidden_columns={"CustomersV3": ["SalesCurrencyCode"]})
    result = run_prospect_to_cash(sandbox_resources(tenant, tmp_path / "state.db"), job="accounts_flow")
    assert not result.success
    evaluation = next(e for e in result.get_asset_check_evaluations() if e.check_name == "preflight")
    assert not evaluation.passed
    assert "SalesCurrencyCode" in evaluation.metadata["problems"].value
    assert "fo/customers" not in target_metadata(result)
    assert len(fo.read("CustomersV3", select=["CustomerAccount"], cross_company=True)) == before


def test_preflight_reads_each_services_metadata_once_per_run(tenant, tmp_path):
    seen = []
    original = requests.Session.request

    def counting(self, method, url, *args, **kwargs):
        # the preflight's reads; the writer's own table look-ups filter EntityDefinitions by name
        if url.endswith(("/EntityDefinitions", "/data/$metadata")) and "$filter" not in (kwargs.get("params") or {}):
            seen.append(url)
        return original(self, method, url, *args, **kwargs)

    requests.Session.request = counting
    try:
        result = run_prospect_to_cash(sandbox_resources(tenant, tmp_path / "state.db"))
    finally:
        requests.Session.request = original
    assert result.success
    assert seen.count(f"{tenant.finops_url}/data/$metadata") == 1
    assert seen.count(f"{tenant.dataverse_url}/api/data/v9.2/EntityDefinitions") == 1
