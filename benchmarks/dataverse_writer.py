"""The project's Dataverse writer beside Microsoft's official SDK, on one sandbox in one run (not a test).

Both write the same accounts (create every row, then update every row) into the same TLS sandbox
(the SDK refuses plain http): `DataverseClient.upsert_many` (created vs updated per row, with the
ids) and `PowerPlatform.Dataverse.client.DataverseClient`'s `records.create` (CreateMultiple, the
ids back) then `records.upsert` (UpsertMultiple), as p2c_assets_tests/sandbox/test_dataverse_sdk.py
drives it. Per writer and step: seconds, HTTP requests to the Web API, requests per 1,000 rows
written, and the CPU seconds of this (client) process and of the sandbox; then the ratios. Each
writer's input (the SDK's row dicts and `UpsertItem`s, the project's row dicts) is built outside
the measurement.

The project's writer creates the rows it has not seen land with CreateMultiple, whose answer
carries their ids. Its update step is called the way a caller that knows nothing calls it (no
``landed`` hint): its first CreateMultiple is refused, one key-only read of the target tells
updated from created, UpsertMultiple writes. It then writes the update once more with the
``landed`` hint, as the engine sends it (the ledger knows those rows landed): UpsertMultiple only.

Requests are counted where they leave the process (`requests`' transport adapter, which both
clients use), so both are counted the same way; token requests are left out (the SDK's credential
here caches its token as azure-identity's credentials do, and this client caches its own).
Both write into the one table, and a create costs the sandbox more the bigger the table is (its
indexes), so the writers take turns at writing first: two rounds, the SDK first in one and the
project's writer first in the other, and the figures are the sums of both. The key-only read of
the project's update without a hint reads the other writer's rows too, when they are there.

    .venv/bin/python benchmarks/dataverse_writer.py               # 10,000 accounts
    .venv/bin/python benchmarks/dataverse_writer.py --rows 2000   # a quick look
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import requests
from azure.core.credentials import AccessToken
from PowerPlatform.Dataverse.client import DataverseClient as SdkClient
from PowerPlatform.Dataverse.models.upsert import UpsertItem

import connectors as bench  # benchmarks/connectors.py: credentials and the sandbox's CPU time
from p2c_assets.connectors import DataverseClient
from p2c_assets.connectors.odata import literal
from p2c_sandbox.process import SandboxHandle, running_sandbox


class CachedSandboxCredential:
    """A TokenCredential for the SDK: one token from the sandbox's Entra-shaped endpoint, reused
    until it expires (the SDK asks for a token before every request and caches nothing itself)."""

    def __init__(self, sandbox: SandboxHandle):
        self.sandbox = sandbox
        self._token: AccessToken | None = None

    def get_token(self, *scopes, **kwargs) -> AccessToken:
        if self._token is None or self._token.expires_on < time.time() + 60:
            response = requests.post(self.sandbox.token_url, verify=self.sandbox.ca_bundle, timeout=10, data={
                "grant_type": "client_credentials", "client_id": self.sandbox.client_id,
                "client_secret": self.sandbox.client_secret, "scope": scopes[0]})
            response.raise_for_status()
            body = response.json()
            self._token = AccessToken(body["access_token"], int(time.time()) + body["expires_in"])
        return self._token


class WireCount:
    """Requests to the Dataverse Web API (``/api/data/``) this process sends, from any thread."""

    def __init__(self):
        self.requests = 0
        self._lock = threading.Lock()
        send = requests.adapters.HTTPAdapter.send

        def counted(adapter, request, *args, **kwargs):
            if "/api/data/" in request.url:
                with self._lock:
                    self.requests += 1
            return send(adapter, request, *args, **kwargs)

        requests.adapters.HTTPAdapter.send = counted


@dataclass
class Step:
    seconds: float
    requests: int
    client_cpu: float
    sandbox_cpu: float

    def __add__(self, other: Step) -> Step:
        return Step(self.seconds + other.seconds, self.requests + other.requests,
                    self.client_cpu + other.client_cpu, self.sandbox_cpu + other.sandbox_cpu)


def measure(wire: WireCount, action) -> tuple[Step, object]:
    requests_before, sandbox_before, client_before = wire.requests, bench.server_cpu(), time.process_time()
    started = time.perf_counter()
    result = action()
    return Step(time.perf_counter() - started, wire.requests - requests_before,
                time.process_time() - client_before, bench.server_cpu() - sandbox_before), result


def accounts(tag: str, n: int, phone: str) -> list[dict]:
    return [{"accountnumber": f"{tag}{i:07d}", "name": f"Account {i}", "telephone1": phone,
             "address1_city": "Seattle", "creditlimit": 1000} for i in range(n)]


def run_sdk(sdk: SdkClient, wire: WireCount, n: int, tag: str) -> tuple[Step, Step]:
    rows = accounts(tag, n, "555-0100")
    created, ids = measure(wire, lambda: sdk.records.create("account", rows))
    assert len(ids) == n and all(ids), len(ids)
    updates = [UpsertItem(alternate_key={"accountnumber": row.pop("accountnumber")}, record=row)
               for row in accounts(tag, n, "555-0199")]
    updated, _ = measure(wire, lambda: sdk.records.upsert("account", updates))
    return created, updated


def run_ours(dv: DataverseClient, wire: WireCount, n: int, tag: str) -> tuple[tuple[Step, Step, Step], dict]:
    """Create, update, and the update again as the engine sends it: with the ledger's ``landed`` hint;
    and the ids the create reported, by account number."""
    key = ["accountnumber"]
    rows, changed = accounts(tag, n, "555-0100"), accounts(tag, n, "555-0199")
    created, outcomes = measure(wire, lambda: dv.upsert_many("accounts", rows, key=key))
    assert all(o.status == "created" and o.target_id for o in outcomes), [o for o in outcomes if o.status == "failed"][:3]
    ids = {o.key[0]: o.target_id for o in outcomes}
    updated, outcomes = measure(wire, lambda: dv.upsert_many("accounts", changed, key=key))
    assert all(o.status == "updated" for o in outcomes), [o for o in outcomes if o.status != "updated"][:3]
    assert {o.key[0]: o.target_id for o in outcomes} == ids
    hinted, outcomes = measure(wire, lambda: dv.upsert_many("accounts", changed, key=key, landed=[True] * n))
    assert all(o.status == "updated" for o in outcomes), [o for o in outcomes if o.status != "updated"][:3]
    return (created, updated, hinted), ids


def landed(dv: DataverseClient, tag: str, n: int, ids: dict | None = None) -> None:
    """A writer's rows are all there, updated, with the ids it reported (read outside the measurements)."""
    df = dv.read("accounts", select=["accountnumber", "telephone1"], filter=f"startswith(accountnumber,{literal(tag)})")
    assert len(df) == n and set(df["telephone1"]) == {"555-0199"}, (len(df), set(df["telephone1"]))
    assert ids is None or dict(zip(df["accountnumber"], df["accountid"])) == ids


def line(writer: str, step: str, s: Step, n: int) -> None:
    print(f"{writer:<14} {step:<20} {s.seconds:8.2f} {s.requests:9d} {s.requests * 1000 / n:15.2f} "
          f"{s.client_cpu:13.2f} {s.sandbox_cpu:14.2f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    n = args.rows
    wire = WireCount()
    theirs, ours = [], []
    with tempfile.TemporaryDirectory() as data_dir, running_sandbox(Path(data_dir), tls=True) as sandbox:
        bench.SERVER_PID = sandbox.pid
        os.environ["REQUESTS_CA_BUNDLE"] = sandbox.ca_bundle
        with SdkClient(sandbox.dataverse_url, CachedSandboxCredential(sandbox)) as sdk, \
                DataverseClient(sandbox.dataverse_url, bench.credentials(sandbox)) as dv:
            for sdk_first in (True, False):    # each writer once into the smaller table (see the docstring)
                sdk_tag, our_tag = (uuid.uuid4().hex[:6].upper() for _ in range(2))
                if sdk_first:
                    theirs.append(run_sdk(sdk, wire, n, sdk_tag))
                ours_now, ids = run_ours(dv, wire, n, our_tag)
                ours.append(ours_now)
                if not sdk_first:
                    theirs.append(run_sdk(sdk, wire, n, sdk_tag))
                landed(dv, sdk_tag, n)
                landed(dv, our_tag, n, ids)
    theirs = [a + b for a, b in zip(*theirs)]
    ours = [a + b for a, b in zip(*ours)]
    rows = 2 * n     # per step: two rounds
    print(f"{n:,} accounts written twice (create, then update every row) per writer and round, two rounds "
          f"(the SDK first, then the p2c writer first), sums of both; one TLS sandbox, {os.cpu_count()} CPUs")
    print(f"{'writer':<14} {'step':<20} {'seconds':>8} {'requests':>9} {'req/1,000 rows':>15} "
          f"{'client CPU s':>13} {'sandbox CPU s':>14}")
    for writer, (create, update) in (("official SDK", theirs), ("p2c writer", ours[:2])):
        line(writer, "create", create, rows)
        line(writer, "update", update, rows)
        line(writer, "total", create + update, 2 * rows)
    line("p2c writer", "update, ledger hint", ours[2], rows)
    b = theirs[0] + theirs[1]
    for label, a in ((" (update without a hint: a key read)", ours[0] + ours[1]),
                     (" (update with the ledger hint)", ours[0] + ours[2])):
        print(f"p2c writer / SDK{label}: time {a.seconds / b.seconds:.2f}x, requests {a.requests / b.requests:.2f}x, "
              f"client CPU {a.client_cpu / b.client_cpu:.2f}x")


if __name__ == "__main__":
    main()
