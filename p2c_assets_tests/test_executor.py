"""`P2C_EXECUTOR=multiprocess`: a run launched on a Dagster instance (as the UI or `dg launch` does)
runs each step in its own process, the rows handed over through the instance's storage, and lands
what the in-process default lands. A wrong value stops the load with the choices."""

import os
import subprocess
import sys

import dagster as dg
import pytest

from p2c_assets_tests.helpers import EVERY_COMPANY
from p2c_sandbox.process import seeded_sandbox


@pytest.fixture(scope="module")
def tenant(tmp_path_factory):
    with seeded_sandbox(tmp_path_factory.mktemp("executor"), scale=20, seed=11) as handle:
        yield handle


def environment(tenant, tmp_path, **env) -> dict:
    return {**{k: v for k, v in os.environ.items() if k != "P2C_FLOWS_CONFIG"},
            "DATAVERSE_URL": tenant.dataverse_url, "FINOPS_URL": tenant.finops_url,
            "AZURE_TENANT_ID": tenant.tenant, "AZURE_CLIENT_ID": tenant.client_id,
            "AZURE_CLIENT_SECRET": tenant.client_secret, "P2C_STATE_URL": f"sqlite:///{tmp_path / 'state.db'}",
            "DAGSTER_HOME": str(tmp_path), **env}


def test_the_multiprocess_executor_runs_each_step_in_its_own_process_and_lands_the_flow(tenant, tmp_path):
    env = environment(tenant, tmp_path, P2C_EXECUTOR="multiprocess", P2C_MAX_CONCURRENT="2")
    done = subprocess.run([sys.executable, "-m", "dagster", "job", "execute", "-m", "p2c_assets.definitions",
                           "-j", "accounts_flow", *EVERY_COMPANY], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    [run] = instance.get_runs()
    assert run.status == dg.DagsterRunStatus.SUCCESS
    events = instance.all_logs(run.run_id)
    workers = {e.step_key for e in events if e.dagster_event and e.dagster_event.event_type_value == "STEP_WORKER_STARTED"}
    assert {"sales__accounts", "fo__customers"} <= workers
    usmf, demf = [e.dagster_event.event_specific_data.materialization for e in events
                  if e.dagster_event and e.dagster_event.is_step_materialization
                  and e.dagster_event.asset_key == dg.AssetKey(["fo", "customers"])]
    assert {usmf.partition, demf.partition} == {"usmf", "demf"} and usmf.metadata["rows_created"].value > 0
    instance.dispose()


def test_an_unknown_executor_stops_the_load_naming_the_choices(tenant, tmp_path):
    env = environment(tenant, tmp_path, P2C_EXECUTOR="threads")
    done = subprocess.run([sys.executable, "-c", "import p2c_assets.definitions"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode != 0
    assert "P2C_EXECUTOR is 'threads'; use in_process (default) or multiprocess" in done.stderr
