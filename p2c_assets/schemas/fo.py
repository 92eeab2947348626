"""Finance and Operations entities, as the flows read and write them (docs/architecture.md 2.2)."""

from p2c_assets.schemas.model import Col, entity, money, text

NOYES = Col("enum", allowed=("No", "Yes"))
COMPANY = text(4, required=True)
ADDRESS = {
    "DeliveryAddressStreet": text(250), "DeliveryAddressCity": text(60),
    "DeliveryAddressState": text(10), "DeliveryAddressZipCode": text(10),
    "DeliveryAddressCountryRegionISOCode": text(3),
}

CUSTOMERS = entity("CustomersV3", ("dataAreaId", "CustomerAccount"), {
    "dataAreaId": COMPANY, "CustomerAccount": text(20), "PartyNumber": text(20),
    "OrganizationName": text(100, required=True), "PartyType": Col("enum", allowed=("Organization", "Person")),
    "PersonFirstName": text(25), "PersonLastName": text(25),
    "CustomerGroupId": text(10, required=True), "SalesCurrencyCode": text(3, required=True),
    "LanguageId": text(7, required=True), "SiteId": text(10), "WarehouseId": text(10),
    "IsExternallyMaintained": NOYES, "CreditLimit": money(), "PrimaryContactEmail": text(80),
    "PrimaryContactPhone": text(20), "PrimaryContactURL": text(255), **ADDRESS,
})

CONTACT_PERSONS = entity("ContactPersons", ("dataAreaId", "ContactPersonId"), {
    "dataAreaId": COMPANY, "ContactPersonId": text(20), "ContactPersonPartyNumber": text(20),
    "CustomerAccount": text(20, required=True), "AssociatedPartyNumber": text(20),
    "FirstName": text(25), "LastName": text(25, required=True), "JobTitle": text(60),
    "PrimaryEmail": text(80), "PrimaryPhone": text(20), "PrimaryAddressCountryRegionIsoCode": text(3),
    "IsContactPersonExternallyMaintained": NOYES,
})

QUOTATION_HEADERS = entity("CDSSalesQuotationHeaders", ("dataAreaId", "SalesQuotationNumber"), {
    "dataAreaId": COMPANY, "SalesQuotationNumber": text(20), "SalesQuotationName": text(60),
    "RequestingCustomerAccountNumber": text(20, required=True),
    "InvoiceCustomerAccountNumber": text(20, required=True), "CurrencyCode": text(3, required=True),
    "LanguageId": text(7), "SalesQuotationStatus": Col("enum", allowed=("Created", "Sent", "Confirmed", "Lost", "Cancelled")),
    **ADDRESS,
})

QUOTATION_LINES = entity("CDSSalesQuotationLines", ("dataAreaId", "SalesQuotationNumber", "LineCreationSequenceNumber"), {
    "dataAreaId": COMPANY, "SalesQuotationNumber": text(20),
    "LineCreationSequenceNumber": Col("int", min_value=1), "ProductNumber": text(20, required=True),
    "LineDescription": text(1000), "RequestedSalesQuantity": Col("number", min_value=0),
    "SalesPrice": money(), "SalesUnitSymbol": text(10, required=True), "LineDiscountAmount": money(),
    "TotalChargesAmount": money(None), "CurrencyCode": text(3),
})

# source side: what the F&O -> Sales flows read
SELLABLE_PRODUCTS = entity("SellableReleasedProducts", ("dataAreaId", "ProductNumber"), {
    "dataAreaId": COMPANY, "ProductNumber": text(20), "ProductName": text(60, required=True),
    "SalesUnitSymbol": text(10, required=True), "CurrencyCode": text(3, required=True),
    "SalesPrice": money(), "UnitCost": money(),
})
ORDER_HEADERS = entity("CDSSalesOrderHeaders", ("dataAreaId", "SalesOrderNumber"), {
    "dataAreaId": COMPANY, "SalesOrderNumber": text(20), "OrderingCustomerAccountNumber": text(20, required=True),
    "CurrencyCode": text(3, required=True), "OrderTotalAmount": money(None),
})
ORDER_LINES = entity("CDSSalesOrderLines", ("dataAreaId", "SalesOrderNumber", "LineCreationSequenceNumber"), {
    "dataAreaId": COMPANY, "SalesOrderNumber": text(20), "LineCreationSequenceNumber": Col("int", min_value=1),
    "ProductNumber": text(20, required=True), "OrderedSalesQuantity": Col("number", min_value=0),
})
INVOICE_HEADERS = entity("ExternallyMaintainedCustomerSalesInvoiceHeaders", ("dataAreaId", "InvoiceNumber"), {
    "dataAreaId": COMPANY, "InvoiceNumber": text(20), "SalesOrderNumber": text(20),
    "InvoiceCustomerAccountNumber": text(20, required=True), "CurrencyCode": text(3, required=True),
})
INVOICE_LINES = entity("ExternallyMaintainedCustomerSalesInvoiceLines", ("dataAreaId", "InvoiceNumber", "LineCreationSequenceNumber"), {
    "dataAreaId": COMPANY, "InvoiceNumber": text(20), "LineCreationSequenceNumber": Col("int", min_value=1),
    "ProductNumber": text(20, required=True), "InvoicedQuantity": Col("number"),
})
