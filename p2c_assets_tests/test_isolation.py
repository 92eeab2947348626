"""One bad record never stops the business: it affects itself and the rows that depend on it.

In one run of `prospect_to_cash` over a seeded company: Sales has no active price list in EUR (so
F&O's EUR products are refused), one account is in a currency F&O does not know (so F&O refuses the
customer, and its contact person), and one account's name is longer than F&O allows. Every other row
of every flow lands in that run, the run is a warning, the problem rows are listed with reasons; once
the price list and the currency exist, the next run lands them without `p2c unpark`.
"""

import os
import subprocess
import sys

import pytest
import requests

from p2c_assets.defs.resources import LedgerResource
from p2c_assets.execution import target_metadata
from p2c_assets_tests.helpers import run_prospect_to_cash, sandbox_resources

COMPANY = (30, 11)  # the seeded sandbox of this module: scale, seed (conftest.company)

EUROPE = "CRM Service Europe (sample)"


@pytest.fixture(scope="module")
def broken_run(company, clients, state_db):
    dv, _ = clients
    europe = dv.read("pricelevels", select=["pricelevelid"], filter=f"name eq '{EUROPE}'").iloc[0, 0]
    dv.http.request("PATCH", f"{dv.api}pricelevels({europe})", json={"statecode": 1, "statuscode": 100002})
    requests.post(f"{company.finops_url}/_sandbox/finops/products", timeout=10, json={
        "company": "demf", "ItemNumber": "ISO-EUR-1", "ProductNumber": "ISO-EUR-1", "ProductName": "Euro lamp",
        "SalesUnitSymbol": "ea", "SalesPrice": 40}).raise_for_status()  # released in demf only: priced in EUR
    franc = dv.http.request("POST", f"{dv.api}transactioncurrencies", headers={"Prefer": "return=representation"},
                            json={"isocurrencycode": "CHF", "currencyname": "Swiss franc", "currencysymbol": "Fr",
                                  "exchangerate": 1.1}).json()["transactioncurrencyid"]
    unit = dv.read("businessunits", select=["businessunitid"], filter="name eq 'USMF Sales'").iloc[0, 0]
    owner = {"owningbusinessunit@odata.bind": f"/businessunits({unit})"}
    swiss = dv.upsert_many("accounts", [
        {"accountnumber": "ISO-CHF-1", "name": "Zurich Watches AG", **owner,
         "transactioncurrencyid@odata.bind": f"/transactioncurrencies({franc})"},
        {"accountnumber": "ISO-LONG-1", "name": "L" * 130, **owner}], key=["accountnumber"])
    dv.upsert_many("contacts", [{"msdynce_contactnumber": "ISO-CON-1", "firstname": "Heidi", "lastname": "Keller",
                                 "parentcustomerid_account@odata.bind": f"/accounts({swiss[0].target_id})",
                                 **owner}], key=["msdynce_contactnumber"])
    resources = sandbox_resources(company, state_db)
    return resources, run_prospect_to_cash(resources)


def test_the_run_is_a_warning_and_every_flow_ran(broken_run):
    _, result = broken_run
    assert result.success
    errors = [e for e in result.get_asset_check_evaluations() if not e.passed and e.severity.value == "ERROR"]
    assert errors == []
    warned = {(e.asset_key.to_user_string(), e.check_name) for e in result.get_asset_check_evaluations()
              if not e.passed}
    assert {("fo/customers", "valid_rows"), ("fo/customers", "writes_landed"), ("sales/products", "writes_landed"),
            ("fo/contact_persons", "writes_landed")} <= warned
    started = {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}
    assert {"fo__quotations", "fo__quotation_lines", "sales__orders", "sales__order_lines", "sales__invoices",
            "sales__invoice_lines"} <= started  # nothing downstream was skipped


def test_only_the_bad_rows_and_their_dependents_did_not_land(broken_run, clients):
    _, result = broken_run
    meta = target_metadata(result)
    problems = {asset: {r.data["key"]: r.data for r in m["problem_rows"].value.records}
                for asset, m in meta.items() if hasattr(m["problem_rows"].value, "records")}
    customers = problems["fo/customers"]
    assert set(customers) == {"usmf|ISO-CHF-1", "usmf|ISO-LONG-1"}
    assert customers["usmf|ISO-CHF-1"]["outcome"] == "failed"
    assert "CHF" in customers["usmf|ISO-CHF-1"]["error_message"]
    assert customers["usmf|ISO-LONG-1"]["outcome"] == "rejected"
    assert customers["usmf|ISO-LONG-1"]["reason"].startswith(
        "OrganizationName is 130 characters, at most 100 allowed (EDT DirPartyName)")
    assert meta["fo/customers"]["rows_created"] > 20
    assert set(problems["fo/contact_persons"]) == {"usmf|ISO-CON-1"}  # its customer is not in F&O
    products = problems["sales/products"]
    assert set(products) == {"ISO-EUR-1"}
    assert products["ISO-EUR-1"]["outcome"] == "failed" and "EUR" in products["ISO-EUR-1"]["error_message"]
    assert meta["sales/products"]["rows_created"] > 0  # the USD products landed


def test_fixing_the_causes_lands_the_rows_on_the_next_run(broken_run, clients):
    resources, _ = broken_run
    dv, fo = clients
    europe = dv.read("pricelevels", select=["pricelevelid"], filter=f"name eq '{EUROPE}'").iloc[0, 0]
    dv.http.request("PATCH", f"{dv.api}pricelevels({europe})", json={"statecode": 0, "statuscode": 100001})
    fo.upsert_many("Currencies", [{"CurrencyCode": "CHF", "Name": "Swiss franc"}], key=["CurrencyCode"])
    meta = target_metadata(run_prospect_to_cash(resources))
    assert meta["fo/customers"]["rows_created"] == 1  # the Swiss customer; the long name still waits
    assert meta["fo/customers"]["rows_rejected"] == 1
    assert meta["fo/contact_persons"]["rows_created"] == 1
    assert (meta["sales/products"]["rows_failed"], meta["sales/products"]["rows_created"]) == (0, 1)


def test_p2c_problems_lists_every_problem_row(broken_run, company, state_db, tmp_path):
    result = subprocess.run([sys.executable, "-m", "p2c_assets.cli", "problems", "--flow", "accounts"],
                            cwd=tmp_path, env={**os.environ, "P2C_STATE_URL": f"sqlite:///{state_db}"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "usmf|ISO-LONG-1" in result.stdout and "rejected" in result.stdout
    assert "OrganizationName is 130 characters" in result.stdout


def test_parked_rows_go_as_soon_as_the_reference_they_lacked_exists(company, clients, tmp_path):
    """Rows that kept failing are parked, not retried forever; one of them is probed every run, and
    when it lands (the missing currency now exists) the rows parked with it land in the same run."""
    dv, fo = clients
    gold = dv.http.request("POST", f"{dv.api}transactioncurrencies", headers={"Prefer": "return=representation"},
                           json={"isocurrencycode": "XAU", "currencyname": "Gold", "currencysymbol": "Au",
                                 "exchangerate": 0.0005}).json()["transactioncurrencyid"]
    unit = dv.read("businessunits", select=["businessunitid"], filter="name eq 'USMF Sales'").iloc[0, 0]
    numbers = [f"ISO-XAU-{i}" for i in range(3)]
    dv.upsert_many("accounts", [{"accountnumber": n, "name": f"Gold trader {n}",
                                 "owningbusinessunit@odata.bind": f"/businessunits({unit})",
                                 "transactioncurrencyid@odata.bind": f"/transactioncurrencies({gold})"}
                                for n in numbers], key=["accountnumber"])
    resources = sandbox_resources(company, tmp_path / "state.db")
    resources["ledger"] = LedgerResource(state_url=f"sqlite:///{tmp_path / 'state.db'}", max_attempts=2)
    keys = {f"usmf|{n}" for n in numbers}

    def gold_outcomes(result) -> dict:
        rows = target_metadata(result)["fo/customers"]["problem_rows"].value.records
        return {r.data["key"]: r.data["outcome"] for r in rows if r.data["key"] in keys}

    assert gold_outcomes(run_prospect_to_cash(resources, job="accounts_flow")) == dict.fromkeys(keys, "failed")
    assert gold_outcomes(run_prospect_to_cash(resources, job="accounts_flow")) == dict.fromkeys(keys, "parked")
    parked = run_prospect_to_cash(resources, job="accounts_flow")
    assert gold_outcomes(parked) == dict.fromkeys(keys, "parked")
    assert target_metadata(parked)["fo/customers"]["http_requests"] <= 3  # one probe, not every parked row

    fo.upsert_many("Currencies", [{"CurrencyCode": "XAU", "Name": "Gold"}], key=["CurrencyCode"])
    landed = run_prospect_to_cash(resources, job="accounts_flow")
    assert gold_outcomes(landed) == {}
    customers = fo.read("CustomersV3", select=["CustomerAccount"], cross_company=True)
    assert keys <= {f"usmf|{a}" for a in customers["CustomerAccount"]}
