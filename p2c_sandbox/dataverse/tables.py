"""The catalogue of Dataverse tables the sandbox serves (docs/architecture.md section 2.1).

Each `EntityType` is data: its attributes with Dataverse types, its keys, its state and status
labels. Everything else (SQLite tables, `$metadata`, `EntityDefinitions`, JSON shapes, validation)
is derived from it, so adding a column is a one-line change here.

Names and lengths come from Microsoft: building the catalogue fails at import when a table, entity
set or column is not in `p2c_assets.schemas.microsoft` (Microsoft's Common Data Model plus the P2C
solution's documented columns), and every text column's maximum length is CDM's `maximumLength`;
the one table outside Prospect to cash, `organization` (the settings row), is named from its table
reference.
Microsoft's required flags are not enforced: Dataverse refuses an API write only for a missing
system-required column (the primary key, which it generates), while "business required" is a
rule of forms.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from pathlib import Path

from p2c_assets.schemas import microsoft

from ..store import VERSION, Column, Store, Table

# Dataverse attribute type -> store column type
_STORE_TYPES = {"String": "string", "Memo": "memo", "Money": "decimal", "Decimal": "decimal",
                "Integer": "integer", "Boolean": "boolean", "DateTime": "datetime", "Picklist": "integer",
                "State": "integer", "Status": "integer", "Lookup": "guid", "Customer": "guid",
                "Uniqueidentifier": "guid"}


@dataclass(frozen=True)
class Attr:
    """One attribute. `targets` are the entity sets a lookup may point to (two for Customer)."""

    name: str
    type: str
    max_length: int | None = None
    targets: tuple[str, ...] = ()
    read_only: bool = False
    options: dict[int, str] = field(default_factory=dict)

    @property
    def is_lookup(self) -> bool:
        return self.type in ("Lookup", "Customer")

    @property
    def property_name(self) -> str:
        """The name in JSON and query options: `_x_value` for lookups."""
        return f"_{self.name}_value" if self.is_lookup else self.name


@dataclass(frozen=True)
class EntityType:
    logical: str
    entity_set: str
    primary_id: str
    primary_name: str
    attrs: tuple[Attr, ...]
    alternate_keys: tuple[tuple[str, ...], ...] = ()
    states: dict[int, tuple[str, int]] = field(default_factory=dict)  # statecode -> (label, statuscode)
    statuses: dict[int, str] = field(default_factory=dict)
    # CreateMultiple / UpdateMultiple / UpsertMultiple declared for the table (not every standard
    # table has them: protocols.md A11); the `bulk_unsupported_tables` fault key turns them off at run time
    bulk_messages: bool = True

    @cached_property
    def by_name(self) -> dict[str, Attr]:
        return {a.name: a for a in self.attrs}

    @cached_property
    def properties(self) -> dict[str, str]:
        """OData property name -> SQL column, for $select/$filter/$orderby."""
        return {**{a.property_name: a.name for a in self.attrs}, "versionnumber": VERSION}

    @cached_property
    def navigation(self) -> dict[str, tuple[Attr, str]]:
        """Single-valued navigation property -> (lookup attribute, target entity set)."""
        nav = {}
        for a in self.attrs:
            if a.type == "Lookup":
                nav[a.name] = (a, a.targets[0])
            elif a.type == "Customer":
                for target in a.targets:
                    nav[f"{a.name}_{target.rstrip('s')}"] = (a, target)
        return nav

    def table(self) -> Table:
        columns = [Column(a.name, _STORE_TYPES[a.type], a.max_length) for a in self.attrs]
        # which table a customer lookup points to, like Dataverse's own `<name>type` column
        columns += [Column(f"{a.name}type", "string", 64) for a in self.attrs if a.type == "Customer"]
        return Table(self.logical, tuple(columns), (self.primary_id,), self.alternate_keys,
                     indexes=tuple((a.name,) for a in self.attrs if a.is_lookup))


def _s(name, **kw):
    return Attr(name, "String", **kw)


def _lk(name, target):
    return Attr(name, "Lookup", targets=(target,))


def _money(*names):
    return tuple(Attr(n, "Money") for n in names)


def _bool(*names):
    return tuple(Attr(n, "Boolean") for n in names)


_CUSTOMER = ("accounts", "contacts")
# `versionnumber` is not stored as a column: it is the store's row version (`_version`)
_COMMON = (Attr("createdon", "DateTime", read_only=True), Attr("modifiedon", "DateTime", read_only=True))


def _address(prefix):
    return tuple(_s(f"{prefix}_{part}") for part in ("line1", "city", "stateorprovince", "postalcode", "country"))


def _state_attrs():
    return (Attr("statecode", "State"), Attr("statuscode", "Status"))


class CatalogueError(ValueError):
    """A declaration that does not match Microsoft's published schema."""


def published_attrs(logical: str, entity_set: str, attrs: tuple[Attr, ...]) -> tuple[Attr, ...]:
    """`attrs` with their maximum lengths from Microsoft's schema, after checking every name."""
    if microsoft.DATAVERSE_SETS.get(logical) != entity_set:
        raise CatalogueError(f"Dataverse table {logical!r} / entity set {entity_set!r} is not in "
                             "Microsoft's schema (p2c_assets.schemas.microsoft)")
    columns = microsoft.columns("sales", logical)
    unknown = [a.name for a in attrs if a.name not in columns]
    if unknown:
        raise CatalogueError(f"Dataverse {logical}: {', '.join(unknown)} not in Microsoft's schema")
    return tuple(replace(a, max_length=columns[a.name].max_length) if a.type in ("String", "Memo") else a
                 for a in attrs)


def _entity(logical, entity_set, name_attr, attrs, alternate=(), states=None, statuses=None, bulk_messages=True):
    primary = Attr(f"{logical}id", "Uniqueidentifier", read_only=False)
    state = _state_attrs() if states else ()
    attrs = published_attrs(logical, entity_set, (primary, *attrs, *state, *_COMMON))
    return EntityType(logical, entity_set, primary.name, name_attr, attrs,
                      tuple(alternate), states or {}, statuses or {}, bulk_messages)


_ACTIVE = {0: ("Active", 1), 1: ("Inactive", 2)}
_ACTIVE_STATUS = {1: "Active", 2: "Inactive"}
PROCESSING_STATUS = {647390000: "Active", 647390001: "Confirmed", 647390002: "Packing Slip",
                     647390003: "Invoiced", 647390004: "Picked", 647390005: "Partially Picked",
                     647390006: "Partially Packed", 647390007: "Shipped", 647390008: "Partially Shipped",
                     647390009: "Partially Invoiced", 647390010: "Cancelled", 647390011: "Draft"}


def _line(logical, entity_set, header, header_set, extra=(), alternate=()):
    return _entity(logical, entity_set, "productdescription", (
        _lk(header, header_set), _lk("productid", "products"), _lk("uomid", "uoms"),
        _lk("transactioncurrencyid", "transactioncurrencies"), Attr("quantity", "Decimal"),
        *_money("priceperunit", "baseamount", "extendedamount", "manualdiscountamount", "tax"),
        *_bool("ispriceoverridden", "isproductoverridden", "msdynce_ismaintainedexternally"),
        _s("productdescription"), Attr("sequencenumber", "Integer"), Attr("lineitemnumber", "Integer"),
        *extra), alternate)


# The environment's settings, one row (`organization.py`). Not a Prospect-to-cash table, so not in
# `p2c_assets.schemas.microsoft`: its names are the Dataverse table reference's
# (learn.microsoft.com/power-apps/developer/data-platform/reference/entities/organization: entity set
# `organizations`, `name` of 160 characters, `createproductswithoutparentinactivestate` a Boolean,
# "Enable Initial state of newly created products to be Active instead of Draft"). Its messages are
# Retrieve, RetrieveMultiple and Update: no CreateMultiple.
ORGANIZATION = EntityType("organization", "organizations", "organizationid", "name", (
    Attr("organizationid", "Uniqueidentifier"), Attr("name", "String", max_length=160),
    *_bool("createproductswithoutparentinactivestate"), *_COMMON), bulk_messages=False)

ENTITIES: tuple[EntityType, ...] = (
    _entity("businessunit", "businessunits", "name", (_s("name"),), [("name",)]),
    _entity("transactioncurrency", "transactioncurrencies", "currencyname", (
        _s("isocurrencycode"), _s("currencyname"), _s("currencysymbol"),
        Attr("exchangerate", "Decimal")), [("isocurrencycode",)]),
    _entity("uomschedule", "uomschedules", "name", (_s("name"), _s("baseuomname")), [("name",)]),
    _entity("uom", "uoms", "name", (_s("name"), Attr("quantity", "Decimal"),
                                    _lk("uomscheduleid", "uomschedules"), _lk("baseuom", "uoms"))),
    _entity("pricelevel", "pricelevels", "name", (
        _s("name"), _lk("transactioncurrencyid", "transactioncurrencies"),
        Attr("begindate", "DateTime"), Attr("enddate", "DateTime")), [("name",)],
        {0: ("Active", 100001), 1: ("Inactive", 100002)}, {100001: "Active", 100002: "Inactive"}),
    _entity("productpricelevel", "productpricelevels", "productid", (
        _lk("pricelevelid", "pricelevels"), _lk("productid", "products"), _lk("uomid", "uoms"),
        _lk("uomscheduleid", "uomschedules"), *_money("amount"),
        Attr("pricingmethodcode", "Picklist", options={1: "Currency Amount", 2: "Percent of List"}),
        _lk("transactioncurrencyid", "transactioncurrencies"))),
    _entity("account", "accounts", "name", (
        _s("name"), _s("accountnumber"), _s("telephone1"), _s("emailaddress1"),
        _s("websiteurl"), *_address("address1"), *_money("creditlimit"), Attr("description", "Memo"),
        Attr("customertypecode", "Picklist", options={1: "Competitor", 2: "Consultant", 3: "Customer",
                                                      4: "Investor", 5: "Partner", 11: "Prospect"}),
        _lk("transactioncurrencyid", "transactioncurrencies"), _lk("primarycontactid", "contacts"),
        _lk("owningbusinessunit", "businessunits")), [("accountnumber",)], _ACTIVE, _ACTIVE_STATUS),
    _entity("contact", "contacts", "fullname", (
        _s("firstname"), _s("lastname"), _s("fullname", read_only=True),
        _s("msdynce_contactnumber"), _s("emailaddress1"), _s("telephone1"), _s("jobtitle"),
        *_address("address1"), Attr("parentcustomerid", "Customer", targets=_CUSTOMER),
        *_bool("msdynce_isactivecustomer", "msdynce_iscompanyanaccount"),
        _lk("transactioncurrencyid", "transactioncurrencies"), _lk("owningbusinessunit", "businessunits")),
        [("msdynce_contactnumber",)], _ACTIVE, _ACTIVE_STATUS),
    _entity("product", "products", "name", (
        _s("name"), _s("productnumber"), Attr("description", "Memo"),
        Attr("producttypecode", "Picklist", options={1: "Sales Inventory", 2: "Miscellaneous Charges",
                                                     3: "Services", 4: "Flat Fees"}),
        Attr("productstructure", "Picklist", options={1: "Product", 2: "Product Family", 3: "Product Bundle"}),
        *_money("price", "currentcost"), Attr("quantitydecimal", "Integer"), _lk("defaultuomid", "uoms"),
        _lk("defaultuomscheduleid", "uomschedules"), _lk("pricelevelid", "pricelevels"),
        _lk("transactioncurrencyid", "transactioncurrencies"), _lk("parentproductid", "products"),
        *_bool("msdynce_ismaintainedexternally")),
        [("productnumber",)],
        {0: ("Active", 1), 1: ("Retired", 2), 2: ("Draft", 0), 3: ("Under Revision", 3)},
        {0: "Draft", 1: "Active", 2: "Retired", 3: "Under Revision"}),
    _entity("quote", "quotes", "name", (
        _s("name"), _s("quotenumber"), Attr("revisionnumber", "Integer"),
        Attr("customerid", "Customer", targets=_CUSTOMER), _lk("pricelevelid", "pricelevels"),
        _lk("transactioncurrencyid", "transactioncurrencies"), _lk("owningbusinessunit", "businessunits"),
        *_money("totalamount", "totallineitemamount", "totaltax", "discountamount", "freightamount"),
        Attr("requestdeliveryby", "DateTime"), *_address("shipto"), *_address("billto"),
        *_bool("msdynce_hasexternallymaintainedproductsonly", "msdynce_ismaintainedexternally")),
        [("quotenumber",)], {0: ("Draft", 1), 1: ("Active", 2), 2: ("Won", 4), 3: ("Closed", 7)},
        {1: "In Progress", 2: "In Progress", 3: "Open", 4: "Won", 5: "Lost", 6: "Canceled", 7: "Revised",
         647390000: "Submitted"}),
    _line("quotedetail", "quotedetails", "quoteid", "quotes", (
        Attr("requestdeliveryby", "DateTime"),
        *_bool("msdynce_quotehasexternalmaintainedproductsonly"), Attr("msdynce_quoterevisionnumber", "Integer"))),
    _entity("salesorder", "salesorders", "name", (
        _s("name"), _s("ordernumber"), Attr("customerid", "Customer", targets=_CUSTOMER),
        _lk("pricelevelid", "pricelevels"), _lk("transactioncurrencyid", "transactioncurrencies"),
        _lk("quoteid", "quotes"), _lk("owningbusinessunit", "businessunits"),
        *_money("totalamount", "totallineitemamount", "totaltax", "discountamount", "freightamount",
                "msdynce_misctax"),
        Attr("msdynce_processingstatus", "Picklist", options=PROCESSING_STATUS),
        *_bool("msdynce_ismaintainedexternally", "msdynce_hasexternallymaintainedproductsonly", "ispricelocked"),
        Attr("requestdeliveryby", "DateTime"), Attr("datefulfilled", "DateTime"),
        *_address("shipto"), *_address("billto")), [("ordernumber",)],
        {0: ("Active", 1), 1: ("Submitted", 3), 2: ("Canceled", 4), 3: ("Fulfilled", 100001),
         4: ("Invoiced", 100003)},
        {1: "New", 2: "Pending", 3: "In Progress", 4: "No Money", 100001: "Complete", 100002: "Partial",
         100003: "Invoiced"}),
    _line("salesorderdetail", "salesorderdetails", "salesorderid", "salesorders", (
        Attr("requestdeliveryby", "DateTime"), _s("msdynce_ordernumber"), *_bool("msdynce_ismisctax")),
        # the integration keys a Data Integrator admin adds on the line tables (DIPV1003)
        [("msdynce_ordernumber", "sequencenumber")]),
    _entity("invoice", "invoices", "name", (
        _s("name"), _s("invoicenumber"), Attr("customerid", "Customer", targets=_CUSTOMER),
        _lk("salesorderid", "salesorders"), _lk("pricelevelid", "pricelevels"),
        _lk("transactioncurrencyid", "transactioncurrencies"), _lk("owningbusinessunit", "businessunits"),
        *_money("totalamount", "totallineitemamount", "totaltax", "discountamount", "freightamount",
                "msdynce_misctax"),
        Attr("msdynce_invoicedate", "DateTime"), *_bool("msdynce_ismaintainedexternally", "ispricelocked"),
        Attr("duedate", "DateTime"), *_address("billto")), [("invoicenumber",)],
        {0: ("Active", 1), 2: ("Paid", 100001), 3: ("Canceled", 100003)},
        {1: "New", 2: "Partially Shipped", 4: "Billed", 100001: "Complete", 100002: "Partial",
         100003: "Canceled"}),
    _line("invoicedetail", "invoicedetails", "invoiceid", "invoices", (
        _lk("salesorderdetailid", "salesorderdetails"), _s("msdynce_invoicenumber"),
        Attr("msdynce_invoicedate", "DateTime"), *_bool("msdynce_ismisctax")),
        [("msdynce_invoicenumber", "sequencenumber")]),
    ORGANIZATION,
)

BY_SET = {e.entity_set: e for e in ENTITIES}
BY_LOGICAL = {e.logical: e for e in ENTITIES}


@lru_cache(maxsize=64)
def visible(entity_set: str, hidden_columns: frozenset[str] = frozenset(),
            hidden_keys: frozenset[frozenset[str]] = frozenset()) -> EntityType:
    """A table as a tenant without some of its columns or alternate keys serves it (a solution
    layer not installed, a key never added): they are gone from metadata, queries and writes.
    The primary key stays, and an alternate key goes with any of its columns."""
    entity = BY_SET[entity_set]
    if not hidden_columns and not hidden_keys:
        return entity
    return replace(entity, attrs=tuple(a for a in entity.attrs
                                       if a.name not in hidden_columns or a.name == entity.primary_id),
                   alternate_keys=tuple(k for k in entity.alternate_keys
                                        if frozenset(k) not in hidden_keys and not hidden_columns & set(k)))


def open_store(path: Path | str) -> Store:
    """The Dataverse database at `path` with every catalogue table created.

    The service and `p2c-sandbox seed` both open the database through this, so the seed writes
    exactly the tables and columns the service reads (one catalogue, no second copy).
    """
    return Store(path, [e.table() for e in ENTITIES])
