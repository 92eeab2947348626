"""Rows <-> Dataverse JSON: `_x_value` lookups, `@odata.bind` writes, ETags and formatted values."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import unquote

from ..store import VERSION, InvalidValue, ValueTooLong
from . import errors, keys
from .tables import BY_SET, EntityType

FORMATTED = "@OData.Community.Display.V1.FormattedValue"
LOOKUP_NAME = "@Microsoft.Dynamics.CRM.lookuplogicalname"
API_ROOT = "/api/data/v9.2/"


def etag(row: dict) -> str:
    return f'W/"{row[VERSION]}"'


def _format(svc, entity: EntityType, row: dict, attr, value) -> str | None:
    if value is None:
        return None
    if attr.type in ("Picklist", "State", "Status"):
        labels = attr.options or (
            {k: v[0] for k, v in entity.states.items()} if attr.type == "State" else entity.statuses)
        return labels.get(value, str(value))
    if attr.type == "Boolean":
        return "Yes" if value else "No"
    if attr.type == "Money":
        return f"{svc.currency_symbol(row.get('transactioncurrencyid'))}{value:,.2f}"
    if attr.type == "DateTime":
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return f"{moment.month}/{moment.day}/{moment.year} {moment.strftime('%I:%M %p').lstrip('0')}"
    if attr.is_lookup:
        return svc.primary_name(_lookup_set(entity, attr, row), value)
    return None


def _lookup_set(entity: EntityType, attr, row: dict) -> str:
    if attr.type == "Customer":
        return "contacts" if row.get(f"{attr.name}type") == "contact" else "accounts"
    return attr.targets[0]


def to_json(svc, entity: EntityType, row: dict, select: list[str] | None = None,
            annotate: bool = False) -> dict:
    """One row in the Web API's JSON shape (`select` holds property names; primary id always)."""
    out: dict = {"@odata.etag": etag(row)}
    wanted = set(select) | {entity.primary_id} if select else None
    for attr in entity.attrs:
        prop = attr.property_name
        if wanted is not None and prop not in wanted:
            continue
        value = row.get(attr.name)
        if attr.type == "Money" and value is not None:
            value = round(value, 4)
        if annotate:
            formatted = _format(svc, entity, row, attr, value)
            if formatted is not None:
                out[prop + FORMATTED] = formatted
            if attr.is_lookup and value is not None:
                out[prop + LOOKUP_NAME] = BY_SET[_lookup_set(entity, attr, row)].logical
        out[prop] = value
    if wanted is None or "versionnumber" in wanted:
        out["versionnumber"] = row[VERSION]
    return out


def entity_url(svc, entity: EntityType, row_id: str) -> str:
    return f"{svc.ctx.dataverse_url}{API_ROOT}{entity.entity_set}({row_id})"


def resolve_reference(svc, reference: str, content_ids: dict) -> tuple[EntityType, str]:
    """`/accounts(<guid>)`, `accounts(accountnumber='A')`, an absolute URL or `$1` -> (entity, id)."""
    if reference.startswith("$") and reference in content_ids:
        reference = content_ids[reference]
    path = unquote(reference)
    if API_ROOT in path:
        path = path.split(API_ROOT, 1)[1]
    name, predicate, rest = keys.split_segment(path.lstrip("/"))
    entity = svc.entity(name)
    if entity is None or predicate is None or rest:
        raise errors.bad_payload(f"Invalid reference '{reference}' in @odata.bind.")
    key = keys.resolve(entity, predicate)
    row = svc.store.get(entity.logical, key)
    if row is None:
        raise (errors.not_found(entity.logical, key[entity.primary_id]) if entity.primary_id in key
               else errors.not_found_by_key(entity.logical, key))
    return entity, row[entity.primary_id]


def from_json(svc, entity: EntityType, body: dict, content_ids: dict | None = None) -> dict:
    """A request body -> store columns, resolving `@odata.bind` and rejecting unknown properties."""
    if not isinstance(body, dict):
        raise errors.bad_payload(f"Error identified in Payload provided by the user for Entity :"
                                 f"'{entity.entity_set}': the payload must be a JSON object.")
    row: dict = {}
    for name, value in body.items():
        if name.endswith("@odata.bind"):
            nav = name[: -len("@odata.bind")]
            if nav not in entity.navigation:
                raise _undeclared(entity, nav)
            attr, target_set = entity.navigation[nav]
            if value is None:
                row[attr.name] = None
                continue
            target, target_id = resolve_reference(svc, str(value), content_ids or {})
            if target.entity_set != target_set:
                raise errors.bad_payload(f"Error identified in Payload provided by the user for Entity :"
                                         f"'{entity.entity_set}': '{nav}' must reference {target_set}, "
                                         f"not {target.entity_set}.")
            row[attr.name] = target_id
            if attr.type == "Customer":
                row[f"{attr.name}type"] = target.logical
            continue
        if name.startswith("@odata.") or "@" in name:
            continue  # @odata.type, @odata.id and instance annotations
        attr = entity.by_name.get(name)
        if attr is None or attr.is_lookup:
            raise _unknown_property(entity, name)
        if attr.read_only:
            continue
        row[name] = value
    try:
        svc.store.check(entity.logical, row)  # validate only; the store encodes on write
    except ValueTooLong as exc:
        raise errors.too_long(entity.logical, exc.column, exc.max_length) from None
    except InvalidValue as exc:
        raise errors.bad_payload(f"Error identified in Payload provided by the user for Entity :"
                                 f"'{entity.entity_set}': Cannot convert the literal '{body.get(exc.column)}' "
                                 f"to the expected type of attribute '{exc.column}'.") from None
    return row


def _payload_error(entity: EntityType, odata_message: str) -> errors.DataverseError:
    """ODataLib's complaint about a payload, wrapped as Dataverse reports it."""
    return errors.bad_payload(
        f"Error identified in Payload provided by the user for Entity :'{entity.entity_set}', For more "
        f"information on this error please follow this help link https://go.microsoft.com/fwlink/?linkid="
        f"2195293  ---->  InnerException : Microsoft.OData.ODataException: {odata_message}")


def _unknown_property(entity: EntityType, name: str) -> errors.DataverseError:
    return _payload_error(entity, f"The property '{name}' does not exist on type 'Microsoft.Dynamics.CRM."
                                  f"{entity.logical}'. Make sure to only use property names that are defined "
                                  f"by the type or mark the type as open type.")


def _undeclared(entity: EntityType, name: str) -> errors.DataverseError:
    return _payload_error(entity, f"An undeclared property '{name}' which only has property annotations in "
                                  f"the payload but no property value was found in the payload. In OData, only "
                                  f"declared navigation properties and declared named streams can be "
                                  f"represented as properties without values.")
