"""The sandbox's F&O business over real HTTP: $batch changesets, orders, totals, invoices."""

from __future__ import annotations

import json
import re
import uuid

from .test_finops import NOYES, customer, fo, infolog, unique  # noqa: F401  (fo is a fixture)


def batch(fo, changesets: list[list[tuple[str, str, dict | None]]]):
    """POST a $batch of changesets of (method, url relative to /data/, body) requests."""
    boundary = f"batch_{uuid.uuid4()}"
    lines = []
    for changeset in changesets:
        inner = f"changeset_{uuid.uuid4()}"
        lines += [f"--{boundary}", f"Content-Type: multipart/mixed; boundary={inner}", ""]
        for n, (method, url, body) in enumerate(changeset, start=1):
            lines += [f"--{inner}", "Content-Type: application/http",
                      "Content-Transfer-Encoding: binary", f"Content-ID: {n}", "",
                      f"{method} {fo.root}{url} HTTP/1.1", "OData-Version: 4.0",
                      "Content-Type: application/json;odata.metadata=minimal", "",
                      json.dumps(body) if body is not None else ""]
        lines.append(f"--{inner}--")
    lines.append(f"--{boundary}--")
    return fo.session.post(fo.root + "$batch", data="\r\n".join(lines).encode(), timeout=10,
                           headers={"Content-Type": f"multipart/mixed; boundary={boundary}"})


def test_a_failing_changeset_rolls_back_and_reports_500_in_its_part(fo):
    good, bad, alone = unique("B-"), unique("B-"), unique("B-")
    response = batch(fo, [
        [("POST", "CustomersV3", customer(good)),
         ("POST", "CustomersV3", customer(bad, CustomerGroupId="99"))],
        [("POST", "CustomersV3", customer(alone)),
         ("PATCH", f"CustomersV3(dataAreaId='usmf',CustomerAccount='{alone}')",
          {"CreditLimit": 750})],
    ])
    assert response.status_code == 200
    statuses = re.findall(r"^HTTP/1\.1 (\d{3})", response.text, re.MULTILINE)
    assert statuses == ["500", "201", "204"]
    assert "validateField failed on field 'CustCustomerV3Entity.CustomerGroupId'" in response.text

    def exists(account):
        return fo.get(f"CustomersV3(dataAreaId='usmf',CustomerAccount='{account}')").status_code
    assert exists(good) == 404  # rolled back with its failing neighbour
    assert exists(bad) == 404
    assert fo.get(f"CustomersV3(dataAreaId='usmf',CustomerAccount='{alone}')") \
        .json()["CreditLimit"] == 750


def external_customer(fo, external: bool = True) -> str:
    account = unique("O-")
    created = fo.post("CustomersV3", customer(account, IsExternallyMaintained=(
        "Yes" if external else "No")))
    assert created.status_code == 201, created.text
    return account


def order_header(fo, number: str) -> dict:
    return fo.get(f"CDSSalesOrderHeaders(dataAreaId='usmf',SalesOrderNumber='{number}')").json()


def test_order_lifecycle_confirm_totals_and_invoice(fo):
    account = external_customer(fo)
    created = fo.action("orders", {"company": "usmf", "customer": account,
                                   "OrderHeaderTaxAmount": 5, "OrderTotalChargesAmount": 10,
                                   "lines": [{"ProductNumber": "D0001", "OrderedSalesQuantity": 2,
                                              "LineDiscountAmount": 10, "TotalTaxAmount": 11},
                                             {"ItemNumber": "D0002", "OrderedSalesQuantity": 1}]})
    assert created.status_code == 201, created.text
    number = created.json()["SalesOrderNumber"]

    header = order_header(fo, number)
    assert header["SalesOrderProcessingStatus"] == "Active"
    assert header["AreTotalsUpdated"] == "No"
    assert header["CurrencyCode"] == "USD"  # from the customer
    assert (header["OrderingCustomerIsExternallyMaintained"],
            header["InvoiceCustomerIsExternallyMaintained"]) == ("Yes", "Yes")

    assert fo.action(f"orders/usmf/{number}/confirm").status_code == 200
    assert fo.action("calculate-totals", {"company": "usmf", "number": number}).json() == {
        "updated": 1}
    header = order_header(fo, number)
    assert header["SalesOrderProcessingStatus"] == "Confirmed"
    assert header["AreTotalsUpdated"] == "Yes"
    # lines: 2 x (120 - 10 discount per unit) = 220 and 35.50; tax 11 on the lines + 5 header
    # tax; charges 10
    assert header["OrderTotalDiscountAmount"] == 20
    assert header["OrderTotalTaxAmount"] == 16
    assert header["OrderTotalAmount"] == 220 + 35.5 + 10 + 16

    ready = fo.get("CDSSalesOrderHeaders", **{"$filter": (
        f"SalesOrderNumber eq '{number}' and AreTotalsUpdated eq {NOYES}'Yes' and "
        f"OrderingCustomerIsExternallyMaintained eq {NOYES}'Yes'"),
        "$expand": "SalesOrderLines($select=LineCreationSequenceNumber,LineAmount)"}).json()
    assert [(line["LineCreationSequenceNumber"], line["LineAmount"])
            for line in ready["value"][0]["SalesOrderLines"]] == [(1, 220), (2, 35.5)]

    line = f"CDSSalesOrderLines(dataAreaId='usmf',SalesOrderNumber='{number}',LineCreationSequenceNumber=2)"
    assert fo.patch(line, {"OrderedSalesQuantity": 3}).status_code == 204
    assert fo.get(line).json()["LineAmount"] == 106.5
    assert order_header(fo, number)["AreTotalsUpdated"] == "No"  # stale until recalculated

    posted = fo.action(f"orders/usmf/{number}/invoice", {"invoice_date": "2024-02-22"})
    assert posted.status_code == 201, posted.text
    invoice = posted.json()
    assert invoice["InvoiceDate"] == "2024-02-22T12:00:00Z"
    header = order_header(fo, number)
    assert (header["SalesOrderProcessingStatus"], header["SalesOrderStatus"]) == (
        "Invoiced", "Invoiced")
    again = fo.action(f"orders/usmf/{number}/invoice")
    assert again.status_code == 400 and "processing status is Invoiced" in infolog(again)

    key = (f"ExternallyMaintainedCustomerSalesInvoiceHeaders(dataAreaId='usmf',"
           f"InvoiceNumber='{invoice['InvoiceNumber']}',InvoiceDate=2024-02-22T12:00:00Z,"
           f"LedgerVoucher='{invoice['LedgerVoucher']}')")
    header = fo.get(key).json()
    assert (header["SalesOrderNumber"], header["InvoiceCustomerAccountNumber"]) == (number, account)
    assert header["TotalInvoiceAmount"] == 220 + 106.5 + 10 + 16
    lines = fo.get("ExternallyMaintainedCustomerSalesInvoiceLines", **{
        "$filter": f"InvoiceNumber eq '{invoice['InvoiceNumber']}'"}).json()["value"]
    assert [(n["ProductNumber"], n["InvoicedQuantity"], n["ProductName"]) for n in lines] == [
        ("D0001", 2, "Product D0001"), ("D0002", 3, "Product D0002")]


def test_invoice_entities_show_only_externally_maintained_customers(fo):
    numbers = {}
    for external in (True, False):
        account = external_customer(fo, external)
        order = fo.action("orders", {"customer": account, "lines": [
            {"ProductNumber": "D0002", "OrderedSalesQuantity": 1}]}).json()["SalesOrderNumber"]
        numbers[external] = fo.action(f"orders/usmf/{order}/invoice").json()["InvoiceNumber"]
    listed = fo.get("ExternallyMaintainedCustomerSalesInvoiceHeaders", **{
        "$filter": f"InvoiceNumber eq '{numbers[True]}' or InvoiceNumber eq '{numbers[False]}'",
        "$select": "InvoiceNumber"}).json()["value"]
    assert [row["InvoiceNumber"] for row in listed] == [numbers[True]]


def test_orders_created_over_odata_get_numbers_and_validation(fo):
    account = external_customer(fo)
    created = fo.post("CDSSalesOrderHeaders", {"OrderingCustomerAccountNumber": account,
                                               "CurrencyCode": "USD"})
    assert created.status_code == 201, created.text
    assert re.fullmatch(r"\d{6}", created.json()["SalesOrderNumber"])
    assert created.json()["InvoiceCustomerAccountNumber"] == account
    bad_line = fo.post("CDSSalesOrderLines", {
        "SalesOrderNumber": created.json()["SalesOrderNumber"], "LineCreationSequenceNumber": 1,
        "ItemNumber": "NOPE", "ShippingWarehouseId": "99"})
    for name in ("ItemNumber", "ShippingWarehouseId"):
        assert f"'SalesOrderLineCDSEntity.{name}'" in infolog(bad_line)
    unknown = fo.action("orders/usmf/NOPE/confirm")
    assert unknown.status_code == 404


def test_business_functions_work_on_a_plain_connection(tmp_path):
    """Seed and simulate code drive F&O business directly on the database, without HTTP."""
    from p2c_sandbox.finops import business
    from p2c_sandbox.finops.schema import insert_rows
    from p2c_sandbox.finops.service import connect, transaction

    conn = connect(tmp_path / "finops.db")
    with transaction(conn):
        insert_rows(conn, "Currencies", [{"CurrencyCode": "USD"}])
        insert_rows(conn, "UnitsOfMeasure", [{"UnitSymbol": "ea"}])
        insert_rows(conn, "CustomerGroups", [{"dataAreaId": "usmf", "CustomerGroupId": "10"}])
        insert_rows(conn, "CustomersV3", [{"dataAreaId": "usmf", "CustomerAccount": "US-001",
                                           "CustomerGroupId": "10", "SalesCurrencyCode": "USD"}])
        insert_rows(conn, "ReleasedProductsV2", [{"dataAreaId": "usmf", "ItemNumber": "D1",
                                                  "ProductNumber": "D1", "SalesUnitSymbol": "ea",
                                                  "SalesPrice": 10.0}])
        number = business.create_order(conn, "usmf", "US-001",
                                       [{"ProductNumber": "D1", "OrderedSalesQuantity": 4}])
        business.confirm_order(conn, "usmf", number)
        assert business.calculate_totals(conn) == 1
    order = conn.execute("SELECT SalesOrderProcessingStatus, AreTotalsUpdated, OrderTotalAmount "
                         "FROM SalesOrders WHERE SalesOrderNumber = ?", (number,)).fetchone()
    assert tuple(order) == ("Confirmed", "Yes", 40.0)
    with transaction(conn):
        invoice = business.post_invoice(conn, "usmf", number)
    # not externally maintained: posted, but not in the P2C invoice entity
    assert conn.execute("SELECT COUNT(*) FROM SalesInvoiceHeaders WHERE InvoiceNumber = ?",
                        (invoice["InvoiceNumber"],)).fetchone()[0] == 1
    assert conn.execute('SELECT COUNT(*) FROM "v_ExternallyMaintainedCustomerSalesInvoiceHeaders"'
                        ).fetchone()[0] == 0


def test_deleting_an_order_takes_its_lines_and_malformed_batches_are_refused(fo):
    account = external_customer(fo)
    number = fo.action("orders", {"customer": account, "lines": [
        {"ProductNumber": "D0001", "OrderedSalesQuantity": 1}]}).json()["SalesOrderNumber"]
    assert fo.delete(f"CDSSalesOrderHeaders(dataAreaId='usmf',SalesOrderNumber='{number}')") \
        .status_code == 204
    lines = fo.get("CDSSalesOrderLines", **{"$filter": f"SalesOrderNumber eq '{number}'"})
    assert lines.json()["value"] == []

    malformed = fo.session.post(fo.root + "$batch", data=b"no parts here", timeout=10,
                                headers={"Content-Type": "application/json"})
    assert malformed.status_code == 400
    assert "multipart/mixed" in malformed.json()["error"]["message"]
