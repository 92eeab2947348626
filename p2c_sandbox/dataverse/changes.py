"""Change tracking: `Prefer: odata.track-changes`, `@odata.deltaLink`, deleted-entity entries, paging.

The delta token is `<row version>!<MM/dd/yyyy HH:mm:ss>` (UTC), as the real service issues it.
Tokens older than the retention window (7 days, or the `change_tracking_retention_s` fault key
for tests) are refused with the real "perform a full sync" error.

Results page like the real service: `Prefer: odata.maxpagesize` (default and at most 5000, the
same `page_size` rule as ordinary reads), an absolute `@odata.nextLink` on every page but the last,
and the `@odata.deltaLink` only on the last. New and changed rows come first (by row version), then
the deleted-entity entries of a delta read. A read is pinned to the version current when its first
page was served: pages only hold rows and tombstones up to that version, and the last page's delta
token is that version. A row changed while a client pages has a newer version, so the next delta
read returns it; nothing changed during paging is lost, and paging ends even if writes keep coming.

The `$skiptoken` is a URL-encoded XML cookie (opaque to clients, as the real one is) holding where
the read stands (`rows` or `deleted`, and the last version served) and the token the read is pinned
to (with the time of the first page, so the next token's age counts from the version it stands
for). Unlike the offset cookie of ordinary reads it does not shift when rows change between pages.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from urllib.parse import quote, urlencode

from ..store import VERSION
from . import errors
from .messages import Req, Resp
from .queries import MAX_PAGE, page_size, render, select_of
from .tables import EntityType

DEFAULT_RETENTION_S = 7 * 24 * 3600
_FORMAT = "%m/%d/%Y %H:%M:%S"
_COOKIE = re.compile(r'<cookie phase="(rows|deleted)" after="(\d+)" deltatoken="([^"]+)" />')


def _new_token(svc) -> str:
    return f"{svc.store.current_version()}!{datetime.now(timezone.utc).strftime(_FORMAT)}"


def _parse_token(token: str) -> tuple[int, datetime]:
    version, _, stamp = token.partition("!")
    try:
        return int(version), datetime.strptime(stamp, _FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        raise errors.bad_query(f"The delta token '{token}' is not valid.") from None


def _since(svc, token: str) -> int:
    since, issued = _parse_token(token)
    retention = svc.faults.get("change_tracking_retention_s", DEFAULT_RETENTION_S)
    if (datetime.now(timezone.utc) - issued).total_seconds() > retention:
        raise errors.DataverseError(400, "0x80044352", "Version stamp associated with the client has expired. "
                                                       "Please perform a full sync.")
    return since


def _link(svc, entity: EntityType, req: Req, **extra: str) -> str:
    """The collection URL with the request's `$select` and `$deltatoken` (when given), plus `extra`.

    A delta read's nextLink keeps its `$deltatoken`: the next page is routed to change tracking by it,
    checks its expiry again and starts the deleted entries from it.
    """
    query = {k: v for k, v in req.query.items() if k in ("$select", "$deltatoken")}
    return svc.api_url(entity.entity_set) + "?" + urlencode({**query, **extra}, quote_via=quote, safe="$,")


def read(svc, entity: EntityType, req: Req) -> Resp:
    for option in ("$filter", "$orderby", "$expand", "$top"):
        if option in req.query:
            raise errors.bad_query(f'The "{option}" query parameter isn\'t supported when Change Tracking is enabled.')
    select = select_of(entity, req)
    context = svc.api_url(f"$metadata#{entity.entity_set}" + (f"({','.join(select)})" if select else ""))
    delta = "$deltatoken" in req.query
    since = _since(svc, req.query["$deltatoken"]) if delta else 0
    requested = page_size(req)
    size = requested or MAX_PAGE
    if "$skiptoken" in req.query:
        cookie = _COOKIE.fullmatch(req.query["$skiptoken"])
        if not cookie:
            raise errors.bad_query("The $skiptoken is not a valid paging cookie.")
        phase, after, pinned = cookie.group(1), int(cookie.group(2)), cookie.group(3)
    else:
        phase, after, pinned = "rows", since, _new_token(svc)
    upto = _parse_token(pinned)[0]

    # one entry more than the page holds tells whether another page follows
    entries: list[tuple[str, int, dict]] = []
    if phase == "rows":
        rows = svc.store.select(entity.logical, where=f"{VERSION} > ? AND {VERSION} <= ?", params=[after, upto],
                                order_by=[(VERSION, False)], limit=size + 1)
        entries = [("rows", row[VERSION], body) for row, body in zip(rows, render(svc, entity, rows, req, select))]
        phase, after = "deleted", since
    if delta and len(entries) <= size:
        gone = [d for d in svc.store.deleted_since(entity.logical, after) if d[VERSION] <= upto]
        deleted_context = svc.api_url(f"$metadata#{entity.entity_set}/$deletedEntity")
        entries += [("deleted", d[VERSION], {"@odata.context": deleted_context, "id": d[entity.primary_id],
                                             "reason": "deleted"})
                    for d in gone[:size + 1 - len(entries)]]
    more, entries = len(entries) > size, entries[:size]

    body = {"@odata.context": context + ("/$delta" if delta else ""), "value": [e[2] for e in entries]}
    if more:
        last_phase, last_version, _ = entries[-1]
        body["@odata.nextLink"] = _link(svc, entity, req, **{"$skiptoken": (
            f'<cookie phase="{last_phase}" after="{last_version}" deltatoken="{pinned}" />')})
    else:
        body["@odata.deltaLink"] = _link(svc, entity, req, **{"$deltatoken": pinned})
    applied = "odata.track-changes" + (f",odata.maxpagesize={requested}" if requested is not None else "")
    return Resp.json(200, body, {"Preference-Applied": applied})
