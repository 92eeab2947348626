"""What F&O fills in and recomputes when an entity row is written (protocols.md B6, spec 4.4/4.5).

- number sequences give a new sales order its `SalesOrderNumber`, and a new customer its party
  (`PartyNumber`, global address book), when the create leaves them blank;
- quotation and order lines take item/product number, unit and price from the released product,
  text from the product's name, and currency, site, warehouse and requested ship date from their
  header; their `LineAmount` is always computed: quantity x (price - per-unit line discount) plus
  the line's own charges (`FixedPriceCharges`, on order lines);
- invoice account, currency, language, site and warehouse default from the ordering/requesting
  customer (SalesTable/SalesQuotationTable initFromCustTable);
- any change to an order or its lines marks its totals stale (`AreTotalsUpdated = No`) until
  "Calculate sales totals" runs (business.calculate_totals).
"""

from __future__ import annotations

import sqlite3

from .entities import EMPTY_DATE, Entity

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


#: header field -> line field a new line takes when it leaves it blank (SalesLine.initFromSalesTable)
_FROM_HEADER = (("CurrencyCode", "CurrencyCode"), ("DefaultShippingSiteId", "ShippingSiteId"),
                ("DefaultShippingWarehouseId", "ShippingWarehouseId"),
                ("RequestedShippingDate", "RequestedShippingDate"))
#: customer field -> header field a quotation or order takes when it leaves it blank
_FROM_CUSTOMER = (("SalesCurrencyCode", "CurrencyCode"), ("LanguageId", "LanguageId"),
                  ("SiteId", "DefaultShippingSiteId"), ("WarehouseId", "DefaultShippingWarehouseId"))


def _blank(value: object) -> bool:
    return value in ("", 0, None, EMPTY_DATE)


def _fill_line(conn: sqlite3.Connection, entity: Entity, row: dict, header_table: str,
               number_field: str, quantity_field: str) -> None:
    """Defaults of a quotation or order line, then its `LineAmount`.

    Both line entities carry the discount per unit (F&O's "Discount" on a sales line), so
    quantity 3 with a Sales line discount of 10.00 arrives as 3.33 per unit and the order line's
    charges of -0.01 make the line amount exact (p2c-spec 4.5).
    """
    product = _product(conn, row["dataAreaId"], row)
    if product is not None:
        for line_field, product_field in (("ItemNumber", "ItemNumber"),
                                          ("ProductNumber", "ProductNumber"),
                                          ("LineDescription", "ProductName"),
                                          ("SalesUnitSymbol", "SalesUnitSymbol"),
                                          ("SalesPrice", "SalesPrice")):
            if row.get(line_field) in ("", 0, None):
                row[line_field] = product[product_field]
    inherited = [(h, line) for h, line in _FROM_HEADER if entity.field(line) and _blank(row.get(line))]
    if inherited:
        header = conn.execute(
            f'SELECT {", ".join(h for h, _ in inherited)} FROM "{header_table}" '
            f'WHERE dataAreaId = ? AND "{number_field}" = ?',
            (row["dataAreaId"], row.get(number_field))).fetchone()
        if header is not None:
            for header_field, line_field in inherited:
                row[line_field] = header[header_field]
    quantity, price = row.get(quantity_field, 0), row.get("SalesPrice", 0)
    row["LineAmount"] = round(quantity * (price - row.get("LineDiscountAmount", 0))
                              + row.get("FixedPriceCharges", 0), 2)


def _fill_header(conn: sqlite3.Connection, entity: Entity, row: dict, customer_field: str) -> None:
    """Invoice account, currency, language, site and warehouse of a quotation or order default
    from its customer."""
    customer = row.get(customer_field, "")
    row["InvoiceCustomerAccountNumber"] = row.get("InvoiceCustomerAccountNumber") or customer
    missing = [(c, h) for c, h in _FROM_CUSTOMER if entity.field(h) and not row.get(h)]
    if missing:
        found = conn.execute(f'SELECT {", ".join(c for c, _ in missing)} FROM CustomersV3 '
                             "WHERE dataAreaId = ? AND CustomerAccount = ?",
                             (row["dataAreaId"], customer)).fetchone()
        for customer_column, header_field in missing:
            row[header_field] = found[customer_column] if found else ""


def before_write(conn: sqlite3.Connection, entity: Entity, row: dict, creating: bool) -> None:
    """Fill defaults and computed fields of `row` (the complete row about to be stored)."""
    name = entity.set_name
    if name == "CustomersV3":
        if creating and not row.get("PartyNumber"):
            row["PartyNumber"] = next_number(conn, row["dataAreaId"], PARTY_NUMBERS)
    elif name == "CDSSalesOrderHeaders":
        if creating and not row.get("SalesOrderNumber"):
            row["SalesOrderNumber"] = next_number(conn, row["dataAreaId"], ORDER_NUMBERS)
        _fill_header(conn, entity, row, "OrderingCustomerAccountNumber")
        row["AreTotalsUpdated"] = "No"
    elif name == "CDSSalesQuotationHeaders":
        _fill_header(conn, entity, row, "RequestingCustomerAccountNumber")
    elif name == "CDSSalesQuotationLines":
        _fill_line(conn, entity, row, "CDSSalesQuotationHeaders", "SalesQuotationNumber",
                   "RequestedSalesQuantity")
    elif name == "CDSSalesOrderLines":
        _fill_line(conn, entity, row, "SalesOrders", "SalesOrderNumber", "OrderedSalesQuantity")


def after_write(conn: sqlite3.Connection, entity: Entity, row: dict) -> None:
    """Side effects on other rows: a changed order line makes its order's totals stale."""
    if entity.set_name == "CDSSalesOrderLines":
        mark_totals_stale(conn, row["dataAreaId"], row["SalesOrderNumber"])


def mark_totals_stale(conn: sqlite3.Connection, company: str, order: str) -> None:
    conn.execute("UPDATE SalesOrders SET AreTotalsUpdated = 'No', RecVersion = RecVersion + 1 "
                 "WHERE dataAreaId = ? AND SalesOrderNumber = ?", (company, order))
