"""F&O's bulk route against a local sandbox it starts (not a test): package imports of customers.

For each row count: `FinOpsClient.upsert_many` into CustomersV3 through a Data management package
import (`p2c_assets/connectors/packages.py`), as a first load (every row created), as a second run
(every row updated) and with 1% of the rows refused (an unknown customer group), then the same
first load through OData `$batch` for comparison. Each line gives the wall time, rows per second,
HTTP requests per 1,000 rows (blob storage included) and the CPU seconds per 1,000 rows of the
sandbox process and of this (client) process; at the end, the peak memory (RSS) of both.

The rows are what a flow hands the client: a payload frame (``dataAreaId`` included, as the mapping
sets it), held while the write runs, read through ``engine.sync.Records`` as ``write()`` hands it over
(each record made as the client reads it); each write's outcomes are counted and let go, as ``write()``
does once it has read them.

    .venv/bin/python benchmarks/packages.py                   # 10,000 and 100,000 rows
    .venv/bin/python benchmarks/packages.py --rows 500000     # Data Integrator's scale
    .venv/bin/python benchmarks/packages.py --batch-rows 0    # skip the $batch comparison
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import uuid
from pathlib import Path

import pandas as pd

import connectors as bench  # benchmarks/connectors.py: the measurement line
from p2c_assets.connectors import FinOpsClient
from p2c_assets.engine.sync import Records
from p2c_sandbox.process import running_sandbox

KEY = ["dataAreaId", "CustomerAccount"]


def customers(n: int, **changes) -> pd.DataFrame:
    """A payload of ``n`` new customers (an account number of their own per call)."""
    tag = uuid.uuid4().hex[:6].upper()
    return pd.DataFrame({
        "dataAreaId": "usmf", "CustomerAccount": [f"{tag}{i:07d}" for i in range(n)],
        "OrganizationName": [f"Customer {i}" for i in range(n)], "CustomerGroupId": "10",
        "SalesCurrencyCode": "USD", "PrimaryContactPhone": "555-0100", "DeliveryAddressCity": "Seattle",
        "CreditLimit": 1000.0, **changes})


def write(label: str, client: FinOpsClient, payload: pd.DataFrame, expected: dict[str, int]) -> None:
    """One measured upsert of ``payload``, checked by the count of each outcome status."""
    rows = Records(payload)
    outcomes = bench.measure(label, client, len(rows),
                             lambda: client.upsert_many("CustomersV3", rows, key=KEY))
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    assert counts == expected, counts


def run(n: int, fo: FinOpsClient, batch: FinOpsClient, batch_rows: int) -> None:
    payload = customers(n)
    write("package import, first load", fo, payload, {"created": n})
    payload["CreditLimit"] = 2500.0
    write("package import, every row updated", fo, payload, {"updated": n})
    payload = customers(n)
    payload.loc[::100, "CustomerGroupId"] = "99"
    refused = len(payload.index[::100])
    write("package import, 1% refused", fo, payload, {"created": n - refused, "failed": refused})
    if batch_rows:
        m = min(n, batch_rows)
        write("$batch changesets, first load", batch, customers(m), {"created": m})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--batch-rows", type=int, default=10_000,
                        help="rows of the $batch comparison (at most --rows; 0: none)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir, running_sandbox(Path(data_dir)) as sandbox:
        bench.SERVER_PID = sandbox.pid
        creds = bench.credentials(sandbox)
        fo = FinOpsClient(sandbox.finops_url, creds, package_threshold=1)
        batch = FinOpsClient(sandbox.finops_url, creds, package_threshold=0)
        # a package imports into a legal entity; customers need their currency and group
        for entity_set, row, key in (
                ("LegalEntities", {"LegalEntityId": "usmf", "Name": "USMF"}, ["LegalEntityId"]),
                ("Currencies", {"CurrencyCode": "USD", "Name": "US dollar"}, ["CurrencyCode"]),
                ("CustomerGroups", {"CustomerGroupId": "10", "Description": "Wholesale"},
                 ["dataAreaId", "CustomerGroupId"])):
            assert batch.upsert_many(entity_set, [row], key=key)[0].status != "failed"
        for n in args.rows:
            run(n, fo, batch, args.batch_rows)
        client_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS: client {client_mb:,.0f} MB, sandbox {bench.peak_rss_mb(sandbox.pid):,.0f} MB")


if __name__ == "__main__":
    main()
