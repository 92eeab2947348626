"""The Prospect-to-cash solution's server-side behaviour (p2c-spec.md 1.3, docs/architecture.md 2.1).

Pre-operation steps change the row before it is stored; post-operation steps touch other rows in
the same transaction. Internal follow-up writes (totals, order status) go straight to the store,
the way a plug-in's own service calls do not re-run the caller's validation.

Orders taken in Sales start as Draft (`msdynce_processingstatus` 647390011, editable) and become
Active (647390000) through the solution's Activate button, which this service sees as the update
that sets the status: it is refused unless every order product is externally maintained (p2c-spec
4.5, 7.6). After activation the solution only makes the *form* read-only (its `msdynce_p2c.js`
disables the fields for orders that are not Draft); no plug-in step guards the table, so API
writes, the integration's status and totals included, go through as on the real service.
"""

from __future__ import annotations

import random
import string
import uuid

from ..store import utc_now
from . import errors, organization
from .tables import BY_LOGICAL

#: table -> (number column, prefix): the P2C solution's ACC-/CON- numbers and Dataverse's own quote
#: and order numbers (Sales' auto-numbering settings), all `PREFIX-01000-ABCDEF` and given only when
#: the client leaves the column empty
AUTO_NUMBER = {"account": ("accountnumber", "ACC"), "contact": ("msdynce_contactnumber", "CON"),
               "quote": ("quotenumber", "QUO"), "salesorder": ("ordernumber", "ORD")}
AUTO_NUMBER_START = 1000
AUTO_NUMBER_SUFFIX = 6
#: line tables whose product decides the "externally maintained" flags (the P2C quote-line and
#: order-line pre-operation steps); the quote lines also carry their header's flag
PRODUCT_LINES = ("quotedetail", "salesorderdetail")
HEADER_FLAG_ON_LINE = {"quotedetail": "msdynce_quotehasexternalmaintainedproductsonly"}
LINE_HEADERS = {"quotedetail": ("quoteid", "quote"), "salesorderdetail": ("salesorderid", "salesorder"),
                "invoicedetail": ("invoiceid", "invoice")}
# alternate-key number copied from the header onto a line when missing
LINE_NUMBERS = {"salesorderdetail": ("msdynce_ordernumber", "ordernumber"),
                "invoicedetail": ("msdynce_invoicenumber", "invoicenumber")}
INVOICED = {"statecode": 4, "statuscode": 100003, "msdynce_processingstatus": 647390003}
FREIGHT_TAX = "Freight Tax"
#: `msdynce_processingstatus` of an order taken in Sales: Draft until activated, then Active
DRAFT, ACTIVE = 647390011, 647390000


def initial_state(svc, entity, row: dict) -> int:
    """The statecode of a new row that names none: 0, but a product starts Draft (2) unless it has no parent
    family and the organization creates such products Active (`organization.PRODUCTS_ACTIVE`)."""
    if entity.logical != "product":
        return 0
    return 0 if not row.get("parentproductid") and organization.setting(svc.store, organization.PRODUCTS_ACTIVE) else 2


def auto_number(prefix: str, sequence: int, suffix: str) -> str:
    """`ACC-01000-BVRCPS`: prefix, the sequence padded to five digits, six upper-case letters."""
    return f"{prefix}-{sequence:05d}-{suffix}"


def continue_auto_numbers(store, logical: str, last_sequence: int) -> None:
    """Make the service's next number for `logical` follow `last_sequence`.

    `p2c-sandbox seed` numbers its rows in bulk, without the plug-in; this hands the sequence over
    so numbers the service gives later never collide with seeded ones.
    """
    store.conn.execute("INSERT OR REPLACE INTO _sandbox_meta VALUES (?, ?)", (f"autonumber:{logical}", last_sequence))


def _next_auto_number(svc, logical: str, prefix: str) -> str:
    """The next number of the table's sequence (from 1000); the letters are seeded by the sequence."""
    store = svc.store
    store.conn.execute("INSERT OR IGNORE INTO _sandbox_meta VALUES (?, ?)",
                       (f"autonumber:{logical}", AUTO_NUMBER_START - 1))
    sequence = store.conn.execute("UPDATE _sandbox_meta SET value = value + 1 WHERE name = ? RETURNING value",
                                  (f"autonumber:{logical}",)).fetchone()[0]
    rng = random.Random(f"{logical}:{sequence}")
    return auto_number(prefix, sequence, "".join(rng.choices(string.ascii_uppercase, k=AUTO_NUMBER_SUFFIX)))


def before_create(svc, entity, row: dict) -> None:
    if entity.logical in AUTO_NUMBER:
        column, prefix = AUTO_NUMBER[entity.logical]
        if not row.get(column):
            row[column] = _next_auto_number(svc, entity.logical, prefix)
    if entity.logical == "salesorder" and row.get("msdynce_processingstatus") is None:
        row["msdynce_processingstatus"] = DRAFT  # the column's default: an order taken in Sales
    _before_any(svc, entity, row, row)


def before_update(svc, entity, existing: dict, changes: dict) -> None:
    if (entity.logical == "salesorder" and changes.get("msdynce_processingstatus") == ACTIVE
            and existing.get("msdynce_processingstatus") == DRAFT):
        _check_activation(svc, existing)
    _before_any(svc, entity, {**existing, **changes}, changes)


def _check_activation(svc, order: dict) -> None:
    """Activate only an order whose products all come from F&O: one with a write-in product (or
    none at all) could not be fulfilled there (p2c-spec 4.5, 7.6). Decided from the lines, not
    from the header flag a client could have written."""
    lines = svc.store.select("salesorderdetail", where='"salesorderid" = ?', params=[order["salesorderid"]])
    if not _external_products_only(svc, "salesorderdetail", lines):
        raise errors.plugin(f"Sales order {order.get('ordernumber')} can not be activated: every order product "
                            "must be externally maintained (synced from Finance and Operations); remove the "
                            "write-in products or replace them with products from Finance and Operations.")


def _before_any(svc, entity, merged: dict, target: dict) -> None:
    """Derived columns, computed on the merged row and written into `target`."""
    if entity.logical == "contact":
        if "firstname" in target or "lastname" in target or "fullname" not in merged or not merged.get("fullname"):
            target["fullname"] = " ".join(p for p in (merged.get("firstname"), merged.get("lastname")) if p) or None
        target["msdynce_iscompanyanaccount"] = merged.get("parentcustomeridtype") == "account"
    if entity.logical in PRODUCT_LINES:
        # a line is externally maintained when its product is; write-in lines (no product) are not
        product = svc.store.get("product", {"productid": merged["productid"]}) if merged.get("productid") else None
        target["msdynce_ismaintainedexternally"] = bool(product and product.get("msdynce_ismaintainedexternally"))
    if entity.logical in LINE_HEADERS:
        quantity, price = merged.get("quantity") or 0, merged.get("priceperunit") or 0
        base = round(quantity * price, 4)
        target["baseamount"] = base
        target["extendedamount"] = round(base - (merged.get("manualdiscountamount") or 0) + (merged.get("tax") or 0), 4)
        if entity.logical in LINE_NUMBERS and not merged.get(LINE_NUMBERS[entity.logical][0]):
            column, header_column = LINE_NUMBERS[entity.logical]
            header = _header(svc, entity.logical, merged)
            if header:
                target[column] = header.get(header_column)


def _header(svc, line_logical: str, line: dict) -> dict | None:
    column, header_logical = LINE_HEADERS[line_logical]
    return svc.store.get(header_logical, {f"{header_logical}id": line[column]}) if line.get(column) else None


def after_write(svc, entity, row: dict, before: dict | None) -> None:
    if entity.logical == "product":
        _price_list(svc, row, before)
    if entity.logical in LINE_HEADERS:
        _header_totals(svc, entity.logical, row)
        if before and before.get(LINE_HEADERS[entity.logical][0]) != row.get(LINE_HEADERS[entity.logical][0]):
            _header_totals(svc, entity.logical, before)
    if entity.logical in ("salesorder", "invoice"):
        if before is None or before.get("msdynce_misctax") != row.get("msdynce_misctax"):
            _freight_tax_line(svc, entity.logical, row)
    if entity.logical == "invoice" and row.get("salesorderid") and (
            before is None or before.get("salesorderid") != row.get("salesorderid")):
        svc.store.update("salesorder", {"salesorderid": row["salesorderid"]}, {**INVOICED, "modifiedon": utc_now()})


def after_delete(svc, entity, row: dict) -> None:
    if entity.logical in LINE_HEADERS:
        _header_totals(svc, entity.logical, row)


def _price_list(svc, product: dict, before: dict | None) -> None:
    """Externally maintained products join the first active price list of their currency, by name."""
    if not product.get("msdynce_ismaintainedexternally"):
        return
    watched = ("transactioncurrencyid", "pricelevelid", "defaultuomid", "price", "msdynce_ismaintainedexternally")
    if before is not None and all(before.get(c) == product.get(c) for c in watched):
        return
    currency = product.get("transactioncurrencyid")
    lists = svc.store.select("pricelevel", where='"transactioncurrencyid" = ? AND "statecode" = 0',
                             params=[currency], order_by=[("name", False)], limit=1) if currency else []
    if not lists:
        code = svc.store.get("transactioncurrency", {"transactioncurrencyid": currency}) if currency else None
        raise errors.plugin(f"No price list exists for currency "
                            f"{(code or {}).get('isocurrencycode') or currency or '(none)'}. Create a price list "
                            f"for this currency before adding product {product.get('productnumber')}.")
    price_list = lists[0]["pricelevelid"]
    item = {"amount": product.get("price") or 0, "uomid": product.get("defaultuomid"),
            "uomscheduleid": product.get("defaultuomscheduleid"), "transactioncurrencyid": currency,
            "pricingmethodcode": 1, "modifiedon": utc_now()}
    existing = svc.store.select("productpricelevel", where='"productid" = ? AND "pricelevelid" = ?',
                                params=[product["productid"], price_list], limit=1)
    if existing:
        svc.store.update("productpricelevel", {"productpricelevelid": existing[0]["productpricelevelid"]}, item)
    else:
        svc.store.insert("productpricelevel", {**item, "productpricelevelid": str(uuid.uuid4()),
                                               "pricelevelid": price_list, "productid": product["productid"],
                                               "createdon": item["modifiedon"]})
    if not product.get("pricelevelid"):
        svc.store.update("product", {"productid": product["productid"]}, {"pricelevelid": price_list})


def _header_totals(svc, line_logical: str, line: dict) -> None:
    column, header_logical = LINE_HEADERS[line_logical]
    header = _header(svc, line_logical, line)
    if header is None:
        return
    lines = svc.store.select(line_logical, where=f'"{column}" = ?', params=[line[column]])
    lines_total = round(sum(ln.get("extendedamount") or 0 for ln in lines), 4)
    changes = {"totallineitemamount": lines_total,
               "totaltax": round(sum(ln.get("tax") or 0 for ln in lines), 4),
               "totalamount": round(lines_total - (header.get("discountamount") or 0)
                                    + (header.get("freightamount") or 0), 4)}
    if line_logical in PRODUCT_LINES:
        changes["msdynce_hasexternallymaintainedproductsonly"] = _external_products_only(svc, line_logical, lines)
    svc.store.update(header_logical, {f"{header_logical}id": header[f"{header_logical}id"]}, changes)


def _external_products_only(svc, line_logical: str, lines: list[dict]) -> bool:
    """Whether every product line is externally maintained (so the document may go to F&O).

    The Freight Tax line is the header's tax, not a product, so it does not count; any other
    write-in line makes the document Sales-only. Quote lines get the answer copied onto them.
    """
    products = [ln for ln in lines if not ln.get("msdynce_ismisctax")]
    flag = bool(products) and all(ln.get("msdynce_ismaintainedexternally") for ln in products)
    line_column = HEADER_FLAG_ON_LINE.get(line_logical)
    if line_column:
        primary = BY_LOGICAL[line_logical].primary_id
        for ln in lines:
            if ln.get(line_column) is not flag:
                svc.store.update(line_logical, {primary: ln[primary]}, {line_column: flag})
    return flag


def _freight_tax_line(svc, header_logical: str, header: dict) -> None:
    """The header's `msdynce_misctax` is carried as a write-in "Freight Tax" line, kept in step."""
    line_logical = {"salesorder": "salesorderdetail", "invoice": "invoicedetail"}[header_logical]
    column = LINE_HEADERS[line_logical][0]
    header_id = header[f"{header_logical}id"]
    existing = svc.store.select(line_logical, where=f'"{column}" = ? AND "msdynce_ismisctax" = 1',
                                params=[header_id], limit=1)
    amount = header.get("msdynce_misctax") or 0
    from .writes import insert, modify  # writes runs these plug-ins: import at call time
    entity = BY_LOGICAL[line_logical]
    if existing and not amount:
        svc.store.delete(line_logical, {entity.primary_id: existing[0][entity.primary_id]})
        _header_totals(svc, line_logical, existing[0])
    elif existing:
        modify(svc, entity, existing[0], {"priceperunit": amount, "quantity": 1})
    elif amount:
        count = svc.store.count(line_logical, f'"{column}" = ?', [header_id])
        insert(svc, entity, {column: header_id, "productdescription": FREIGHT_TAX, "isproductoverridden": True,
                             "ispriceoverridden": True, "quantity": 1, "priceperunit": amount,
                             "msdynce_ismisctax": True, "sequencenumber": 10000 + count,
                             "transactioncurrencyid": header.get("transactioncurrencyid")})
