"""Orders taken in Sales arriving in the sandbox's F&O over OData, as the Sales -> F&O order flow
sends them (p2c-spec 4.5): their own number, validation that names the field, the discount
rounding, and the same business actions as on orders made in F&O."""

from __future__ import annotations

from .test_finops import customer, fo, infolog, unique  # noqa: F401  (fo is a fixture)
from .test_finops_business import external_customer, order_header


def sales_order(fo, account: str, **fields) -> dict:
    """POST an order header as the flow does: Sales' order number, customer, address, dates."""
    body = {"SalesOrderNumber": unique("ORD-"), "SalesOrderName": "Taken in Sales",
            "OrderingCustomerAccountNumber": account, "InvoiceCustomerAccountNumber": account,
            "CurrencyCode": "USD", "LanguageId": "en-us", "RequestedShippingDate": "2030-05-01T12:00:00Z",
            "DeliveryAddressStreet": "1 Main St", "DeliveryAddressCity": "Redmond",
            "DeliveryAddressStateId": "WA", "DeliveryAddressZipCode": "98052",
            "DeliveryAddressCountryRegionISOCode": "US", "DefaultShippingSiteId": "1",
            "DefaultShippingWarehouseId": "11", "SalesOrderOriginCode": "SalesOrder", **fields}
    created = fo.post("CDSSalesOrderHeaders", body)
    assert created.status_code == 201, created.text
    return created.json()


def line_key(number: str, sequence: int) -> str:
    return (f"CDSSalesOrderLines(dataAreaId='usmf',SalesOrderNumber='{number}',"
            f"LineCreationSequenceNumber={sequence})")


def test_an_order_from_sales_keeps_its_number_and_gets_f_and_o_totals(fo):
    account = external_customer(fo)
    number = unique("ORD-")
    header = sales_order(fo, account, SalesOrderNumber=number)
    assert header["SalesOrderNumber"] == number  # documents created in Sales keep their number
    assert (header["SalesOrderProcessingStatus"], header["OrderingCustomerIsExternallyMaintained"],
            header["SalesOrderOriginCode"]) == ("Active", "Yes", "SalesOrder")

    # Sales: 3 units at 120 with a line discount of 10.00 -> 3.33 a unit and a charge of -0.01
    first = fo.post("CDSSalesOrderLines", {
        "SalesOrderNumber": number, "LineCreationSequenceNumber": 1, "ProductNumber": "D0001",
        "OrderedSalesQuantity": 3, "SalesPrice": 120, "SalesUnitSymbol": "ea",
        "LineDiscountAmount": 3.33, "FixedPriceCharges": -0.01})
    assert first.status_code == 201, first.text
    assert first.json()["LineAmount"] == 350.00  # 3 x 120 - 10.00, to the cent
    # site, warehouse and requested ship date come from the header when the line has none
    assert (first.json()["ShippingSiteId"], first.json()["ShippingWarehouseId"],
            first.json()["RequestedShippingDate"]) == ("1", "11", "2030-05-01T12:00:00Z")
    second = fo.post("CDSSalesOrderLines", {
        "SalesOrderNumber": number, "LineCreationSequenceNumber": 2, "ProductNumber": "D0002",
        "OrderedSalesQuantity": 2, "SalesPrice": 35.5, "SalesUnitSymbol": "ea",
        "ShippingSiteId": "1", "ShippingWarehouseId": "11"})
    assert second.status_code == 201, second.text
    assert order_header(fo, number)["AreTotalsUpdated"] == "No"

    assert fo.action(f"orders/usmf/{number}/confirm").status_code == 200
    assert fo.action("calculate-totals", {"company": "usmf", "number": number}).json() == {"updated": 1}
    header = order_header(fo, number)
    assert (header["SalesOrderProcessingStatus"], header["AreTotalsUpdated"]) == ("Confirmed", "Yes")
    assert header["OrderTotalAmount"] == 350.00 + 71.00
    assert header["OrderTotalDiscountAmount"] == 9.99  # the per-unit discounts; the charge holds the cent
    line = fo.get(line_key(number, 1)).json()
    undivided = line["LineDiscountAmount"] * line["OrderedSalesQuantity"] - line["FixedPriceCharges"]
    assert round(undivided, 2) == 10.00  # what goes back to Sales (p2c-spec 4.5)

    posted = fo.action(f"orders/usmf/{number}/invoice", {"invoice_date": "2030-05-02"})
    assert posted.status_code == 201, posted.text
    invoice = fo.get("ExternallyMaintainedCustomerSalesInvoiceHeaders", **{
        "$filter": f"SalesOrderNumber eq '{number}'"}).json()["value"]
    assert [(i["InvoiceNumber"], i["TotalInvoiceAmount"], i["TotalDiscountAmount"]) for i in invoice] == [
        (posted.json()["InvoiceNumber"], 421.00, 9.99)]
    lines = fo.get("ExternallyMaintainedCustomerSalesInvoiceLines", **{
        "$filter": f"InvoiceNumber eq '{posted.json()['InvoiceNumber']}' and LineCreationSequenceNumber eq 1"})
    assert [(x["LineAmount"], x["LineTotalDiscountAmount"], x["LineTotalChargeAmount"])
            for x in lines.json()["value"]] == [(350.00, 9.99, -0.01)]  # the parts add up to the amount
    assert order_header(fo, number)["SalesOrderProcessingStatus"] == "Invoiced"


def test_header_and_lines_from_sales_are_validated_naming_the_field(fo):
    unknown_customer = fo.post("CDSSalesOrderHeaders", {
        "SalesOrderNumber": unique("ORD-"), "OrderingCustomerAccountNumber": "NOPE",
        "DefaultShippingWarehouseId": "99"})
    assert unknown_customer.status_code == 400
    for name in ("OrderingCustomerAccountNumber", "DefaultShippingWarehouseId"):
        assert f"'SalesOrderHeaderCDSEntity.{name}'" in infolog(unknown_customer)
    assert "The value 'NOPE' in field 'Customer account' is not found in the related table " \
           "'Customers'." in infolog(unknown_customer)

    account = external_customer(fo)
    number = sales_order(fo, account)["SalesOrderNumber"]
    bad = fo.post("CDSSalesOrderLines", {
        "SalesOrderNumber": number, "LineCreationSequenceNumber": 1, "ProductNumber": "NOPE",
        "OrderedSalesQuantity": 1, "SalesPrice": 5, "SalesUnitSymbol": "box", "ShippingSiteId": "9"})
    assert bad.status_code == 400
    message = infolog(bad)
    for name in ("ProductNumber", "SalesUnitSymbol", "ShippingSiteId"):
        assert f"'SalesOrderLineCDSEntity.{name}'" in message
    assert "The value 'NOPE' in field 'Product number' is not found in the related table 'Products'." in message
    assert "The value 'box' in field 'Unit' is not found in the related table 'Units'." in message
    assert fo.get(line_key(number, 1)).status_code == 404

    # the same Sales order sent again (say, after a lost answer) is a duplicate, not a second order
    again = fo.post("CDSSalesOrderHeaders", {"SalesOrderNumber": number.lower(),
                                             "OrderingCustomerAccountNumber": account})
    assert again.status_code == 400 and "The record already exists" in infolog(again)
