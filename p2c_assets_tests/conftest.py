"""Shared fixtures: one real sandbox (both services) per test session, over real HTTP on loopback."""

from __future__ import annotations

import uuid

import pytest
import requests

from p2c_assets_tests.clients import service_clients
from p2c_sandbox.process import SandboxHandle, running_sandbox, seeded_sandbox


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory) -> SandboxHandle:
    """One plain-HTTP sandbox (both services) for the whole session."""
    with running_sandbox(tmp_path_factory.mktemp("sandbox")) as handle:
        yield handle


@pytest.fixture(scope="session")
def tls_sandbox(tmp_path_factory) -> SandboxHandle:
    """A sandbox serving HTTPS (started only when a test asks); trust it with `ca_bundle`."""
    with running_sandbox(tmp_path_factory.mktemp("tls-sandbox"), tls=True) as handle:
        yield handle


@pytest.fixture(scope="module")
def company(request, tmp_path_factory) -> SandboxHandle:
    """A seeded company of the module's own (flows change it): size and seed from the module's
    `COMPANY = (scale, seed)`, so each module's data is deterministic and its own."""
    scale, seed = request.module.COMPANY
    with seeded_sandbox(tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]),
                        scale=scale, seed=seed) as handle:
        yield handle


@pytest.fixture(scope="module")
def clients(company):
    """(Dataverse, F&O) clients on the module's company."""
    with service_clients(company) as both:
        yield both


@pytest.fixture(scope="module")
def state_db(tmp_path_factory):
    """A ledger database file for the module's runs."""
    return tmp_path_factory.mktemp("state") / "state.db"


@pytest.fixture
def clean_faults(sandbox):
    """Use in tests that change faults: puts both services back to their start-up faults after."""
    yield sandbox
    sandbox.reset_faults()


class DataverseApi:
    """An authenticated `requests` session on the sandbox's Dataverse Web API."""

    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.root = f"{sandbox.dataverse_url}/api/data/v9.2/"
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {sandbox.token('dataverse')}",
                                     "Accept": "application/json", "OData-Version": "4.0"})

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        url = path if path.startswith("http") else self.root + path
        return self.session.request(method, url, timeout=30, **kwargs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def create(self, entity_set: str, body: dict) -> dict:
        response = self.post(entity_set, json=body, headers={"Prefer": "return=representation"})
        assert response.status_code == 201, response.text
        return response.json()


@pytest.fixture
def dv(sandbox) -> DataverseApi:
    return DataverseApi(sandbox)


@pytest.fixture
def unique():
    """A function making names no other test uses (the sandbox is shared by the session)."""
    return lambda prefix="T": f"{prefix}-{uuid.uuid4().hex[:8]}"
