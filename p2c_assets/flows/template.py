"""The shape of a Prospect-to-cash flow template, as data.

A template says, in the words of Data Integrator, where rows come from (source entity, filter,
lookups), where they go (target entity, natural key), and how each target field is filled: a direct
field map, a value map (with the blank-source row), a default, or a bind to a related record. Flow
modules (`accounts.py`, `quotes.py` ...) are instances of these classes and nothing else, so a reader
who wants to change how accounts become customers opens one file and reads data, not code.

The engine interprets templates; Dagster never sees them except through the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal

import pandas as pd

System = Literal["sales", "fo"]
# the field that names a row's legal entity: F&O company-specific entities carry dataAreaId; Dataverse
# rows belong to business units instead
COMPANY_COLUMN: dict[str, str | None] = {"fo": "dataAreaId", "sales": None}


@dataclass(frozen=True)
class Lookup:
    """Turns a source GUID lookup column into a readable natural value.

    Dataverse returns `_customerid_value` as a GUID; F&O wants the customer account number. The
    engine reads `entity_set` once per run (`key` and `value` columns only) and maps. Several entity
    sets are tried in order for polymorphic lookups (customer = account or contact).
    """

    column: str
    into: str
    targets: tuple[tuple[str, str, str], ...]  # (entity_set, key column, value column)


@dataclass(frozen=True)
class ValueMap:
    """Source value -> target value, with `""` as the row used when the source is blank.

    Values missing from the map pass through unchanged (so the target's validation names them).
    """

    source: str
    values: dict[str, Any]

    def apply(self, series: pd.Series) -> pd.Series:
        def one(value: Any) -> Any:
            text = "" if blank(value) else str(value)
            return self.values.get(text, value if text else None)

        return series.map(one)


@dataclass(frozen=True)
class Bind:
    """A Dataverse lookup on the target, written as `<nav>@odata.bind`.

    `by` is the column of `entity_set` that matches the mapped value: an alternate key
    (`accountnumber`) binds as `/accounts(accountnumber='…')`; any other column (`uoms.name`) is
    resolved to a GUID from a reference read. Rows whose value matches nothing are rejected with the
    field and value named, instead of failing on the server one by one.
    """

    entity_set: str
    by: str
    nav: str | None = None  # navigation property; defaults to the field name
    alternate_key: bool = True
    choices: tuple[tuple[str, str, str], ...] = ()  # polymorphic: (nav, entity_set, by) tried in order


@dataclass(frozen=True)
class HeaderJoin:
    """Keeps only the lines of headers that passed the header's filter, carrying header columns.

    Lines have no business-unit or status of their own: a quote line belongs to F&O company `usmf`
    because its quote does. `on` pairs a line column with a header column.
    """

    on: tuple[tuple[str, str], ...]
    carry: tuple[str, ...] = ()


@dataclass(frozen=True)
class Source:
    system: System
    entity_set: str
    asset: str  # the asset that holds the extracted rows: `<system>/<asset>` (sales/accounts, fo/sales_orders)
    key: tuple[str, ...]
    select: tuple[str, ...]
    filter: str | None = None
    lookups: tuple[Lookup, ...] = ()
    header: HeaderJoin | None = None
    # one row per key across legal entities, the first company of the mapping winning (a product
    # released in usmf and demf is one Sales product)
    first_company_wins: bool = False

    @property
    def company_column(self) -> str | None:
        """The column naming each source row's F&O legal entity (None: the rows name a business unit,
        through a lookup the template maps)."""
        return COMPANY_COLUMN[self.system]


@dataclass(frozen=True)
class Target:
    system: System
    entity_set: str
    asset: str  # the asset that writes it: `<system>/<asset>` (fo/customers, sales/orders)
    key: tuple[str, ...]


@dataclass(frozen=True)
class Reference:
    """A target field naming a record of another entity set of the target system, which must exist
    before the row can land: F&O checks a quotation's customer account against its customers.

    Dataverse targets say this with a `Bind` (which also writes the lookup); F&O has no binds, so its
    flows name the record here, and the asset graph draws the edge from the asset that writes it.
    """

    entity_set: str
    by: str  # the column of `entity_set` that the field's value matches


@dataclass(frozen=True)
class Parent:
    """Lines name their header flow; a header that did not land blocks its lines."""

    flow: str
    key: tuple[str, ...]  # target columns of the line that form the header's natural key


@dataclass(frozen=True)
class CreatedActive:
    """An organization setting of the target under which it creates records as `after_create` leaves them.

    Sales creates products in Draft, but with `createproductswithoutparentinactivestate` on (upgraded
    orgs; a system setting an admin can turn on) it creates those without a parent family Active, so the
    second write per created record is not needed. A row that writes `unless` (the parent family) is
    created Draft whatever the setting says.
    """

    setting: str  # the organization column (`ServiceClient.organization_setting`)
    unless: str | None = None  # a target field that, written, keeps a new record out of that state


@dataclass(frozen=True)
class FlowTemplate:
    name: str
    title: str
    # the business flow, and asset group, it belongs to: a line template shares its header's, the two
    # contact routes share "contacts"
    group: str
    source: Source
    target: Target
    fields: dict[str, str]
    value_maps: dict[str, ValueMap] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    binds: dict[str, Bind] = field(default_factory=dict)
    references: dict[str, Reference] = field(default_factory=dict)
    # row filter on the extracted frame, for rules OData cannot express (pandas query syntax)
    row_filter: str | None = None
    # target field that carries the legal entity, and the source column naming the Sales business unit
    company_field: str | None = None
    business_unit_column: str | None = None
    # flow-specific arithmetic the template cannot express as data (discount rounding ...)
    transform: Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame] | None = None
    # fields written once more after a create (products are created Draft, then activated), unless the
    # target's organization setting creates them so already
    after_create: dict[str, Any] = field(default_factory=dict)
    created_active_when: CreatedActive | None = None
    # the target system is master of a record once it has landed there (p2c-spec 3: an order taken in
    # Sales belongs to F&O after activation): the flow creates it and never writes it again, the
    # target's own changes are not drift, and its leaving the source (the reverse flow brought it back
    # and marked it externally maintained) does not make it an orphan
    handover: bool = False
    parent: Parent | None = None

    @property
    def target_fields(self) -> list[str]:
        names = list(self.fields) + list(self.value_maps) + list(self.defaults)
        if self.company_field:
            names.append(self.company_field)
        return list(dict.fromkeys(names))


def blank(value: Any) -> bool:
    """None, NaN or only spaces: what Data Integrator's blank value-map row and defaults apply to."""
    if value is None:
        return True
    if isinstance(value, float) and pd.isna(value):
        return True
    return isinstance(value, str) and not value.strip()
