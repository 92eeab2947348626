"""`p2c`: check the setup, run the Prospect-to-cash job, see its history, retry parked rows, the demo.

`p2c run` executes the `prospect_to_cash` job in-process against the configured services (the sandbox
when nothing is set) and prints what each flow did. With DAGSTER_HOME set the runs are kept and show
in `dagster dev`. `p2c demo` starts the bundled sandbox, seeds it, runs the job, lets the simulated
business users work, runs it again and prints both summaries.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import click
import requests

from p2c_assets.connectors.resources import SANDBOX

SANDBOX_DATAVERSE_URL, SANDBOX_FINOPS_URL = SANDBOX["DATAVERSE_URL"], SANDBOX["FINOPS_URL"]


@click.group()
def main() -> None:
    """Prospect-to-cash between Dynamics 365 Sales and Finance and Operations."""


@main.command()
@click.option("--job", default="prospect_to_cash", show_default=True, help="Job to run (e.g. quotes_flow).")
@click.option("--dry-run", is_flag=True, help="Compute what would be written; write nothing.")
@click.option("--full-resync", is_flag=True, help="Write every valid row, even unchanged ones.")
def run(job: str, dry_run: bool, full_resync: bool) -> None:
    """Run a job now and print a summary per flow."""
    ok = run_job(job, dry_run=dry_run, full_resync=full_resync)
    sys.exit(0 if ok else 1)


@main.command()
def check() -> None:
    """Check both services before a first run: reachable, token, application user, every entity,
    field, key and navigation property the flows use, and the templates' reference data in every
    mapped company. One line per check; exit code 0 only when all pass."""
    from p2c_assets.connectors.resources import DataverseResource, FinOpsResource
    from p2c_assets.flows.settings import load_settings
    from p2c_assets.preflight import checks

    try:
        dataverse, finops = DataverseResource().get_client(), FinOpsResource().get_client()
    except ValueError as exc:  # a real tenant's URL without its app registration settings
        click.echo(f"FAIL  settings  {exc}")
        sys.exit(1)
    failed = done = 0
    with dataverse, finops:
        for result in checks(load_settings(), dataverse, finops):
            click.echo(result.line())
            failed, done = failed + (not result.ok), done + 1
    click.echo(f"{failed} of {done} checks failed" if failed else f"all {done} checks passed")
    sys.exit(1 if failed else 0)


@main.command()
@click.option("--flow", default=None, help="Only this flow.")
@click.option("--run", "run_id", type=int, default=None, help="Show the errors of one ledger run.")
@click.option("--limit", default=20, show_default=True)
def history(flow: str | None, run_id: int | None, limit: int) -> None:
    """Past sync runs with counts per flow, or the record errors of one run."""
    from p2c_assets.engine.ledger import Ledger
    from p2c_assets.history import history_text

    ledger = Ledger.from_env()
    ledger.upgrade()
    click.echo(history_text(ledger, flow=flow, run=run_id, limit=limit))


@main.command()
@click.option("--flow", default=None, help="Only this flow.")
def unpark(flow: str | None) -> None:
    """Give parked rows (failed too often) new attempts; then run the `retry_failed` job or wait."""
    from p2c_assets.engine.ledger import Ledger

    ledger = Ledger.from_env()
    ledger.upgrade()
    click.echo(f"{ledger.unpark(flow)} parked row(s) will be retried on the next run")


@main.command()
@click.option("--data", default=".sandbox", show_default=True, help="Sandbox data folder.")
@click.option("--scale", default=200, show_default=True, help="Accounts to seed.")
def demo(data: str, scale: int) -> None:
    """Start the sandbox, seed it, sync, simulate a business day, sync again."""
    os.environ.setdefault("DAGSTER_HOME", str(Path(".dagster_home").resolve()))
    home = Path(os.environ["DAGSTER_HOME"])
    home.mkdir(exist_ok=True)
    if Path("dagster.yaml").exists() and not (home / "dagster.yaml").exists():
        shutil.copy("dagster.yaml", home / "dagster.yaml")  # the project's instance settings
    fresh = not Path(data, "dataverse.db").exists()
    server = subprocess.Popen([sys.executable, "-m", "p2c_sandbox.cli", "serve", "--data", data])
    try:
        _wait_healthy()
        if fresh:
            subprocess.run([sys.executable, "-m", "p2c_sandbox.cli", "seed", "--data", data, "--scale", str(scale)],
                           check=True)
        click.echo("\n== first sync: accounts, contacts and products ==")
        first = run_job("prospect_to_cash")
        subprocess.run([sys.executable, "-m", "p2c_sandbox.cli", "simulate", "--data", data, "--steps", "1",
                        "--dataverse-url", SANDBOX_DATAVERSE_URL, "--finops-url", SANDBOX_FINOPS_URL], check=True)
        click.echo("\n== second sync: quotes, orders and invoices made by the simulated users ==")
        second = run_job("prospect_to_cash")
    finally:
        server.terminate()
        server.wait(timeout=30)
    click.echo(f"\nRun history is in {os.environ['DAGSTER_HOME']}. Open the UI with `make ui` "
               "(sandbox + dagster dev on http://127.0.0.1:3000).")
    sys.exit(0 if first and second else 1)


def _wait_healthy(timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{SANDBOX_DATAVERSE_URL}/_sandbox/health", timeout=1).ok and \
                    requests.get(f"{SANDBOX_FINOPS_URL}/_sandbox/health", timeout=1).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise click.ClickException("the sandbox did not start; is another process using ports 8801/8802?")


def run_job(job: str, *, dry_run: bool = False, full_resync: bool = False) -> bool:
    """Execute a job in-process on the Dagster instance (DAGSTER_HOME) and print its summary."""
    import dagster as dg

    from p2c_assets.execution import execute, failed_checks, summary

    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else None
    result = execute(job, instance=instance, dry_run=dry_run, full_resync=full_resync)
    click.echo(summary(result))
    return result.success and not failed_checks(result)


if __name__ == "__main__":
    main()
