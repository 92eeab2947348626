"""What a user sees after a run, against a seeded sandbox: `p2c run`'s exit code, its table (counts,
causes, skipped steps, warnings with their records, ledger runs), the alert with its records, and
`p2c preview`, which writes nothing, records no run and predicts the next run's counts.

The CLI runs as a subprocess with the environment a user would set; alerts come from the real sensor
over a real Dagster instance, posted to a real HTTP server.
"""

import os
import subprocess
import sys

import dagster as dg
import pytest

from p2c_assets.connectors import ClientCredentials, DataverseClient
from p2c_assets.execution import execute
from p2c_assets_tests.helpers import alert_tick, new_accounts, sandbox_resources, USMF, Webhook
from p2c_sandbox.process import seeded_sandbox

LONG_NAME = "Contoso Pharmaceuticals International Holding " * 3  # 141 characters; F&O allows 100


@pytest.fixture(scope="module")
def tenant(tmp_path_factory):
    with seeded_sandbox(tmp_path_factory.mktemp("outcome"), scale=20, seed=5) as handle:
        yield handle


@pytest.fixture(scope="module")
def state_db(tmp_path_factory):
    return tmp_path_factory.mktemp("state") / "state.db"


@pytest.fixture(scope="module")
def dv(tenant):
    creds = ClientCredentials(tenant.tenant, tenant.client_id, tenant.client_secret, tenant.authority_host)
    return DataverseClient(tenant.dataverse_url, creds)


def p2c(tenant, state_db, cwd, *args, **env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "P2C_FLOWS_CONFIG")}
    environment.update({"DATAVERSE_URL": tenant.dataverse_url, "FINOPS_URL": tenant.finops_url,
                        "AZURE_TENANT_ID": tenant.tenant, "AZURE_CLIENT_ID": tenant.client_id,
                        "AZURE_CLIENT_SECRET": tenant.client_secret, "P2C_STATE_URL": f"sqlite:///{state_db}",
                        **env})
    return subprocess.run([sys.executable, "-m", "p2c_assets.cli", *args], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=300)


def table(output: str, first_column: str = "asset") -> dict[str, dict[str, str]]:
    """The rows of a printed table, by their first cell, as {column: cell}."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == [first_column])
    header = lines[start].split()
    return {cells[0]: dict(zip(header, cells)) for cells in (line.split() for line in lines[start + 1:])
            if cells and "/" in cells[0]}


@pytest.fixture(scope="module")
def first_sync(tenant, state_db, tmp_path_factory):
    return p2c(tenant, state_db, tmp_path_factory.mktemp("first"), "run", "--job", "accounts_flow")


def test_a_clean_run_exits_0_with_a_row_per_target_asset(first_sync):
    assert first_sync.returncode == 0, first_sync.stdout + first_sync.stderr
    rows = table(first_sync.stdout)
    assert set(rows) == {"fo/customers", "fo/contact_persons"}
    assert int(rows["fo/customers"]["created"]) > 0
    assert first_sync.stdout.splitlines()[-1].startswith("accounts_flow in usmf, demf: success (run ")


def test_a_rejected_row_is_a_warning_exit_0_naming_the_record_and_the_ledger_run(tenant, state_db, dv, first_sync,
                                                                                  tmp_path):
    [number] = new_accounts(dv, "WARN", 1, name=LONG_NAME)
    result = p2c(tenant, state_db, tmp_path, "run", "--job", "accounts_flow")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    warning = lines.index(next(line for line in lines if line.startswith("warning: fo/customers valid_rows (WARN)")))
    assert lines[warning + 1].lstrip().startswith(f"usmf|{number}") and "100" in lines[warning + 1]
    assert table(result.stdout)["fo/customers"]["rejected"] == "1"
    assert lines[-1].startswith("accounts_flow in usmf, demf: success with warnings")
    [ledger_line] = [line for line in lines if line.startswith("ledger runs: ")]
    run = ledger_line.rsplit("--run ", 1)[1]
    assert f"usmf|{number}" in p2c(tenant, state_db, tmp_path, "history", "--run", run).stdout


def test_a_failed_blocking_check_exits_1_and_lists_what_it_skipped(tenant, state_db, first_sync, tmp_path):
    tenant.set_faults(hidden_columns={"CustomersV3": ["SalesCurrencyCode"]})
    try:
        result = p2c(tenant, state_db, tmp_path, "run", "--job", "accounts_flow")
    finally:
        tenant.reset_faults()
    assert result.returncode == 1, result.stdout + result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line.startswith(("fo/", "error:"))}
    assert rows["fo/customers"].split(None, 1)[1].startswith("failed: preflight: 1 name(s)")
    assert rows["fo/contact_persons"].split(None, 1)[1] == \
        "skipped: upstream fo/customers failed its blocking check preflight"
    assert "error: fo/customers preflight (ERROR)" in result.stdout
    assert result.stdout.splitlines()[-1].startswith("accounts_flow in usmf, demf: failed")


def test_a_refused_secret_exits_2_with_the_cause_in_one_line_and_no_secret(tenant, state_db, tmp_path):
    result = p2c(tenant, state_db, tmp_path, "run", "--job", "products_flow", AZURE_CLIENT_SECRET="wrong-secret-4711")
    assert result.returncode == 2, result.stdout + result.stderr
    [line] = [line for line in result.stdout.splitlines() if line.startswith("fo/released_products")]
    assert "failed: AuthenticationError: token request for client 'p2c-sandbox-client'" in line
    assert "invalid_client" in line
    assert "skipped: upstream fo/released_products failed" in result.stdout
    everything = result.stdout + result.stderr
    assert "wrong-secret-4711" not in everything and "Error occurred while executing" not in everything


def test_an_unreachable_service_and_a_bad_overrides_file_exit_2(tenant, state_db, tmp_path):
    down = p2c(tenant, state_db, tmp_path, "run", "--job", "products_flow", FINOPS_URL="http://127.0.0.1:9")
    assert down.returncode == 2, down.stdout + down.stderr
    [line] = [line for line in down.stdout.splitlines() if line.startswith("fo/released_products")]
    assert "SellableReleasedProducts" in line and "Traceback" not in down.stdout + down.stderr
    missing = p2c(tenant, state_db, tmp_path, "run", P2C_FLOWS_CONFIG=str(tmp_path / "nowhere.yaml"))
    assert missing.returncode == 2
    assert missing.stdout.strip() == f"configuration error: P2C_FLOWS_CONFIG names {tmp_path / 'nowhere.yaml'}, " \
                                     "which does not exist"


@pytest.fixture
def webhook(monkeypatch):
    """A receiver the alert sensor posts to (P2C_ALERT_WEBHOOK)."""
    receiver = Webhook()
    monkeypatch.setenv("P2C_ALERT_WEBHOOK", receiver.url)
    yield receiver
    receiver.close()


def test_alert_names_new_problem_records_and_only_when_their_number_rises(tenant, state_db, dv, first_sync, webhook):
    resources = sandbox_resources(tenant, state_db)
    with dg.instance_for_test() as instance:
        cursor = alert_tick(instance, None)
        [bad] = new_accounts(dv, "ALERT", 1, name=LONG_NAME)
        run = execute("accounts_flow", instance=instance, resources=resources)
        cursor = alert_tick(instance, cursor)
        alerts_after_first = len(webhook.received)
        execute("accounts_flow", instance=instance, resources=resources)
        cursor = alert_tick(instance, cursor)
        assert len(webhook.received) == alerts_after_first  # the same rejected row: no new alert
        [worse] = new_accounts(dv, "WORSE", 1, name=LONG_NAME)
        execute("accounts_flow", instance=instance, resources=resources)
        alert_tick(instance, cursor)
    first, last = webhook.received[0], webhook.received[-1]
    assert alerts_after_first == 1 and len(webhook.received) == 2
    assert first["run_url"] == f"http://127.0.0.1:3000/runs/{run.run_id}"
    assert first["flows"][:1] == ["accounts"] and first["assets"][:1] == ["fo/customers"]
    [check] = [c for c in first["checks"] if c["check"] == "valid_rows"]
    assert check["counts"]["rejected"] >= 1
    assert any(r.startswith(f"usmf|{bad}") and "100" in r for r in check["records"])
    assert f"    usmf|{bad}" in first["text"]
    assert any("rose from" in n and n.startswith("fo/customers") for n in last["new"])
    assert f"    usmf|{worse}" in last["text"]


def test_runs_of_each_legal_entity_are_compared_with_that_legal_entitys_last_run(tenant, state_db, dv, first_sync,
                                                                                webhook):
    """The schedule alternates usmf and demf runs: a usmf problem row is alerted once, not after every
    demf run that has none."""
    resources = sandbox_resources(tenant, state_db)
    with dg.instance_for_test() as instance:
        cursor = alert_tick(instance, None)
        [bad] = new_accounts(dv, "ALERT-LE", 1, name=LONG_NAME)  # a usmf account F&O would refuse
        for company in ("usmf", "demf", "usmf", "demf"):
            execute("accounts_flow", instance=instance, resources=resources, company=company)
            cursor = alert_tick(instance, cursor)
    entities = [alert["legal_entities"] for alert in webhook.received]
    assert "usmf" in entities and len(entities) == len(set(entities))  # once per legal entity at most
    [usmf] = [alert for alert in webhook.received if alert["legal_entities"] == "usmf"]
    assert usmf["text"].startswith("p2c run finished with new problem rows in usmf: flow(s) accounts")
    assert f"    usmf|{bad}" in usmf["text"]


def test_preview_writes_nothing_records_no_run_alerts_nothing_and_predicts_the_next_run(tenant, state_db, dv,
                                                                                         first_sync, tmp_path, webhook):
    home = tmp_path / "dagster_home"
    home.mkdir()
    changed = new_accounts(dv, "SEEN", 2)
    p2c(tenant, state_db, tmp_path, "run", "--job", "accounts_flow")
    fresh = new_accounts(dv, "PREVIEW", 2)
    dv.upsert_many("accounts", [{"accountnumber": n, "websiteurl": "https://example.com/preview"} for n in changed],
                   key=["accountnumber"])
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        cursor = alert_tick(instance, None)
        preview = p2c(tenant, state_db, tmp_path, "preview", "--job", "accounts_flow", DAGSTER_HOME=str(home),
                      P2C_ALERT_WEBHOOK=webhook.url)
        alert_tick(instance, cursor)
        assert instance.get_runs() == [] and webhook.received == []
        assert instance.get_latest_materialization_event(dg.AssetKey(["fo", "customers"])) is None
    assert preview.returncode == 0, preview.stdout + preview.stderr
    predicted = {}
    for row in preview.stdout.splitlines():
        cells = row.split()
        if cells[:1] in (["fo/customers"], ["fo/contact_persons"]):
            predicted.setdefault(cells[0], []).append(cells)
    header = next(line.split() for line in preview.stdout.splitlines() if line.split()[:2] == ["asset", "flow"])
    for number in fresh:
        assert f"usmf|{number}" in preview.stdout  # a record the target does not have yet
    assert "https://example.com/preview" in preview.stdout  # the field change
    real = table(p2c(tenant, state_db, tmp_path, "run", "--job", "accounts_flow").stdout)
    for asset, rows in predicted.items():
        for outcome in ("created", "updated", "unchanged", "rejected"):
            column = header.index(outcome)
            assert sum(int(r[column]) for r in rows) == int(real[asset][outcome]), (asset, outcome)
    assert int(real["fo/customers"]["created"]) == 2 and int(real["fo/customers"]["updated"]) == 2
