"""Dataverse (Sales) tables, as the flows read and write them (docs/architecture.md 2.1).

Lengths and system-required columns come from Microsoft's CDM (see `model.py`). Lookups appear
twice: as the natural value a flow maps (`customerid` = an account number, limited like the column
it binds by) before it is bound, and as `_x_value` GUIDs when read.
"""

from p2c_assets.schemas.model import Col, entity, money, text

FLAG = Col("bool")
ACCOUNT_NUMBER = ("accounts", "accountnumber")


def bind(entity_set: str, column: str) -> Col:
    """A lookup written by natural value: required, and as long as the column it is matched on."""
    return Col("bind", required=True, of=(entity_set, column))


ACCOUNTS = entity("sales", "accounts", ("accountnumber",), {
    "accountnumber": text(), "name": text(required=True), "telephone1": text(),
    "emailaddress1": text(), "creditlimit": money(),
})
CONTACTS = entity("sales", "contacts", ("msdynce_contactnumber",), {
    "msdynce_contactnumber": text(), "lastname": text(), "firstname": text(),
})
QUOTES = entity("sales", "quotes", ("quotenumber",), {"quotenumber": text(), "name": text()})
QUOTE_LINES = entity("sales", "quotedetails", ("quotenumber", "sequencenumber"), {
    "quotenumber": text(of=("quotes", "quotenumber")), "sequencenumber": Col("int", min_value=1),
    "quantity": Col("number", min_value=0),
})

PRODUCTS = entity("sales", "products", ("productnumber",), {
    "productnumber": text(), "name": text(required=True), "description": text(),
    "price": money(), "currentcost": money(), "defaultuomid": bind("uoms", "name"),
    "defaultuomscheduleid": bind("uomschedules", "name"),
    "transactioncurrencyid": bind("transactioncurrencies", "isocurrencycode"),
    "msdynce_ismaintainedexternally": FLAG,
})
ORDERS = entity("sales", "salesorders", ("ordernumber",), {
    "ordernumber": text(), "name": text(), "customerid": bind(*ACCOUNT_NUMBER),
    "transactioncurrencyid": bind("transactioncurrencies", "isocurrencycode"),
    "pricelevelid": bind("pricelevels", "name"), "owningbusinessunit": bind("businessunits", "name"),
    "msdynce_misctax": money(),
})
ORDER_LINES = entity("sales", "salesorderdetails", ("msdynce_ordernumber", "sequencenumber"), {
    "msdynce_ordernumber": text(), "sequencenumber": Col("int", min_value=1),
    "productid": bind("products", "productnumber"), "uomid": bind("uoms", "name"),
    "quantity": Col("number", min_value=0), "priceperunit": money(), "manualdiscountamount": money(),
})
INVOICES = entity("sales", "invoices", ("invoicenumber",), {
    "invoicenumber": text(), "customerid": bind(*ACCOUNT_NUMBER),
    "transactioncurrencyid": bind("transactioncurrencies", "isocurrencycode"),
    "pricelevelid": bind("pricelevels", "name"), "owningbusinessunit": bind("businessunits", "name"),
})
INVOICE_LINES = entity("sales", "invoicedetails", ("msdynce_invoicenumber", "sequencenumber"), {
    "msdynce_invoicenumber": text(), "sequencenumber": Col("int", min_value=1),
    "productid": bind("products", "productnumber"), "uomid": bind("uoms", "name"),
    "quantity": Col("number"), "priceperunit": money(),
})
