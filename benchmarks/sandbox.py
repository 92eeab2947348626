"""Benchmark: the sandbox's start-up, seed and request rates, printed as figures.

    .venv/bin/python benchmarks/sandbox.py [--scale 200] [--large-scale 250000]

Start-up is the time from launching `p2c-sandbox serve` to both health endpoints answering; seed
times are for the default scale and for a scale whose largest entity (contacts, twice the accounts)
reaches 500,000 rows; request rates are single-record GETs by key and `UpsertMultiple` of 1,000 rows
from one client session. Everything runs on loopback in temporary folders.
"""

import argparse
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

from p2c_sandbox.process import running_sandbox


def seed(data: Path, scale: int) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "p2c_sandbox.cli", "seed", "--data", str(data), "--scale", str(scale)],
                   check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=200)
    parser.add_argument("--large-scale", type=int, default=250_000, help="0 skips the large seed")
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--upserts", type=int, default=10, help="UpsertMultiple requests of 1,000 rows")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp, "default")
        print(f"seed, scale {args.scale}: {seed(data, args.scale):.1f} s")
        started = time.perf_counter()
        with running_sandbox(data) as sandbox:
            print(f"start-up to healthy: {time.perf_counter() - started:.2f} s")
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {sandbox.token('dataverse')}"
            api = f"{sandbox.dataverse_url}/api/data/v9.2"
            ids = [a["accountid"] for a in session.get(f"{api}/accounts?$select=accountid").json()["value"]]
            started = time.perf_counter()
            for i in range(args.reads):
                session.get(f"{api}/accounts({ids[i % len(ids)]})?$select=name").raise_for_status()
            elapsed = time.perf_counter() - started
            print(f"single reads: {args.reads / elapsed:.0f} requests/s ({args.reads} GETs by key)")
            started = time.perf_counter()
            for batch in range(args.upserts):
                targets = [{"@odata.type": "Microsoft.Dynamics.CRM.account",
                            "@odata.id": f"accounts(accountnumber='BENCH-{batch}-{i}')",
                            "name": f"Bench {uuid.uuid4().hex[:8]}"} for i in range(1000)]
                session.post(f"{api}/accounts/Microsoft.Dynamics.CRM.UpsertMultiple",
                             json={"Targets": targets}).raise_for_status()
            elapsed = time.perf_counter() - started
            print(f"UpsertMultiple of 1,000 rows: {args.upserts / elapsed:.2f} requests/s "
                  f"({args.upserts * 1000 / elapsed:.0f} rows/s)")
        if args.large_scale:
            print(f"seed, scale {args.large_scale} ({2 * args.large_scale:,} contacts): "
                  f"{seed(Path(tmp, 'large'), args.large_scale):.1f} s")


if __name__ == "__main__":
    main()
