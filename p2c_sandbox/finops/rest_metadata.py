"""The F&O metadata service `/Metadata/` (protocols.md B1 and C2), derived from the catalogue.

A read-only OData service next to `/data/` that describes it: `DataEntities` (each entity's AOT
name with its public entity and collection names), `PublicEntities` (an entity's properties with
type, key, mandatory and editable flags, and its navigation properties) and `PublicEnumerations`
(enum members and their values). Clients look entities up here before they touch `/data/`
(d365fo-client checks `PublicEntities('<name>')` before every CRUD call and falls back to matching
`PublicCollectionName` in `DataEntities`), so everything is built from the same catalogue objects
as `/data/$metadata` and the two always agree.

Collections answer `$filter` (odata-query's parser through `p2c_sandbox.odata`: comparisons,
`and`/`or`/`not`, `contains`/`startswith`/`tolower` and the `Microsoft.Dynamics.Metadata.X'Member'`
enum literals d365fo-client sends), `$select`, `$orderby`, `$top`, `$skip` and `$count`; single
records are addressed as `PublicEntities('CustomerV3')` or `PublicEntities(Name='CustomerV3')`.
What the catalogue does not declare is null or empty rather than invented: `LabelId` (and there
is no `/Metadata/Labels`), `EntityCategory`, `DataManagementEnabled`, `RelatedRelationName`,
`Actions`, `PropertyGroups`, `PropertyConstraints`.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Mapping
from functools import cache

from ..odata import ODataError, filter_to_sql, parse_orderby
from .entities import ENTITIES, ENUMS, Entity, Field
from .errors import FinOpsError, bad_query, not_found
from .queries import int_option
from .service import Reply

_NAMESPACE = "Microsoft.Dynamics.Metadata"
#: Edm type -> the X++ type the service reports as `DataType` (d365fo-client's ODataXppType)
_XPP_TYPES = {"Edm.String": "String", "Edm.Decimal": "Real", "Edm.Int32": "Int32",
              "Edm.Int64": "Int64", "Edm.DateTimeOffset": "UtcDateTime", "Edm.Date": "Date"}
_RESOURCE = re.compile(r"^(\w+)(?:\((?:Name=)?'((?:[^']|'')*)'\))?$")
_ENUM_LITERAL = re.compile(rf"('(?:[^']|'')*')|{re.escape(_NAMESPACE)}\.\w+('(?:[^']|'')*')")


def _property(entity: Entity, f: Field) -> dict:
    key = f.name in entity.keys
    editable = entity.writable and not f.read_only
    return {"Name": f.name, "TypeName": f.edm_type,
            "DataType": "Enum" if f.is_enum else _XPP_TYPES[f.type], "LabelId": None,
            "IsKey": key, "IsMandatory": f.required, "ConfigurationEnabled": True,
            # keys are set on create only: a PATCH that changes one is refused (writes.update)
            "AllowEdit": editable and not key, "AllowEditOnCreate": editable,
            "IsDimension": False, "DimensionRelation": "", "IsDynamicDimension": False,
            "DimensionLegalEntityProperty": "", "DimensionTypeProperty": "",
            "PropertyConstraints": []}


def _navigation(name: str, child_set: str, join: tuple[str, ...]) -> dict:
    return {"Name": name, "RelatedEntity": ENTITIES[child_set].type_name,
            "RelatedRelationName": None, "Cardinality": "Multiple",
            "Constraints": [{"@odata.type": f"#{_NAMESPACE}.ReferentialConstraint",
                             "Property": k, "ReferencedProperty": k} for k in join]}


def _data_entity(entity: Entity) -> dict:
    return {"Name": entity.table_label, "PublicEntityName": entity.type_name,
            "PublicCollectionName": entity.set_name, "LabelId": None,
            "DataServiceEnabled": True, "DataManagementEnabled": None, "EntityCategory": None,
            "IsReadOnly": not entity.writable}


def _public_entity(entity: Entity) -> dict:
    return {"Name": entity.type_name, "EntitySetName": entity.set_name, "LabelId": None,
            "IsReadOnly": not entity.writable, "ConfigurationEnabled": True,
            "Properties": [_property(entity, f) for f in entity.fields],
            "NavigationProperties": [_navigation(name, child, join)
                                     for name, (child, join) in entity.navigation.items()],
            "PropertyGroups": [], "Actions": []}


def _public_enumeration(name: str, members: tuple[str, ...]) -> dict:
    return {"Name": name, "LabelId": None,
            "Members": [{"Name": member, "LabelId": None, "Value": value,
                         "ConfigurationEnabled": True} for value, member in enumerate(members)]}


#: collection -> its records, each addressed by its "Name"
_COLLECTIONS: dict[str, Callable[[], list[dict]]] = {
    "DataEntities": lambda: [_data_entity(e) for e in ENTITIES.values()],
    "PublicEntities": lambda: [_public_entity(e) for e in ENTITIES.values()],
    "PublicEnumerations": lambda: [_public_enumeration(n, m) for n, m in ENUMS.items()],
}


@cache
def _records(collection: str) -> list[dict]:
    """Every record of `collection`, built once from the catalogue (it does not change at run
    time); callers must not modify them."""
    return _COLLECTIONS[collection]()


def handle(method: str, path: str, params: Mapping[str, str], base_url: str) -> Reply:
    """Answer one request for `path` (relative to `/Metadata/`); client errors as F&O errors."""
    try:
        return _dispatch(method, path.strip("/"), params, f"{base_url}/Metadata/$metadata")
    except FinOpsError as exc:
        return Reply.error(exc)


def _dispatch(method: str, path: str, params: Mapping[str, str], context: str) -> Reply:
    if method != "GET":
        raise FinOpsError(405, f"The HTTP method '{method}' is not allowed on '{path}': the "
                               "metadata service is read-only.")
    if path == "":
        return Reply.json(200, {"@odata.context": context, "value": [
            {"name": name, "kind": "EntitySet", "url": name} for name in _COLLECTIONS]})
    match = _RESOURCE.match(path)
    if match is None or match.group(1) not in _COLLECTIONS:
        raise not_found(path.split("(")[0].split("/")[0])
    collection, name = match.group(1), match.group(2)
    select = _select(collection, params)
    if name is not None:
        name = name.replace("''", "'")
        found = next((r for r in _records(collection) if r["Name"] == name), None)
        if found is None:
            raise not_found(path)
        return Reply.json(200, {"@odata.context": f"{context}#{collection}/$entity",
                                **_selected(found, select)})
    rows, total = _query(collection, params)
    page: dict[str, object] = {"@odata.context": f"{context}#{collection}"}
    if total is not None:
        page["@odata.count"] = total
    page["value"] = [_selected(r, select) for r in rows]
    return Reply.json(200, page)


def _select(collection: str, params: Mapping[str, str]) -> list[str] | None:
    if "$select" not in params:
        return None
    names = [n.strip() for n in params["$select"].split(",") if n.strip()]
    known = _records(collection)[0]
    for name in names:
        if name not in known:
            raise bad_query(f"Could not find a property named '{name}' on type "
                            f"'{_NAMESPACE}.{collection}'.")
    return names


def _selected(record: dict, select: list[str] | None) -> dict:
    return dict(record) if select is None else {name: record[name] for name in select}


def _query(collection: str, params: Mapping[str, str]) -> tuple[list[dict], int | None]:
    """The records matching `$filter`, ordered and cut by `$orderby/$skip/$top`, and the
    `$count` of all matches when asked.

    The scalar properties go into an in-memory SQLite table so that the same `$filter`
    translation as the rest of the sandbox runs the query; nested lists (Properties, Members)
    are not filterable.
    """
    rows = _records(collection)
    columns = {name: name for name, value in rows[0].items() if not isinstance(value, list)}
    try:
        where, args = (filter_to_sql(params["$filter"], columns, _plain_enum_literals)
                       if params.get("$filter") else ("1", []))
        order = parse_orderby(params["$orderby"], columns) if params.get("$orderby") else []
    except ODataError as exc:
        raise bad_query(exc.message) from None
    top, skip = int_option(params, "$top"), int_option(params, "$skip") or 0
    names = ", ".join(f'"{c}"' for c in columns)
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute(f'CREATE TABLE t ("#" INTEGER, {names})')
        conn.executemany(f'INSERT INTO t VALUES (?{", ?" * len(columns)})',
                         ([i, *(r[c] for c in columns)] for i, r in enumerate(rows)))
        ordering = ", ".join([*(f'"{c}" {"DESC" if desc else "ASC"}' for c, desc in order), '"#"'])
        positions = conn.execute(f'SELECT "#" FROM t WHERE {where} ORDER BY {ordering} '
                                 "LIMIT ? OFFSET ?", [*args, -1 if top is None else top, skip])
        chosen = [rows[p] for (p,) in positions]
        total = (conn.execute(f"SELECT COUNT(*) FROM t WHERE {where}", args).fetchone()[0]
                 if params.get("$count", "").lower() == "true" else None)
    except sqlite3.Error as exc:
        raise bad_query(f"The query specified in the URI is not valid: {exc}.") from None
    finally:
        conn.close()
    return chosen, total


def _plain_enum_literals(text: str) -> str:
    """`Microsoft.Dynamics.Metadata.EntityCategory'Master'` -> `'Master'` (enum values are kept
    as their member names), leaving string literals untouched."""
    return _ENUM_LITERAL.sub(lambda m: m.group(1) or m.group(2), text)

