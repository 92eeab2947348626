"""Sales orders both ways over a real sandbox, as the business sees them (p2c-spec 4.5).

A Sales user takes an order for a customer that reached F&O, with two lines of products that came
from F&O (3 units with 10.00 off, and a second product), and activates it; another order with a
write-in product cannot be activated. prospect_to_cash sends the first to F&O. F&O confirms it and
calculates its totals; the next run brings F&O's status and totals back onto the same Sales order and
lines. F&O invoices it; the invoice arrives with the discount undivided. Nothing goes back and forth:
each run after that writes nothing anywhere.

The runs build on each other, in order (module fixtures): `sent`, `confirmed`, `invoiced`.
"""

from __future__ import annotations

import pandas as pd
import pytest
import requests

from p2c_assets.execution import failed_checks, target_metadata
from p2c_assets_tests.conftest import DataverseApi
from p2c_assets_tests.helpers import run_prospect_to_cash, sandbox_resources

COMPANY = (8, 23)  # the seeded sandbox of this module: scale, seed (conftest.company)

DRAFT, ACTIVE, CONFIRMED, INVOICED = 647390011, 647390000, 647390001, 647390003
HEADER = ["SalesOrderNumber", "SalesOrderName", "OrderingCustomerAccountNumber", "InvoiceCustomerAccountNumber",
          "CurrencyCode", "DeliveryAddressCountryRegionISOCode", "SalesOrderProcessingStatus"]
LINE = ["LineCreationSequenceNumber", "ProductNumber", "OrderedSalesQuantity", "SalesPrice", "LineDiscountAmount",
        "FixedPriceCharges", "LineAmount"]
SALES_LINE = ["salesorderdetailid", "sequencenumber", "quantity", "manualdiscountamount", "msdynce_ismaintainedexternally"]


@pytest.fixture(scope="module")
def resources(company, tmp_path_factory):
    """The first run has brought the Sales accounts to F&O as customers and F&O's products to Sales."""
    resources = sandbox_resources(company, tmp_path_factory.mktemp("state") / "state.db")
    first = run_prospect_to_cash(resources)
    assert first.success and failed_checks(first) == []
    return resources


class SalesUser:
    """Takes orders in Sales over the Web API, as the Sales app does."""

    def __init__(self, company, clients):
        self.api = DataverseApi(company)
        dv, fo = clients
        customers = fo.read("CustomersV3", select=["CustomerAccount"], companies=["usmf"],
                            filter="IsExternallyMaintained eq Microsoft.Dynamics.DataEntities.NoYes'Yes'")
        usd = dv.read("transactioncurrencies", select=["transactioncurrencyid"],
                      filter="isocurrencycode eq 'USD'")["transactioncurrencyid"][0]
        accounts = dv.read("accounts", select=["accountid", "accountnumber", "_owningbusinessunit_value",
                                               "_transactioncurrencyid_value"], filter="statecode eq 0")
        self.account = accounts[accounts["accountnumber"].isin(customers["CustomerAccount"])
                                & (accounts["_transactioncurrencyid_value"] == usd)].iloc[0]
        products = dv.read("products", select=["productid", "productnumber", "price", "_defaultuomid_value",
                                               "_transactioncurrencyid_value"],
                           filter="msdynce_ismaintainedexternally eq true and statecode eq 0")
        self.products = products[(products["_transactioncurrencyid_value"] == usd) & (products["price"] > 0)]
        self.usd = usd
        self.price_list = dv.read("pricelevels", select=["pricelevelid"],
                                  filter="name eq 'CRM Service USA (sample)'")["pricelevelid"][0]

    def order(self, name: str, lines: list[dict]) -> dict:
        """A Draft order of the account, ship-to country left blank, with `lines` (product rows or write-ins)."""
        order = self.api.create("salesorders", {
            "name": name, "customerid_account@odata.bind": f"/accounts({self.account['accountid']})",
            "pricelevelid@odata.bind": f"/pricelevels({self.price_list})",
            "transactioncurrencyid@odata.bind": f"/transactioncurrencies({self.usd})",
            "owningbusinessunit@odata.bind": f"/businessunits({self.account['_owningbusinessunit_value']})",
            "requestdeliveryby": "2030-06-01T12:00:00Z", "shipto_line1": "1 Main St", "shipto_city": "Redmond"})
        for seq, line in enumerate(lines, start=1):
            self.api.create("salesorderdetails", {
                "salesorderid@odata.bind": f"/salesorders({order['salesorderid']})", "sequencenumber": seq,
                "transactioncurrencyid@odata.bind": f"/transactioncurrencies({self.usd})",
                "ispriceoverridden": True, **line})
        return order

    def product_line(self, product: pd.Series, quantity: float, discount: float | None = None) -> dict:
        line = {"productid@odata.bind": f"/products({product['productid']})",
                "uomid@odata.bind": f"/uoms({product['_defaultuomid_value']})", "isproductoverridden": False,
                "quantity": quantity, "priceperunit": float(product["price"])}
        return line if discount is None else {**line, "manualdiscountamount": discount}

    def activate(self, order: dict) -> requests.Response:
        """The P2C Activate button."""
        return self.api.patch(f"salesorders({order['salesorderid']})", json={"msdynce_processingstatus": ACTIVE},
                              headers={"If-Match": "*"})


def made_in_fo(company, account: str, product: str) -> str:
    """An order an F&O user takes for the same customer, confirmed, totals calculated: one for Sales."""
    admin = f"{company.finops_url}/_sandbox/finops"
    made = requests.post(f"{admin}/orders", timeout=10, json={
        "company": "usmf", "customer": account, "lines": [{"ProductNumber": product, "OrderedSalesQuantity": 2}]})
    made.raise_for_status()
    number = made.json()["SalesOrderNumber"]
    requests.post(f"{admin}/orders/usmf/{number}/confirm", timeout=10).raise_for_status()
    requests.post(f"{admin}/calculate-totals", json={"company": "usmf", "number": number}, timeout=10).raise_for_status()
    return number


@pytest.fixture(scope="module")
def sent(company, clients, resources):
    """An activated order with two lines and a refused one with a write-in line in Sales, an order of
    the same customer made in F&O; then a run."""
    user = SalesUser(company, clients)
    first, second = user.products.iloc[0], user.products.iloc[1]
    from_fo = made_in_fo(company, user.account["accountnumber"], first["productnumber"])
    order = user.order("Two lines from Sales", [user.product_line(first, 3, discount=10.0),
                                                user.product_line(second, 2)])
    activated = user.activate(order)
    write_in = user.order("With a write-in", [user.product_line(first, 1), {
        "productdescription": "Installation on site", "isproductoverridden": True, "quantity": 1,
        "priceperunit": 150.0}])
    refused = user.activate(write_in)
    result = run_prospect_to_cash(resources)
    dv, _ = clients
    lines = dv.read("salesorderdetails", select=SALES_LINE, filter=f"_salesorderid_value eq {order['salesorderid']}")
    return {"order": order, "activated": activated, "write_in": write_in, "refused": refused, "run": result,
            "products": (first, second), "account": user.account["accountnumber"], "lines": lines,
            "from_fo": from_fo}


@pytest.fixture(scope="module")
def confirmed(company, sent, resources):
    """F&O's order processor confirms the order and runs "Calculate sales totals"; then a run."""
    number = sent["order"]["ordernumber"]
    admin = f"{company.finops_url}/_sandbox/finops"
    requests.post(f"{admin}/orders/usmf/{number}/confirm", timeout=10).raise_for_status()
    requests.post(f"{admin}/calculate-totals", json={"company": "usmf", "number": number}, timeout=10).raise_for_status()
    return run_prospect_to_cash(resources)


@pytest.fixture(scope="module")
def invoiced(company, sent, confirmed, resources):
    """F&O posts the order's invoice; then a run."""
    number = sent["order"]["ordernumber"]
    posted = requests.post(f"{company.finops_url}/_sandbox/finops/orders/usmf/{number}/invoice", json={},
                           timeout=10)
    posted.raise_for_status()
    return posted.json()["InvoiceNumber"], run_prospect_to_cash(resources)


def fo_order(fo, number: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    header = fo.read("CDSSalesOrderHeaders", select=["dataAreaId", *HEADER, "OrderTotalAmount"], cross_company=True,
                     filter=f"SalesOrderNumber eq '{number}'")
    lines = fo.read("CDSSalesOrderLines", select=["dataAreaId", *LINE], cross_company=True,
                    filter=f"SalesOrderNumber eq '{number}'")
    return header, lines.sort_values("LineCreationSequenceNumber", ignore_index=True)


def written(result) -> dict[str, int]:
    return {asset: m["rows_created"] + m["rows_updated"] for asset, m in target_metadata(result).items()}


def test_an_activated_sales_order_reaches_f_and_o_with_its_customer_lines_and_discounts(sent, clients):
    assert sent["activated"].status_code == 204, sent["activated"].text
    assert failed_checks(sent["run"]) == []
    _, fo = clients
    number, (first, second) = sent["order"]["ordernumber"], sent["products"]
    header, lines = fo_order(fo, number)
    assert header[["dataAreaId", *HEADER]].values.tolist() == [
        ["usmf", number, "Two lines from Sales", sent["account"], sent["account"], "USD", "US", "Active"]]
    # 3 x 10.00 off: 3.33 a unit and a charge of -0.01, so the line is exactly 10.00 below 3 x price
    assert lines[LINE[:-1]].values.tolist() == [
        [1, first["productnumber"], 3, first["price"], 3.33, -0.01],
        [2, second["productnumber"], 2, second["price"], 0, 0]]
    assert lines["LineAmount"][0] == pytest.approx(round(3 * first["price"] - 10.00, 2))
    moved = target_metadata(sent["run"])
    assert (moved["fo/orders_from_sales"]["rows_created"], moved["fo/order_lines_from_sales"]["rows_created"]) == (1, 2)


def test_an_order_made_in_f_and_o_reaches_sales_and_is_never_sent_back(sent, confirmed, clients):
    dv, fo = clients
    flags = ["msdynce_ismaintainedexternally", "msdynce_processingstatus"]
    orders = dv.read("salesorders", select=flags, filter=f"ordernumber eq '{sent['from_fo']}'")
    assert orders[flags].values.tolist() == [[True, CONFIRMED]]
    assert target_metadata(sent["run"])["sales/orders"]["rows_created"] == 1
    assert len(fo_order(fo, sent["from_fo"])[0]) == 1  # still the one F&O order, not a copy from Sales
    for run in (sent["run"], confirmed):
        assert target_metadata(run)["fo/orders_from_sales"]["rows_updated"] == 0


def test_an_order_with_a_write_in_product_stays_in_sales_with_the_reason(sent, clients):
    dv, fo = clients
    refused, number = sent["refused"], sent["write_in"]["ordernumber"]
    assert refused.status_code == 400
    assert f"Sales order {number} can not be activated: every order product must be externally maintained" \
        in refused.json()["error"]["message"]
    status = dv.read("salesorders", select=["msdynce_processingstatus"], filter=f"ordernumber eq '{number}'")
    assert list(status["msdynce_processingstatus"]) == [DRAFT]
    assert fo_order(fo, number)[0].empty


def test_once_confirmed_in_f_and_o_the_same_sales_order_shows_f_and_o_status_and_totals(sent, confirmed, clients):
    assert failed_checks(confirmed) == []
    dv, fo = clients
    number = sent["order"]["ordernumber"]
    orders = dv.read("salesorders", select=["salesorderid", "msdynce_processingstatus", "totalamount",
                                            "msdynce_ismaintainedexternally"], filter=f"ordernumber eq '{number}'")
    header, _ = fo_order(fo, number)
    assert orders[["salesorderid", "msdynce_processingstatus", "msdynce_ismaintainedexternally"]].values.tolist() == [
        [sent["order"]["salesorderid"], CONFIRMED, True]]
    assert orders["totalamount"][0] == pytest.approx(header["OrderTotalAmount"][0])
    # the same two lines, now F&O's, with the discount as the Sales user gave it
    lines = dv.read("salesorderdetails", select=SALES_LINE, filter=f"_salesorderid_value eq {sent['order']['salesorderid']}")
    lines = lines.sort_values("sequencenumber", ignore_index=True)
    assert list(lines["salesorderdetailid"]) == list(sent["lines"].sort_values("sequencenumber")["salesorderdetailid"])
    assert lines[["sequencenumber", "quantity", "manualdiscountamount", "msdynce_ismaintainedexternally"]].values.tolist() \
        == [[1, 3, 10.00, True], [2, 2, 0, True]]
    moved = written(confirmed)
    assert (target_metadata(confirmed)["sales/orders"]["rows_updated"], moved["sales/orders"]) == (1, 1)
    assert (target_metadata(confirmed)["sales/order_lines"]["rows_updated"], moved["sales/order_lines"]) == (2, 2)
    assert moved["fo/orders_from_sales"] == moved["fo/order_lines_from_sales"] == 0


def test_the_invoice_arrives_with_the_discount_undivided_and_nothing_goes_back(sent, invoiced, clients):
    number, result = invoiced
    assert failed_checks(result) == []
    dv, _ = clients
    details = dv.read("invoicedetails", select=["sequencenumber", "manualdiscountamount"],
                      filter=f"msdynce_invoicenumber eq '{number}'")
    assert dict(zip(details["sequencenumber"], details["manualdiscountamount"])) == {1: 10.00, 2: 0}
    orders = dv.read("salesorders", select=["msdynce_processingstatus"],
                     filter=f"ordernumber eq '{sent['order']['ordernumber']}'")
    assert list(orders["msdynce_processingstatus"]) == [INVOICED]
    assert written(result)["fo/orders_from_sales"] == written(result)["fo/order_lines_from_sales"] == 0


def test_a_rerun_writes_nothing_in_either_direction(sent, invoiced, resources, clients):
    again = run_prospect_to_cash(resources)
    assert failed_checks(again) == []
    assert set(written(again).values()) == {0}
    assert {"fo/orders_from_sales", "fo/order_lines_from_sales", "sales/orders", "sales/order_lines"} <= set(
        written(again))
    dv, fo = clients
    number = sent["order"]["ordernumber"]
    assert len(dv.read("salesorders", select=["salesorderid"], filter=f"ordernumber eq '{number}'")) == 1
    assert len(fo_order(fo, number)[0]) == 1
