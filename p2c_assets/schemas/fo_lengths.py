"""String sizes of the F&O fields the flows validate, from their extended data types (EDTs).

CDM publishes no lengths for F&O and the service's `$metadata` carries no `MaxLength` either, so a
field's limit is its EDT's "String Size" as Microsoft's EDT reference documents it (F&O kept the
AX 2012 EDTs; a tenant may extend a size, never shrink it, so these are the safe minimum). Which EDT
backs a data-entity field is inferred from the table field it exposes (CustomersV3.CustomerAccount
is CustTable.AccountNum = CustAccount). The same field name carries the same EDT on every P2C entity.
docs/architecture.md lists these limits with their sources.
"""

from __future__ import annotations

EDT_REFERENCE = "https://learn.microsoft.com/en-us/previous-versions/dynamics/ax-2012/reference/{}(v=ax.60)"

# EDT -> (string size, page of Microsoft's EDT reference)
EDTS: dict[str, tuple[int, str]] = {
    "DataAreaId": (4, "gg864878"),
    "CustAccount": (20, "gg862937"),
    "DirPartyNumber": (40, "gg864894"),
    "DirPartyName": (100, "gg864895"),
    "FirstName": (25, "gg865097"),
    "LastName": (25, "gg870710"),
    "CustGroupId": (10, "gg863281"),
    "CurrencyCode": (3, "gg863015"),
    "LanguageId": (7, "gg870702"),
    "InventSiteId": (10, "gg886527"),
    "InventLocationId": (10, "gg885881"),
    "LogisticsElectronicAddressLocator": (255, "gg871528"),
    "LogisticsAddressStreet": (250, "gg871518"),
    "LogisticsAddressCity": (60, "gg855245"),
    "LogisticsAddressStateId": (10, "gg871516"),
    "LogisticsAddressZipCodeId": (10, "gg871521"),
    "LogisticsAddressCountryRegionISOCode": (2, "gg871477"),
    "ContactPersonId": (20, "gg846187"),
    "QuotationId": (20, "gg185031"),
    "EcoResProductDisplayProductNumber": (70, "gg865625"),
    "EcoResDescription": (1000, "gg865528"),
    "ItemId": (20, "gg886949"),
    "EcoResProductName": (60, "gg865633"),
    "ItemFreeTxt": (1000, "gg886942"),
    "UnitOfMeasureSymbol": (10, "gg917978"),
    "SalesId": (20, "gg899415"),
    "SalesName": (60, "gg899488"),
    "InvoiceId": (20, "gg886836"),
    "Voucher": (20, "gg918939"),
    "CustRef": (60, "gg846831"),
}

_ADDRESS = {"Street": "LogisticsAddressStreet", "City": "LogisticsAddressCity",
            "State": "LogisticsAddressStateId", "StateId": "LogisticsAddressStateId",
            "ZipCode": "LogisticsAddressZipCodeId", "CountryRegionISOCode": "LogisticsAddressCountryRegionISOCode"}

# F&O field -> its EDT
FIELDS: dict[str, str] = {
    "dataAreaId": "DataAreaId",
    "CustomerAccount": "CustAccount", "RequestingCustomerAccountNumber": "CustAccount",
    "InvoiceCustomerAccountNumber": "CustAccount", "OrderingCustomerAccountNumber": "CustAccount",
    "PartyNumber": "DirPartyNumber", "ContactPersonPartyNumber": "DirPartyNumber",
    "AssociatedPartyNumber": "DirPartyNumber",
    "OrganizationName": "DirPartyName",
    "PersonFirstName": "FirstName", "FirstName": "FirstName",
    "PersonLastName": "LastName", "LastName": "LastName",
    "CustomerGroupId": "CustGroupId",
    "SalesCurrencyCode": "CurrencyCode", "CurrencyCode": "CurrencyCode",
    "LanguageId": "LanguageId",
    "SiteId": "InventSiteId", "WarehouseId": "InventLocationId",
    "PrimaryContactEmail": "LogisticsElectronicAddressLocator",
    "PrimaryContactPhone": "LogisticsElectronicAddressLocator",
    "PrimaryContactURL": "LogisticsElectronicAddressLocator",
    "PrimaryEmailAddress": "LogisticsElectronicAddressLocator",
    "PrimaryPhoneNumber": "LogisticsElectronicAddressLocator",
    "PrimaryAddressCountryRegionISOCode": "LogisticsAddressCountryRegionISOCode",
    **{f"{side}Address{part}": edt for side in ("Delivery", "Invoice") for part, edt in _ADDRESS.items()},
    "ContactPersonId": "ContactPersonId",
    "SalesQuotationNumber": "QuotationId",
    "ProductNumber": "EcoResProductDisplayProductNumber",
    "ItemNumber": "ItemId",
    "ProductName": "EcoResProductName", "ProductDescription": "EcoResDescription",
    "LineDescription": "ItemFreeTxt",
    "SalesUnitSymbol": "UnitOfMeasureSymbol",
    "SalesOrderNumber": "SalesId", "SalesOrderName": "SalesName",
    "InvoiceNumber": "InvoiceId", "LedgerVoucher": "Voucher",
    "CustomersOrderReference": "CustRef",
}


def length(field: str) -> int | None:
    """The documented string size of an F&O field, or None where no EDT reference was found."""
    edt = FIELDS.get(field)
    return EDTS[edt][0] if edt else None


def source(field: str) -> str | None:
    edt = FIELDS.get(field)
    return f"EDT {edt}, {EDT_REFERENCE.format(EDTS[edt][1])}" if edt else None
