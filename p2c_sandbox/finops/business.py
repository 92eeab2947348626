"""F&O business actions the P2C flows depend on (p2c-spec 4.5, 4.6), as plain functions.

Users in F&O release products and set up ledgers in its forms, create and confirm sales orders,
run the "Calculate sales totals" batch and post invoices; the order and invoice flows only pick up
orders that are confirmed with totals updated, and invoices of externally maintained customers.
`simulate`, seed code and tests call these functions directly with the service's SQLite
connection (the caller commits), or over HTTP through the admin endpoints in `admin.py`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from datetime import date

from . import defaults, writes
from .entities import ENTITIES, ENUMS, NAMESPACE
from .errors import FinOpsError, bad_query, not_found

_CLOSED = ("Invoiced", "Canceled")
#: invoice address field of the posted invoice -> of the order (the order names its state StateId)
_INVOICE_ADDRESS = (("Street", "Street"), ("City", "City"), ("State", "StateId"),
                    ("ZipCode", "ZipCode"), ("CountryRegionISOCode", "CountryRegionISOCode"))
#: what a product manager sets on a product besides the ReleasedProductsV2 fields
_PRODUCT_TEXTS = ("ProductName", "ProductDescription")
_ITEM_SETTINGS = ("IsSalesStopped", "IsStockedProduct")


def release_product(conn: sqlite3.Connection, company: str, fields: Mapping[str, object]) -> dict:
    """Create a product and release it to `company`, as a product manager does in F&O's forms.

    `fields` are ReleasedProductsV2 fields (validated like an OData create) plus what F&O keeps
    outside that entity: `ProductName` and `ProductDescription` (the shared product's
    translation), `IsSalesStopped` and `IsStockedProduct` (the item's sales setup and model group).
    Returns the released product's key.
    """
    settings = {k: fields[k] for k in _ITEM_SETTINGS if k in fields}
    for name, value in settings.items():
        if value not in ENUMS["NoYes"]:
            raise bad_query(f"The value '{value}' is not a valid member of the enumeration type "
                            f"'{NAMESPACE}.NoYes' (property '{name}').")
    entity = ENTITIES["ReleasedProductsV2"]
    extra = set(_PRODUCT_TEXTS + _ITEM_SETTINGS)
    released = writes.create(conn, entity, {k: v for k, v in fields.items() if k not in extra},
                             company.lower())
    texts = [fields.get(k) or "" for k in _PRODUCT_TEXTS]
    if any(texts):  # the shared product: one name for every company it is released to
        conn.execute("INSERT INTO ProductTranslations (ProductNumber, ProductName, "
                     "ProductDescription) VALUES (?, ?, ?) ON CONFLICT (ProductNumber) DO UPDATE "
                     "SET ProductName = excluded.ProductName, "
                     "ProductDescription = excluded.ProductDescription",
                     (released["ProductNumber"], *texts))
    if settings:
        _insert(conn, "ItemSettings", {"dataAreaId": released["dataAreaId"],
                                       "ItemNumber": released["ItemNumber"], **settings})
    return {k: released[k] for k in entity.keys}


def set_accounting_currency(conn: sqlite3.Connection, company: str, currency: str) -> None:
    """Set a legal entity's accounting currency, as the ledger setup form does (the currency
    sellable products are priced in)."""
    if conn.execute("SELECT 1 FROM Currencies WHERE CurrencyCode = ?", (currency,)).fetchone() is None:
        raise FinOpsError(400, "An error has occurred.",
                          f"Currency '{currency}' does not exist.")
    conn.execute("INSERT INTO Ledgers (LegalEntityId, AccountingCurrency) VALUES (?, ?) "
                 "ON CONFLICT (LegalEntityId) DO UPDATE SET "
                 "AccountingCurrency = excluded.AccountingCurrency", (company.lower(), currency))


def create_order(conn: sqlite3.Connection, company: str, customer: str,
                 lines: Iterable[Mapping[str, object]], **header: object) -> str:
    """Create a sales order with lines for `customer`, validated like an OData create.

    `lines` are CDSSalesOrderLines fields (at least ProductNumber or ItemNumber and
    OrderedSalesQuantity; unit, price and text default from the product). Returns the order number.
    """
    company = company.lower()
    order = writes.create(conn, ENTITIES["CDSSalesOrderHeaders"],
                          {"dataAreaId": company, "OrderingCustomerAccountNumber": customer,
                           **header}, company)
    number = order["SalesOrderNumber"]
    for sequence, line in enumerate(lines, start=1):
        writes.create(conn, ENTITIES["CDSSalesOrderLines"],
                      {"LineCreationSequenceNumber": sequence, **line, "dataAreaId": company,
                       "SalesOrderNumber": number}, company)
    return number


def _order(conn: sqlite3.Connection, company: str, number: str) -> sqlite3.Row:
    row = conn.execute("SELECT * FROM SalesOrders WHERE dataAreaId = ? AND SalesOrderNumber = ?",
                       (company.lower(), number)).fetchone()
    if row is None:
        raise not_found(f"SalesOrder {company}/{number}")
    return row


def _refuse(order: sqlite3.Row, action: str) -> FinOpsError:
    return FinOpsError(400, "An error has occurred.",
                       f"Sales order {order['SalesOrderNumber']} can not be {action}: its "
                       f"processing status is {order['SalesOrderProcessingStatus']}.")


def confirm_order(conn: sqlite3.Connection, company: str, number: str) -> None:
    """Confirm an order: processing status Confirmed (the order flow's trigger)."""
    order = _order(conn, company, number)
    if order["SalesOrderProcessingStatus"] in _CLOSED:
        raise _refuse(order, "confirmed")
    conn.execute("UPDATE SalesOrders SET SalesOrderProcessingStatus = 'Confirmed', "
                 "RecVersion = RecVersion + 1 WHERE dataAreaId = ? AND SalesOrderNumber = ?",
                 (order["dataAreaId"], number))


def _totals(conn: sqlite3.Connection, order: sqlite3.Row) -> dict[str, float]:
    """An order's totals from its lines: amounts (which hold each line's own charges), discounts
    (per unit x quantity), taxes; plus the header's charges and tax."""
    lines = conn.execute(
        "SELECT COALESCE(SUM(LineAmount), 0), "
        "COALESCE(SUM(LineDiscountAmount * OrderedSalesQuantity), 0), "
        "COALESCE(SUM(TotalTaxAmount), 0) FROM SalesOrderLines WHERE dataAreaId = ? AND "
        "SalesOrderNumber = ?", (order["dataAreaId"], order["SalesOrderNumber"])).fetchone()
    amount, discount, line_tax = lines
    tax = round(line_tax + order["OrderHeaderTaxAmount"], 2)
    charges = order["OrderTotalChargesAmount"]
    return {"amount": round(amount + charges + tax, 2), "discount": round(discount, 2),
            "tax": tax, "charges": charges}


def calculate_totals(conn: sqlite3.Connection, company: str | None = None,
                     number: str | None = None) -> int:
    """"Calculate sales totals": header totals from lines (+ header tax); AreTotalsUpdated = Yes.

    Runs for one order (company and number), one company, or all orders, whoever created them
    (F&O users, or the integration from Sales over OData); returns how many it updated. Totals:
    discount = per-unit line discount x quantity, tax = line taxes + OrderHeaderTaxAmount,
    total = line amounts (quantity x (price - discount) + the line's charges) + header charges +
    tax.
    """
    if number is not None:
        orders = [_order(conn, company or "", number)]
    else:
        where, params = ("WHERE dataAreaId = ?", [company.lower()]) if company else ("", [])
        orders = conn.execute(f"SELECT * FROM SalesOrders {where}", params).fetchall()
    for order in orders:
        totals = _totals(conn, order)
        conn.execute(
            "UPDATE SalesOrders SET OrderTotalAmount = ?, OrderTotalDiscountAmount = ?, "
            "OrderTotalTaxAmount = ?, AreTotalsUpdated = 'Yes', RecVersion = RecVersion + 1 "
            "WHERE dataAreaId = ? AND SalesOrderNumber = ?",
            (totals["amount"], totals["discount"], totals["tax"], order["dataAreaId"],
             order["SalesOrderNumber"]))
    return len(orders)


def post_invoice(conn: sqlite3.Connection, company: str, number: str,
                 invoice_date: date | None = None) -> dict[str, str]:
    """Post the invoice of a whole order; the order and its lines become Invoiced.

    Returns the posted invoice's key: InvoiceNumber, InvoiceDate, LedgerVoucher.
    """
    order = _order(conn, company, number)
    if order["SalesOrderProcessingStatus"] in _CLOSED:
        raise _refuse(order, "invoiced")
    lines = conn.execute("SELECT * FROM SalesOrderLines WHERE dataAreaId = ? AND "
                         "SalesOrderNumber = ? ORDER BY LineCreationSequenceNumber",
                         (order["dataAreaId"], number)).fetchall()
    if not lines:
        raise FinOpsError(400, "An error has occurred.",
                          f"Sales order {number} has no lines to invoice.")
    company = order["dataAreaId"]
    key = {"InvoiceNumber": defaults.next_number(conn, company, defaults.INVOICE_NUMBERS),
           "InvoiceDate": f"{(invoice_date or date.today()).isoformat()}T12:00:00Z",
           "LedgerVoucher": defaults.next_number(conn, company, defaults.VOUCHERS)}
    totals = _totals(conn, order)
    _insert(conn, "SalesInvoiceHeaders", {
        "dataAreaId": company, **key, "SalesOrderNumber": number,
        "InvoiceCustomerAccountNumber": order["InvoiceCustomerAccountNumber"],
        "CurrencyCode": order["CurrencyCode"], "TotalInvoiceAmount": totals["amount"],
        "TotalTaxAmount": totals["tax"], "TotalDiscountAmount": totals["discount"],
        "TotalChargeAmount": totals["charges"],
        "InvoiceHeaderTaxAmount": order["OrderHeaderTaxAmount"],
        **{f"InvoiceAddress{part}": order[f"InvoiceAddress{order_part}"]
           for part, order_part in _INVOICE_ADDRESS}})
    for line in lines:
        product = conn.execute("SELECT ProductName, ProductDescription FROM ProductTranslations "
                               "WHERE ProductNumber = ?", (line["ProductNumber"],)).fetchone()
        _insert(conn, "SalesInvoiceLines", {
            "dataAreaId": company, **key,
            "LineCreationSequenceNumber": line["LineCreationSequenceNumber"],
            "SalesOrderNumber": number, "ProductNumber": line["ProductNumber"],
            "ProductName": product["ProductName"] if product else line["LineDescription"],
            "ProductDescription": product["ProductDescription"] if product else "",
            "InvoicedQuantity": line["OrderedSalesQuantity"], "SalesPrice": line["SalesPrice"],
            "SalesUnitSymbol": line["SalesUnitSymbol"], "LineAmount": line["LineAmount"],
            "LineTotalDiscountAmount": round(line["LineDiscountAmount"]
                                             * line["OrderedSalesQuantity"], 2),
            # the line's own charges (a Sales discount's rounding residue) stay on the invoice line
            "LineTotalChargeAmount": line["FixedPriceCharges"],
            "LineTotalTaxAmount": line["TotalTaxAmount"], "CurrencyCode": line["CurrencyCode"],
            "ConfirmedShippingDate": key["InvoiceDate"]})
    conn.execute("UPDATE SalesOrders SET SalesOrderProcessingStatus = 'Invoiced', "
                 "SalesOrderStatus = 'Invoiced', RecVersion = RecVersion + 1 "
                 "WHERE dataAreaId = ? AND SalesOrderNumber = ?", (company, number))
    conn.execute("UPDATE SalesOrderLines SET SalesOrderLineStatus = 'Invoiced', "
                 "RecVersion = RecVersion + 1 WHERE dataAreaId = ? AND SalesOrderNumber = ?",
                 (company, number))
    return key


def _insert(conn: sqlite3.Connection, table: str, row: Mapping[str, object]) -> None:
    names = ", ".join(f'"{k}"' for k in row)
    conn.execute(f'INSERT INTO "{table}" ({names}) VALUES ({", ".join("?" * len(row))})',
                 list(row.values()))
