"""What F&O fills in and recomputes when an entity row is written (protocols.md B6, spec 4.4/4.5).

- number sequences give a new sales order its `SalesOrderNumber`, and a new customer its party
  (`PartyNumber`, global address book), when the create leaves them blank;
- quotation and order lines take item/product number, unit and price from the released product,
  text from the product's name, and currency from their header; their `LineAmount` is always
  computed;
- invoice account and currency default from the ordering/requesting customer;
- any change to an order or its lines marks its totals stale (`AreTotalsUpdated = No`) until
  "Calculate sales totals" runs (business.calculate_totals).
"""

from __future__ import annotations

import sqlite3

from .entities import Entity

ORDER_NUMBERS = "SalesOrder"
INVOICE_NUMBERS = "CustInvoice"
VOUCHERS = "CustInvoiceVoucher"
PARTY_NUMBERS = "DirParty"
#: sequence -> (number format, table and column where its numbers are used, shared by all
#: companies: the global address book's party numbers are, a company's documents are not)
_SEQUENCES = {ORDER_NUMBERS: ("{:06d}", "SalesOrders", "SalesOrderNumber", False),
              INVOICE_NUMBERS: ("CIV-{:06d}", "SalesInvoiceHeaders", "InvoiceNumber", False),
              VOUCHERS: ("SIV-{:06d}", "SalesInvoiceHeaders", "LedgerVoucher", False),
              PARTY_NUMBERS: ("{:09d}", "CustomersV3", "PartyNumber", True)}


def next_number(conn: sqlite3.Connection, company: str, sequence: str) -> str:
    """The next free number of a company's (or the shared) number sequence.

    Numbers already used (by seed data or explicit creates) are skipped, as F&O's continuous
    sequences would never hand them out twice.
    """
    template, table, column, shared = _SEQUENCES[sequence]
    owner = "" if shared else company
    conn.execute("INSERT OR IGNORE INTO NumberSequences VALUES (?, ?, 1)", (owner, sequence))
    used = f'SELECT 1 FROM "{table}" WHERE "{column}" = ?' + ("" if shared else " AND dataAreaId = ?")
    while True:
        value = conn.execute("UPDATE NumberSequences SET next = next + 1 WHERE dataAreaId = ? "
                             "AND name = ? RETURNING next - 1", (owner, sequence)).fetchone()[0]
        number = template.format(value)
        if conn.execute(used, (number,) if shared else (number, company)).fetchone() is None:
            return number


def _product(conn: sqlite3.Connection, company: str, row: dict) -> sqlite3.Row | None:
    """The released product a line names (item or product number), with its product name."""
    for field in ("ItemNumber", "ProductNumber"):
        if row.get(field):
            return conn.execute(
                "SELECT p.*, COALESCE(t.ProductName, '') AS ProductName FROM ReleasedProductsV2 p "
                "LEFT JOIN ProductTranslations t ON t.ProductNumber = p.ProductNumber "
                f'WHERE p.dataAreaId = ? AND p."{field}" = ?', (company, row[field])).fetchone()
    return None


def _fill_line(conn: sqlite3.Connection, row: dict, header_table: str, number_field: str,
               quantity_field: str, per_unit_discount: bool) -> None:
    product = _product(conn, row["dataAreaId"], row)
    if product is not None:
        for line_field, product_field in (("ItemNumber", "ItemNumber"),
                                          ("ProductNumber", "ProductNumber"),
                                          ("LineDescription", "ProductName"),
                                          ("SalesUnitSymbol", "SalesUnitSymbol"),
                                          ("SalesPrice", "SalesPrice")):
            if row.get(line_field) in ("", 0, None):
                row[line_field] = product[product_field]
    if not row.get("CurrencyCode"):
        header = conn.execute(f'SELECT CurrencyCode FROM "{header_table}" WHERE dataAreaId = ? '
                              f'AND "{number_field}" = ?',
                              (row["dataAreaId"], row.get(number_field))).fetchone()
        row["CurrencyCode"] = header[0] if header else ""
    quantity, price = row.get(quantity_field, 0), row.get("SalesPrice", 0)
    discount = row.get("LineDiscountAmount", 0)
    discount = discount * quantity if per_unit_discount else discount
    row["LineAmount"] = round(quantity * price - discount, 2)


def _fill_header(conn: sqlite3.Connection, row: dict, customer_field: str) -> None:
    """Invoice account and currency of a quotation or order default from its customer."""
    customer = row.get(customer_field, "")
    row["InvoiceCustomerAccountNumber"] = row.get("InvoiceCustomerAccountNumber") or customer
    if not row.get("CurrencyCode"):
        found = conn.execute("SELECT SalesCurrencyCode FROM CustomersV3 WHERE dataAreaId = ? "
                             "AND CustomerAccount = ?", (row["dataAreaId"], customer)).fetchone()
        row["CurrencyCode"] = found[0] if found else ""


def before_write(conn: sqlite3.Connection, entity: Entity, row: dict, creating: bool) -> None:
    """Fill defaults and computed fields of `row` (the complete row about to be stored)."""
    name = entity.set_name
    if name == "CustomersV3":
        if creating and not row.get("PartyNumber"):
            row["PartyNumber"] = next_number(conn, row["dataAreaId"], PARTY_NUMBERS)
    elif name == "CDSSalesOrderHeaders":
        if creating and not row.get("SalesOrderNumber"):
            row["SalesOrderNumber"] = next_number(conn, row["dataAreaId"], ORDER_NUMBERS)
        _fill_header(conn, row, "OrderingCustomerAccountNumber")
        row["AreTotalsUpdated"] = "No"
    elif name == "CDSSalesQuotationHeaders":
        _fill_header(conn, row, "RequestingCustomerAccountNumber")
    elif name == "CDSSalesQuotationLines":
        # quotation lines carry the discount per unit (p2c-spec 4.4)
        _fill_line(conn, row, "CDSSalesQuotationHeaders", "SalesQuotationNumber",
                   "RequestedSalesQuantity", per_unit_discount=True)
    elif name == "CDSSalesOrderLines":
        _fill_line(conn, row, "SalesOrders", "SalesOrderNumber", "OrderedSalesQuantity",
                   per_unit_discount=False)


def after_write(conn: sqlite3.Connection, entity: Entity, row: dict) -> None:
    """Side effects on other rows: a changed order line makes its order's totals stale."""
    if entity.set_name == "CDSSalesOrderLines":
        mark_totals_stale(conn, row["dataAreaId"], row["SalesOrderNumber"])


def mark_totals_stale(conn: sqlite3.Connection, company: str, order: str) -> None:
    conn.execute("UPDATE SalesOrders SET AreTotalsUpdated = 'No', RecVersion = RecVersion + 1 "
                 "WHERE dataAreaId = ? AND SalesOrderNumber = ?", (company, order))
