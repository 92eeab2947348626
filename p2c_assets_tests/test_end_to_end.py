"""End to end: seed the sandbox, run prospect_to_cash, let the business users work, run it again, and
read both services back to check each flow's documented rules on concrete records.
"""

import subprocess
import sys

import dagster as dg
import pandas as pd
import pytest

from p2c_assets.defs.graph import GRAPH
from p2c_assets.defs.partitions import Frames, LegalEntityFrames
from p2c_assets.engine.mapping import FILTERED_OUT, legal_entities, map_rows, source_columns
from p2c_assets.execution import execute, target_metadata
from p2c_assets_tests.helpers import run_prospect_to_cash, sandbox_resources

COMPANY = (40, 7)  # the seeded sandbox of this module: scale, seed (conftest.company)


@pytest.fixture(scope="module")
def first_run(company, tmp_path_factory):
    resources = sandbox_resources(company, tmp_path_factory.mktemp("state") / "state.db")
    instance = dg.DagsterInstance.ephemeral(tempdir=str(tmp_path_factory.mktemp("dagster")))
    return resources, execute(resources=resources, instance=instance), instance


@pytest.fixture(scope="module")
def second_run(company, first_run):
    subprocess.run([sys.executable, "-m", "p2c_sandbox.cli", "simulate", "--data", str(company.data_dir),
                    "--steps", "2", "--dataverse-url", company.dataverse_url, "--finops-url", company.finops_url],
                   check=True)
    resources, *_ = first_run
    return run_prospect_to_cash(resources)


def _all_checks_passed(result: dg.ExecuteInProcessResult) -> None:
    failed = [(e.asset_key.to_user_string(), e.check_name, e.description)
              for e in result.get_asset_check_evaluations() if not e.passed]
    assert result.success
    assert failed == []


def test_first_run_is_green(first_run):
    _all_checks_passed(first_run[1])


def test_accounts_become_externally_maintained_customers_with_template_defaults(first_run, clients):
    dv, fo = clients
    accounts = dv.read("accounts", select=["accountnumber", "name", "_owningbusinessunit_value"], filter="statecode eq 0")
    customers = fo.read("CustomersV3", cross_company=True, companies=["usmf", "demf"],
                        select=["dataAreaId", "CustomerAccount", "OrganizationName", "CustomerGroupId", "SiteId",
                                "WarehouseId", "LanguageId", "IsExternallyMaintained", "PartyType"])
    synced = customers[customers["CustomerAccount"].isin(accounts["accountnumber"])]
    assert len(synced) == len(accounts)
    first = accounts.iloc[0]
    row = synced[synced["CustomerAccount"] == first["accountnumber"]].iloc[0]
    assert row["OrganizationName"] == first["name"]
    assert (row["CustomerGroupId"], row["SiteId"], row["WarehouseId"], row["LanguageId"]) == ("10", "1", "13", "en-us")
    assert set(synced["IsExternallyMaintained"]) == {"Yes"}
    assert set(synced["PartyType"]) == {"Organization"}
    assert set(synced["dataAreaId"]) == {"usmf", "demf"}


def test_contacts_are_routed_by_active_customer_flag(first_run, clients):
    dv, fo = clients
    contacts = dv.read("contacts", select=["msdynce_contactnumber", "msdynce_isactivecustomer",
                                           "msdynce_iscompanyanaccount"], filter="statecode eq 0")
    customers = set(fo.read("CustomersV3", cross_company=True, select=["CustomerAccount"])["CustomerAccount"])
    persons = set(fo.read("ContactPersonsV2", cross_company=True, select=["ContactPersonId"])["ContactPersonId"])
    active = contacts[contacts["msdynce_isactivecustomer"] == True]  # noqa: E712
    of_account = contacts[(contacts["msdynce_isactivecustomer"] != True) & (contacts["msdynce_iscompanyanaccount"] == True)]  # noqa: E712
    loose = contacts[(contacts["msdynce_isactivecustomer"] != True) & (contacts["msdynce_iscompanyanaccount"] != True)]  # noqa: E712
    assert len(active) and len(of_account) and len(loose)
    assert set(active["msdynce_contactnumber"]) <= customers
    assert set(of_account["msdynce_contactnumber"]) <= persons
    assert not set(loose["msdynce_contactnumber"]) & (customers | persons)


def test_sellable_products_arrive_active_externally_maintained_on_their_currency_price_list(first_run, clients):
    dv, fo = clients
    sellable = fo.read("SellableReleasedProducts", select=["ProductNumber", "SalesPrice", "CurrencyCode"])
    products = dv.read("products", select=["productid", "productnumber", "price", "statecode",
                                           "msdynce_ismaintainedexternally"],
                       filter="msdynce_ismaintainedexternally eq true")
    assert set(sellable["ProductNumber"]) <= set(products["productnumber"])
    assert set(products["statecode"]) == {0}
    items = dv.read("productpricelevels", select=["_productid_value", "_pricelevelid_value", "amount"])
    lists = dv.read("pricelevels", select=["pricelevelid", "name"]).set_index("pricelevelid")["name"]
    usd = sellable[sellable["CurrencyCode"] == "USD"].iloc[0]
    product_id = products.set_index("productnumber").loc[usd["ProductNumber"], "productid"]
    item = items[items["_productid_value"] == product_id].iloc[0]
    assert lists[item["_pricelevelid_value"]] == "CRM Service USA (sample)"  # first USD list alphabetically
    assert item["amount"] == pytest.approx(usd["SalesPrice"])


def test_second_run_is_green_and_moves_quotes_orders_both_ways_and_invoices(second_run):
    _all_checks_passed(second_run)
    moved = target_metadata(second_run)
    for asset in ("fo/quotations", "fo/quotation_lines", "fo/orders_from_sales", "fo/order_lines_from_sales",
                  "sales/orders", "sales/order_lines", "sales/invoices", "sales/invoice_lines"):
        assert moved[asset]["rows_created"] > 0, asset


def test_activated_sales_orders_land_in_f_and_o_and_drafts_stay_in_sales(second_run, clients):
    dv, fo = clients
    orders = dv.read("salesorders", select=["ordernumber", "msdynce_processingstatus"],
                     filter="msdynce_ismaintainedexternally eq false")
    headers = set(fo.read("CDSSalesOrderHeaders", cross_company=True, select=["SalesOrderNumber"])["SalesOrderNumber"])
    active, drafts = (set(orders.loc[orders["msdynce_processingstatus"] == s, "ordernumber"])
                      for s in (647390000, 647390011))
    assert active and drafts  # the simulated users activated orders, and Sales refused those with write-ins
    assert active <= headers and not drafts & headers


def test_active_quotes_land_as_quotations_with_lines(second_run, clients):
    dv, fo = clients
    quotes = dv.read("quotes", select=["quotenumber"],
                     filter="statecode eq 1 and msdynce_hasexternallymaintainedproductsonly eq true")
    legacy = dv.read("quotes", select=["quotenumber"], filter="msdynce_hasexternallymaintainedproductsonly eq false")
    headers = fo.read("CDSSalesQuotationHeaders", cross_company=True, select=["SalesQuotationNumber"])
    lines = fo.read("CDSSalesQuotationLines", cross_company=True,
                    select=["SalesQuotationNumber", "LineCreationSequenceNumber", "ProductNumber", "SalesUnitSymbol"])
    assert set(quotes["quotenumber"]) <= set(headers["SalesQuotationNumber"])
    assert not set(legacy["quotenumber"]) & set(headers["SalesQuotationNumber"])
    assert set(lines["SalesQuotationNumber"]) == set(headers["SalesQuotationNumber"])
    assert lines["SalesUnitSymbol"].notna().all()


def test_confirmed_orders_arrive_with_totals_status_and_lines(second_run, clients):
    dv, fo = clients
    fo_orders = fo.read("CDSSalesOrderHeaders", cross_company=True,
                        select=["dataAreaId", "SalesOrderNumber", "OrderTotalAmount", "SalesOrderProcessingStatus",
                                "OrderingCustomerIsExternallyMaintained", "AreTotalsUpdated"])
    units = dv.read("businessunits", select=["businessunitid", "name"]).set_index("businessunitid")["name"]
    orders = dv.read("salesorders", select=["ordernumber", "totalamount", "msdynce_processingstatus",
                                            "msdynce_ismaintainedexternally", "_owningbusinessunit_value"])
    orders["dataAreaId"] = orders["_owningbusinessunit_value"].map(units).map({"USMF Sales": "usmf", "DEMF Sales": "demf"})
    merged = fo_orders.merge(orders, how="left", left_on=["dataAreaId", "SalesOrderNumber"],
                             right_on=["dataAreaId", "ordernumber"])
    eligible = ((merged["OrderingCustomerIsExternallyMaintained"] == "Yes") & (merged["AreTotalsUpdated"] == "Yes")
                & ~merged["SalesOrderProcessingStatus"].isin(["None", "Active", "Canceled"]))
    assert eligible.sum() and merged.loc[eligible, "ordernumber"].notna().all()
    assert merged.loc[merged["OrderingCustomerIsExternallyMaintained"] == "No", "ordernumber"].isna().all()
    synced = merged[eligible]
    assert (synced["msdynce_ismaintainedexternally"] == True).all()  # noqa: E712
    assert set(synced["msdynce_processingstatus"]) <= {647390001, 647390003}  # Confirmed, Invoiced
    # Sales recomputes the total from the lines (incl. the Freight Tax line): it must equal F&O's
    assert list(synced["totalamount"].round(2)) == list(synced["OrderTotalAmount"].round(2))
    lines = dv.read("salesorderdetails", select=["msdynce_ordernumber", "sequencenumber", "quantity"],
                    filter="msdynce_ismaintainedexternally eq true")
    assert set(synced["ordernumber"]) <= set(lines["msdynce_ordernumber"])


def test_invoices_arrive_with_lines_and_set_their_order_to_invoiced(second_run, clients):
    dv, fo = clients
    fo_invoices = fo.read("ExternallyMaintainedCustomerSalesInvoiceHeaders", cross_company=True,
                          select=["InvoiceNumber", "SalesOrderNumber", "TotalInvoiceAmount"])
    invoices = dv.read("invoices", select=["invoicenumber", "_salesorderid_value"])
    assert len(fo_invoices) and set(fo_invoices["InvoiceNumber"]) <= set(invoices["invoicenumber"])
    details = dv.read("invoicedetails", select=["msdynce_invoicenumber", "sequencenumber"])
    assert set(fo_invoices["InvoiceNumber"]) <= set(details["msdynce_invoicenumber"])
    orders = dv.read("salesorders", select=["ordernumber", "statecode", "msdynce_processingstatus"])
    invoiced = orders[orders["ordernumber"].isin(fo_invoices["SalesOrderNumber"])]
    assert len(invoiced) and set(invoiced["statecode"]) == {4}


def test_a_no_change_run_writes_nothing(second_run, first_run):
    resources, *_ = first_run
    third = run_prospect_to_cash(resources)
    _all_checks_passed(third)
    written = sum(m["rows_created"] + m["rows_updated"] for m in target_metadata(third).values())
    assert written == 0
    assert {e.asset_key.to_user_string(): (_value(e, "mode"), _value(e, "records_compared"))
            for e in _reconciliations(third)} == {
        asset: ("0 records written in this run; nothing to compare", 0) for asset in target_metadata(third)}
    # the cross-entity checks read the services only when the run wrote such records (or with the full tag)
    modes = {e.check_name: _value(e, "mode") for e in third.get_asset_check_evaluations()
             if e.check_name in ("customer_exists", "product_exists")}
    assert modes == {"customer_exists": "no fo/quotations record written in this run; nothing to check",
                     "product_exists": "no sales/order_lines record written in this run; nothing to check"}
    checked = {e.check_name: e.metadata for e in second_run.get_asset_check_evaluations()
               if e.check_name in ("customer_exists", "product_exists")}
    assert "mode" not in checked["customer_exists"] and checked["customer_exists"]["quotations"].value > 0
    assert "mode" not in checked["product_exists"] and "lines" in checked["product_exists"]  # it wrote some: read


def test_reconciliation_compares_the_records_the_run_wrote(second_run):
    written = {asset: m["rows_created"] + m["rows_updated"] for asset, m in target_metadata(second_run).items()}
    compared = {e.asset_key.to_user_string(): _value(e, "records_compared") for e in _reconciliations(second_run)}
    assert compared == written and sum(written.values()) > 0


def test_a_full_reconciliation_finds_drift_on_a_record_no_run_wrote_since(second_run, first_run, clients):
    from p2c_assets.defs.checks import RECONCILE_TAG

    resources, *_ = first_run
    _, fo = clients
    customer = fo.read("CustomersV3", select=["dataAreaId", "CustomerAccount"], companies=["usmf"]).iloc[0]
    fo.upsert_many("CustomersV3", [{**customer.to_dict(), "OrganizationName": "Renamed in F&O"}],
                   key=["dataAreaId", "CustomerAccount"])
    scoped = _reconciliations(run_prospect_to_cash(resources, job="accounts_flow"))
    assert all(e.passed for e in scoped)  # it wrote nothing: nothing compared, the drift waits
    full = {e.asset_key.to_user_string(): e for e in _reconciliations(
        run_prospect_to_cash(resources, job="accounts_flow", tags={RECONCILE_TAG: "full"}))}
    assert _value(full["fo/customers"], "mode") == "full: every landed record, against the whole target"
    assert [(r.data["key"], r.data["field"], r.data["target"]) for r in full["fo/customers"].metadata["sample"].value.records] \
        == [(f"usmf|{customer['CustomerAccount']}", "OrganizationName", "Renamed in F&O")]


def test_each_flow_loads_the_columns_and_rows_it_maps_and_maps_them_as_from_the_whole_source(first_run):
    """A step loads only the source columns its flows read (`source_columns`) of the rows their row filter
    keeps (`Frames.load_for`): for every flow without a transform of its own, fewer columns, for a flow with
    a row filter fewer rows (counted as filtered out), and the same mapped rows and legal entities."""
    resources, _, instance = first_run
    settings = resources["flow_settings"].get()
    pruned, filtered = [], []
    for template in settings.templates.values():
        stored = Frames(LegalEntityFrames(), instance, GRAPH.source_of(template.name).key,
                        list(settings.companies))
        whole, part = stored.load(), stored.load_for(template)
        assert len(part) + part.attrs.get(FILTERED_OUT, 0) == len(whole), template.name
        pd.testing.assert_frame_equal(map_rows(template, part, settings.companies),
                                      map_rows(template, whole, settings.companies))
        pd.testing.assert_series_equal(legal_entities(template, part, settings.companies),
                                       legal_entities(template, whole, settings.companies).loc[part.index])
        if len(part) < len(whole):
            filtered.append(template.name)
        if source_columns(template) is not None and len(whole):
            assert set(part.columns) < set(whole.columns), template.name
            pruned.append(template.name)
    assert {"accounts", "contacts", "contact_customers", "products"} <= set(pruned)
    assert {"contacts", "contact_customers"} <= set(filtered)


def _reconciliations(result: dg.ExecuteInProcessResult) -> list[dg.AssetCheckEvaluation]:
    return [e for e in result.get_asset_check_evaluations() if e.check_name == "reconciliation"]


def _value(evaluation: dg.AssetCheckEvaluation, name: str):
    return evaluation.metadata[name].value


@pytest.mark.parametrize("run", ["first_run", "second_run"])
def test_every_extracted_row_is_accounted_for(run, request):
    """extracted = filtered out + created + updated + unchanged + rejected + failed + blocked + parked,
    for every target asset, in the metadata a user reads."""
    result = request.getfixturevalue(run)
    result = result[1] if isinstance(result, tuple) else result
    outcomes = ("filtered_out", "created", "updated", "unchanged", "rejected", "failed", "blocked", "parked")
    for asset, meta in target_metadata(result).items():
        assert meta["rows_extracted"] == sum(meta[f"rows_{o}"] for o in outcomes), (asset, meta)
    assert set(target_metadata(result)) == {node.name for node in GRAPH.nodes.values() if node.role == "target"}
    routed = target_metadata(result)["fo/customers"]
    assert routed["rows_filtered_out"] > 0  # contacts that are not active customers are routed elsewhere


def test_history_adds_up_too(second_run, first_run):
    from p2c_assets.engine.ledger import RUN_OUTCOMES
    from p2c_assets.history import history_text

    ledger = first_run[0]["ledger"].get()
    runs = ledger.history(limit=50)
    assert runs and all(r.extracted == r.filtered_out + sum(r.counts[o] for o in RUN_OUTCOMES) for r in runs)
    assert any(r.filtered_out for r in runs)
    assert "filtered out" in history_text(ledger).splitlines()[0]
