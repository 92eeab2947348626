"""Sales Quotes (Sales to Fin and Ops) - Direct: active quotes become F&O sales quotations.

p2c-spec.md 4.4. Only activated quotes whose products are all externally maintained (no write-in
products) are sent; the quote number is the quotation number in F&O. The delivery country is
value-mapped with blank -> US. Lines carry the quote number and the line sequence number; the Sales
line discount is divided by quantity into the F&O per-unit line discount and the rounding residue
goes to the line's charges, so that F&O's total equals Sales' to the cent (4.5, Line item method).
"""

from p2c_assets.flows.accounts import BUSINESS_UNIT, COUNTRY, CURRENCY
from p2c_assets.flows.discounts import split_into
from p2c_assets.flows.products import UNITS
from p2c_assets.flows.template import (FlowTemplate, HeaderJoin, Lookup, Parent, Reference, Source,
                                       Target, ValueMap)

CUSTOMER = Lookup("_customerid_value", "customer_number",
                  (("accounts", "accountid", "accountnumber"),
                   ("contacts", "contactid", "msdynce_contactnumber")))

CUSTOMER_ACCOUNT = Reference("CustomersV3", by="CustomerAccount")
# what a quote and a sales order taken in Sales tell F&O alike: when and where to deliver
DELIVERY = {
    "RequestedShippingDate": "requestdeliveryby",
    "DeliveryAddressStreet": "shipto_line1",
    "DeliveryAddressCity": "shipto_city",
    "DeliveryAddressStateId": "shipto_stateorprovince",
    "DeliveryAddressZipCode": "shipto_postalcode",
}
DELIVERY_COUNTRY = {"DeliveryAddressCountryRegionISOCode": ValueMap("shipto_country", COUNTRY)}

QUOTES = FlowTemplate(
    name="quotes",
    title="Sales Quotes (Sales to Fin and Ops) - Direct: QuoteHeader",
    group="quotes",
    source=Source(
        system="sales",
        entity_set="quotes",
        asset="quotes",
        key=("quotenumber",),
        select=("quoteid", "quotenumber", "name", "requestdeliveryby", "shipto_line1", "shipto_city",
                "shipto_stateorprovince", "shipto_postalcode", "shipto_country",
                "_customerid_value", "_transactioncurrencyid_value", "_owningbusinessunit_value",
                "msdynce_hasexternallymaintainedproductsonly", "modifiedon"),
        filter="statecode eq 1 and msdynce_hasexternallymaintainedproductsonly eq true",
        lookups=(CUSTOMER, CURRENCY, BUSINESS_UNIT),
    ),
    target=Target(system="fo", entity_set="CDSSalesQuotationHeaders", asset="quotations",
                  key=("dataAreaId", "SalesQuotationNumber")),
    fields={
        "SalesQuotationNumber": "quotenumber",
        "SalesQuotationName": "name",
        "RequestingCustomerAccountNumber": "customer_number",
        "InvoiceCustomerAccountNumber": "customer_number",
        "CurrencyCode": "currency",
        **DELIVERY,
    },
    value_maps=DELIVERY_COUNTRY,
    defaults={"SalesQuotationStatus": "Created", "LanguageId": "en-us"},
    # F&O refuses a quotation whose customer it does not have: the customer lands first (accounts flow)
    references={"RequestingCustomerAccountNumber": CUSTOMER_ACCOUNT,
                "InvoiceCustomerAccountNumber": CUSTOMER_ACCOUNT},
    company_field="dataAreaId",
    business_unit_column="business_unit",
)


# what a Sales quote line and order line tell F&O alike: the product, its unit, price and date; the
# Sales sequence number is F&O's line number, so a line that comes back lands on the same line
LINE_COLUMNS = ("_productid_value", "_uomid_value", "quantity", "priceperunit", "manualdiscountamount",
                "productdescription", "sequencenumber", "requestdeliveryby", "modifiedon")
LINE_LOOKUPS = (
    Lookup("_productid_value", "product_number", (("products", "productid", "productnumber"),)),
    Lookup("_uomid_value", "unit_name", (("uoms", "uomid", "name"),)),
)
LINE_FIELDS = {
    "LineCreationSequenceNumber": "sequencenumber",
    "ProductNumber": "product_number",
    "LineDescription": "productdescription",
    "SalesPrice": "priceperunit",
    "RequestedShippingDate": "requestdeliveryby",
    "CurrencyCode": "currency",
}
LINE_UNIT = {"SalesUnitSymbol": ValueMap("unit_name", {v: k for k, v in UNITS.items()})}

QUOTE_LINES = FlowTemplate(
    name="quote_lines",
    title="Sales Quotes (Sales to Fin and Ops) - Direct: QuoteLine",
    group="quotes",
    source=Source(
        system="sales",
        entity_set="quotedetails",
        asset="quote_lines",
        key=("quotenumber", "sequencenumber"),
        select=("quotedetailid", "_quoteid_value", *LINE_COLUMNS),
        lookups=LINE_LOOKUPS,
        header=HeaderJoin(on=(("_quoteid_value", "quoteid"),),
                          carry=("quotenumber", "business_unit", "currency")),
    ),
    target=Target(system="fo", entity_set="CDSSalesQuotationLines", asset="quotation_lines",
                  key=("dataAreaId", "SalesQuotationNumber", "LineCreationSequenceNumber")),
    fields={"SalesQuotationNumber": "quotenumber", **LINE_FIELDS, "RequestedSalesQuantity": "quantity"},
    value_maps=LINE_UNIT,
    company_field="dataAreaId",
    business_unit_column="business_unit",
    # the residue goes to TotalChargesAmount, the quotation line charge the sandbox accepts; on real
    # F&O the writable line charge is FixedPriceCharges, as on order lines (docs/sandbox.md)
    transform=split_into("TotalChargesAmount"),
    parent=Parent(flow="quotes", key=("dataAreaId", "SalesQuotationNumber")),
)
