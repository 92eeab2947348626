"""Change tracking: `Prefer: odata.track-changes`, `@odata.deltaLink`, deleted-entity entries.

The delta token is `<row version>!<MM/dd/yyyy HH:mm:ss>` (UTC), as the real service issues it.
Tokens older than the retention window (7 days, or the `change_tracking_retention_s` fault key
for tests) are refused with the real "perform a full sync" error.
"""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import quote, urlencode

from ..store import VERSION
from . import errors
from .messages import Req, Resp
from .queries import render, select_of
from .tables import EntityType

DEFAULT_RETENTION_S = 7 * 24 * 3600
_FORMAT = "%m/%d/%Y %H:%M:%S"


def _delta_link(svc, entity: EntityType, req: Req) -> str:
    token = f"{svc.store.current_version()}!{datetime.now(timezone.utc).strftime(_FORMAT)}"
    query = {k: v for k, v in req.query.items() if k == "$select"}
    return svc.api_url(entity.entity_set) + "?" + urlencode({**query, "$deltatoken": token}, quote_via=quote,
                                                            safe="$,")


def _since(svc, token: str) -> int:
    version, _, stamp = token.partition("!")
    try:
        issued = datetime.strptime(stamp, _FORMAT).replace(tzinfo=timezone.utc)
        since = int(version)
    except ValueError:
        raise errors.bad_query(f"The delta token '{token}' is not valid.") from None
    retention = svc.faults.get("change_tracking_retention_s", DEFAULT_RETENTION_S)
    if (datetime.now(timezone.utc) - issued).total_seconds() > retention:
        raise errors.DataverseError(400, "0x80044352", "Version stamp associated with the client has expired. "
                                                       "Please perform a full sync.")
    return since


def read(svc, entity: EntityType, req: Req) -> Resp:
    for option in ("$filter", "$orderby", "$expand", "$top"):
        if option in req.query:
            raise errors.bad_query(f'The "{option}" query parameter isn\'t supported when Change Tracking is enabled.')
    select = select_of(entity, req)
    context = svc.api_url(f"$metadata#{entity.entity_set}" + (f"({','.join(select)})" if select else ""))
    if "$deltatoken" not in req.query:
        rows = svc.store.select(entity.logical, order_by=[(VERSION, False)])
        body = {"@odata.context": context, "value": render(svc, entity, rows, req, select),
                "@odata.deltaLink": _delta_link(svc, entity, req)}
        return Resp.json(200, body, {"Preference-Applied": "odata.track-changes"})
    since = _since(svc, req.query["$deltatoken"])
    changed = svc.store.select(entity.logical, where=f"{VERSION} > ?", params=[since], order_by=[(VERSION, False)])
    deleted = [{"@odata.context": svc.api_url(f"$metadata#{entity.entity_set}/$deletedEntity"),
                "id": d[entity.primary_id], "reason": "deleted"}
               for d in svc.store.deleted_since(entity.logical, since)]
    body = {"@odata.context": context + "/$delta", "value": render(svc, entity, changed, req, select) + deleted,
            "@odata.deltaLink": _delta_link(svc, entity, req)}
    return Resp.json(200, body, {"Preference-Applied": "odata.track-changes"})
