"""`$batch`: plain requests and atomic changesets, with `Prefer: odata.continue-on-error`.

Inner requests run through `Dataverse.handle` in-process. A changeset runs inside one store
transaction and is rolled back when any of its requests fails; `$n` Content-ID references resolve
to the URL of the row created earlier in the batch.
"""

from __future__ import annotations

from ..multipart import BatchFormatError, ChangeSet, Result, build_response, parse_batch
from . import errors
from .messages import Req, Resp

MAX_REQUESTS = 1000


class _ChangeSetFailed(Exception):
    def __init__(self, result: Result):
        self.result = result


def _inner_request(op, content_ids: dict) -> Req:
    from .service import request_from_url  # the service module imports this one
    url = op.url
    head, sep, tail = url.partition("/")
    if head in content_ids:
        url = content_ids[head] + sep + tail
    req = request_from_url(op.method, url, op.headers, op.body)
    req.content_ids = content_ids
    return req


def _run(svc, op, content_ids: dict) -> Result:
    resp = svc.handle(_inner_request(op, content_ids))
    if op.content_id is not None and "OData-EntityId" in resp.headers:
        content_ids[f"${op.content_id}"] = resp.headers["OData-EntityId"]
    return Result(resp.status, resp.headers, resp.body, op.content_id)


def run(svc, req: Req) -> Resp:
    try:
        items = parse_batch(req.body, req.headers.get("content-type", ""))
    except BatchFormatError as exc:
        raise errors.bad_payload(exc.message) from None
    total = sum(len(i.operations) if isinstance(i, ChangeSet) else 1 for i in items)
    if total > MAX_REQUESTS:
        raise errors.bad_payload(f"Number of requests in a batch ({total}) exceeds the maximum of {MAX_REQUESTS}.")
    continue_on_error = "odata.continue-on-error" in req.prefer
    content_ids: dict[str, str] = {}
    results: list = []
    failed = False
    for item in items:
        if isinstance(item, ChangeSet):
            if any(op.method == "GET" for op in item.operations):
                raise errors.bad_payload("GET requests are not allowed inside a change set.")
            try:
                with svc.store.transaction():
                    done = []
                    for op in item.operations:
                        result = _run(svc, op, content_ids)
                        if result.status >= 400:
                            raise _ChangeSetFailed(result)
                        done.append(result)
                results.append(done)
            except _ChangeSetFailed as exc:
                failed = True
                results.append(exc.result)
        else:
            result = _run(svc, item, content_ids)
            failed = failed or result.status >= 400
            results.append(result)
        if failed and not continue_on_error:
            break
    body, content_type = build_response(results)
    headers = {"Content-Type": content_type, "OData-Version": "4.0"}
    if continue_on_error:
        headers["Preference-Applied"] = "odata.continue-on-error"
    return Resp(400 if failed and not continue_on_error else 200, headers, body)
