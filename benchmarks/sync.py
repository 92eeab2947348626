"""Benchmark: the accounts flow over N seeded accounts, first full sync then a no-change re-run.

Prints wall time, HTTP requests and rows written for each run, and the no-change re-run's share of the
full sync. Not a test: run it by hand,
    .venv/bin/python benchmarks/sync.py --accounts 100000
It seeds a fresh sandbox in a temporary folder, starts it on free ports and runs the job as `p2c run`
does, its settings from the environment (pointed at that sandbox and a temporary ledger).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from p2c_assets.execution import execute, materialization_metadata, target_metadata
from p2c_sandbox.process import running_sandbox


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp, "sandbox")
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "p2c_sandbox.cli", "seed", "--data", str(data),
                        "--scale", str(args.accounts)], check=True, stdout=subprocess.DEVNULL)
        print(f"seed {args.accounts} accounts: {time.perf_counter() - started:.1f} s")
        with running_sandbox(data) as sandbox:
            os.environ.update(DATAVERSE_URL=sandbox.dataverse_url, FINOPS_URL=sandbox.finops_url,
                              AZURE_TENANT_ID=sandbox.tenant, AZURE_CLIENT_ID=sandbox.client_id,
                              AZURE_CLIENT_SECRET=sandbox.client_secret,
                              P2C_STATE_URL=f"sqlite:///{Path(tmp, 'state.db')}")
            seconds = []
            for label in ("first full sync", "no-change re-run"):
                started = time.perf_counter()
                result = execute("accounts_flow")
                seconds.append(time.perf_counter() - started)
                meta = target_metadata(result)["fo/customers"]
                requests = sum(m.get("http_requests", 0) for m in materialization_metadata(result).values())
                print(f"{label}: {seconds[-1]:.1f} s, {requests} HTTP requests ({meta['http_requests']} by the "
                      f"writer), {meta['rows_created'] + meta['rows_updated']} rows written, "
                      f"{meta['rows_unchanged']} unchanged, success={result.success}")
            print(f"no-change re-run: {seconds[1] / seconds[0]:.0%} of the full sync (goal: at most 5%)")


if __name__ == "__main__":
    main()
