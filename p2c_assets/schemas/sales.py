"""Dataverse (Sales) tables, as the flows read and write them (docs/architecture.md 2.1).

Lookups appear twice: as the natural value a flow maps (`customerid` = an account number) before it
is bound, and as `_x_value` GUIDs when read.
"""

from p2c_assets.schemas.model import Col, entity, money, text

FLAG = Col("bool")

ACCOUNTS = entity("accounts", ("accountnumber",), {
    "accountnumber": text(20), "name": text(160, required=True), "telephone1": text(50),
    "emailaddress1": text(100), "creditlimit": money(),
})
CONTACTS = entity("contacts", ("msdynce_contactnumber",), {
    "msdynce_contactnumber": text(20), "lastname": text(50), "firstname": text(50),
})
QUOTES = entity("quotes", ("quotenumber",), {"quotenumber": text(100), "name": text(300)})
QUOTE_LINES = entity("quotedetails", ("quotenumber", "sequencenumber"), {
    "quotenumber": text(100), "sequencenumber": Col("int", min_value=1), "quantity": Col("number", min_value=0),
})

PRODUCTS = entity("products", ("productnumber",), {
    "productnumber": text(100), "name": text(100, required=True), "description": text(2000),
    "price": money(), "currentcost": money(), "defaultuomid": text(100, required=True),
    "defaultuomscheduleid": text(200, required=True), "transactioncurrencyid": text(5, required=True),
    "msdynce_ismaintainedexternally": FLAG,
})
ORDERS = entity("salesorders", ("ordernumber",), {
    "ordernumber": text(100), "name": text(300), "customerid": text(20, required=True),
    "transactioncurrencyid": text(5, required=True), "pricelevelid": text(100, required=True),
    "owningbusinessunit": text(160, required=True), "msdynce_misctax": money(),
})
ORDER_LINES = entity("salesorderdetails", ("msdynce_ordernumber", "sequencenumber"), {
    "msdynce_ordernumber": text(100), "sequencenumber": Col("int", min_value=1),
    "productid": text(100, required=True), "uomid": text(100, required=True),
    "quantity": Col("number", min_value=0), "priceperunit": money(), "manualdiscountamount": money(),
})
INVOICES = entity("invoices", ("invoicenumber",), {
    "invoicenumber": text(100), "customerid": text(20, required=True),
    "transactioncurrencyid": text(5, required=True), "pricelevelid": text(100, required=True),
    "owningbusinessunit": text(160, required=True),
})
INVOICE_LINES = entity("invoicedetails", ("msdynce_invoicenumber", "sequencenumber"), {
    "msdynce_invoicenumber": text(100), "sequencenumber": Col("int", min_value=1),
    "productid": text(100, required=True), "uomid": text(100, required=True),
    "quantity": Col("number"), "priceperunit": money(),
})
