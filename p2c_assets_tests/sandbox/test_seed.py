"""`p2c-sandbox seed` and `simulate`: the demo company over real HTTP, determinism, re-seeding.

The seeded sandbox is this module's own server (seeded before it starts, like `p2c-sandbox seed`
then `serve`): the session-wide `sandbox` fixture is shared with modules that build their own data,
which a seed would collide with.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import time

import pytest
import requests

from p2c_sandbox.process import SandboxHandle, free_port
from p2c_sandbox import company as C
from p2c_sandbox.seed import SeedError, seed
from p2c_sandbox.simulate import simulate

SCALE = 60
YES = "Microsoft.Dynamics.DataEntities.NoYes'Yes'"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("seeded")
    report = seed(data_dir, scale=SCALE, seed=7)
    dv_port, fo_port = free_port(), free_port()
    log = open(data_dir / "server.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "p2c_sandbox.cli", "serve", "--data", str(data_dir),
         "--dataverse-port", str(dv_port), "--finops-port", str(fo_port)],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    handle = SandboxHandle(f"http://127.0.0.1:{dv_port}", f"http://127.0.0.1:{fo_port}", data_dir)
    handle.report = report
    deadline = time.monotonic() + 15
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError((data_dir / "server.log").read_text())
            try:
                if all(requests.get(f"{u}/_sandbox/health", timeout=1).ok
                       for u in (handle.dataverse_url, handle.finops_url)):
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "sandbox did not start"
            time.sleep(0.05)
        yield handle
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def fo_get(sb, path, **params):
    response = requests.get(f"{sb.finops_url}/data/{path}", params=params, timeout=30,
                            headers={"Authorization": f"Bearer {sb.token('finops')}"})
    assert response.status_code == 200, response.text
    return response.json()


def dv_get(sb, path, **params):
    response = requests.get(f"{sb.dataverse_url}/api/data/v9.2/{path}", params=params, timeout=30,
                            headers={"Authorization": f"Bearer {sb.token('dataverse')}"})
    assert response.status_code == 200, response.text
    return response.json()


def values(body):
    return body["value"]


# -- F&O ----------------------------------------------------------------------------------------

def test_finops_reference_data(seeded):
    cc = {"cross-company": "true"}
    assert {r["LegalEntityId"] for r in values(fo_get(seeded, "LegalEntities"))} == {"usmf", "demf"}
    assert {r["CurrencyCode"] for r in values(fo_get(seeded, "Currencies"))} == {"USD", "EUR"}
    assert {r["UnitSymbol"] for r in values(fo_get(seeded, "UnitsOfMeasure"))} == {"ea", "pcs", "kg", "h", "box"}
    assert {r["LanguageId"] for r in values(fo_get(seeded, "LanguageCodes"))} == {"en-us", "de"}
    groups = {(r["dataAreaId"], r["CustomerGroupId"]) for r in values(fo_get(seeded, "CustomerGroups", **cc))}
    assert groups == {(le, g) for le in ("usmf", "demf") for g in ("10", "20", "30")}
    sites = {(r["dataAreaId"], r["SiteId"]) for r in values(fo_get(seeded, "OperationalSites", **cc))}
    assert sites == {(le, s) for le in ("usmf", "demf") for s in ("1", "2")}
    warehouses = {(r["dataAreaId"], r["WarehouseId"], r["OperationalSiteId"])
                  for r in values(fo_get(seeded, "Warehouses", **cc))}
    assert warehouses == {(le, w, s) for le in ("usmf", "demf") for w, s in (("11", "1"), ("13", "1"), ("21", "2"))}


def test_finops_products_and_own_customers(seeded):
    released = values(fo_get(seeded, "ReleasedProductsV2"))  # default company usmf
    assert len(released) == max(20, SCALE // 2)
    assert released[0]["ProductNumber"].startswith("D0")
    sellable = values(fo_get(seeded, "SellableReleasedProducts"))
    assert 0.8 * len(released) < len(sellable) < len(released)  # mostly sellable, a few not
    assert all(p["SalesUnitSymbol"] in C.UNITS and p["SalesPrice"] > 0 and p["ProductName"]
               and p["CurrencyCode"] == "USD" for p in sellable)  # the ledger's currency, the product's name
    assert {p["SalesUnitDecimalPrecision"] for p in sellable if p["SalesUnitSymbol"] == "kg"} <= {2}
    demf = values(fo_get(seeded, "SellableReleasedProducts", **{"cross-company": "true",
                                                                "$filter": "dataAreaId eq 'demf'"}))
    assert demf and {p["CurrencyCode"] for p in demf} == {"EUR"}
    customers = values(fo_get(seeded, "CustomersV3", **{"cross-company": "true"}))
    assert customers and all(c["IsExternallyMaintained"] == "No" for c in customers)
    assert "US-001" in {c["CustomerAccount"] for c in customers}
    # their orders and invoices exist, but are invisible to the P2C invoice entity
    orders = values(fo_get(seeded, "CDSSalesOrderHeaders", **{"cross-company": "true"}))
    assert orders and all(o["OrderingCustomerIsExternallyMaintained"] == "No" for o in orders)
    assert {o["SalesOrderProcessingStatus"] for o in orders} >= {"Confirmed", "Invoiced"}
    assert values(fo_get(seeded, "ExternallyMaintainedCustomerSalesInvoiceHeaders",
                         **{"cross-company": "true"})) == []
    with sqlite3.connect(seeded.data_dir / "finops.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM SalesInvoiceHeaders").fetchone()[0] > 0


# -- Dataverse ------------------------------------------------------------------------------------

def test_dataverse_reference_data(seeded):
    assert {r["name"] for r in values(dv_get(seeded, "businessunits"))} == {"Contoso", "USMF Sales", "DEMF Sales"}
    currencies = {r["isocurrencycode"]: r["transactioncurrencyid"] for r in values(dv_get(seeded, "transactioncurrencies"))}
    assert set(currencies) == {"USD", "EUR"}
    schedules = values(dv_get(seeded, "uomschedules"))
    assert [(s["name"], s["baseuomname"]) for s in schedules] == [("Default unit", "Primary Unit")]
    assert {u["name"] for u in values(dv_get(seeded, "uoms"))} == {"Primary Unit", "Each", "Piece", "Kilogram",
                                                                   "Hour", "Box"}
    lists = {p["name"]: (p["_transactioncurrencyid_value"], p["statecode"]) for p in values(dv_get(seeded, "pricelevels"))}
    assert lists == {"CRM Service USA (sample)": (currencies["USD"], 0), "Standard": (currencies["USD"], 0),
                     "CRM Service Europe (sample)": (currencies["EUR"], 0)}


def test_dataverse_accounts_and_contacts(seeded):
    body = dv_get(seeded, "accounts", **{"$count": "true", "$select": "accountnumber,name,address1_country,"
                                         "_transactioncurrencyid_value,_owningbusinessunit_value,statecode"})
    assert body["@odata.count"] == SCALE
    units = {r["businessunitid"]: r["name"] for r in values(dv_get(seeded, "businessunits"))}
    currencies = {r["transactioncurrencyid"]: r["isocurrencycode"] for r in values(dv_get(seeded, "transactioncurrencies"))}
    for a in values(body):
        assert len(a["accountnumber"]) == 16 and a["accountnumber"].startswith("ACC-") and a["statecode"] == 0
        unit, currency = units[a["_owningbusinessunit_value"]], currencies[a["_transactioncurrencyid_value"]]
        assert (unit, currency, a["address1_country"]) in {("USMF Sales", "USD", "United States"),
                                                           ("DEMF Sales", "EUR", "Germany")}
        assert len(a["name"]) <= 100
    contacts = values(dv_get(seeded, "contacts", **{"$select": "msdynce_contactnumber,_parentcustomerid_value,"
                                                    "msdynce_isactivecustomer,msdynce_iscompanyanaccount,"
                                                    "firstname,lastname,telephone1"}))
    assert len(contacts) == 2 * SCALE
    for c in contacts:
        assert c["msdynce_contactnumber"].startswith("CON-")
        assert c["msdynce_iscompanyanaccount"] == (c["_parentcustomerid_value"] is not None)
        assert len(c["firstname"]) <= 25 and len(c["lastname"]) <= 25 and len(c["telephone1"]) <= 20
    assert 0 < sum(c["msdynce_isactivecustomer"] for c in contacts) < 0.25 * len(contacts)
    assert any(c["_parentcustomerid_value"] is None for c in contacts)


def test_dataverse_sales_made_products_and_quotes(seeded):
    products = values(dv_get(seeded, "products", **{"$select": "productnumber,msdynce_ismaintainedexternally"}))
    assert products and not any(p["msdynce_ismaintainedexternally"] for p in products)
    quotes = values(dv_get(seeded, "quotes", **{"$select": "quotenumber,statecode,"
                                                "msdynce_hasexternallymaintainedproductsonly"}))
    assert {q["statecode"] for q in quotes} == {0, 1}
    assert all(re.fullmatch(r"QUO-\d{5}-[A-Z]{6}", q["quotenumber"]) for q in quotes)
    assert not any(q["msdynce_hasexternallymaintainedproductsonly"] for q in quotes)
    assert values(dv_get(seeded, "quotedetails", **{"$top": "1"}))


@pytest.mark.parametrize("logical, entity_set, column, prefix", [
    ("account", "accounts", "accountnumber", "ACC"),
    ("contact", "contacts", "msdynce_contactnumber", "CON"),
    ("quote", "quotes", "quotenumber", "QUO"),
])
def test_dataverse_auto_number_continues_after_seed(seeded, logical, entity_set, column, prefix):
    seeded_rows = seeded.report.counts[f"dataverse.{logical}"]
    name = "lastname" if logical == "contact" else "name"
    response = requests.post(f"{seeded.dataverse_url}/api/data/v9.2/{entity_set}", timeout=10,
                             json={name: "After seed"}, headers={"Authorization": f"Bearer {seeded.token()}",
                                                                 "Prefer": "return=representation"})
    assert response.status_code == 201, response.text
    assert response.json()[column].startswith(f"{prefix}-{1000 + seeded_rows:05d}-")


# -- determinism and re-seeding ------------------------------------------------------------------

def _numbers(data_dir):
    with sqlite3.connect(data_dir / "dataverse.db") as conn:
        accounts = conn.execute("SELECT accountid, accountnumber, name FROM account ORDER BY accountnumber").fetchall()
        contacts = conn.execute("SELECT msdynce_contactnumber FROM contact ORDER BY 1").fetchall()
    with sqlite3.connect(data_dir / "finops.db") as conn:
        products = conn.execute("SELECT p.dataAreaId, p.ItemNumber, t.ProductName, p.SalesPrice "
                                "FROM ReleasedProductsV2 p JOIN ProductTranslations t USING (ProductNumber) "
                                "ORDER BY 1, 2").fetchall()
    return accounts, contacts, products


def test_seed_is_deterministic(tmp_path):
    seed(tmp_path / "a", scale=30, seed=3)
    seed(tmp_path / "b", scale=30, seed=3)
    seed(tmp_path / "c", scale=30, seed=4)
    assert _numbers(tmp_path / "a") == _numbers(tmp_path / "b")
    assert _numbers(tmp_path / "a")[0] != _numbers(tmp_path / "c")[0]


def test_reseed_refuses_unless_clear(tmp_path):
    seed(tmp_path, scale=10, seed=1)
    with pytest.raises(SeedError, match="already holds seeded data"):
        seed(tmp_path, scale=10, seed=1)
    report = seed(tmp_path, scale=12, seed=2, clear=True)
    assert report.counts["dataverse.account"] == 12
    with sqlite3.connect(tmp_path / "dataverse.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM account").fetchone()[0] == 12
    with sqlite3.connect(tmp_path / "finops.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM LegalEntities").fetchone()[0] == 2


def test_seed_cli(tmp_path):
    from click.testing import CliRunner

    from p2c_sandbox.seed import seed_command

    result = CliRunner().invoke(seed_command, ["--data", str(tmp_path), "--scale", "5", "--seed", "9"])
    assert result.exit_code == 0, result.output
    assert "dataverse.account" in result.output
    again = CliRunner().invoke(seed_command, ["--data", str(tmp_path), "--scale", "5"])
    assert again.exit_code != 0 and "--clear" in again.output


# -- simulate --------------------------------------------------------------------------------------

def test_simulate_finops_orders_and_invoices(seeded):
    token = seeded.token("finops")
    customer = {"dataAreaId": "usmf", "CustomerAccount": "ACC-09999-SIMTST", "OrganizationName": "Synced from Sales",
                "CustomerGroupId": "10", "SalesCurrencyCode": "USD", "LanguageId": "en-us", "SiteId": "1",
                "WarehouseId": "13", "IsExternallyMaintained": "Yes", "PartyType": "Organization"}
    created = requests.post(f"{seeded.finops_url}/data/CustomersV3", json=customer, timeout=10,
                            headers={"Authorization": f"Bearer {token}"})
    assert created.status_code == 201, created.text
    summary = simulate(seeded.dataverse_url, seeded.finops_url, steps=2, seed=5, sales=False)
    assert summary.counts["F&O orders created"] == 2  # one externally maintained customer, one order a step
    assert summary.counts["F&O orders confirmed"] == 2 and summary.counts["F&O invoices posted"] >= 1
    orders = values(fo_get(seeded, "CDSSalesOrderHeaders", **{
        "$filter": f"OrderingCustomerIsExternallyMaintained eq {YES}"}))
    assert len(orders) == 2
    for order in orders:
        assert order["OrderingCustomerAccountNumber"] == "ACC-09999-SIMTST"
        assert order["SalesOrderProcessingStatus"] in ("Confirmed", "Invoiced")
        assert order["AreTotalsUpdated"] == "Yes" and order["OrderTotalAmount"] > 0
    invoices = values(fo_get(seeded, "ExternallyMaintainedCustomerSalesInvoiceHeaders"))
    assert {i["InvoiceNumber"] for i in invoices} == {n for _, n in summary.invoices}
    assert all(i["InvoiceCustomerAccountNumber"] == "ACC-09999-SIMTST" for i in invoices)
    lines = values(fo_get(seeded, "ExternallyMaintainedCustomerSalesInvoiceLines"))
    assert lines and {line["InvoiceNumber"] for line in lines} == {i["InvoiceNumber"] for i in invoices}


def test_simulate_sales_side(seeded):
    dv_get(seeded, "accounts", **{"$top": "1"})  # skips when the Dataverse service is missing
    before = dv_get(seeded, "accounts", **{"$count": "true", "$top": "1"})["@odata.count"]
    summary = simulate(seeded.dataverse_url, seeded.finops_url, steps=1, seed=11, finops=False,
                       accounts_per_step=3, contacts_per_step=4)
    assert summary.counts["sales accounts created"] == 3 and summary.counts["sales contacts created"] == 4
    assert summary.counts["sales accounts changed"] >= 1
    assert dv_get(seeded, "accounts", **{"$count": "true", "$top": "1"})["@odata.count"] == before + 3
    # no product came from F&O yet: quotes are skipped, not faked
    assert summary.counts["sales quotes created and activated"] == 0 and summary.skipped


def test_simulate_sales_orders_activated_and_confirmed_in_f_and_o(seeded):
    """Sales users take orders for an account that reached F&O with products that came from F&O
    and activate them (one with a write-in product is refused); F&O users confirm what arrives."""
    dv_get(seeded, "accounts", **{"$top": "1"})
    dv_token, fo_token = seeded.token("dataverse"), seeded.token("finops")
    usd = dv_get(seeded, "transactioncurrencies", **{"$filter": "isocurrencycode eq 'USD'"})["value"][0]
    account = dv_get(seeded, "accounts", **{
        "$filter": f"_transactioncurrencyid_value eq {usd['transactioncurrencyid']} and statecode eq 0",
        "$select": "accountnumber", "$top": "1"})["value"][0]["accountnumber"]
    created = requests.post(f"{seeded.finops_url}/data/CustomersV3", timeout=10, headers={
        "Authorization": f"Bearer {fo_token}"}, json={
        "dataAreaId": "usmf", "CustomerAccount": account, "OrganizationName": "Synced from Sales",
        "CustomerGroupId": "10", "SalesCurrencyCode": "USD", "LanguageId": "en-us", "SiteId": "1",
        "WarehouseId": "13", "IsExternallyMaintained": "Yes"})
    assert created.status_code == 201, created.text
    for number in ("SIM-FO-1", "SIM-FO-2"):  # as the products flow brings them: externally maintained, active
        product = requests.patch(
            f"{seeded.dataverse_url}/api/data/v9.2/products(productnumber='{number}')", timeout=10,
            headers={"Authorization": f"Bearer {dv_token}"},
            json={"name": number, "price": 25.0, "msdynce_ismaintainedexternally": True, "statecode": 0,
                  "statuscode": 1,
                  "transactioncurrencyid@odata.bind": f"/transactioncurrencies({usd['transactioncurrencyid']})"})
        assert product.status_code == 204, product.text

    summary = simulate(seeded.dataverse_url, seeded.finops_url, steps=1, seed=3, finops=False,
                       accounts_per_step=0, contacts_per_step=0, quotes_per_step=0, sales_orders_per_step=1)
    assert summary.counts["sales orders created and activated"] == 1
    assert summary.counts["sales orders with a write-in product refused activation"] == 1
    orders = values(dv_get(seeded, "salesorders", **{
        "$select": "ordernumber,msdynce_processingstatus,msdynce_hasexternallymaintainedproductsonly",
        "$expand": "order_details($select=quantity,manualdiscountamount,productdescription)",
        "$filter": "startswith(ordernumber,'ORD-')"}))
    by_status = {o["msdynce_processingstatus"]: o for o in orders}
    assert set(by_status) == {647390000, 647390011}  # one Active, one left in Draft
    active = by_status[647390000]
    assert active["msdynce_hasexternallymaintainedproductsonly"] is True
    lines = [(d["quantity"], d["manualdiscountamount"]) for d in active["order_details"]]
    assert len(lines) == 2 and (3, 10) in lines  # two products from F&O, 3 units with 10.00 off
    assert by_status[647390011]["msdynce_hasexternallymaintainedproductsonly"] is False

    # the order reaches F&O (as the Sales -> F&O flow sends it); F&O users confirm it
    number = active["ordernumber"]
    for entity_set, body in (
            ("CDSSalesOrderHeaders", {"SalesOrderNumber": number, "OrderingCustomerAccountNumber": account}),
            ("CDSSalesOrderLines", {"SalesOrderNumber": number, "LineCreationSequenceNumber": 1,
                                    "ProductNumber": "D0001", "OrderedSalesQuantity": 3})):
        sent = requests.post(f"{seeded.finops_url}/data/{entity_set}", json=body, timeout=10,
                             headers={"Authorization": f"Bearer {fo_token}"})
        assert sent.status_code == 201, sent.text
    summary = simulate(seeded.dataverse_url, seeded.finops_url, steps=1, seed=3, sales=False, orders_per_step=0)
    assert summary.counts["F&O orders from Sales confirmed, totals calculated"] == 1
    header = fo_get(seeded, f"CDSSalesOrderHeaders(dataAreaId='usmf',SalesOrderNumber='{number}')")
    assert header["SalesOrderProcessingStatus"] in ("Confirmed", "Invoiced")  # it may be invoiced at once
    assert header["AreTotalsUpdated"] == "Yes" and header["OrderTotalAmount"] > 0
