"""`p2c`: check the setup, preview or run the Prospect-to-cash job, see its history, retry parked rows, the demo.

`p2c run` executes the `prospect_to_cash` job in-process against the configured services (the sandbox
when nothing is set) and prints what each flow did; `p2c preview` computes what it would write without
writing anything or recording a run. With DAGSTER_HOME set the runs are kept and show
in `dg dev`. `p2c demo` starts the sandbox (the `p2c_sandbox` package, which `make` installs beside
this one), seeds it, runs the job, lets the simulated business users work, runs it again and prints
both summaries.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import time
from pathlib import Path

import click
import requests

from p2c_assets.connectors.environment import SANDBOX

SANDBOX_DATAVERSE_URL, SANDBOX_FINOPS_URL = SANDBOX["DATAVERSE_URL"], SANDBOX["FINOPS_URL"]


@click.group()
def main() -> None:
    """Prospect-to-cash between Dynamics 365 Sales and Finance and Operations."""


@main.command()
@click.option("--job", default="prospect_to_cash", show_default=True, help="Job to run (e.g. quotes_flow).")
@click.option("--full-resync", is_flag=True, help="Write every valid row, even unchanged ones, and reconcile every landed record.")
@click.option("--company", default=None, metavar="LEGAL_ENTITY",
              help="Only this legal entity (a partition, e.g. usmf); default: every company of the mapping, one run.")
@click.option("--verbose", is_flag=True, help="Also print Dagster's own log (with the stack trace of a failed step).")
def run(job: str, full_resync: bool, company: str | None, verbose: bool) -> None:
    """Run a job now and print a summary per asset.

    Runs of different legal entities (`--company`) may go at the same time, from several shells or
    machines sharing the ledger; two runs of one flow in the same legal entity take turns.

    Exit code 0: synced, possibly with warnings (printed); 1: something failed to sync (a failed step or
    a failed check of severity ERROR); 2: a configuration or connection error (bad overrides file,
    service unreachable, credentials refused).
    """
    sys.exit(run_job(job, full_resync=full_resync, company=company, verbose=verbose))


@main.command()
@click.option("--flow", default=None, help="Only this flow (names as in `p2c history`).")
@click.option("--job", default=None, help="The flows of this job, e.g. quotes_flow (default: every flow).")
def preview(flow: str | None, job: str | None) -> None:
    """Show what a run would write: per flow the rows it would create, update, leave unchanged or
    reject, and the field changes. Writes nothing, records no Dagster run, fires no alert. Exit code
    0, or 1/2 as `p2c run` when a service refuses a read or cannot be reached."""
    from p2c_assets.connectors import ConnectorError, ServiceError
    from p2c_assets.connectors.environment import dataverse_client, finops_client
    from p2c_assets.engine.ledger import Ledger
    from p2c_assets.flows.settings import load_settings
    from p2c_assets.preview import flows_of_job, preview as preview_flows, preview_text

    if flow and job:
        raise click.UsageError("give --flow or --job, not both")
    problem = _setup_problem()
    if problem:
        click.echo(f"configuration error: {problem}")
        sys.exit(2)
    settings = load_settings()
    if flow and flow not in settings.templates:
        raise click.BadParameter(f"unknown flow; flows are {', '.join(settings.templates)}", param_hint="--flow")
    if flow:
        flows = [flow]
    else:
        from p2c_assets.definitions import defs

        flows = flows_of_job(set(defs.resolve_job_def(job or "prospect_to_cash").graph.node_names()))
    ledger = Ledger.from_env()
    ledger.upgrade()
    try:
        with dataverse_client() as dataverse, finops_client() as finops:
            reports = preview_flows(flows, settings=settings, dataverse=dataverse, finops=finops, ledger=ledger)
    except ConnectorError as exc:
        click.echo(f"preview failed: {type(exc).__name__}: {exc}")
        sys.exit(1 if isinstance(exc, ServiceError) else 2)
    click.echo(preview_text(reports))


@main.command()
def check() -> None:
    """Check both services before a first run: reachable, token, application user, every entity,
    field, key and navigation property the flows use, and the templates' reference data in every
    mapped company. One line per check; exit code 0 only when all pass."""
    from p2c_assets.connectors.environment import dataverse_client, finops_client
    from p2c_assets.flows.settings import load_settings
    from p2c_assets.preflight import checks

    try:
        dataverse, finops = dataverse_client(), finops_client()
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
@click.option("--flow", default=None, help="Only this flow (names as in `p2c history`).")
@click.option("--outcome", type=click.Choice(["rejected", "failed", "blocked", "parked"]), default=None,
              help="Only records with this outcome.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write every problem record to this CSV file instead of printing them.")
def problems(flow: str | None, outcome: str | None, csv_path: str | None) -> None:
    """Every record whose last sync did not land: key, legal entity, outcome, attempts, since when,
    and the reason or the service's error. Rejected rows are retried on every run, failed ones until
    they park; fix the cause (the reason says which field and where) and the next run picks them up."""
    from p2c_assets.engine.ledger import Ledger
    from p2c_assets.history import problems_frame, problems_text

    ledger = Ledger.from_env()
    ledger.upgrade()
    frame = problems_frame(ledger, flow=flow, outcome=outcome)
    if csv_path:
        frame.to_csv(csv_path, index=False)
        click.echo(f"{len(frame)} problem record(s) written to {csv_path}")
    else:
        click.echo(problems_text(frame))


@main.command()
@click.option("--data", default=".sandbox", show_default=True, help="Sandbox data folder.")
@click.option("--scale", default=200, show_default=True, help="Accounts to seed.")
def demo(data: str, scale: int) -> None:
    """Start the sandbox, seed it, sync, simulate a business day, sync again."""
    _require_sandbox()
    # the project's instance (dagster.yaml here) keeps the runs, so `make ui` shows them afterwards
    os.environ.setdefault("DAGSTER_HOME", str(Path.cwd()))
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
    click.echo(f"\nThe runs are kept by the Dagster instance at {os.environ['DAGSTER_HOME']} (the project's "
               "dagster.yaml keeps them in .dagster_home/). Open the UI with `make ui` (sandbox + dg dev on "
               "http://127.0.0.1:3000).")
    sys.exit(max(first, second))


def _require_sandbox() -> None:
    """The sandbox is a package of its own (sandbox/ in the repository) that a production install of
    p2c_assets leaves out; say how to get it instead of failing inside the server's process."""
    try:
        importlib.metadata.distribution("p2c_sandbox")
    except importlib.metadata.PackageNotFoundError:
        raise click.ClickException(
            "the demo runs the sandbox, which is not installed: it is the package in the repository's "
            "sandbox/ folder, kept out of a production install. From a clone of the repository, "
            "`make demo` installs everything, or install it with `pip install -e ./sandbox`.") from None


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


def run_job(job: str, *, full_resync: bool = False, company: str | None = None, verbose: bool = False) -> int:
    """Execute a job in-process on the Dagster instance (DAGSTER_HOME), for one legal entity or all of
    them, and print its summary; returns the exit code (see `p2c run`)."""
    problem = _setup_problem(company)
    if problem:
        click.echo(f"configuration error: {problem}")
        return 2
    import dagster as dg

    from p2c_assets.defs.checks import RECONCILE_TAG
    from p2c_assets.engine.ledger import Ledger
    from p2c_assets.execution import execute, summary
    from p2c_assets.run_report import RunReport

    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    # a failed step's stack trace stays in the run's log (the UI) unless asked for: the summary names the cause
    # a full resync rewrites every record: it reconciles every landed record too, against the whole target
    result = execute(job, instance=instance, full_resync=full_resync, log_level="DEBUG" if verbose else "CRITICAL",
                     tags={RECONCILE_TAG: "full"} if full_resync else None, company=company)
    report = RunReport.read(instance, result.run_id)
    ledger = Ledger.from_env()
    ledger.upgrade()
    runs = {r.id: r.flow for r in ledger.history(limit=100) if r.dagster_run_id == result.run_id}
    click.echo(summary(report, runs))
    return report.exit_code


def _setup_problem(company: str | None = None) -> str | None:
    """A wrong overrides file, a legal entity it does not map, or a tenant's URL without its app
    registration settings: found before a run starts, since no step could succeed."""
    from p2c_assets.connectors.environment import dataverse_client, finops_client
    from p2c_assets.execution import partition_tags
    from p2c_assets.flows.settings import load_settings

    try:
        partition_tags(list(load_settings().companies), company)
        dataverse_client().close()
        finops_client().close()
    except ValueError as exc:  # TemplateConfigError included
        return str(exc)
    return None


if __name__ == "__main__":
    main()
