"""Faults a real tenant produces, over the sandbox: throttling, 5xx answers, connections dropped before
a request is handled or after a write was committed, and a stopped service.

What a user notices: the sandbox's own faults behave as documented, its business simulator keeps
working while they are on, a run against a stopped F&O is red within seconds and says why, and
scheduled runs under faults end green with both systems matching record by record.
"""

import time
import uuid
from collections import Counter

import pandas as pd
import pytest
import requests

from p2c_assets.connectors import DataverseClient, FinOpsClient
from p2c_assets.defs.resources import FinOpsResource
from p2c_assets.execution import failed_checks
from p2c_assets_tests.conftest import DataverseApi
from p2c_assets_tests.helpers import run_prospect_to_cash, sandbox_resources
from p2c_sandbox.process import free_port
from p2c_sandbox.simulate import simulate

COMPANY = (40, 7)  # the seeded sandbox of this module: scale, seed (conftest.company)

# 10% of requests answered 500 or 503, 5% of connections dropped before the request is handled,
# 10% of writes dropped after they were committed, and a request budget answered with 429 + Retry-After
BAD_DAY = {"error_rate": 0.1, "error_statuses": [500, 503], "drop_rate": 0.05,
           "drop_after_commit_rate": 0.1, "budget": {"requests": 16, "window_s": 1}}


# --- the sandbox's faults ------------------------------------------------------------------------

def test_a_write_dropped_after_commit_is_done_although_the_client_got_no_answer(clean_faults):
    sandbox, tag = clean_faults, uuid.uuid4().hex[:8].upper()
    dv = DataverseApi(sandbox)
    fo = requests.Session()
    fo.headers["Authorization"] = f"Bearer {sandbox.token('finops')}"
    sandbox.set_faults(drop_after_commit_rate=1.0)
    with pytest.raises(requests.RequestException):
        dv.post("accounts", json={"accountnumber": f"DROP-{tag}", "name": "committed, then cut"})
    with pytest.raises(requests.RequestException):
        fo.post(f"{sandbox.finops_url}/data/CustomerGroups", timeout=10,
                json={"dataAreaId": "usmf", "CustomerGroupId": tag, "Description": "committed, then cut"})
    # reads are never cut by this fault: the writes are there
    assert [a["name"] for a in dv.get(f"accounts?$filter=accountnumber eq 'DROP-{tag}'").json()["value"]] == [
        "committed, then cut"]
    groups = fo.get(f"{sandbox.finops_url}/data/CustomerGroups", timeout=10,
                    params={"$filter": f"CustomerGroupId eq '{tag}'", "cross-company": "true"}).json()["value"]
    assert [g["Description"] for g in groups] == ["committed, then cut"]


def test_reset_faults_does_not_replay_the_same_fault_sequence(clean_faults):
    url = f"{clean_faults.finops_url}/data/Currencies"

    def statuses() -> list[int]:
        clean_faults.set_faults(error_rate=0.5, error_statuses=[503])
        return [requests.get(url, timeout=10).status_code for _ in range(24)]   # 401 or the injected 503

    first = statuses()
    clean_faults.reset_faults()
    assert set(first) == {401, 503} and statuses() != first


# --- a stopped service ---------------------------------------------------------------------------

def test_a_run_with_finops_stopped_is_red_within_15_s_and_names_the_service(company, tmp_path, monkeypatch):
    monkeypatch.delenv("AZURE_AUTHORITY_HOST", raising=False)
    stopped = f"http://127.0.0.1:{free_port()}"   # nothing listens there, token endpoint included
    resources = sandbox_resources(company, tmp_path / "state.db")
    resources["finops"] = FinOpsResource(url=stopped, tenant_id=company.tenant, client_id=company.client_id,
                                         client_secret=company.client_secret)
    started = time.monotonic()
    result = run_prospect_to_cash(resources)
    elapsed = time.monotonic() - started

    assert not result.success and elapsed < 15
    causes = {}
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.event_specific_data.error
            while error.cause is not None:
                error = error.cause
            causes[event.step_key] = error.message
    assert "fo__customers" in causes and "fo__released_products" in causes
    [message] = set(causes.values())   # the first step's failure, repeated at once by the others
    assert f"FinOps at {stopped} cannot be reached" in message and "Connection refused" in message


# --- a bad day ------------------------------------------------------------------------------------

def test_scheduled_runs_under_faults_end_green_and_both_systems_match(company, clients, tmp_path):
    dv, fo = clients
    resources = sandbox_resources(company, tmp_path / "state.db")
    company.set_faults(**BAD_DAY)
    try:
        run_prospect_to_cash(resources)   # customers and products reach the other side (most of them)
        before = {s: len(dv.read(s, select=[f"{s[:-1]}id"])) for s in ("accounts", "contacts")}
        activity = simulate(company.dataverse_url, company.finops_url, steps=2, seed=5)
        runs = []
        while not runs or not _green(runs[-1]):
            assert len(runs) < 4, f"still not green after 4 scheduled runs: {failed_checks(runs[-1])}"
            runs.append(run_prospect_to_cash(resources))
        met = Counter()
        for url in (company.dataverse_url, company.finops_url):
            met.update(requests.get(f"{url}/_sandbox/faults", timeout=10).json()["injected"])
    finally:
        company.reset_faults()
    assert all(met[kind] for kind in ("500", "503", "dropped", "dropped_after_commit", "429")), met
    # the business users' creates happened once each, although some answers were lost on the way
    after = {s: len(dv.read(s, select=[f"{s[:-1]}id"])) for s in ("accounts", "contacts")}
    assert after["accounts"] - before["accounts"] == activity.counts["sales accounts created"]
    assert after["contacts"] - before["contacts"] == activity.counts["sales contacts created"]
    assert activity.orders and activity.invoices
    _both_systems_match(dv, fo)


def _green(result) -> bool:
    return result.success and not failed_checks(result)


def _both_systems_match(dv: DataverseClient, fo: FinOpsClient) -> None:
    fo_all = {"cross_company": True, "companies": ["usmf", "demf"]}
    customers = fo.read("CustomersV3", select=["CustomerAccount", "OrganizationName"], **fo_all)
    accounts = dv.read("accounts", select=["accountnumber", "name"], filter="statecode eq 0")
    _once(accounts, customers, {"accountnumber": "CustomerAccount"}, {"name": "OrganizationName"})

    contacts = dv.read("contacts", select=["msdynce_contactnumber", "msdynce_isactivecustomer",
                                           "msdynce_iscompanyanaccount"], filter="statecode eq 0")
    active = contacts["msdynce_isactivecustomer"] == True  # noqa: E712
    of_account = ~active & (contacts["msdynce_iscompanyanaccount"] == True)  # noqa: E712
    _once(contacts[active], customers, {"msdynce_contactnumber": "CustomerAccount"})
    persons = fo.read("ContactPersonsV2", select=["ContactPersonId"], **fo_all)
    _once(contacts[of_account], persons, {"msdynce_contactnumber": "ContactPersonId"})

    sellable = fo.read("SellableReleasedProducts", select=["ProductNumber", "ProductName"], **fo_all)
    products = dv.read("products", select=["productnumber", "name", "statecode"])
    _once(sellable.drop_duplicates("ProductNumber"), products, {"ProductNumber": "productnumber"},
          {"ProductName": "name"})
    assert set(products.loc[products["productnumber"].isin(sellable["ProductNumber"]), "statecode"]) == {0}

    quotes = dv.read("quotes", select=["quoteid", "quotenumber", "name"],
                     filter="statecode eq 1 and msdynce_hasexternallymaintainedproductsonly eq true")
    quotations = fo.read("CDSSalesQuotationHeaders", select=["SalesQuotationNumber", "SalesQuotationName"], **fo_all)
    _once(quotes, quotations, {"quotenumber": "SalesQuotationNumber"}, {"name": "SalesQuotationName"})
    quote_lines = dv.read("quotedetails", select=["_quoteid_value", "sequencenumber", "quantity"])
    quote_lines = quote_lines.merge(quotes, left_on="_quoteid_value", right_on="quoteid")
    quotation_lines = fo.read("CDSSalesQuotationLines", select=["SalesQuotationNumber", "LineCreationSequenceNumber",
                                                                "RequestedSalesQuantity"], **fo_all)
    _once(quote_lines, quotation_lines, {"quotenumber": "SalesQuotationNumber",
                                         "sequencenumber": "LineCreationSequenceNumber"},
          {"quantity": "RequestedSalesQuantity"})

    fo_orders = fo.read("CDSSalesOrderHeaders", select=[
        "SalesOrderNumber", "OrderTotalAmount", "SalesOrderProcessingStatus", "AreTotalsUpdated",
        "OrderingCustomerIsExternallyMaintained", "InvoiceCustomerIsExternallyMaintained"], **fo_all)
    fo_orders = fo_orders[(fo_orders["OrderingCustomerIsExternallyMaintained"] == "Yes")
                          & (fo_orders["InvoiceCustomerIsExternallyMaintained"] == "Yes")
                          & (fo_orders["AreTotalsUpdated"] == "Yes")
                          & ~fo_orders["SalesOrderProcessingStatus"].isin(["None", "Active", "Canceled"])]
    orders = dv.read("salesorders", select=["ordernumber", "totalamount"])
    _once(fo_orders, orders, {"SalesOrderNumber": "ordernumber"}, {"OrderTotalAmount": "totalamount"})
    fo_lines = fo.read("CDSSalesOrderLines", select=["SalesOrderNumber", "LineCreationSequenceNumber",
                                                     "OrderedSalesQuantity"], **fo_all)
    order_lines = dv.read("salesorderdetails", select=["msdynce_ordernumber", "sequencenumber", "quantity"],
                          filter="msdynce_ismaintainedexternally eq true")
    _once(fo_lines[fo_lines["SalesOrderNumber"].isin(fo_orders["SalesOrderNumber"])], order_lines,
          {"SalesOrderNumber": "msdynce_ordernumber", "LineCreationSequenceNumber": "sequencenumber"},
          {"OrderedSalesQuantity": "quantity"})

    fo_invoices = fo.read("ExternallyMaintainedCustomerSalesInvoiceHeaders", select=["InvoiceNumber"],
                          filter="SalesOrderNumber ne ''", **fo_all)
    invoices = dv.read("invoices", select=["invoicenumber"])
    _once(fo_invoices, invoices, {"InvoiceNumber": "invoicenumber"})
    fo_invoice_lines = fo.read("ExternallyMaintainedCustomerSalesInvoiceLines", select=[
        "InvoiceNumber", "LineCreationSequenceNumber", "InvoicedQuantity"], **fo_all)
    invoice_lines = dv.read("invoicedetails", select=["msdynce_invoicenumber", "sequencenumber", "quantity"],
                            filter="msdynce_ismaintainedexternally eq true")
    _once(fo_invoice_lines[fo_invoice_lines["InvoiceNumber"].isin(fo_invoices["InvoiceNumber"])], invoice_lines,
          {"InvoiceNumber": "msdynce_invoicenumber", "LineCreationSequenceNumber": "sequencenumber"},
          {"InvoicedQuantity": "quantity"})


def _once(source: pd.DataFrame, target: pd.DataFrame, on: dict[str, str], same: dict[str, str] | None = None):
    """Every source record is in the target exactly once under its key, with the same values."""
    assert len(source), f"nothing to compare for {on}"
    held = Counter(zip(*(target[column] for column in on.values())))
    keys = list(zip(*(source[column] for column in on)))
    lost = [k for k in keys if held[k] == 0]
    doubled = [k for k in keys if held[k] > 1]
    assert (lost, doubled) == ([], []), f"{on}: lost {lost[:5]} of {len(keys)}, doubled {doubled[:5]}"
    merged = source.merge(target, left_on=list(on), right_on=list(on.values()), suffixes=("", " (target)"))
    for mine, theirs in (same or {}).items():
        theirs = theirs if theirs not in source else f"{theirs} (target)"
        left, right = merged[mine], merged[theirs]
        if pd.api.types.is_numeric_dtype(left):
            left, right = left.astype(float).round(2), right.astype(float).round(2)
        drifted = merged.loc[left != right, [*on, mine, theirs]]
        assert drifted.empty, f"{mine} -> {theirs} drifted:\n{drifted.head()}"
