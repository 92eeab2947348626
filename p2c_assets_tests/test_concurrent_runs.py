"""Two `p2c run` of the accounts flow at once over a seeded sandbox sharing one ledger, as two
schedulers or an engineer next to the schedule would start them: one writes, the other waits for it
and finds nothing left to do, or stops naming the run that holds the flow. Never both writing.
"""

import os
import subprocess
import sys

import pytest

from p2c_assets.connectors import FinOpsClient
from p2c_assets.engine.ledger import Ledger
from p2c_assets_tests.helpers import USMF, new_accounts

COMPANY = (20, 13)  # the seeded sandbox of this module: scale, seed (conftest.company)



@pytest.fixture(scope="module")
def state_url(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('state') / 'state.db'}"


def p2c_run(company, state_url: str, *options: str, **env) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "p2c_assets.cli", "run", "--job", "accounts_flow", *options],
        env={**os.environ, "DATAVERSE_URL": company.dataverse_url, "FINOPS_URL": company.finops_url,
             "AZURE_AUTHORITY_HOST": company.authority_host, "P2C_STATE_URL": state_url, **env},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


DEMF = {"owningbusinessunit@odata.bind": "/businessunits(name='DEMF Sales')",
        "transactioncurrencyid@odata.bind": "/transactioncurrencies(isocurrencycode='EUR')"}


def finished(process: subprocess.Popen) -> tuple[int, str]:
    output, _ = process.communicate(timeout=240)
    return process.returncode, output


def customers_per_account(fo: FinOpsClient) -> dict[str, int]:
    frame = fo.read("CustomersV3", select=["dataAreaId", "CustomerAccount"], cross_company=True)
    return frame.groupby("CustomerAccount").size().to_dict()


def test_two_runs_started_together_write_every_account_once(company, clients, state_url):
    dv, fo = clients
    company.set_faults(latency_ms=200)  # every request takes a while: the two runs overlap for seconds
    try:
        first, second = p2c_run(company, state_url), p2c_run(company, state_url)
        results = [finished(first), finished(second)]
    finally:
        company.reset_faults()

    assert [code for code, _ in results] == [0, 0], "\n".join(output for _, output in results)
    ledger = Ledger(state_url)
    writer, waiter = sorted(ledger.history("accounts"), key=lambda run: run.started_at)
    assert waiter.started_at >= writer.finished_at  # the second waited for the first to finish
    assert writer.counts["created"] > 0 and writer.counts["failed"] == 0
    assert (waiter.counts["created"], waiter.counts["updated"], waiter.counts["failed"]) == (0, 0, 0)
    assert {state.outcome for state in ledger.states("accounts").values()} <= {"created", "unchanged", "rejected"}
    accounts = dv.read("accounts", select=["accountnumber"], filter="statecode eq 0")["accountnumber"]
    landed = customers_per_account(fo)
    assert {number: landed.get(number) for number in accounts} == {number: 1 for number in accounts}


def test_a_run_that_finds_its_flow_held_says_which_run_holds_it_and_writes_nothing(company, clients, state_url):
    dv, fo = clients
    numbers = [f"HELD-{i}" for i in range(3)]
    dv.upsert_many("accounts", [{"accountnumber": n, "name": f"Held customer {n}", **USMF} for n in numbers],
                   key=["accountnumber"])
    ledger = Ledger(state_url)
    with ledger.running("accounts", companies=["usmf"]) as holder:  # a usmf run in progress elsewhere
        code, output = finished(p2c_run(company, state_url, P2C_LOCK_WAIT_S="1"))
        ledger.finish_run(holder, {})

    assert code == 1, output
    started = ledger.run(holder).started_at
    assert (f"flow 'accounts' is being synced by ledger run {holder} on host {ledger.run(holder).host} "
            f"(pid {os.getpid()}), started {started:%Y-%m-%d %H:%M:%S} UTC") in output
    assert not set(numbers) & set(customers_per_account(fo))

    code, output = finished(p2c_run(company, state_url))  # once the flow is free, the next run lands them
    assert code == 0, output
    assert {n: customers_per_account(fo).get(n) for n in numbers} == {n: 1 for n in numbers}


def test_a_legal_entity_syncs_while_another_ones_run_of_the_flow_holds_it(company, clients, state_url):
    dv, fo = clients
    usmf = new_accounts(dv, "SIDE-US", 2)
    demf = [f"SIDE-DE-{i}" for i in range(2)]
    dv.upsert_many("accounts", [{"accountnumber": n, "name": f"Side customer {n}", **DEMF} for n in demf],
                   key=["accountnumber"])
    ledger = Ledger(state_url)
    with ledger.running("accounts", companies=["usmf"]) as holder:  # a usmf run in progress elsewhere
        demf_code, demf_output = finished(p2c_run(company, state_url, "--company", "demf", P2C_LOCK_WAIT_S="1"))
        usmf_code, usmf_output = finished(p2c_run(company, state_url, "--company", "usmf", P2C_LOCK_WAIT_S="1"))
        ledger.finish_run(holder, {})

    assert demf_code == 0, demf_output
    assert usmf_code == 1 and f"is being synced by ledger run {holder}" in usmf_output
    landed = customers_per_account(fo)
    assert {n: landed.get(n) for n in demf + usmf} == {**{n: 1 for n in demf}, **{n: None for n in usmf}}
