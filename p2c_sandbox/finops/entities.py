"""The F&O entity catalogue (docs/architecture.md section 2.2) as data.

Everything else in this package (SQL schema, `$metadata`, query translation, validation) is
derived from these declarations, so adding a field or an entity is a change in this file only.
Names, keys and Edm types follow the real service (protocols.md D2, p2c-spec.md 1.4).
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from functools import cached_property

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


@dataclass(frozen=True)
class Ref:
    """A foreign key the entity's validateField checks: `field` must exist as `key` in `target`."""

    target: str  # entity set
    key: str  # field of the target matched against the value
    caption: str  # the related table as the Infolog names it ("Customer groups")


@dataclass(frozen=True)
class Field:
    """One public property: its Edm type and the rules validateField applies to it."""

    name: str
    type: str  # "Edm.String", "Edm.Decimal", "Edm.Int32", "Edm.DateTimeOffset" or an ENUMS name
    label: str = ""  # the field label shown in Infolog messages
    max_length: int | None = None
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


COMPANY = S("dataAreaId", 4, "Company")

# related tables, as the Infolog captions them
CUSTOMER_GROUPS = Ref("CustomerGroups", "CustomerGroupId", "Customer groups")
SITES = Ref("OperationalSites", "SiteId", "Sites")
WAREHOUSES = Ref("Warehouses", "WarehouseId", "Warehouses")
LANGUAGES = Ref("LanguageCodes", "LanguageId", "Languages")
CURRENCIES = Ref("Currencies", "CurrencyCode", "Currency")
UNITS = Ref("UnitsOfMeasure", "UnitSymbol", "Units")
CUSTOMERS = Ref("CustomersV3", "CustomerAccount", "Customers")
PRODUCTS = Ref("ReleasedProductsV2", "ProductNumber", "Products")
ITEMS = Ref("ReleasedProductsV2", "ItemNumber", "Released products")
QUOTATIONS = Ref("CDSSalesQuotationHeaders", "SalesQuotationNumber", "Sales quotations")
ORDERS = Ref("CDSSalesOrderHeaders", "SalesOrderNumber", "Sales orders")


def _address(prefix: str, label: str) -> tuple[Field, ...]:
    return (
        S(f"{prefix}Street", 250, f"{label} street"),
        S(f"{prefix}City", 60, f"{label} city"),
        S(f"{prefix}State", 10, f"{label} state"),
        S(f"{prefix}ZipCode", 10, f"{label} ZIP/postal code"),
        S(f"{prefix}CountryRegionISOCode", 3, f"{label} country/region"),
    )


GLOBAL = (
    Entity("LegalEntities", "LegalEntity", "OMLegalEntity", "Legal entities (CompanyInfo)",
           ("LegalEntityId",),
           (S("LegalEntityId", 4, "Company", required=True), S("Name", 100, "Name"),
            S("AccountingCurrency", 3, "Accounting currency", ref=CURRENCIES)),
           table="LegalEntities"),
    Entity("Currencies", "Currency", "CurrencyEntity", "Currency (Currency)", ("CurrencyCode",),
           (S("CurrencyCode", 3, "Currency", required=True), S("Name", 60, "Name")),
           table="Currencies"),
    Entity("UnitsOfMeasure", "UnitOfMeasure", "UnitOfMeasureEntity", "Units (UnitOfMeasure)",
           ("UnitSymbol",),
           (S("UnitSymbol", 10, "Unit", required=True), S("Description", 60, "Description")),
           table="UnitsOfMeasure"),
    Entity("LanguageCodes", "LanguageCode", "LanguageCodeEntity", "Languages (LanguageTable)",
           ("LanguageId",),
           (S("LanguageId", 7, "Language", required=True), S("Description", 60, "Description")),
           table="LanguageCodes"),
)

SETUP = (
    Entity("CustomerGroups", "CustomerGroup", "CustCustomerGroupEntity",
           "Customer groups (CustGroup)", ("dataAreaId", "CustomerGroupId"),
           (COMPANY, S("CustomerGroupId", 10, "Customer group", required=True),
            S("Description", 60, "Description")),
           table="CustomerGroups"),
    Entity("OperationalSites", "OperationalSite", "InventOperationalSiteEntity",
           "Sites (InventSite)", ("dataAreaId", "SiteId"),
           (COMPANY, S("SiteId", 10, "Site", required=True), S("SiteName", 60, "Name")),
           table="OperationalSites"),
    Entity("Warehouses", "Warehouse", "InventWarehouseEntity", "Warehouses (InventLocation)",
           ("dataAreaId", "WarehouseId"),
           (COMPANY, S("WarehouseId", 10, "Warehouse", required=True),
            S("WarehouseName", 60, "Name"),
            S("OperationalSiteId", 10, "Site", ref=SITES)),
           table="Warehouses"),
)

PARTIES = (
    Entity("CustomersV3", "CustomerV3", "CustCustomerV3Entity", "Customers (CustTable)",
           ("dataAreaId", "CustomerAccount"),
           (COMPANY, S("CustomerAccount", 20, "Customer account", required=True),
            S("OrganizationName", 100, "Organization name"),
            S("PartyType", 20, "Party type", default="Organization"),
            S("PartyNumber", 40, "Party number"),
            S("PersonFirstName", 25, "First name"), S("PersonLastName", 25, "Last name"),
            S("CustomerGroupId", 10, "Customer group", required=True, ref=CUSTOMER_GROUPS),
            S("SalesCurrencyCode", 3, "Currency", required=True, ref=CURRENCIES),
            S("LanguageId", 7, "Language", ref=LANGUAGES),
            S("SiteId", 10, "Site", ref=SITES),
            S("WarehouseId", 10, "Warehouse", ref=WAREHOUSES),
            E("IsExternallyMaintained", "NoYes", "Is externally maintained"),
            D("CreditLimit", "Credit limit"),
            S("PrimaryContactEmail", 80, "Email"), S("PrimaryContactPhone", 20, "Telephone"),
            S("PrimaryContactURL", 255, "Internet address"),
            *_address("DeliveryAddress", "Delivery address"),
            *_address("InvoiceAddress", "Invoice address"),
            S("SalesMemo", 1000, "Sales memo")),
           table="CustomersV3"),
    Entity("ContactPersons", "ContactPerson", "ContactPersonEntity", "Contacts (ContactPerson)",
           ("dataAreaId", "ContactPersonId"),
           (COMPANY, S("ContactPersonId", 20, "Contact ID", required=True),
            S("ContactPersonPartyNumber", 40, "Party number"),
            S("AssociatedPartyNumber", 40, "Associated party"),
            S("CustomerAccount", 20, "Customer account", ref=CUSTOMERS),
            S("FirstName", 25, "First name"), S("LastName", 25, "Last name"),
            S("JobTitle", 60, "Title"), S("PrimaryEmail", 80, "Email"),
            S("PrimaryPhone", 20, "Telephone"), S("DecisionMakingRoleCode", 20, "Decision"),
            S("PrimaryAddressCountryRegionIsoCode", 3, "Country/region"),
            E("IsContactPersonExternallyMaintained", "NoYes", "Is externally maintained")),
           table="ContactPersons"),
)

_PRODUCT_FIELDS = (
    S("ProductName", 60, "Product name"), S("ProductDescription", 1000, "Description"),
    E("ProductType", "EcoResProductType", "Product type"),
    S("SalesUnitSymbol", 10, "Sales unit", ref=UNITS),
    S("InventoryUnitSymbol", 10, "Inventory unit", ref=UNITS),
    I32("SalesUnitDecimalPrecision", "Decimal precision", default=2),
    D("SalesPrice", "Price"), D("UnitCost", "Cost price"),
)

PRODUCTS_ENTITIES = (
    Entity("ReleasedProductsV2", "ReleasedProductV2", "EcoResReleasedProductV2Entity",
           "Released products (InventTable)", ("dataAreaId", "ItemNumber"),
           (COMPANY, S("ItemNumber", 20, "Item number", required=True),
            S("ProductNumber", 70, "Product number", required=True), *_PRODUCT_FIELDS,
            E("IsSalesStopped", "NoYes", "Stopped"),
            E("IsStockedProduct", "NoYes", "Stocked product", default="Yes")),
           table="ReleasedProductsV2"),
    Entity("SellableReleasedProducts", "SellableReleasedProduct",
           "EcoResSellableReleasedProductEntity", "Released products (InventTable)",
           ("dataAreaId", "ProductNumber"),
           (COMPANY, S("ProductNumber", 70, "Product number"), S("ItemNumber", 20, "Item number"),
            *_PRODUCT_FIELDS, S("CurrencyCode", 3, "Currency"),
            E("IsStockedProduct", "NoYes", "Stocked product")),
           view_sql="""SELECT p.*, l.AccountingCurrency AS CurrencyCode FROM ReleasedProductsV2 p
                       JOIN LegalEntities l ON lower(l.LegalEntityId) = p.dataAreaId
                       WHERE p.SalesUnitSymbol <> '' AND p.SalesPrice > 0
                         AND p.IsSalesStopped = 'No'"""),
)

QUOTATIONS_ENTITIES = (
    Entity("CDSSalesQuotationHeaders", "CDSSalesQuotationHeader", "SalesQuotationHeaderCDSEntity",
           "Sales quotations (SalesQuotationTable)", ("dataAreaId", "SalesQuotationNumber"),
           (COMPANY, S("SalesQuotationNumber", 20, "Quotation", required=True),
            S("SalesQuotationName", 60, "Name"),
            S("RequestingCustomerAccountNumber", 20, "Customer account", required=True,
              ref=CUSTOMERS),
            S("InvoiceCustomerAccountNumber", 20, "Invoice account", ref=CUSTOMERS),
            S("CurrencyCode", 3, "Currency", required=True, ref=CURRENCIES),
            S("LanguageId", 7, "Language", ref=LANGUAGES),
            S("DefaultShippingSiteId", 10, "Site", ref=SITES),
            S("DefaultShippingWarehouseId", 10, "Warehouse", ref=WAREHOUSES),
            DT("ReceiptDateRequested", "Requested receipt date"),
            DT("RequestedShippingDate", "Requested ship date"),
            E("SalesQuotationStatus", "SalesQuotationStatus", "Quotation status"),
            *_address("DeliveryAddress", "Delivery address"),
            D("QuotationTotalAmount", "Total amount"), D("QuotationTotalDiscountAmount", "Discount"),
            D("QuotationTotalChargesAmount", "Charges"), D("QuotationTotalTaxAmount", "Sales tax"),
            E("AreTotalsCalculated", "NoYes", "Totals calculated")),
           table="CDSSalesQuotationHeaders",
           navigation={"SalesQuotationLines": ("CDSSalesQuotationLines",
                                               ("dataAreaId", "SalesQuotationNumber"))}),
    Entity("CDSSalesQuotationLines", "CDSSalesQuotationLine", "SalesQuotationLineCDSEntity",
           "Quotation lines (SalesQuotationLine)",
           ("dataAreaId", "SalesQuotationNumber", "LineCreationSequenceNumber"),
           (COMPANY, S("SalesQuotationNumber", 20, "Quotation", required=True, ref=QUOTATIONS),
            I32("LineCreationSequenceNumber", "Line creation sequence number", required=True),
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
    S("OrderingCustomerAccountNumber", 20, "Customer account", required=True, ref=CUSTOMERS),
    S("InvoiceCustomerAccountNumber", 20, "Invoice account", ref=CUSTOMERS),
    S("CurrencyCode", 3, "Currency", required=True, ref=CURRENCIES),
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
    DT("RequestedShippingDate", "Requested ship date"),
    S("DefaultShippingSiteId", 10, "Site", ref=SITES),
    S("DefaultShippingWarehouseId", 10, "Warehouse", ref=WAREHOUSES),
    *_address("DeliveryAddress", "Delivery address"),
    *_address("InvoiceAddress", "Invoice address"),
)

ORDERS_ENTITIES = (
    Entity("CDSSalesOrderHeaders", "CDSSalesOrderHeader", "SalesOrderHeaderCDSEntity",
           "Sales orders (SalesTable)", ("dataAreaId", "SalesOrderNumber"),
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
    Entity("CDSSalesOrderLines", "CDSSalesOrderLine", "SalesOrderLineCDSEntity",
           "Order lines (SalesLine)",
           ("dataAreaId", "SalesOrderNumber", "LineCreationSequenceNumber"),
           (COMPANY, S("SalesOrderNumber", 20, "Sales order", required=True, ref=ORDERS),
            I32("LineCreationSequenceNumber", "Line creation sequence number", required=True),
            S("ProductNumber", 70, "Product number", ref=PRODUCTS),
            S("ItemNumber", 20, "Item number", ref=ITEMS),
            S("LineDescription", 1000, "Text"), D("OrderedSalesQuantity", "Quantity"),
            D("SalesPrice", "Unit price"), S("SalesUnitSymbol", 10, "Unit", ref=UNITS),
            D("LineDiscountAmount", "Discount"),
            D("LineAmount", "Net amount", read_only=True), D("TotalTaxAmount", "Sales tax"),
            S("ShippingSiteId", 10, "Site", ref=SITES),
            S("ShippingWarehouseId", 10, "Warehouse", ref=WAREHOUSES),
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
    S("LedgerVoucher", 20, "Voucher"), S("SalesOrderNumber", 20, "Sales order"),
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
    Entity("ExternallyMaintainedCustomerSalesInvoiceHeaders",
           "ExternallyMaintainedCustomerSalesInvoiceHeader",
           "SalesExternallyMaintainedCustomerSalesInvoiceHeaderEntity",
           "Customer invoice journal (CustInvoiceJour)",
           ("dataAreaId", "InvoiceNumber", "InvoiceDate", "LedgerVoucher"),
           _INVOICE_HEADER_FIELDS,
           view_sql=f"SELECT h.* FROM SalesInvoiceHeaders h {_EXTERNAL_CUSTOMER}",
           navigation={"SalesInvoiceLines": ("ExternallyMaintainedCustomerSalesInvoiceLines",
                                             ("dataAreaId", "InvoiceNumber"))}),
    Entity("ExternallyMaintainedCustomerSalesInvoiceLines",
           "ExternallyMaintainedCustomerSalesInvoiceLine",
           "SalesExternallyMaintainedCustomerSalesInvoiceLineEntity",
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
    for e in (*GLOBAL, *SETUP, *PARTIES, *PRODUCTS_ENTITIES, *QUOTATIONS_ENTITIES,
              *ORDERS_ENTITIES, *INVOICES_ENTITIES)
}

#: Every SQL table: name -> (primary key, columns). Entities with a table store their own fields;
#: the internal ones back the views (orders with derived flags, posted invoices).
TABLES: dict[str, tuple[tuple[str, ...], tuple[Field, ...]]] = {
    **{e.table: (e.keys, e.fields) for e in ENTITIES.values() if e.table and not e.view_sql},
    "SalesOrders": (("dataAreaId", "SalesOrderNumber"), _ORDER_HEADER_FIELDS),
    "SalesInvoiceHeaders": (("dataAreaId", "InvoiceNumber"), _INVOICE_HEADER_FIELDS),
    "SalesInvoiceLines": (("dataAreaId", "InvoiceNumber", "LineCreationSequenceNumber"),
                          _INVOICE_LINE_FIELDS),
}
