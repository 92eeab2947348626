"""Reads: collections with $select/$filter/$orderby/$top/$count/$expand and paging, single rows, $count.

Paging follows the real service: `Prefer: odata.maxpagesize` (at most 5000), an absolute
`@odata.nextLink` whose `$skiptoken` is a URL-encoded XML paging cookie, `Preference-Applied`.
Clients treat the cookie as opaque, as they must. In the default order (by the primary id) it carries
the first and last id of the page, as the real one does (`<cookie page="1"><accountid last="{...}"
first="{...}" /></cookie>`, URL-encoded inside `pagingcookie`), and the next page starts after that
id: reading a million rows costs what their pages cost, where an offset made every page skip all the
rows before it (150 s of the sandbox's CPU for a million contacts). A read with `$orderby` carries the
offset of its next page.

`$filter` takes Dataverse's `In` query function
(`Microsoft.Dynamics.CRM.In(PropertyName='accountnumber',PropertyValues=['A-1','A-2'])`, protocols.md
A4; the values are a `Collection(Edm.String)`: https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/in),
rewritten into the `in` operator the shared parser knows. Like the real service it takes at most
2,000 values: "the In value is limited to 2000 values" (Microsoft's answer in
https://github.com/MicrosoftDocs/powerapps-docs/issues/1798; the error text here is the sandbox's own).
Parameter aliases (`PropertyValues=@p2`) are not supported.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote, unquote, urlencode

from ..odata import ODataError, UnknownProperty, filter_to_sql, parse_orderby, parse_select
from ..store import VERSION
from . import errors
from .messages import Resp
from .records import to_json
from .tables import EntityType

MAX_PAGE = 5000
MAX_IN_VALUES = 2000
_STRING = r"'(?:[^']|'')*'|\"(?:[^\"\\]|\\.)*\""
_IN = re.compile(r"Microsoft\.Dynamics\.CRM\.In\(\s*PropertyName\s*=\s*'(\w+)'\s*,\s*PropertyValues\s*=\s*"
                 rf"\[((?:\s*(?:{_STRING})\s*,?)*)\]\s*\)")
_COOKIE = re.compile(r'pagenumber="(\d+)".*?pagingcookie="([^"]*)"', re.S)
_AFTER = re.compile(r'<cookie page="\d+"><(\w+) last="\{([^}]*)\}" first="\{[^}]*\}" /></cookie>')

# one-to-many relationships usable in $expand: name -> (child entity set, lookup column on the child)
ONE_TO_MANY = {"quote_details": ("quotedetails", "quoteid"), "order_details": ("salesorderdetails", "salesorderid"),
               "invoice_details": ("invoicedetails", "invoiceid")}


def _query_error(entity: EntityType, exc: ODataError) -> errors.DataverseError:
    if isinstance(exc, UnknownProperty):
        return errors.bad_query(f"Could not find a property named '{exc.name}' on type "
                                f"'Microsoft.Dynamics.CRM.{entity.logical}'.")
    return errors.bad_query(exc.message)


def select_of(entity: EntityType, req) -> list[str] | None:
    text = req.query.get("$select")
    if not text:
        return None
    try:
        return parse_select(text, entity.properties)
    except ODataError as exc:
        raise _query_error(entity, exc) from None


def _odata_string(value: str) -> str:
    """A value of a `PropertyValues` list as an OData string literal (the docs show both quotes)."""
    if value.startswith("'"):
        return value
    return "'" + json.loads(value).replace("'", "''") + "'"


def _in_functions(text: str) -> str:
    """`$filter` text with every `Microsoft.Dynamics.CRM.In(...)` as `name in (...)` (`eq` for one value,
    which odata-query's `in` does not parse)."""
    def rewrite(match: re.Match) -> str:
        values = [_odata_string(v) for v in re.findall(_STRING, match.group(2))]
        if not values or len(values) > MAX_IN_VALUES:
            raise ODataError(f"The In function takes from 1 to {MAX_IN_VALUES} values in PropertyValues, "
                             f"got {len(values)}.")
        name = match.group(1)
        return f"{name} eq {values[0]}" if len(values) == 1 else f"({name} in ({','.join(values)}))"
    return _IN.sub(rewrite, text)


def where_of(entity: EntityType, req) -> tuple[str | None, list]:
    text = req.query.get("$filter")
    if not text:
        return None, []
    try:
        return filter_to_sql(text, entity.properties, _in_functions)
    except ODataError as exc:
        raise _query_error(entity, exc) from None


def _order_of(entity: EntityType, req) -> list[tuple[str, bool]]:
    text = req.query.get("$orderby")
    try:
        order = parse_orderby(text, entity.properties) if text else []
    except ODataError as exc:
        raise _query_error(entity, exc) from None
    return order + [(entity.primary_id, False)]  # a stable order makes paging safe


def split_top_level(text: str) -> list[str]:
    items, depth, current = [], 0, ""
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            items.append(current.strip())
            current = ""
        else:
            current += ch
    return [i for i in [*items, current.strip()] if i]


def _expand(svc, entity: EntityType, rows: list[dict], out: list[dict], text: str, annotate: bool) -> None:
    for item in split_top_level(text):
        name, _, options = item.partition("(")
        nested = dict(o.split("=", 1) for o in options.rstrip(")").split(";") if "=" in o)
        if name in entity.navigation:
            attr, target_set = entity.navigation[name]
            target = svc.entity(target_set)
            select = parse_select(nested["$select"], target.properties) if "$select" in nested else None
            for row, body in zip(rows, out):
                child = None
                if row.get(attr.name) and (attr.type != "Customer" or row.get(f"{attr.name}type") == target.logical):
                    child = svc.store.get(target.logical, {target.primary_id: row[attr.name]})
                body[name] = to_json(svc, target, child, select, annotate) if child else None
        elif name in ONE_TO_MANY:
            child_set, column = ONE_TO_MANY[name]
            target = svc.entity(child_set)
            select = parse_select(nested["$select"], target.properties) if "$select" in nested else None
            for row, body in zip(rows, out):
                children = svc.store.select(target.logical, where=f'"{column}" = ?', params=[row[entity.primary_id]],
                                            order_by=[("sequencenumber", False), (target.primary_id, False)])
                body[name] = [to_json(svc, target, c, select, annotate) for c in children]
        else:
            raise errors.bad_query(f"Could not find a property named '{name}' on type "
                                   f"'Microsoft.Dynamics.CRM.{entity.logical}'.")


def annotations_wanted(req) -> bool:
    wanted = req.prefer.get("odata.include-annotations", "")
    return wanted == "*" or "FormattedValue" in wanted or wanted.startswith("OData.Community.Display.V1.*")


def render(svc, entity: EntityType, rows: list[dict], req, select=None) -> list[dict]:
    annotate = annotations_wanted(req)
    out = [to_json(svc, entity, r, select, annotate) for r in rows]
    if req.query.get("$expand"):
        try:
            _expand(svc, entity, rows, out, req.query["$expand"], annotate)
        except ODataError as exc:
            raise _query_error(entity, exc) from None
    return out


def _context(svc, entity: EntityType, select) -> str:
    return svc.api_url(f"$metadata#{entity.entity_set}" + (f"({','.join(select)})" if select else ""))


def page_size(req) -> int | None:
    raw = req.prefer.get("odata.maxpagesize")
    if raw is None:
        return None
    try:
        return max(1, min(int(raw), MAX_PAGE))
    except ValueError:
        raise errors.bad_query(f"The value '{raw}' of odata.maxpagesize is not a valid integer.") from None


def collection(svc, entity: EntityType, req):
    if "$skip" in req.query:
        raise errors.bad_query("Skip Clause is not supported in CRM")
    select = select_of(entity, req)
    where, params = where_of(entity, req)
    order = _order_of(entity, req)
    size = page_size(req)
    by_id = order == [(entity.primary_id, False)]  # the default order: the next page starts after an id
    offset, after, page_number = 0, None, 1
    if "$skiptoken" in req.query:
        page_number, offset, after = _position(req.query["$skiptoken"], entity.primary_id if by_id else None)
    page_where, page_params = where, params
    if after is not None:
        page_where = f'({where}) AND "{entity.primary_id}" > ?' if where else f'"{entity.primary_id}" > ?'
        page_params = [*params, after]
    top = req.query.get("$top")
    if top is not None and size is None:  # with odata.maxpagesize, $top is ignored (protocols.md A4)
        try:
            limit = max(0, min(int(top), MAX_PAGE))
        except ValueError:
            raise errors.bad_query(f"Invalid value '{top}' for $top query option.") from None
        rows = svc.store.select(entity.logical, where=where, params=params, order_by=order, limit=limit)
        more = False
    else:
        limit = size or MAX_PAGE
        rows = svc.store.select(entity.logical, where=page_where, params=page_params, order_by=order,
                                limit=limit + 1, offset=offset)
        more, rows = len(rows) > limit, rows[:limit]
    body: dict = {"@odata.context": _context(svc, entity, select)}
    if req.query.get("$count", "").lower() == "true":
        body["@odata.count"] = min(svc.store.count(entity.logical, where, params), MAX_PAGE)
    body["value"] = render(svc, entity, rows, req, select)
    headers = {}
    if size is not None:
        headers["Preference-Applied"] = f"odata.maxpagesize={size}"
    if more:
        position = (f'<cookie page="{page_number}"><{entity.primary_id} last="{{{rows[-1][entity.primary_id]}}}" '
                    f'first="{{{rows[0][entity.primary_id]}}}" /></cookie>' if by_id else str(offset + len(rows)))
        cookie = f'<cookie pagenumber="{page_number + 1}" pagingcookie="{quote(position, safe="")}" istracking="False" />'
        query = {k: v for k, v in req.query.items() if k != "$skiptoken"}
        body["@odata.nextLink"] = svc.api_url(entity.entity_set) + "?" + urlencode(
            {**query, "$skiptoken": cookie}, quote_via=quote, safe="$")
    return Resp.json(200, body, headers)


def _position(skiptoken: str, primary_id: str | None) -> tuple[int, int, str | None]:
    """Page number, offset and the id the page starts after, from a paging cookie: an id cookie for a read
    in the default order (`primary_id`), an offset for one with `$orderby`."""
    match = _COOKIE.search(skiptoken)
    position = unquote(match.group(2)) if match else ""
    after = _AFTER.fullmatch(position)
    if primary_id is not None and after and after.group(1) == primary_id:
        return int(match.group(1)), 0, after.group(2)
    if primary_id is None and position.isdigit():
        return int(match.group(1)), int(position), None
    raise errors.bad_query("The $skiptoken is not a valid paging cookie.")


def fetch(svc, entity: EntityType, key: dict) -> dict:
    row = svc.store.get(entity.logical, key)
    if row is None:
        raise (errors.not_found(entity.logical, key[entity.primary_id]) if entity.primary_id in key
               else errors.not_found_by_key(entity.logical, key))
    return row


def single(svc, entity: EntityType, key: dict, req):
    row = fetch(svc, entity, key)
    select = select_of(entity, req)
    conditional = req.headers.get("if-none-match", "")
    if conditional == f'W/"{row[VERSION]}"' and not req.query.get("$expand") and "odata.include-annotations" not in req.prefer:
        return Resp(304)
    body = {"@odata.context": _context(svc, entity, select) + "/$entity",
            **render(svc, entity, [row], req, select)[0]}
    return Resp.json(200, body, {"ETag": body["@odata.etag"]})


def count(svc, entity: EntityType, req):
    where, params = where_of(entity, req)
    total = svc.store.count(entity.logical, where, params)
    return Resp(200, {"Content-Type": "text/plain", "OData-Version": "4.0"}, str(min(total, MAX_PAGE)).encode())

