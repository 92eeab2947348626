"""The shared deployment's instance (deploy/dagster.yaml) works against a real PostgreSQL server: a run of
the project's job is kept in PostgreSQL, with the ledger in the same server, as in docker-compose."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from p2c_assets_tests.helpers import EVERY_COMPANY
from p2c_assets_tests.postgres import PostgresServer, find_bindir
from p2c_sandbox.process import seeded_sandbox

DEPLOY = Path(__file__).parents[1] / "deploy"


@pytest.fixture(scope="module")
def postgres():
    bindir = find_bindir()
    if bindir is None:
        pytest.fail("PostgreSQL server binaries (initdb, pg_ctl) not found: install the postgresql package")
    server = PostgresServer.start(bindir)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def tenant(tmp_path_factory):
    with seeded_sandbox(tmp_path_factory.mktemp("deploy"), scale=10, seed=17) as handle:
        yield handle


def test_a_run_on_the_deployment_instance_is_kept_in_postgresql(postgres, tenant, tmp_path, monkeypatch):
    dagster_db = postgres.create_database().rsplit("/", 1)[1]
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY / "dagster.yaml", home / "dagster.yaml")
    instance_env = {"DAGSTER_HOME": str(home), "DAGSTER_PG_HOST": "127.0.0.1", "DAGSTER_PG_PORT": str(postgres.port),
                    "DAGSTER_PG_USER": "postgres", "DAGSTER_PG_PASSWORD": "unused-with-trust-auth",
                    "DAGSTER_PG_DB": dagster_db}
    env = {**{k: v for k, v in os.environ.items() if k != "P2C_FLOWS_CONFIG"}, **instance_env,
           "DATAVERSE_URL": tenant.dataverse_url, "FINOPS_URL": tenant.finops_url,
           "AZURE_TENANT_ID": tenant.tenant, "AZURE_CLIENT_ID": tenant.client_id,
           "AZURE_CLIENT_SECRET": tenant.client_secret, "P2C_STATE_URL": postgres.create_database()}
    done = subprocess.run([sys.executable, "-m", "dagster", "job", "execute", "-m", "p2c_assets.definitions",
                           "-j", "accounts_flow", *EVERY_COMPANY], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]

    for name, value in instance_env.items():
        monkeypatch.setenv(name, value)
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        [run] = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.SUCCESS
        assert instance.get_latest_materialization_event(dg.AssetKey(["fo", "customers"])) is not None
    finally:
        instance.dispose()
    with psycopg.connect(host="127.0.0.1", port=postgres.port, user="postgres", dbname=dagster_db) as conn:
        assert conn.execute("SELECT count(*) FROM runs").fetchone() == (1,)
