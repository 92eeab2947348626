"""`p2c-sandbox`: run the local Dataverse and F&O services and steer their faults.

`serve` starts both services (see `server.py`); `faults` changes the fault configuration of a
running sandbox through its `/_sandbox/faults` endpoint on both ports.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import requests

from .server import SandboxContext, serve as run_server
from p2c_sandbox.seed import seed_command
from p2c_sandbox.simulate import simulate_command


def _fault_options(func):
    """The fault settings shared by `serve` (start-up values) and `faults` (runtime changes)."""
    options = [
        click.option("--latency-ms", type=click.FloatRange(min=0), help="Delay added to every API call."),
        click.option("--error-rate", type=click.FloatRange(0, 1), help="Fraction of API calls answered 5xx."),
        click.option("--error-statuses", help="Comma-separated statuses for injected errors (default 500,503)."),
        click.option("--drop-rate", type=click.FloatRange(0, 1), help="Fraction of API calls whose connection is cut."),
        click.option("--drop-after-commit-rate", type=click.FloatRange(0, 1),
                     help="Fraction of API writes carried out, then cut off before the answer."),
        click.option("--budget-requests", type=click.IntRange(min=0), help="Requests allowed per budget window (then 429)."),
        click.option("--budget-window-s", type=click.FloatRange(min=0.001), default=300.0, show_default=True,
                     help="Length of the request-budget window."),
        click.option("--token-lifetime", "token_lifetime_s", type=click.IntRange(min=1),
                     help="Lifetime of issued access tokens in seconds (default 3599)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _fault_changes(latency_ms, error_rate, error_statuses, drop_rate, drop_after_commit_rate, budget_requests,
                   budget_window_s, token_lifetime_s) -> dict:
    changes = {"latency_ms": latency_ms, "error_rate": error_rate, "drop_rate": drop_rate,
               "drop_after_commit_rate": drop_after_commit_rate, "token_lifetime_s": token_lifetime_s}
    changes = {k: v for k, v in changes.items() if v is not None}
    if error_statuses:
        try:
            changes["error_statuses"] = [int(s) for s in error_statuses.split(",")]
        except ValueError:
            raise click.BadParameter("must be comma-separated HTTP statuses, e.g. 500,503",
                                     param_hint="--error-statuses") from None
    if budget_requests is not None:
        changes["budget"] = {"requests": budget_requests, "window_s": budget_window_s}
    return changes


@click.group()
def main() -> None:
    """Local Dynamics 365 Sales (Dataverse) and Finance and Operations services for p2c_assets."""


@main.command()
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=Path(".sandbox"),
              show_default=True, help="Directory for the SQLite databases, signing key and TLS files.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--dataverse-port", type=click.IntRange(0, 65535), default=8801, show_default=True)
@click.option("--finops-port", type=click.IntRange(0, 65535), default=8802, show_default=True)
@click.option("--tls", is_flag=True, help="Serve HTTPS with a self-signed certificate (CA in DATA/ca.pem).")
@click.option("--fault-seed", type=int, default=None, help="Seed for fault randomness (reproducible runs).")
@click.option("--log-level", default="warning", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
@_fault_options
def serve(data_dir, host, dataverse_port, finops_port, tls, fault_seed, log_level, **faults) -> None:
    """Start both services and serve until interrupted (SIGINT/SIGTERM)."""
    ctx = SandboxContext(data_dir=data_dir, host=host, dataverse_port=dataverse_port,
                         finops_port=finops_port, fault_seed=fault_seed,
                         initial_faults=_fault_changes(**faults))
    run_server(ctx, tls=tls, log_level=log_level)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--dataverse-port", type=int, default=8801, show_default=True)
@click.option("--finops-port", type=int, default=8802, show_default=True)
@click.option("--tls", is_flag=True, help="The sandbox serves HTTPS.")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=Path(".sandbox"),
              show_default=True, help="Data directory (for the TLS CA).")
@click.option("--reset", is_flag=True, help="Back to the start-up fault configuration first.")
@_fault_options
def faults(host, dataverse_port, finops_port, tls, data_dir, reset, **options) -> None:
    """Change the faults of a running sandbox (both services) and print the result."""
    scheme = "https" if tls else "http"
    verify = str(data_dir / "ca.pem") if tls else True
    changes = _fault_changes(**options)
    for name, port in (("dataverse", dataverse_port), ("finops", finops_port)):
        base = f"{scheme}://{host}:{port}/_sandbox"
        try:
            if reset:
                requests.post(f"{base}/reset-faults", timeout=10, verify=verify).raise_for_status()
            response = requests.put(f"{base}/faults", json=changes, timeout=10, verify=verify)
        except requests.ConnectionError:
            raise click.ClickException(f"no sandbox {name} service answers at {base}") from None
        if response.status_code != 200:
            raise click.ClickException(f"{name}: {response.text}")
        click.echo(f"{name}: {json.dumps(response.json())}")


main.add_command(seed_command)
main.add_command(simulate_command)

if __name__ == "__main__":
    main()
