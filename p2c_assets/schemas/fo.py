"""Finance and Operations entities, as the flows read and write them (docs/architecture.md 2.2).

Lengths and mandatory fields come from Microsoft (see `model.py`); what is written here is which
columns a flow validates, their kind, and the P2C rules on top (e.g. a customer needs a name).
"""

from p2c_assets.schemas.model import Col, entity, money, text

NOYES = Col("enum", allowed=("No", "Yes"))
ADDRESS = {f"DeliveryAddress{part}": text() for part in ("Street", "City", "ZipCode", "CountryRegionISOCode")}

CUSTOMERS = entity("fo", "CustomersV3", ("dataAreaId", "CustomerAccount"), {
    "dataAreaId": text(), "CustomerAccount": text(), "PartyNumber": text(),
    "OrganizationName": text(required=True), "PartyType": Col("enum", allowed=("Organization", "Person")),
    "PersonFirstName": text(), "PersonLastName": text(),
    "CustomerGroupId": text(), "SalesCurrencyCode": text(), "LanguageId": text(required=True),
    "SiteId": text(), "WarehouseId": text(), "IsExternallyMaintained": NOYES, "CreditLimit": money(),
    "PrimaryContactEmail": text(), "PrimaryContactPhone": text(), "PrimaryContactURL": text(),
    "DeliveryAddressState": text(), **ADDRESS,
})

CONTACT_PERSONS = entity("fo", "ContactPersonsV2", ("dataAreaId", "ContactPersonId"), {
    "dataAreaId": text(), "ContactPersonId": text(), "ContactPersonPartyNumber": text(),
    "AssociatedPartyNumber": text(), "FirstName": text(), "LastName": text(required=True),
    "EmploymentJobTitle": text(), "PrimaryEmailAddress": text(), "PrimaryPhoneNumber": text(),
    "PrimaryAddressCountryRegionISOCode": text(), "IsContactPersonExternallyMaintained": NOYES,
})

QUOTATION_HEADERS = entity("fo", "CDSSalesQuotationHeaders", ("dataAreaId", "SalesQuotationNumber"), {
    "dataAreaId": text(), "SalesQuotationNumber": text(), "SalesQuotationName": text(),
    "RequestingCustomerAccountNumber": text(required=True), "InvoiceCustomerAccountNumber": text(required=True),
    "CurrencyCode": text(required=True), "LanguageId": text(),
    "SalesQuotationStatus": Col("enum", allowed=("Created", "Sent", "Confirmed", "Lost", "Cancelled")),
    "DeliveryAddressStateId": text(), **ADDRESS,
})

QUOTATION_LINES = entity("fo", "CDSSalesQuotationLines", ("dataAreaId", "SalesQuotationNumber", "LineCreationSequenceNumber"), {
    "dataAreaId": text(), "SalesQuotationNumber": text(),
    "LineCreationSequenceNumber": Col("int", min_value=1), "ProductNumber": text(required=True),
    "LineDescription": text(), "RequestedSalesQuantity": Col("number", min_value=0),
    "SalesPrice": money(), "SalesUnitSymbol": text(required=True), "LineDiscountAmount": money(),
    "TotalChargesAmount": money(None), "CurrencyCode": text(),
})

# what the F&O -> Sales flows read (and the Sales -> F&O orders flow writes)
SELLABLE_PRODUCTS = entity("fo", "SellableReleasedProducts", ("dataAreaId", "ProductNumber"), {
    "dataAreaId": text(), "ProductNumber": text(), "ProductName": text(required=True),
    "SalesUnitSymbol": text(required=True), "CurrencyCode": text(required=True),
    "SalesPrice": money(), "UnitCost": money(),
})
ORDER_HEADERS = entity("fo", "CDSSalesOrderHeaders", ("dataAreaId", "SalesOrderNumber"), {
    "dataAreaId": text(), "SalesOrderNumber": text(), "SalesOrderName": text(),
    "OrderingCustomerAccountNumber": text(required=True), "InvoiceCustomerAccountNumber": text(),
    "CurrencyCode": text(required=True), "OrderTotalAmount": money(None), "DeliveryAddressStateId": text(),
    **ADDRESS,
})
ORDER_LINES = entity("fo", "CDSSalesOrderLines", ("dataAreaId", "SalesOrderNumber", "LineCreationSequenceNumber"), {
    "dataAreaId": text(), "SalesOrderNumber": text(), "LineCreationSequenceNumber": Col("int", min_value=1),
    "ProductNumber": text(required=True), "LineDescription": text(), "OrderedSalesQuantity": Col("number", min_value=0),
    "SalesPrice": money(), "SalesUnitSymbol": text(), "LineDiscountAmount": money(),
    "FixedPriceCharges": money(None), "CurrencyCode": text(),
})
INVOICE_HEADERS = entity("fo", "ExternallyMaintainedCustomerSalesInvoiceHeaders", ("dataAreaId", "InvoiceNumber"), {
    "dataAreaId": text(), "InvoiceNumber": text(), "SalesOrderNumber": text(),
    "InvoiceCustomerAccountNumber": text(required=True), "CurrencyCode": text(required=True),
})
INVOICE_LINES = entity("fo", "ExternallyMaintainedCustomerSalesInvoiceLines", ("dataAreaId", "InvoiceNumber", "LineCreationSequenceNumber"), {
    "dataAreaId": text(), "InvoiceNumber": text(), "LineCreationSequenceNumber": Col("int", min_value=1),
    "ProductNumber": text(required=True), "InvoicedQuantity": Col("number"),
})
