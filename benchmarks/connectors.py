"""Connector throughput against a local sandbox it starts (not a test).

For each row count: rows per second and HTTP requests per 1,000 rows, for a bulk upsert (initial
load) and a full read, on Dataverse (accounts) and F&O (CustomersV3); and the CPU seconds per 1,000
rows the sandbox process and this (client) process spent, which shows which side limits the rate.

    .venv/bin/python benchmarks/connectors.py                 # 10,000 and 100,000 rows
    .venv/bin/python benchmarks/connectors.py --rows 2000     # a quick look
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from pathlib import Path

from p2c_assets.connectors import ClientCredentials, DataverseClient, FinOpsClient
from p2c_assets.connectors.odata import literal
from p2c_sandbox.process import SandboxHandle, running_sandbox


def credentials(sandbox: SandboxHandle) -> ClientCredentials:
    """The sandbox's demo app registration."""
    return ClientCredentials(sandbox.tenant, sandbox.client_id, sandbox.client_secret, sandbox.authority_host)


SERVER_PID: int | None = None  # the sandbox process, for its CPU time


def process_cpu(pid: int | None) -> float:
    """CPU seconds (user + sys) a process has used so far (0 where /proc is not available)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def peak_rss_mb(pid: int | None) -> float:
    """A process's peak resident memory (VmHWM) in MB (0 where /proc is not available)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024
    except (OSError, StopIteration, ValueError):
        return 0.0


def server_cpu() -> float:
    """CPU seconds the sandbox process has used so far."""
    return process_cpu(SERVER_PID)


def measure(label: str, client, n: int, action) -> None:
    before = client.stats.snapshot()
    server_before, client_before = server_cpu(), time.process_time()
    started = time.perf_counter()
    result = action()
    seconds = time.perf_counter() - started
    used = client.stats.since(before)
    server_s, client_s = server_cpu() - server_before, time.process_time() - client_before
    print(f"{label:<34} {n:>8,} rows {seconds:8.2f} s {n / seconds:10,.0f} rows/s "
          f"{used.requests * 1000 / n:8.2f} requests/1,000 rows   CPU s/1,000 rows: "
          f"sandbox {server_s * 1000 / n:6.3f}, client {client_s * 1000 / n:6.3f}", flush=True)
    return result


def run_dataverse(n: int, dv: DataverseClient, tag: str) -> None:
    accounts = [{"accountnumber": f"{tag}{i:07d}", "name": f"Account {i}", "telephone1": "555-0100",
                 "address1_city": "Seattle", "creditlimit": 1000} for i in range(n)]
    outcomes = measure("Dataverse upsert (UpsertMultiple)", dv, n,
                       lambda: dv.upsert_many("accounts", accounts, key=["accountnumber"]))
    assert all(o.status == "created" for o in outcomes), [o for o in outcomes if o.status == "failed"][:3]
    df = measure("Dataverse full read", dv, n, lambda: dv.read(
        "accounts", select=["accountnumber", "name", "telephone1", "address1_city", "creditlimit"],
        filter=f"startswith(accountnumber,{literal(tag)})"))
    assert len(df) == n, len(df)


def run_finops(n: int, fo: FinOpsClient, tag: str) -> None:
    # F&O customers need their currency and customer group to exist
    fo.upsert_many("Currencies", [{"CurrencyCode": "USD", "Name": "US dollar"}], key=["CurrencyCode"])
    fo.upsert_many("CustomerGroups", [{"CustomerGroupId": "10", "Description": "Wholesale"}],
                   key=["dataAreaId", "CustomerGroupId"])
    customers = [{"CustomerAccount": f"{tag}{i:07d}", "OrganizationName": f"Customer {i}",
                  "CustomerGroupId": "10", "SalesCurrencyCode": "USD", "PrimaryContactPhone": "555-0100",
                  "DeliveryAddressCity": "Seattle"} for i in range(n)]
    outcomes = measure("F&O upsert ($batch changesets)", fo, n,
                       lambda: fo.upsert_many("CustomersV3", customers, key=["dataAreaId", "CustomerAccount"]))
    assert all(o.status == "created" for o in outcomes), [o for o in outcomes if o.status == "failed"][:3]
    df = measure("F&O full read", fo, n, lambda: fo.read(
        "CustomersV3", select=["CustomerAccount", "OrganizationName", "PrimaryContactPhone"],
        filter=f"CustomerAccount eq {literal(tag + '*')}"))
    assert len(df) == n, len(df)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--services", nargs="+", choices=["dataverse", "finops"], default=["dataverse", "finops"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir, running_sandbox(Path(data_dir)) as sandbox:
        global SERVER_PID
        SERVER_PID = sandbox.pid
        dv = DataverseClient(sandbox.dataverse_url, credentials(sandbox))
        # package_threshold=0: this measures $batch; benchmarks/packages.py the bulk route
        fo = FinOpsClient(sandbox.finops_url, credentials(sandbox), package_threshold=0)
        for n in args.rows:
            tag = uuid.uuid4().hex[:6].upper()
            if "dataverse" in args.services:
                run_dataverse(n, dv, tag)
            if "finops" in args.services:
                run_finops(n, fo, tag)


if __name__ == "__main__":
    main()
