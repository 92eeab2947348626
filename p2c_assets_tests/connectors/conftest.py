"""Clients pointed at the running sandbox (the ``sandbox`` fixture of p2c_assets_tests/conftest.py)."""

import uuid

import pytest

from p2c_assets.connectors import ClientCredentials, DataverseClient, FinOpsClient
from p2c_assets.connectors.http import RetryPolicy

# Fast backoff so fault tests take seconds; Retry-After from the service still wins.
FAST_RETRY = RetryPolicy(max_attempts=8, backoff_base_s=0.05, backoff_max_s=0.5)


@pytest.fixture
def creds(sandbox):
    return ClientCredentials(sandbox.tenant, sandbox.client_id, sandbox.client_secret, sandbox.authority_host)


@pytest.fixture
def dv(sandbox, creds):
    with DataverseClient(sandbox.dataverse_url, creds, retry=FAST_RETRY) as client:
        yield client


@pytest.fixture(scope="session")
def finops_reference_data(sandbox):
    """Currencies and customer group 10 in both demo companies, which customers need to validate."""
    creds = ClientCredentials(sandbox.tenant, sandbox.client_id, sandbox.client_secret, sandbox.authority_host)
    with FinOpsClient(sandbox.finops_url, creds) as client:
        written = client.upsert_many("Currencies", [{"CurrencyCode": "USD", "Name": "US dollar"},
                                                    {"CurrencyCode": "EUR", "Name": "Euro"}], key=["CurrencyCode"])
        written += client.upsert_many("CustomerGroups", [
            {"dataAreaId": company, "CustomerGroupId": "10", "Description": "Wholesale"}
            for company in ("usmf", "demf")], key=["dataAreaId", "CustomerGroupId"])
    assert all(o.status != "failed" for o in written), written


@pytest.fixture
def fo(sandbox, creds, finops_reference_data):
    with FinOpsClient(sandbox.finops_url, creds, company="usmf", retry=FAST_RETRY) as client:
        yield client


@pytest.fixture(autouse=True)
def _clean_faults(request):
    """Every test starts and ends without faults (only when it uses the sandbox)."""
    if "sandbox" not in request.fixturenames:
        yield
        return
    sandbox = request.getfixturevalue("sandbox")
    sandbox.reset_faults()
    yield
    sandbox.reset_faults()


@pytest.fixture
def tag():
    """A short unique prefix so tests sharing one sandbox never see each other's rows."""
    return uuid.uuid4().hex[:6].upper()
