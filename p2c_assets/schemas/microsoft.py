"""Microsoft's published schema of the entities Prospect to cash touches: the names and limits we trust.

The flows, the pandera schemas, the preflight and the sandbox all take entity and column names from
here, so none of them can invent one. The source of truth is Microsoft's Common Data Model (the
documents in `cdm/`, copied unchanged from microsoft/CDM, see `cdm/README.md`); what CDM does not
publish comes from `EXTENSIONS` below, each column with the Microsoft source that documents it:

- Dataverse: a table's columns are the union of its CDM layers (base, foundationCommon, crmCommon,
  sales), plus the attribute groups they reference (`CdsStandard`'s created/modified/owner columns,
  the `customerid` group) from `wellKnownCDSAttributeGroups.cdm.json`. Names are logical names; the
  maximum length is CDM's `maximumLength`; `required` means system-required (`is.requiredAtLevel` =
  `systemrequired`), the only level the Web API enforces: "business required" is a form rule, and
  data written through the API may leave such a column empty.
- F&O: an entity's fields are its CDM attributes (the OData property names of the public collection);
  `isNullable: false` marks a mandatory field. CDM gives F&O no types and no lengths; `dataAreaId` is a
  system field of every company-specific entity and is not listed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

CDM_DIR = Path(__file__).with_name("cdm")

System = Literal["sales", "fo"]


@dataclass(frozen=True)
class Column:
    name: str
    source: str  # where Microsoft documents it: a CDM file or the EXTENSIONS source
    kind: str | None = None  # Dataverse CDM data type (string, currency, entityId, listLookup ...)
    max_length: int | None = None
    required: bool = False  # the service refuses a row without it
    description: str = ""  # Microsoft's words for it: CDM's description, else its display name


# Dataverse table (logical name) -> its CDM entity (every layer of that name is read)
DATAVERSE_TABLES = {
    "account": "Account", "contact": "Contact", "businessunit": "BusinessUnit",
    "transactioncurrency": "Currency", "uom": "Unit", "uomschedule": "UnitGroup", "pricelevel": "PriceList",
    "productpricelevel": "PriceListItem", "product": "Product", "quote": "Quote",
    "quotedetail": "QuoteProduct", "salesorder": "Order", "salesorderdetail": "OrderProduct",
    "invoice": "Invoice", "invoicedetail": "InvoiceProduct",
}
DATAVERSE_SETS = {
    "account": "accounts", "contact": "contacts", "businessunit": "businessunits",
    "transactioncurrency": "transactioncurrencies", "uom": "uoms", "uomschedule": "uomschedules",
    "pricelevel": "pricelevels", "productpricelevel": "productpricelevels", "product": "products",
    "quote": "quotes", "quotedetail": "quotedetails", "salesorder": "salesorders",
    "salesorderdetail": "salesorderdetails", "invoice": "invoices", "invoicedetail": "invoicedetails",
}

# F&O public collection -> the CDM data entity behind it (cdm/README.md)
FINOPS_ENTITIES = {
    "CustomersV3": "CustCustomerV3Entity",
    "ContactPersonsV2": "smmContactPersonV2Entity",
    "SellableReleasedProducts": "EcoResSellableReleasedProductEntity",
    "ReleasedProductsV2": "EcoResReleasedProductV2Entity",
    "CDSReleasedDistinctProducts": "EcoResReleasedDistinctProductCDSEntity",
    "CDSSalesQuotationHeaders": "SalesQuotationHeaderCDSEntity",
    "CDSSalesQuotationLines": "SalesQuotationLineCDSEntity",
    "CDSSalesOrderHeaders": "SalesOrderHeaderCDSEntity",
    "CDSSalesOrderLines": "SalesOrderLineCDSEntity",
    "ExternallyMaintainedCustomerSalesInvoiceHeaders": "SalesExternallyMaintainedCustomerSalesInvoiceHeaderEntity",
    "ExternallyMaintainedCustomerSalesInvoiceLines": "SalesExternallyMaintainedCustomerSalesInvoiceLineEntity",
    "LegalEntities": "OMLegalEntity",
    "Currencies": "CurrencyEntity",
    "UnitsOfMeasure": "UnitOfMeasureEntity",
    "CustomerGroups": "CustCustomerGroupEntity",
    "OperationalSites": "InventOperationalSiteEntity",
    "Warehouses": "InventWarehouseEntity",
}

P2C_SOLUTION = "P2C solution msdynce_ProspectToCashIntegration 15.0.0.2 (p2c-spec.md 1.3)"
ENTITY_REFERENCE = "Dataverse table reference, learn.microsoft.com/power-apps/developer/data-platform/reference/entities/{table}"
FO_SYSTEM = "F&O system field of company-specific entities (cdm/README.md)"
FO_LANGUAGES = "F&O LanguageCodes entity, not in CDM (cdm/README.md; protocols.md B)"


def _address(prefix: str, source: str) -> list[Column]:
    """The address columns Dataverse keeps on an account or contact row (CDM models them as CustomerAddress)."""
    lengths = {"line1": 250, "line2": 250, "line3": 250, "city": 80, "stateorprovince": 50, "county": 50,
               "postalcode": 20, "country": 80, "telephone1": 50, "name": 200}
    return [Column(f"{prefix}_{part}", source, "string", n) for part, n in lengths.items()]


def _flags(*names: str) -> list[Column]:
    return [Column(n, P2C_SOLUTION, "boolean") for n in names]


# Columns Microsoft documents outside CDM. (system, entity) -> columns.
EXTENSIONS: dict[tuple[System, str], list[Column]] = {
    ("sales", "account"): _address("address1", ENTITY_REFERENCE.format(table="account")),
    ("sales", "contact"): [
        Column("msdynce_contactnumber", P2C_SOLUTION, "string", 20),
        *_flags("msdynce_isactivecustomer", "msdynce_iscompanyanaccount"),
        *_address("address1", ENTITY_REFERENCE.format(table="contact")),
    ],
    ("sales", "product"): _flags("msdynce_ismaintainedexternally"),
    ("sales", "quote"): _flags("msdynce_hasexternallymaintainedproductsonly", "msdynce_ismaintainedexternally"),
    ("sales", "quotedetail"): [
        *_flags("msdynce_ismaintainedexternally", "msdynce_quotehasexternalmaintainedproductsonly"),
        Column("msdynce_quoterevisionnumber", P2C_SOLUTION, "integer"),
    ],
    ("sales", "salesorder"): [
        *_flags("msdynce_hasexternallymaintainedproductsonly", "msdynce_ismaintainedexternally"),
        Column("msdynce_misctax", P2C_SOLUTION, "currency"),
        Column("msdynce_misctax_base", P2C_SOLUTION, "baseCurrency"),
        Column("msdynce_processingstatus", P2C_SOLUTION, "listLookup"),
    ],
    ("sales", "salesorderdetail"): [
        *_flags("msdynce_ismaintainedexternally", "msdynce_ismisctax",
                "msdynce_orderhasexternalmaintainedproductsonly", "msdynce_orderissubmitted"),
        Column("msdynce_ordernumber", P2C_SOLUTION, "string", 100),
    ],
    ("sales", "invoice"): [
        Column("msdynce_invoicedate", P2C_SOLUTION, "dateTime"),
        *_flags("msdynce_hasexternallymaintainedproductsonly", "msdynce_ismaintainedexternally"),
        Column("msdynce_misctax", P2C_SOLUTION, "currency"),
        Column("msdynce_misctax_base", P2C_SOLUTION, "baseCurrency"),
    ],
    ("sales", "invoicedetail"): [
        Column("msdynce_invoicedate", P2C_SOLUTION, "dateTime"),
        Column("msdynce_invoicenumber", P2C_SOLUTION, "string", 100),
        *_flags("msdynce_ismaintainedexternally", "msdynce_ismisctax"),
    ],
    ("fo", "LanguageCodes"): [Column("LanguageId", FO_LANGUAGES, required=True),
                              Column("Description", FO_LANGUAGES)],
}


def columns(system: System, entity: str) -> dict[str, Column]:
    """Every column Microsoft documents for a Dataverse table (logical name) or F&O entity set."""
    if system == "sales":
        return _dataverse(entity)
    return _finops(entity)


def entity_sets(system: System) -> tuple[str, ...]:
    """The entity sets this module knows, as the service names them in URLs."""
    if system == "sales":
        return tuple(DATAVERSE_SETS.values())
    return (*FINOPS_ENTITIES, "LanguageCodes")


def table_of(entity_set: str) -> str:
    """Dataverse entity set -> table logical name (`accounts` -> `account`)."""
    return {s: t for t, s in DATAVERSE_SETS.items()}[entity_set]


@cache
def _dataverse(table: str) -> dict[str, Column]:
    if table not in DATAVERSE_TABLES:
        raise KeyError(f"Dataverse table {table!r} is not in the Prospect-to-cash schema")
    name = DATAVERSE_TABLES[table]
    found: dict[str, Column] = {}
    groups, standard = _well_known()
    for path in sorted((CDM_DIR / "dataverse").glob("*.cdm.json")):
        for definition in _load(path)["definitions"]:
            if definition.get("entityName") != name:
                continue
            if definition.get("extendsEntity") == "CdsStandard":
                found.update(standard)
            for member in _group_references(definition):
                found.update(groups.get(member, {}))
            found.update(_dataverse_attributes(definition, f"CDM {path.name}"))
    for column in EXTENSIONS.get(("sales", table), []):
        found.setdefault(column.name, column)
    return found


def data_management_name(entity_set: str) -> str:
    """The Data management (DMF) name of an F&O entity set: CDM's `displayName` of the entity behind
    it (`CustomersV3` -> `Customers V3`), the name data packages and the package API use.

    KeyError for a set CDM does not describe (`LanguageCodes`).
    """
    if entity_set not in FINOPS_ENTITIES:
        raise KeyError(f"F&O entity set {entity_set!r} has no CDM entity, so no Data management name")
    return _finops_definition(entity_set)[1]["displayName"]


@cache
def _finops(entity_set: str) -> dict[str, Column]:
    if ("fo", entity_set) in EXTENSIONS:
        return {c.name: c for c in EXTENSIONS[("fo", entity_set)]}
    path, definition = _finops_definition(entity_set)
    attributes = definition["hasAttributes"]
    found = {}
    if any(a.get("name") == "Relationship_PrimaryCompanyContextRelationship" for a in attributes):
        found["dataAreaId"] = Column("dataAreaId", FO_SYSTEM, required=True)
    for a in attributes:
        if isinstance(a.get("dataType"), str):  # the rest are relationships, not fields
            found[a["name"]] = Column(a["name"], f"CDM {path.name}", None, None,
                                      required=not a.get("isNullable", False),
                                      description=a.get("description") or a.get("displayName", ""))
    return found


@cache
def _finops_definition(entity_set: str) -> tuple[Path, dict]:
    """The CDM document and entity definition behind an F&O entity set."""
    if entity_set not in FINOPS_ENTITIES:
        raise KeyError(f"F&O entity set {entity_set!r} is not in the Prospect-to-cash schema")
    name = FINOPS_ENTITIES[entity_set]
    for path in sorted((CDM_DIR / "finops").glob("*.cdm.json")):
        for definition in _load(path)["definitions"]:
            if definition.get("entityName") == name:
                return path, definition
    raise KeyError(f"no CDM document for F&O entity {name}")


@cache
def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


@cache
def _well_known() -> tuple[dict[str, dict[str, Column]], dict[str, Column]]:
    """Attribute groups (`customerIdAttribute` ...) and the CdsStandard base entity's columns."""
    path = CDM_DIR / "dataverse" / "wellKnownCDSAttributeGroups.cdm.json"
    groups, standard = {}, {}
    for definition in _load(path)["definitions"]:
        if "attributeGroupName" in definition:
            groups[definition["attributeGroupName"]] = _dataverse_attributes(definition, f"CDM {path.name}")
        elif definition.get("entityName") == "CdsStandard":
            for member in _group_references(definition):
                standard.update(groups.get(member, {}))
            standard.update(_dataverse_attributes(definition, f"CDM {path.name}"))
    return groups, standard


def _group_references(node: object) -> list[str]:
    """Names of attribute groups a definition includes by reference (a bare string among members)."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("members", "hasAttributes") and isinstance(value, list):
                found += [m for m in value if isinstance(m, str)]
            found += _group_references(value)
    elif isinstance(node, list):
        for value in node:
            found += _group_references(value)
    return found


def _dataverse_attributes(node: object, source: str) -> dict[str, Column]:
    """Every attribute with a `sourceName` (the logical name) below `node`."""
    found: dict[str, Column] = {}
    if isinstance(node, dict):
        if "sourceName" in node:
            kind = node.get("dataType")
            kind = kind if isinstance(kind, str) else (kind or {}).get("dataTypeReference")
            found[node["sourceName"]] = Column(node["sourceName"], source, kind, node.get("maximumLength"),
                                               _required_level(node) == "systemrequired",
                                               node.get("description") or node.get("displayName", ""))
        for key, value in node.items():
            if key != "sourceName":
                found.update(_dataverse_attributes(value, source))
    elif isinstance(node, list):
        for value in node:
            found.update(_dataverse_attributes(value, source))
    return found


def _required_level(attribute: dict) -> str | None:
    for trait in attribute.get("appliedTraits", []):
        if isinstance(trait, dict) and trait.get("traitReference") == "is.requiredAtLevel":
            return trait["arguments"][0]["value"]
    return None
