"""The F&O entity catalogue (docs/architecture.md section 2.2) as data, checked against Microsoft.

Everything else in this package (SQL schema, `$metadata`, query translation, validation) is
derived from these declarations, so adding a field or an entity is a change in this file only.

Names come from Microsoft, not from us: every public entity set and field declared here must be
one that `p2c_assets.schemas.microsoft` finds in Microsoft's Common Data Model (or its documented
exceptions), and which fields are mandatory comes from there too (CDM `isNullable: false`).
Building the catalogue fails at import when a declaration names something Microsoft does not
publish, or leaves out a mandatory field of a writable entity, so the sandbox can not drift back to
invented names. What CDM does not give (Edm types, lengths, Infolog labels, related tables,
defaults, read-only fields) is sandbox behaviour declared here.

Some data the P2C entities show lives elsewhere in F&O (a product's name on the shared product and
its translations, the accounting currency on the ledger, ...). The sandbox keeps it in internal
tables (`INTERNAL`) that no public entity set exposes; the views join them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from functools import cached_property, lru_cache

from p2c_assets.schemas import microsoft

NAMESPACE = "Microsoft.Dynamics.DataEntities"
DEFAULT_COMPANY = "usmf"

#: Enum types as the real service names them; members serialize as their names.
ENUMS: dict[str, tuple[str, ...]] = {
    "NoYes": ("No", "Yes"),
    "EcoResProductType": ("Item", "Service"),
    "SalesQuotationStatus": ("Created", "Sent", "Confirmed", "Lost", "Cancelled"),
    "SalesOrderProcessingStatus": (
        "None", "Active", "Confirmed", "Picked", "PartiallyDelivered", "Delivered",
        "PartiallyInvoiced", "Invoiced", "Canceled",
    ),
    "SalesStatus": ("None", "Backorder", "Delivered", "Invoiced", "Canceled"),
}

#: What a non-nullable F&O column holds when nobody wrote it (protocols.md B5).
EMPTY_DATE = "1900-01-01T12:00:00Z"


class CatalogueError(ValueError):
    """A declaration that does not match Microsoft's published schema."""


@dataclass(frozen=True)
class Ref:
    """A foreign key the entity's validateField checks: `field` must exist as `key` in `target`."""

    target: str  # entity set
    key: str  # field of the target matched against the value
    caption: str  # the related table as the Infolog names it ("Customer groups")


@dataclass(frozen=True)
class Field:
    """One property: its Edm type and the rules validateField applies to it."""

    name: str
    type: str  # "Edm.String", "Edm.Decimal", "Edm.Int32", "Edm.DateTimeOffset" or an ENUMS name
    label: str = ""  # the field label shown in Infolog messages
    max_length: int | None = None
    #: a create must fill it: Microsoft's flag and the keys (public_entity), or declared for a field
    #: the table behind the entity makes mandatory whatever the entity says
    required: bool = False
    ref: Ref | None = None
    read_only: bool = False  # computed by the service; ignored on write
    default: object = None  # overrides the type's empty value

    @property
    def is_enum(self) -> bool:
        return self.type in ENUMS

    @property
    def edm_type(self) -> str:
        return f"{NAMESPACE}.{self.type}" if self.is_enum else self.type

    @property
    def caption(self) -> str:
        return self.label or self.name

    def empty(self) -> object:
        """The value a row holds when the field was not written."""
        if self.default is not None:
            return self.default
        if self.is_enum:
            return ENUMS[self.type][0]
        if self.type in ("Edm.Decimal", "Edm.Int32", "Edm.Int64"):
            return 0
        if self.type == "Edm.DateTimeOffset":
            return EMPTY_DATE
        return ""


@dataclass(frozen=True)
class Entity:
    """One public data entity: where it is stored or how it is computed, and its keys."""

    set_name: str  # public collection name: CustomersV3
    type_name: str  # public entity name: CustomerV3
    table_label: str  # AOT entity name used in Infolog: CustCustomerV3Entity
    caption: str  # the underlying table as duplicate errors name it: "Customers (CustTable)"
    keys: tuple[str, ...]
    fields: tuple[Field, ...]
    #: SQL table written to; None for read-only entities
    table: str | None = None
    #: SQL SELECT the entity reads from, when it is a view over internal tables
    view_sql: str | None = None
    #: navigation property -> (entity set, fields joining parent to child)
    navigation: dict[str, tuple[str, tuple[str, ...]]] = dataclass_field(default_factory=dict)

    @property
    def company_specific(self) -> bool:
        return self.keys[0] == "dataAreaId"

    @property
    def writable(self) -> bool:
        return self.table is not None

    @property
    def source(self) -> str:
        """What queries select FROM: the table, or the view named after the entity set."""
        return self.table if self.view_sql is None else f"v_{self.set_name}"

    def field(self, name: str) -> Field | None:
        return self._by_name.get(name)

    @cached_property
    def _by_name(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields}

    @cached_property
    def empty_row(self) -> dict[str, object]:
        """Every field's empty value (a row nobody wrote); copy it before changing it."""
        return {f.name: f.empty() for f in self.fields}

    @property
    def stored_fields(self) -> tuple[Field, ...]:
        """The fields the write table holds (views may add computed ones)."""
        return TABLES[self.table][1] if self.table else ()


def S(name, length, label="", **kw) -> Field:
    return Field(name, "Edm.String", label, max_length=length, **kw)


def D(name, label="", **kw) -> Field:
    return Field(name, "Edm.Decimal", label, **kw)


def I32(name, label="", **kw) -> Field:
    return Field(name, "Edm.Int32", label, **kw)


def DT(name, label="", **kw) -> Field:
    return Field(name, "Edm.DateTimeOffset", label, **kw)


def E(name, enum, label="", **kw) -> Field:
    return Field(name, enum, label, **kw)


def public_entity(set_name: str, type_name: str, caption: str, keys: tuple[str, ...],
             fields: tuple[Field, ...], table_label: str | None = None, **kw) -> Entity:
    """A public entity, after checking its names against Microsoft's schema.

    The entity set and every field must be published by Microsoft; a writable entity must declare
    every field Microsoft marks mandatory. Mandatory is Microsoft's flag, plus the keys: the
    sandbox needs them to identify a row, and F&O either fills a blank key from a number sequence
    (orders here, customer accounts in F&O) or refuses the row, so they stay required even where
    CDM says nullable; a few fields are declared mandatory because the table behind the entity
    makes them so. `dataAreaId` is the exception: F&O fills it from the caller's company, so
    a create never has to name it. The AOT name in Infolog messages is the CDM entity behind the set.
    """
    if set_name not in microsoft.entity_sets("fo"):
        raise CatalogueError(f"F&O entity set {set_name!r} is not in Microsoft's schema "
                             "(p2c_assets.schemas.microsoft)")
    published = microsoft.columns("fo", set_name)
    unknown = [f.name for f in fields if f.name not in published]
    if unknown:
        raise CatalogueError(f"F&O {set_name}: {', '.join(unknown)} not in Microsoft's schema")
    declared = {f.name for f in fields}
    missing = [c.name for c in published.values() if c.required and c.name not in declared]
    if kw.get("table") and missing:
        raise CatalogueError(f"F&O {set_name}: mandatory {', '.join(missing)} not declared")
    fields = tuple(replace(f, required=f.name != "dataAreaId" and (
        f.required or published[f.name].required or f.name in keys)) for f in fields)
    label = microsoft.FINOPS_ENTITIES.get(set_name, table_label)
    return Entity(set_name, type_name, label, caption, keys, fields, **kw)


COMPANY = S("dataAreaId", 4, "Company")

# related tables, as the Infolog captions them
CUSTOMER_GROUPS = Ref("CustomerGroups", "CustomerGroupId", "Customer groups")
SITES = Ref("OperationalSites", "SiteId", "Sites")
WAREHOUSES = Ref("Warehouses", "WarehouseId", "Warehouses")
LANGUAGES = Ref("LanguageCodes", "LanguageId", "Languages")
CURRENCIES = Ref("Currencies", "CurrencyCode", "Currency")
UNITS = Ref("UnitsOfMeasure", "UnitSymbol", "Units")
CUSTOMERS = Ref("CustomersV3", "CustomerAccount", "Customers")
PARTIES = Ref("CustomersV3", "PartyNumber", "Customers")
PRODUCTS = Ref("ReleasedProductsV2", "ProductNumber", "Products")
ITEMS = Ref("ReleasedProductsV2", "ItemNumber", "Released products")
QUOTATIONS = Ref("CDSSalesQuotationHeaders", "SalesQuotationNumber", "Sales quotations")
ORDERS = Ref("CDSSalesOrderHeaders", "SalesOrderNumber", "Sales orders")

# lengths of the extended data types behind the fields (CDM publishes none for F&O)
EMAIL = PHONE = URL = 255  # LogisticsElectronicAddressLocator
ISO_COUNTRY = 2  # ISO 3166 alpha-2 (the ...CountryRegionId fields hold F&O's own ids, e.g. USA)


def _address(prefix: str, label: str, state: str = "State") -> tuple[Field, ...]:
    """An address; the state field is `<prefix>State` on customers and invoices, `<prefix>StateId`
    on the sales quotation and order entities (as Microsoft names them)."""
    return (
        S(f"{prefix}Street", 250, f"{label} street"),
        S(f"{prefix}City", 60, f"{label} city"),
        S(f"{prefix}{state}", 10, f"{label} state"),
        S(f"{prefix}ZipCode", 10, f"{label} ZIP/postal code"),
        S(f"{prefix}CountryRegionISOCode", ISO_COUNTRY, f"{label} country/region"),
    )


GLOBAL = (
    public_entity("LegalEntities", "LegalEntity", "Legal entities (CompanyInfo)", ("LegalEntityId",),
             (S("LegalEntityId", 4, "Company"), S("Name", 100, "Name")),
             table="LegalEntities"),
    public_entity("Currencies", "Currency", "Currency (Currency)", ("CurrencyCode",),
             (S("CurrencyCode", 3, "Currency"), S("Name", 60, "Name")),
             table="Currencies"),
    public_entity("UnitsOfMeasure", "UnitOfMeasure", "Units (UnitOfMeasure)", ("UnitSymbol",),
             (S("UnitSymbol", 10, "Unit"), S("UnitDescription", 60, "Description"),
              I32("DecimalPrecision", "Decimal precision")),
             table="UnitsOfMeasure"),
    public_entity("LanguageCodes", "LanguageCode", "Languages (LanguageTable)", ("LanguageId",),
             (S("LanguageId", 7, "Language"), S("Description", 60, "Description")),
             table_label="LanguageCodeEntity", table="LanguageCodes"),
)

SETUP = (
    public_entity("CustomerGroups", "CustomerGroup", "Customer groups (CustGroup)",
             ("dataAreaId", "CustomerGroupId"),
             (COMPANY, S("CustomerGroupId", 10, "Customer group"),
              S("Description", 60, "Description")),
             table="CustomerGroups"),
    public_entity("OperationalSites", "OperationalSite", "Sites (InventSite)", ("dataAreaId", "SiteId"),
             (COMPANY, S("SiteId", 10, "Site"), S("SiteName", 60, "Name")),
             table="OperationalSites"),
    public_entity("Warehouses", "Warehouse", "Warehouses (InventLocation)",
             ("dataAreaId", "WarehouseId"),
             (COMPANY, S("WarehouseId", 10, "Warehouse"), S("WarehouseName", 60, "Name"),
              S("OperationalSiteId", 10, "Site", ref=SITES)),
             table="Warehouses"),
)

PARTY_ENTITIES = (
    public_entity("CustomersV3", "CustomerV3", "Customers (CustTable)", ("dataAreaId", "CustomerAccount"),
             (COMPANY, S("CustomerAccount", 20, "Customer account"),
              S("OrganizationName", 100, "Organization name"),
              S("PartyType", 20, "Party type", default="Organization"),
              S("PartyNumber", 40, "Party number"),
              S("PersonFirstName", 25, "First name"), S("PersonLastName", 25, "Last name"),
              S("CustomerGroupId", 10, "Customer group", ref=CUSTOMER_GROUPS),
              S("SalesCurrencyCode", 3, "Currency", ref=CURRENCIES),
              S("LanguageId", 7, "Language", ref=LANGUAGES),
              S("SiteId", 10, "Site", ref=SITES),
              S("WarehouseId", 10, "Warehouse", ref=WAREHOUSES),
              E("IsExternallyMaintained", "NoYes", "Is externally maintained"),
              D("CreditLimit", "Credit limit"),
              S("PrimaryContactEmail", EMAIL, "Email"), S("PrimaryContactPhone", PHONE, "Telephone"),
              S("PrimaryContactURL", URL, "Internet address"),
              *_address("DeliveryAddress", "Delivery address"),
              *_address("InvoiceAddress", "Invoice address"),
              S("SalesMemo", 1000, "Sales memo")),
             table="CustomersV3"),
    public_entity("ContactPersonsV2", "ContactPersonV2", "Contact persons (ContactPerson)",
             ("dataAreaId", "ContactPersonId"),
             (COMPANY, S("ContactPersonId", 20, "Contact ID"),
              S("ContactPersonPartyNumber", 40, "Party number"),
              S("AssociatedPartyNumber", 40, "Associated party number", ref=PARTIES),
              S("FirstName", 25, "First name"), S("LastName", 25, "Last name"),
              S("EmploymentJobTitle", 60, "Job title"),
              S("PrimaryEmailAddress", EMAIL, "Email"), S("PrimaryPhoneNumber", PHONE, "Telephone"),
              S("PrimaryAddressCountryRegionISOCode", ISO_COUNTRY, "Country/region"),
              S("DecisionMakingRoleCode", 20, "Decision"),
              E("IsContactPersonExternallyMaintained", "NoYes", "Is externally maintained")),
             table="ContactPersonsV2"),
)

# internal tables for what F&O keeps outside the released product: the shared product's name and
# description (EcoResProduct and its translation), and per released item the "Stopped" flag of its
# default order settings (InventItemSalesSetup) and the "Stocked product" flag of its item model
# group (InventModelGroup). A unit's decimal precision is public (UnitsOfMeasure).
PRODUCT_TRANSLATIONS = (S("ProductNumber", 70, "Product number"),
                        S("ProductName", 60, "Product name"),
                        S("ProductDescription", 1000, "Description"))
ITEM_SETTINGS = (COMPANY, S("ItemNumber", 20, "Item number"),
                 E("IsSalesStopped", "NoYes", "Stopped"),
                 E("IsStockedProduct", "NoYes", "Stocked product", default="Yes"))
# the ledger of a legal entity holds its accounting currency (Ledger.AccountingCurrency)
LEDGERS = (S("LegalEntityId", 4, "Company"), S("AccountingCurrency", 3, "Accounting currency"))

PRODUCTS_ENTITIES = (
    public_entity("ReleasedProductsV2", "ReleasedProductV2", "Released products (InventTable)",
             ("dataAreaId", "ItemNumber"),
             (COMPANY, S("ItemNumber", 20, "Item number"),
              S("ProductNumber", 70, "Product number"),
              E("ProductType", "EcoResProductType", "Product type"),
              S("SearchName", 20, "Search name"), S("ProductSearchName", 20, "Product search name"),
              S("SalesUnitSymbol", 10, "Sales unit", ref=UNITS),
              S("InventoryUnitSymbol", 10, "Inventory unit", ref=UNITS),
              D("SalesPrice", "Price"), D("UnitCost", "Cost price")),
             table="ReleasedProductsV2"),
    public_entity("SellableReleasedProducts", "SellableReleasedProduct",
             "Released products (InventTable)", ("dataAreaId", "ProductNumber"),
             (COMPANY, S("ProductNumber", 70, "Product number"),
              S("ProductName", 60, "Product name"), S("ProductDescription", 1000, "Description"),
              E("ProductType", "EcoResProductType", "Product type"),
              S("SalesUnitSymbol", 10, "Sales unit"),
              I32("SalesUnitDecimalPrecision", "Decimal precision"),
              S("InventoryUnitSymbol", 10, "Inventory unit"),
              S("CurrencyCode", 3, "Currency"), D("SalesPrice", "Price"), D("UnitCost", "Cost price"),
              E("IsSalesStopped", "NoYes", "Stopped"),
              E("IsStockedProduct", "NoYes", "Stocked product")),
             # sellable: a sales unit, a price, not stopped; currency: the company's accounting one
             view_sql="""SELECT p.*, COALESCE(t.ProductName, '') AS ProductName,
                           COALESCE(t.ProductDescription, '') AS ProductDescription,
                           COALESCE(u.DecimalPrecision, 0) AS SalesUnitDecimalPrecision,
                           COALESCE(l.AccountingCurrency, '') AS CurrencyCode,
                           COALESCE(s.IsSalesStopped, 'No') AS IsSalesStopped,
                           COALESCE(s.IsStockedProduct, 'Yes') AS IsStockedProduct
                         FROM ReleasedProductsV2 p
                         LEFT JOIN ProductTranslations t ON t.ProductNumber = p.ProductNumber
                         LEFT JOIN UnitsOfMeasure u ON u.UnitSymbol = p.SalesUnitSymbol
                         LEFT JOIN Ledgers l ON l.LegalEntityId = p.dataAreaId
                         LEFT JOIN ItemSettings s ON s.dataAreaId = p.dataAreaId
                           AND s.ItemNumber = p.ItemNumber
                         WHERE p.SalesUnitSymbol <> '' AND p.SalesPrice > 0
                           AND COALESCE(s.IsSalesStopped, 'No') = 'No'"""),
)

QUOTATIONS_ENTITIES = (
    public_entity("CDSSalesQuotationHeaders", "CDSSalesQuotationHeader",
             "Sales quotations (SalesQuotationTable)", ("dataAreaId", "SalesQuotationNumber"),
             (COMPANY, S("SalesQuotationNumber", 20, "Quotation"),
              S("SalesQuotationName", 60, "Name"),
              # SalesQuotationTable needs a customer or a prospect (the sandbox has no prospects)
              S("RequestingCustomerAccountNumber", 20, "Customer account", required=True,
                ref=CUSTOMERS),
              S("InvoiceCustomerAccountNumber", 20, "Invoice account", ref=CUSTOMERS),
              S("CurrencyCode", 3, "Currency", ref=CURRENCIES),
              S("LanguageId", 7, "Language", ref=LANGUAGES),
              S("DefaultShippingSiteId", 10, "Site", ref=SITES),
              S("DefaultShippingWarehouseId", 10, "Warehouse", ref=WAREHOUSES),
              DT("ReceiptDateRequested", "Requested receipt date"),
              DT("RequestedShippingDate", "Requested ship date"),
              E("SalesQuotationStatus", "SalesQuotationStatus", "Quotation status"),
              *_address("DeliveryAddress", "Delivery address", state="StateId"),
              D("QuotationTotalAmount", "Total amount"),
              D("QuotationTotalDiscountAmount", "Discount"),
              D("QuotationTotalChargesAmount", "Charges"),
              D("QuotationTotalTaxAmount", "Sales tax"),
              E("AreTotalsCalculated", "NoYes", "Totals calculated")),
             table="CDSSalesQuotationHeaders",
             navigation={"SalesQuotationLines": ("CDSSalesQuotationLines",
                                                 ("dataAreaId", "SalesQuotationNumber"))}),
    public_entity("CDSSalesQuotationLines", "CDSSalesQuotationLine",
             "Quotation lines (SalesQuotationLine)",
             ("dataAreaId", "SalesQuotationNumber", "LineCreationSequenceNumber"),
             (COMPANY, S("SalesQuotationNumber", 20, "Quotation", ref=QUOTATIONS),
              I32("LineCreationSequenceNumber", "Line creation sequence number"),
              S("ProductNumber", 70, "Product number", ref=PRODUCTS),
              S("ItemNumber", 20, "Item number", ref=ITEMS),
              S("LineDescription", 1000, "Text"), D("RequestedSalesQuantity", "Quantity"),
              D("SalesPrice", "Unit price"), S("SalesUnitSymbol", 10, "Unit", ref=UNITS),
              D("LineDiscountAmount", "Discount"), D("TotalChargesAmount", "Charges"),
              D("LineAmount", "Net amount", read_only=True),
              S("ShippingSiteId", 10, "Site", ref=SITES),
              S("ShippingWarehouseId", 10, "Warehouse", ref=WAREHOUSES),
              DT("RequestedShippingDate", "Requested ship date"),
              S("CurrencyCode", 3, "Currency", ref=CURRENCIES)),
             table="CDSSalesQuotationLines"),
)

_ORDER_HEADER_FIELDS = (
    COMPANY, S("SalesOrderNumber", 20, "Sales order"), S("SalesOrderName", 60, "Name"),
    # mandatory on SalesTable (CustAccount), whatever the entity says
    S("OrderingCustomerAccountNumber", 20, "Customer account", required=True, ref=CUSTOMERS),
    S("InvoiceCustomerAccountNumber", 20, "Invoice account", ref=CUSTOMERS),
    S("CurrencyCode", 3, "Currency", ref=CURRENCIES),
    S("LanguageId", 7, "Language", ref=LANGUAGES),
    E("SalesOrderProcessingStatus", "SalesOrderProcessingStatus", "Document status",
      default="Active", read_only=True),
    E("SalesOrderStatus", "SalesStatus", "Status", default="Backorder", read_only=True),
    E("AreTotalsUpdated", "NoYes", "Totals updated", read_only=True),
    D("OrderTotalAmount", "Total amount", read_only=True),
    D("OrderTotalDiscountAmount", "Discount", read_only=True),
    D("OrderTotalChargesAmount", "Charges"),
    D("OrderTotalTaxAmount", "Sales tax", read_only=True),
    D("OrderHeaderTaxAmount", "Header sales tax"),
    S("QuotationNumber", 20, "Quotation"),
    # the sales origin (Sales and marketing > Setup > Sales orders > Sales origin), e.g. the one
    # P2C setups create for orders that come from Sales (p2c-spec 4.5)
    S("SalesOrderOriginCode", 10, "Origin"),
    DT("RequestedShippingDate", "Requested ship date"),
    S("DefaultShippingSiteId", 10, "Site", ref=SITES),
    S("DefaultShippingWarehouseId", 10, "Warehouse", ref=WAREHOUSES),
    *_address("DeliveryAddress", "Delivery address", state="StateId"),
    *_address("InvoiceAddress", "Invoice address", state="StateId"),
)

ORDERS_ENTITIES = (
    public_entity("CDSSalesOrderHeaders", "CDSSalesOrderHeader", "Sales orders (SalesTable)",
             ("dataAreaId", "SalesOrderNumber"),
             (*_ORDER_HEADER_FIELDS,
              E("OrderingCustomerIsExternallyMaintained", "NoYes",
                "Ordering customer is externally maintained", read_only=True),
              E("InvoiceCustomerIsExternallyMaintained", "NoYes",
                "Invoice customer is externally maintained", read_only=True)),
             table="SalesOrders",
             view_sql="""SELECT o.*,
                           COALESCE(oc.IsExternallyMaintained, 'No')
                             AS OrderingCustomerIsExternallyMaintained,
                           COALESCE(ic.IsExternallyMaintained, 'No')
                             AS InvoiceCustomerIsExternallyMaintained
                         FROM SalesOrders o
                         LEFT JOIN CustomersV3 oc ON oc.dataAreaId = o.dataAreaId
                           AND oc.CustomerAccount = o.OrderingCustomerAccountNumber
                         LEFT JOIN CustomersV3 ic ON ic.dataAreaId = o.dataAreaId
                           AND ic.CustomerAccount = o.InvoiceCustomerAccountNumber""",
             navigation={"SalesOrderLines": ("CDSSalesOrderLines",
                                             ("dataAreaId", "SalesOrderNumber"))}),
    public_entity("CDSSalesOrderLines", "CDSSalesOrderLine", "Order lines (SalesLine)",
             ("dataAreaId", "SalesOrderNumber", "LineCreationSequenceNumber"),
             (COMPANY, S("SalesOrderNumber", 20, "Sales order", ref=ORDERS),
              I32("LineCreationSequenceNumber", "Line creation sequence number"),
              S("ProductNumber", 70, "Product number", ref=PRODUCTS),
              S("ItemNumber", 20, "Item number", ref=ITEMS),
              S("LineDescription", 1000, "Text"), D("OrderedSalesQuantity", "Quantity"),
              D("SalesPrice", "Unit price"), S("SalesUnitSymbol", 10, "Unit", ref=UNITS),
              # per unit, as SalesLine.LineDisc; the line's own charges (SalesLine.SalesMarkup,
              # "fixed charges on price") carry what dividing a Sales discount leaves over
              D("LineDiscountAmount", "Discount"), D("FixedPriceCharges", "Charges"),
              D("LineAmount", "Net amount", read_only=True), D("TotalTaxAmount", "Sales tax"),
              S("ShippingSiteId", 10, "Site", ref=SITES),
              S("ShippingWarehouseId", 10, "Warehouse", ref=WAREHOUSES),
              DT("RequestedShippingDate", "Requested ship date"),
              E("SalesOrderLineStatus", "SalesStatus", "Status", default="Backorder",
                read_only=True),
              S("CurrencyCode", 3, "Currency", ref=CURRENCIES)),
             table="SalesOrderLines"),
)

_INVOICE_HEADER_FIELDS = (
    COMPANY, S("InvoiceNumber", 20, "Invoice"), DT("InvoiceDate", "Invoice date"),
    S("LedgerVoucher", 20, "Voucher"), S("SalesOrderNumber", 20, "Sales order"),
    S("InvoiceCustomerAccountNumber", 20, "Invoice account"), S("CurrencyCode", 3, "Currency"),
    D("TotalInvoiceAmount", "Invoice amount"), D("TotalTaxAmount", "Sales tax"),
    D("TotalDiscountAmount", "Discount"), D("TotalChargeAmount", "Charges"),
    D("InvoiceHeaderTaxAmount", "Header sales tax"),
    S("CustomersOrderReference", 60, "Customer reference"),
    *_address("InvoiceAddress", "Invoice address"),
)

_INVOICE_LINE_FIELDS = (
    COMPANY, S("InvoiceNumber", 20, "Invoice"), DT("InvoiceDate", "Invoice date"),
    I32("LineCreationSequenceNumber", "Line creation sequence number"),
    S("LedgerVoucher", 20, "Voucher"),
    S("ProductNumber", 70, "Product number"), S("ProductName", 60, "Product name"),
    S("ProductDescription", 1000, "Description"), D("InvoicedQuantity", "Quantity"),
    D("SalesPrice", "Unit price"), S("SalesUnitSymbol", 10, "Unit"), D("LineAmount", "Amount"),
    D("LineTotalDiscountAmount", "Discount"), D("LineTotalChargeAmount", "Charges"),
    D("LineTotalTaxAmount", "Sales tax"), S("CurrencyCode", 3, "Currency"),
    DT("ConfirmedShippingDate", "Confirmed ship date"),
)

_EXTERNAL_CUSTOMER = """JOIN CustomersV3 c ON c.dataAreaId = h.dataAreaId
                          AND c.CustomerAccount = h.InvoiceCustomerAccountNumber
                        WHERE c.IsExternallyMaintained = 'Yes'"""

INVOICES_ENTITIES = (
    public_entity("ExternallyMaintainedCustomerSalesInvoiceHeaders",
             "ExternallyMaintainedCustomerSalesInvoiceHeader",
             "Customer invoice journal (CustInvoiceJour)",
             ("dataAreaId", "InvoiceNumber", "InvoiceDate", "LedgerVoucher"),
             _INVOICE_HEADER_FIELDS,
             view_sql=f"SELECT h.* FROM SalesInvoiceHeaders h {_EXTERNAL_CUSTOMER}",
             navigation={"SalesInvoiceLines": ("ExternallyMaintainedCustomerSalesInvoiceLines",
                                               ("dataAreaId", "InvoiceNumber"))}),
    public_entity("ExternallyMaintainedCustomerSalesInvoiceLines",
             "ExternallyMaintainedCustomerSalesInvoiceLine",
             "Customer invoice lines (CustInvoiceTrans)",
             ("dataAreaId", "InvoiceNumber", "InvoiceDate", "LineCreationSequenceNumber",
              "LedgerVoucher"),
             _INVOICE_LINE_FIELDS,
             view_sql=f"""SELECT l.* FROM SalesInvoiceLines l
                          JOIN SalesInvoiceHeaders h ON h.dataAreaId = l.dataAreaId
                            AND h.InvoiceNumber = l.InvoiceNumber {_EXTERNAL_CUSTOMER}"""),
)

ENTITIES: dict[str, Entity] = {
    e.set_name: e
    for e in (*GLOBAL, *SETUP, *PARTY_ENTITIES, *PRODUCTS_ENTITIES, *QUOTATIONS_ENTITIES,
              *ORDERS_ENTITIES, *INVOICES_ENTITIES)
}

#: Internal (non-public) tables: name -> (primary key, columns). They back the views (orders with
#: derived flags, posted invoices) and hold what F&O keeps outside the P2C entities.
INTERNAL: dict[str, tuple[tuple[str, ...], tuple[Field, ...]]] = {
    "SalesOrders": (("dataAreaId", "SalesOrderNumber"), _ORDER_HEADER_FIELDS),
    "SalesInvoiceHeaders": (("dataAreaId", "InvoiceNumber"), _INVOICE_HEADER_FIELDS),
    # a posted line remembers its order, which the public line entity does not show
    "SalesInvoiceLines": (("dataAreaId", "InvoiceNumber", "LineCreationSequenceNumber"),
                          (*_INVOICE_LINE_FIELDS, S("SalesOrderNumber", 20, "Sales order"))),
    "ProductTranslations": (("ProductNumber",), PRODUCT_TRANSLATIONS),
    "ItemSettings": (("dataAreaId", "ItemNumber"), ITEM_SETTINGS),
    "Ledgers": (("LegalEntityId",), LEDGERS),
}

#: Every SQL table: name -> (primary key, columns). Entities with a table store their own fields.
TABLES: dict[str, tuple[tuple[str, ...], tuple[Field, ...]]] = {
    **{e.table: (e.keys, e.fields) for e in ENTITIES.values() if e.table and not e.view_sql},
    **INTERNAL,
}

#: Columns a running sandbox hides (the `hidden_columns` setting), normalised so it can be cached:
#: ((entity set, (field, ...)), ...), sorted.
Hidden = tuple[tuple[str, tuple[str, ...]], ...]


def hidden(setting: Mapping[str, Iterable[str]] | None) -> Hidden:
    """The `hidden_columns` setting in its cacheable form (unknown entity sets are ignored)."""
    return tuple(sorted((name, tuple(sorted(set(columns))))
                        for name, columns in (setting or {}).items() if name in ENTITIES))


@lru_cache(maxsize=32)
def visible_entities(hide: Hidden = ()) -> dict[str, Entity]:
    """The catalogue as a tenant without the hidden columns serves it (an older entity version,
    a missing extension): the entities lose those fields in `$metadata`, reads and writes. Keys
    stay: every version of an entity has its keys."""
    entities = dict(ENTITIES)
    for name, columns in hide:
        entity = ENTITIES[name]
        entities[name] = replace(entity, fields=tuple(
            f for f in entity.fields if f.name not in columns or f.name in entity.keys))
    return entities
