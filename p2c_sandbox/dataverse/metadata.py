"""Metadata: `$metadata` (CSDL), `EntityDefinitions` lookups, picklist options, `WhoAmI`.

All of it is derived from the catalogue in `tables.py`; MetadataIds are stable UUIDs so clients
that cache them keep working across restarts.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from odata_query import ast, exceptions
from odata_query.grammar import ODataLexer, ODataParser

from . import errors, keys
from .messages import Req, Resp
from .tables import ENTITIES, EntityType

_EDM = {"String": "Edm.String", "Memo": "Edm.String", "Money": "Edm.Decimal", "Decimal": "Edm.Decimal",
        "Integer": "Edm.Int32", "Boolean": "Edm.Boolean", "DateTime": "Edm.DateTimeOffset",
        "Picklist": "Edm.Int32", "State": "Edm.Int32", "Status": "Edm.Int32", "Lookup": "Edm.Guid",
        "Customer": "Edm.Guid", "Uniqueidentifier": "Edm.Guid"}

def csdl(svc) -> Resp:
    types, sets = [], []
    for e in ENTITIES:
        props = [f'<Property Name="{a.property_name}" Type="{_EDM[a.type]}"'
                 + (f' MaxLength="{a.max_length}"' if a.max_length else "") + " />" for a in e.attrs]
        props.append('<Property Name="versionnumber" Type="Edm.Int64" />')
        navs = [f'<NavigationProperty Name="{nav}" Type="mscrm.{target_logical(t)}" />'
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

def target_logical(entity_set: str) -> str:
    return next(e.logical for e in ENTITIES if e.entity_set == entity_set)

def _definition(svc, e: EntityType) -> dict:
    return {"MetadataId": svc.stable_id(f"entity:{e.logical}"), "LogicalName": e.logical,
            "SchemaName": e.logical.capitalize(), "EntitySetName": e.entity_set,
            "PrimaryIdAttribute": e.primary_id, "PrimaryNameAttribute": e.primary_name,
            "ChangeTrackingEnabled": True, "IsCustomEntity": False}

def _attribute(svc, e: EntityType, a) -> dict:
    body = {"MetadataId": svc.stable_id(f"attr:{e.logical}.{a.name}"), "LogicalName": a.name,
            "SchemaName": a.name, "AttributeType": a.type, "MaxLength": a.max_length,
            "IsValidForCreate": not a.read_only, "IsValidForUpdate": not a.read_only}
    if a.type == "Picklist":
        body["OptionSet"] = {"Options": [
            {"Value": v, "Label": {"LocalizedLabels": [{"Label": label, "LanguageCode": 1033}],
                                   "UserLocalizedLabel": {"Label": label, "LanguageCode": 1033}}}
            for v, label in a.options.items()]}
    return body

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

def _filtered(items: list[dict], req: Req) -> list[dict]:
    text = req.query.get("$filter")
    if text:
        try:
            tree = ODataParser().parse(ODataLexer().tokenize(text))
        except exceptions.ODataException:
            raise errors.bad_query(f"Syntax error in $filter '{text}'.") from None
        items = [i for i in items if _matches(tree, i)]
    select = [s.strip() for s in req.query.get("$select", "").split(",") if s.strip()]
    if select:
        items = [{k: v for k, v in i.items() if k in select or k in ("MetadataId", "OptionSet")} for i in items]
    return items

def entity_definitions(svc, req: Req) -> Resp:
    path = req.path[len("EntityDefinitions"):]
    context = {"@odata.context": svc.api_url("$metadata#EntityDefinitions")}
    if not path:
        return Resp.json(200, {**context, "value": _filtered([_definition(svc, e) for e in ENTITIES], req)})
    _, predicate, rest = keys.split_segment("x" + path)
    entity = _entity_for(svc, predicate or "")
    if not rest:
        return Resp.json(200, {**context, **_filtered([_definition(svc, entity)], req)[0]})
    attrs = entity.attrs
    if rest == "Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata":
        attrs = tuple(a for a in attrs if a.type == "Picklist")
    elif rest == "Keys":
        return Resp.json(200, {"value": [{"LogicalName": "_".join(k), "KeyAttributes": list(k),
                                          "MetadataId": svc.stable_id(f"key:{entity.logical}:{k}")}
                                         for k in entity.alternate_keys]})
    elif rest != "Attributes":
        raise errors.bad_query(f"Resource not found for the segment '{rest}'.", status=404)
    return Resp.json(200, {"value": _filtered([_attribute(svc, entity, a) for a in attrs], req)})

def _entity_for(svc, predicate: str) -> EntityType:
    parsed = keys.parse_predicate(predicate)
    for e in ENTITIES:
        if (isinstance(parsed, str) and parsed == svc.stable_id(f"entity:{e.logical}")) or (
                isinstance(parsed, dict) and str(parsed.get("LogicalName", "")).lower() == e.logical):
            return e
    raise errors.DataverseError(404, "0x80040217", f"Could not find entity with key {escape(predicate)}.")

def who_am_i(svc) -> Resp:
    units = svc.store.select("businessunit", order_by=[("createdon", False)], limit=1)
    return Resp.json(200, {
        "@odata.context": svc.api_url("$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse"),
        "BusinessUnitId": units[0]["businessunitid"] if units else svc.stable_id("businessunit:root"),
        "UserId": svc.stable_id(f"user:{svc.ctx.issuer.client_id}"),
        "OrganizationId": svc.stable_id("organization")})
