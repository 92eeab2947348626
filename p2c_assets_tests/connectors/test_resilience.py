"""Throttling, injected 5xx, dropped connections (before or after the service committed a write), an
unreachable service and expiring tokens: the sync still completes, or fails fast and clearly.

Each behaviour is checked on both services, through the same seed-and-read scenario.
"""

import logging
import time
from dataclasses import dataclass, replace

import pytest

from p2c_assets.connectors import (AccessToken, AuthenticationError, ClientCredentials, DataverseClient,
                                   FinOpsClient, RetryPolicy, ServiceError, ServiceUnreachable)
from p2c_assets.connectors.odata import literal
from p2c_sandbox.process import free_port
from p2c_assets_tests.connectors.conftest import FAST_RETRY


@dataclass
class Scenario:
    """Write ``n`` tagged rows to one service, then read them back."""

    client_class: type
    url_attr: str
    entity_set: str
    key: list
    key_field: str

    def client(self, sandbox, credential, **kwargs):
        return self.client_class(getattr(sandbox, self.url_attr), credential, **{"retry": FAST_RETRY, **kwargs})

    def rows(self, tag, n):
        if self.client_class is DataverseClient:
            return [{"accountnumber": f"{tag}-{i:03d}", "name": f"n{i}"} for i in range(n)]
        return [{"CustomerAccount": f"{tag}-{i:03d}", "OrganizationName": f"n{i}", "CustomerGroupId": "10",
                 "SalesCurrencyCode": "USD"} for i in range(n)]

    def seed(self, client, tag, n, **kwargs):
        return client.upsert_many(self.entity_set, self.rows(tag, n), key=self.key, **kwargs)

    def read_tagged(self, client, tag):
        if self.client_class is DataverseClient:
            where = f"startswith(accountnumber,{literal(tag)})"
        else:
            where = f"CustomerAccount eq {literal(tag + '*')}"
        return client.read(self.entity_set, select=[self.key_field], filter=where)


SCENARIOS = {
    "dataverse": Scenario(DataverseClient, "dataverse_url", "accounts", ["accountnumber"], "accountnumber"),
    "finops": Scenario(FinOpsClient, "finops_url", "CustomersV3", ["dataAreaId", "CustomerAccount"],
                       "CustomerAccount"),
}


@pytest.fixture(params=list(SCENARIOS))
def scenario(request, sandbox):
    if request.param == "finops":
        request.getfixturevalue("finops_reference_data")
    return SCENARIOS[request.param]


def test_throttled_client_waits_for_retry_after_and_succeeds(sandbox, creds, scenario, tag):
    with scenario.client(sandbox, creds) as client:
        sandbox.set_faults(budget={"requests": 2, "window_s": 1})
        started = time.monotonic()
        outcomes = scenario.seed(client, tag, 4)
        rows = scenario.read_tagged(client, tag)
        elapsed = time.monotonic() - started
    assert {o.status for o in outcomes} == {"created"} and len(rows) == 4
    assert client.stats.throttled >= 1 and client.stats.retries >= client.stats.throttled
    assert elapsed >= 0.9   # waited for Retry-After (the 1 s window), not the 0.05 s backoff


def test_injected_5xx_and_dropped_connections_are_retried(sandbox, creds, scenario, tag):
    # the fault sequence runs on across tests: enough requests that some meet a fault, few enough
    # faults that none meets eight in a row
    sandbox.set_faults(error_rate=0.2, error_statuses=[502, 503, 504], drop_rate=0.1)
    with scenario.client(sandbox, creds) as client:
        outcomes = scenario.seed(client, tag, 12, batch_size=1)
        rows = scenario.read_tagged(client, tag)
    assert {o.status for o in outcomes} == {"created"} and len(rows) == 12
    assert client.stats.retries > 0


def test_reads_answered_500_are_retried_until_they_succeed(sandbox, creds, scenario, tag):
    with scenario.client(sandbox, creds) as client:
        scenario.seed(client, tag, 3)
        sandbox.set_faults(error_rate=0.3, error_statuses=[500])
        reads = [scenario.read_tagged(client, tag) for _ in range(20)]
    assert [len(rows) for rows in reads] == [3] * 20
    assert client.stats.retries > 0


def test_a_write_answered_500_is_sent_once_a_read_until_attempts_run_out(sandbox, creds, scenario, tag):
    """F&O answers a refused write with 500: sending it again would only be refused again."""
    sandbox.set_faults(error_rate=1.0, error_statuses=[500])
    with scenario.client(sandbox, creds) as client:
        with pytest.raises(ServiceError, match="HTTP 500"):
            client.http.request("POST", client.api + scenario.entity_set, json=scenario.rows(tag, 1)[0])
        assert client.stats.requests == 1
        with pytest.raises(ServiceError, match="HTTP 500"):
            scenario.read_tagged(client, tag)
    assert client.stats.requests == 1 + FAST_RETRY.max_attempts


@pytest.mark.parametrize("method, status, code, retried", [
    ("GET", 500, None, True),                      # a read changes nothing
    ("POST", 500, None, False),                    # F&O's answer to a refused write
    ("POST", 500, "0x80040216", False),            # Dataverse "An unexpected error occurred."
    ("POST", 500, "0x80044150", True),             # Dataverse "Generic SQL error" (deadlock victim)
    ("PATCH", 500, "0x80040255", True),            # Dataverse transaction rolled back by a deadlock
    ("POST", 503, None, True), ("POST", 429, "0x80072322", True),
    ("GET", 400, "0x80060888", False), ("GET", 404, None, False),
])
def test_which_answers_are_worth_another_attempt(method, status, code, retried):
    assert RetryPolicy().retryable(method, status, code) is retried


@pytest.mark.parametrize("bulk", [True, False], ids=["bulk", "batch"])
def test_a_write_whose_answer_is_lost_after_commit_lands_once(sandbox, creds, scenario, tag, bulk):
    """The service commits the write, then the connection drops: the client sends it again, and
    every row ends landed, none twice, none recorded as failed."""
    if not bulk and scenario.client_class is not DataverseClient:
        pytest.skip("F&O writes have one path ($batch)")
    sandbox.set_faults(drop_after_commit_rate=0.3, bulk_unsupported_tables=[] if bulk else ["accounts"])
    # 12 attempts: with 8, one request in the session's seeded fault sequence can meet 8 drops in a
    # row (0.3 each), which says nothing about landing once
    with scenario.client(sandbox, creds, retry=replace(FAST_RETRY, max_attempts=12)) as client:
        outcomes = scenario.seed(client, tag, 20, batch_size=1)
        sandbox.reset_faults()
        rows = scenario.read_tagged(client, tag)
    assert {o.status for o in outcomes} <= {"created", "updated"}
    assert sorted(rows[scenario.key_field]) == [f"{tag}-{i:03d}" for i in range(20)]
    assert client.stats.retries > 0
    if scenario.client_class is FinOpsClient:   # POSTs sent again met the rows they had created
        assert "updated" in {o.status for o in outcomes}


def test_an_unreachable_service_fails_every_later_request_at_once(scenario, tag):
    closed = f"http://127.0.0.1:{free_port()}"
    with scenario.client_class(closed, Forged(), retry=FAST_RETRY) as client:
        with pytest.raises(ServiceUnreachable) as first:
            scenario.read_tagged(client, tag)
        sent, started = client.stats.requests, time.monotonic()
        with pytest.raises(ServiceUnreachable) as later:
            scenario.seed(client, tag, 2)
        elapsed = time.monotonic() - started
    assert sent == FAST_RETRY.max_attempts and client.stats.requests == sent   # nothing more was tried
    assert elapsed < 0.1
    assert str(later.value) == str(first.value)
    message = str(first.value)
    assert message.startswith(f"{client.service} at {closed} cannot be reached: GET ")
    assert f"failed {FAST_RETRY.max_attempts} times" in message and "ConnectionError" in message


class StaleClock:
    """A credential whose tokens the client believes are valid for an hour (skewed clock, revocation)."""

    def __init__(self, inner):
        self.inner = inner
        self.calls = 0

    def get_token(self, *scopes, **kwargs):
        self.calls += 1
        return AccessToken(self.inner.get_token(*scopes).token, int(time.time()) + 3600)


def test_token_expiring_mid_run_is_refreshed_once_on_401(sandbox, creds, scenario, tag):
    # 3 s: the token issued on the 401 must outlive its retry even on a loaded machine (1 s flaked)
    sandbox.set_faults(token_lifetime_s=3)
    credential = StaleClock(creds)
    with scenario.client(sandbox, credential) as client:
        scenario.seed(client, tag, 2)
        time.sleep(3.2)                        # the cached token is now expired on the server
        calls, retries = credential.calls, client.stats.retries
        rows = scenario.read_tagged(client, tag)
    assert len(rows) == 2
    assert credential.calls - calls == 1 and client.stats.retries - retries == 1


def test_short_lived_tokens_are_renewed_before_they_expire(sandbox, creds, scenario, tag):
    sandbox.set_faults(token_lifetime_s=2, latency_ms=100)
    fetched = []

    class Counting:
        def get_token(self, *scopes, **kwargs):
            fetched.append(scopes)
            return creds.get_token(*scopes)

    with scenario.client(sandbox, Counting()) as client:
        for _ in range(24):    # ~2.4 s of requests, longer than one token lives
            scenario.read_tagged(client, tag)
    assert len(fetched) >= 2
    assert client.stats.retries == 0     # renewed ahead of time, never refused


class Forged:
    """A credential that hands out a token no service accepts, without asking any authority."""

    def get_token(self, *scopes, **kwargs):
        return AccessToken("not-a-jwt", int(time.time()) + 3600)


def test_a_token_the_service_keeps_refusing_is_a_clear_error(sandbox, scenario, tag):
    with scenario.client(sandbox, Forged()) as client:
        with pytest.raises(AuthenticationError, match="application user"):
            scenario.read_tagged(client, tag)
    assert client.stats.requests == 2


def test_wrong_secret_names_the_client_and_the_entra_error_but_not_the_secret(sandbox, scenario, tag):
    bad = ClientCredentials(sandbox.tenant, sandbox.client_id, "hunter2-wrong", sandbox.authority_host)
    with scenario.client(sandbox, bad) as client:
        with pytest.raises(AuthenticationError) as error:
            scenario.read_tagged(client, tag)
    text = str(error.value)
    assert sandbox.client_id in text and "invalid_client" in text and "AADSTS7000215" in text
    assert "hunter2" not in text


def test_secrets_never_reach_reprs_or_logs(sandbox, creds, scenario, caplog, tag):
    caplog.set_level(logging.DEBUG)
    sandbox.set_faults(error_rate=1.0, error_statuses=[503])   # every attempt retried, then an error
    with scenario.client(sandbox, creds) as client:
        with pytest.raises(ServiceError) as error:
            scenario.seed(client, tag, 3)
        token = client.http.token_source.token()
        shown = " ".join([repr(creds), repr(client), repr(client.http), repr(client.http.token_source),
                          repr(creds.get_token(client.http.token_source.scope)), str(error.value), caplog.text])
    assert "retry" in caplog.text          # the retries were logged ...
    assert sandbox.client_secret not in shown and token not in shown   # ... without secrets


def test_resources_build_clients_from_env_without_showing_the_secret(sandbox, monkeypatch):
    import dagster as dg

    from p2c_assets.defs.resources import DataverseResource, FinOpsResource
    monkeypatch.setenv("DATAVERSE_URL", sandbox.dataverse_url)
    monkeypatch.setenv("FINOPS_URL", sandbox.finops_url)
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", sandbox.authority_host)
    monkeypatch.setenv("MY_SECRET", sandbox.client_secret)
    seen = {}

    @dg.asset
    def probe(dataverse: DataverseResource, finops: FinOpsResource) -> None:
        seen["dv"] = dataverse.get_client().read("accounts", select=["accountnumber"],
                                                 filter="accountnumber eq 'none'")
        seen["fo"] = finops.get_client().read("CustomersV3", select=["CustomerAccount"],
                                              filter="CustomerAccount eq 'none'")
        seen["repr"] = repr(dataverse) + repr(finops)

    result = dg.materialize([probe], resources={
        "dataverse": DataverseResource(client_secret=dg.EnvVar("MY_SECRET")),
        "finops": FinOpsResource(client_secret=dg.EnvVar("MY_SECRET"))})
    assert result.success
    assert seen["dv"].empty and seen["fo"].empty
    assert sandbox.client_secret not in seen["repr"]
