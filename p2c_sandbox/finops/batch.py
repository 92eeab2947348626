"""`POST /data/$batch` with F&O semantics (protocols.md B7).

Each changeset is one transaction: when one of its requests fails, everything the changeset did is
rolled back and the changeset is answered by a single part carrying the failure, a write
validation failure as `HTTP/1.1 500` with the F&O error JSON (as the real service reports failed
inserts in a batch). The batch itself answers 200 whatever its parts did, so clients must read
every part. Requests outside changesets run on their own. MIME handling is the shared
`p2c_sandbox.multipart`.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlsplit

from ..multipart import BatchFormatError, ChangeSet, Operation, Result, build_response, parse_batch
from .errors import WRITE_EXCEPTION, FinOpsError, bad_query
from .service import FinOpsService, Reply, transaction


def _target(operation: Operation) -> tuple[str, dict[str, str]]:
    """The inner request's path relative to `/data/` and its query options."""
    url = urlsplit(operation.url)
    path = unquote(url.path)
    if "/data/" in path or path.startswith("data/"):
        path = path.split("data/", 1)[1]
    return path, dict(parse_qsl(url.query, keep_blank_values=True))


def _result(reply: Reply, operation: Operation) -> Result:
    return Result(reply.status, {"OData-Version": "4.0", **reply.headers}, reply.body,
                  operation.content_id)


def _run_changeset(service: FinOpsService, changeset: ChangeSet) -> Result | list[Result]:
    results: list[Result] = []
    current = changeset.operations[0] if changeset.operations else None
    try:
        with transaction(service.conn):
            for current in changeset.operations:
                path, params = _target(current)
                results.append(_result(service.handle(current.method, path, params, current.body,
                                                      in_transaction=True), current))
    except FinOpsError as exc:
        if exc.inner_type == WRITE_EXCEPTION:  # write failures inside a batch come back as 500
            exc = FinOpsError(500, exc.message, exc.inner, exc.inner_type)
        return _result(Reply.error(exc), current)
    return results


def run_batch(service: FinOpsService, content_type: str, body: bytes) -> Reply:
    """Run every item of the batch in order; the reply is the multipart batch response."""
    try:
        items = parse_batch(body, content_type)
    except BatchFormatError as exc:
        return Reply.error(bad_query(exc.message))
    results: list[Result | list[Result]] = []
    with service.lock:
        for item in items:
            if isinstance(item, ChangeSet):
                results.append(_run_changeset(service, item))
            else:
                path, params = _target(item)
                results.append(_result(service.handle(item.method, path, params, item.body),
                                       item))
    payload, content_type = build_response(results)
    return Reply(200, payload, {"content-type": content_type})
