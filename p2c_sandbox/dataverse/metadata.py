"""Metadata: `$metadata` (CSDL), `EntityDefinitions`, picklist options, `WhoAmI`.

All of it is derived from the catalogue in `tables.py` as the tenant serves it right now
(`Dataverse.entity`: hidden columns and alternate keys are gone here too), so a client that checks
metadata before it writes sees exactly what the service accepts. MetadataIds are stable UUIDs so
clients that cache them keep working across restarts.

`EntityDefinitions` answers like the real service: a definition or a collection of them, with
`$select`, `$filter` (eq/ne with and/or/not) and `$expand` of `Attributes`, `Keys` and
`ManyToOneRelationships` (each with its own `$select`/`$filter`); and the same three as URL
segments. Attributes carry their derived `@odata.type`, lookups their `Targets`, and a customer
lookup's `<name>type` companion (AttributeType `EntityName`) is listed as the real table lists it.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from odata_query import ast, exceptions
from odata_query.grammar import ODataLexer, ODataParser

from . import errors, keys
from .messages import Req, Resp
from .queries import split_top_level
from .tables import BY_SET, Attr, EntityType

_EDM = {"String": "Edm.String", "Memo": "Edm.String", "Money": "Edm.Decimal", "Decimal": "Edm.Decimal",
        "Integer": "Edm.Int32", "Boolean": "Edm.Boolean", "DateTime": "Edm.DateTimeOffset",
        "Picklist": "Edm.Int32", "State": "Edm.Int32", "Status": "Edm.Int32", "Lookup": "Edm.Guid",
        "Customer": "Edm.Guid", "Uniqueidentifier": "Edm.Guid"}
# AttributeType -> the derived metadata type of its attribute definitions
_METADATA_TYPES = {"Lookup": "Lookup", "Customer": "Lookup", "Uniqueidentifier": "UniqueIdentifier"}


def csdl(svc) -> Resp:
    types, sets = [], []
    for e in svc.entities():
        props = [f'<Property Name="{a.property_name}" Type="{_EDM[a.type]}"'
                 + (f' MaxLength="{a.max_length}"' if a.max_length else "") + " />" for a in e.attrs]
        props.append('<Property Name="versionnumber" Type="Edm.Int64" />')
        navs = [f'<NavigationProperty Name="{nav}" Type="mscrm.{BY_SET[t].logical}" />'
                for nav, (_, t) in e.navigation.items()]
        types.append(f'<EntityType Name="{e.logical}"><Key><PropertyRef Name="{e.primary_id}" /></Key>'
                     + "".join(props + navs) + "</EntityType>")
        sets.append(f'<EntitySet Name="{e.entity_set}" EntityType="Microsoft.Dynamics.CRM.{e.logical}" />')
    xml = ('<?xml version="1.0" encoding="utf-8"?><edmx:Edmx Version="4.0" '
           'xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices>'
           '<Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm" xmlns="http://docs.oasis-open.org/odata/ns/edm">'
           + "".join(types) + '<EntityContainer Name="System">' + "".join(sets)
           + "</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>")
    return Resp(200, {"Content-Type": "application/xml", "OData-Version": "4.0"}, xml.encode())


def _definition(svc, e: EntityType) -> dict:
    return {"MetadataId": svc.stable_id(f"entity:{e.logical}"), "LogicalName": e.logical,
            "SchemaName": e.logical.capitalize(), "EntitySetName": e.entity_set,
            "PrimaryIdAttribute": e.primary_id, "PrimaryNameAttribute": e.primary_name,
            "ChangeTrackingEnabled": True, "IsCustomEntity": False}


def _attribute(svc, e: EntityType, name: str, kind: str, max_length: int | None = None,
               writable: bool = True, **extra) -> dict:
    return {"@odata.type": f"#Microsoft.Dynamics.CRM.{_METADATA_TYPES.get(kind, kind)}AttributeMetadata",
            "MetadataId": svc.stable_id(f"attr:{e.logical}.{name}"), "LogicalName": name,
            "SchemaName": name, "AttributeType": kind, "MaxLength": max_length,
            "IsValidForCreate": writable, "IsValidForUpdate": writable, **extra}


def _attributes(svc, e: EntityType) -> list[dict]:
    """Every attribute definition: the catalogue's, a customer lookup's `<name>type` companion,
    and `versionnumber`."""
    out = []
    for a in e.attrs:
        extra = {}
        if a.is_lookup:
            extra["Targets"] = [BY_SET[t].logical for t in a.targets]
        if a.type == "Picklist":
            extra["OptionSet"] = {"Options": [
                {"Value": v, "Label": {"LocalizedLabels": [{"Label": label, "LanguageCode": 1033}],
                                       "UserLocalizedLabel": {"Label": label, "LanguageCode": 1033}}}
                for v, label in a.options.items()]}
        out.append(_attribute(svc, e, a.name, a.type, a.max_length, not a.read_only, **extra))
        if a.type == "Customer":
            out.append(_attribute(svc, e, f"{a.name}type", "EntityName", writable=False, AttributeOf=a.name))
    out.append(_attribute(svc, e, "versionnumber", "BigInt", writable=False))
    return out


def _keys(svc, e: EntityType) -> list[dict]:
    return [{"MetadataId": svc.stable_id(f"key:{e.logical}:{k}"), "LogicalName": "_".join(k),
             "KeyAttributes": list(k), "EntityLogicalName": e.logical, "EntityKeyIndexStatus": "Active"}
            for k in e.alternate_keys]


def _many_to_one(svc, e: EntityType) -> list[dict]:
    """One relationship per navigation property (two for a customer lookup: account and contact)."""
    out = []
    for nav, (attr, target_set) in e.navigation.items():
        target = BY_SET[target_set]
        out.append({"MetadataId": svc.stable_id(f"rel:{e.logical}.{nav}"),
                    "RelationshipType": "OneToManyRelationship", "ReferencedEntity": target.logical,
                    "ReferencedAttribute": target.primary_id, "ReferencingEntity": e.logical,
                    "ReferencingAttribute": attr.name, "ReferencingEntityNavigationPropertyName": nav})
    return out


_PARTS = {"Attributes": _attributes, "Keys": _keys, "ManyToOneRelationships": _many_to_one}


def _matches(node, item: dict) -> bool:
    """Evaluate a parsed `$filter` (eq/ne with and/or/not) against a metadata dict."""
    if isinstance(node, ast.BoolOp):
        left, right = _matches(node.left, item), _matches(node.right, item)
        return (left and right) if isinstance(node.op, ast.And) else (left or right)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return not _matches(node.operand, item)
    if isinstance(node, ast.Compare) and isinstance(node.left, ast.Identifier) and isinstance(
            node.right, (ast.String, ast.Boolean, ast.Integer)) and isinstance(node.comparator, (ast.Eq, ast.NotEq)):
        value = node.right.py_val
        equal = (str(item.get(node.left.name, "")).lower() == value.lower()) if isinstance(value, str) \
            else item.get(node.left.name) == value
        return equal if isinstance(node.comparator, ast.Eq) else not equal
    raise errors.bad_query("The sandbox supports only eq/ne comparisons combined with and/or/not on metadata.")


def _where(items: list[dict], text: str | None) -> list[dict]:
    """The items a `$filter` keeps."""
    if not text:
        return items
    try:
        tree = ODataParser().parse(ODataLexer().tokenize(text))
    except exceptions.ODataException:
        raise errors.bad_query(f"Syntax error in $filter '{text}'.") from None
    return [i for i in items if _matches(tree, i)]


def _select(items: list[dict], text: str | None) -> list[dict]:
    """The properties a `$select` keeps (MetadataId, option sets and annotations always stay)."""
    select = {s.strip() for s in (text or "").split(",") if s.strip()}
    if not select:
        return items
    return [{k: v for k, v in i.items() if k in select or k in ("MetadataId", "OptionSet") or "@" in k}
            for i in items]


def _filtered(items: list[dict], options: dict[str, str]) -> list[dict]:
    return _select(_where(items, options.get("$filter")), options.get("$select"))


def _nested_options(text: str) -> dict[str, str]:
    """`$select=a,b;$filter=x eq 'y'` -> {"$select": "a,b", "$filter": "x eq 'y'"}."""
    return dict(o.split("=", 1) for o in text.split(";") if "=" in o)


def _expanded(svc, e: EntityType, text: str) -> dict[str, list[dict]]:
    """The `$expand` of a definition: each part with its own options."""
    out = {}
    for item in split_top_level(text):
        name, _, options = item.partition("(")
        if name.strip() not in _PARTS:
            raise errors.bad_query(f"Could not find a property named '{name.strip()}' on type "
                                   "'Microsoft.Dynamics.CRM.EntityMetadata'.")
        out[name.strip()] = _filtered(_PARTS[name.strip()](svc, e), _nested_options(options.rstrip(")")))
    return out


def _definitions(svc, entities: list[EntityType], req: Req) -> list[dict]:
    """Definitions of `entities` that the request's `$filter` keeps, `$select`ed and `$expand`ed."""
    kept = {b["LogicalName"] for b in _where([_definition(svc, e) for e in entities], req.query.get("$filter"))}
    out = []
    for e in entities:
        if e.logical in kept:
            body = _select([_definition(svc, e)], req.query.get("$select"))[0]
            if req.query.get("$expand"):
                body.update(_expanded(svc, e, req.query["$expand"]))
            out.append(body)
    return out


def entity_definitions(svc, req: Req) -> Resp:
    path = req.path[len("EntityDefinitions"):]
    context = {"@odata.context": svc.api_url("$metadata#EntityDefinitions")}
    if not path:
        return Resp.json(200, {**context, "value": _definitions(svc, svc.entities(), req)})
    _, predicate, rest = keys.split_segment("x" + path)
    entity = _entity_for(svc, predicate or "")
    if not rest:
        context = {"@odata.context": svc.api_url("$metadata#EntityDefinitions/$entity")}
        return Resp.json(200, {**context, **_definitions(svc, [entity], req)[0]})
    if rest == "Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata":
        items = [a for a in _attributes(svc, entity) if a["AttributeType"] == "Picklist"]
    elif rest in _PARTS:
        items = _PARTS[rest](svc, entity)
    else:
        raise errors.bad_query(f"Resource not found for the segment '{rest}'.", status=404)
    return Resp.json(200, {"value": _filtered(items, req.query)})


def _entity_for(svc, predicate: str) -> EntityType:
    parsed = keys.parse_predicate(predicate)
    for e in svc.entities():
        if (isinstance(parsed, str) and parsed == svc.stable_id(f"entity:{e.logical}")) or (
                isinstance(parsed, dict) and str(parsed.get("LogicalName", "")).lower() == e.logical):
            return e
    if isinstance(parsed, dict) and "LogicalName" in parsed:
        raise errors.DataverseError(404, "0x80041102", f"The entity with a name = '{parsed['LogicalName']}' "
                                                       "with namemapping = 'Logical' was not found in the "
                                                       "MetadataCache.")
    raise errors.DataverseError(404, "0x80040217", f"Could not find entity with key {escape(predicate)}.")


def who_am_i(svc) -> Resp:
    units = svc.store.select("businessunit", order_by=[("createdon", False)], limit=1)
    return Resp.json(200, {
        "@odata.context": svc.api_url("$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse"),
        "BusinessUnitId": units[0]["businessunitid"] if units else svc.stable_id("businessunit:root"),
        "UserId": svc.stable_id(f"user:{svc.ctx.issuer.client_id}"),
        "OrganizationId": svc.stable_id("organization")})
