"""The Finance and Operations OData service (`/data/`) and its metadata service (`/Metadata/`)
as a Starlette app (protocols.md section B).

`p2c_sandbox.server` puts the fault middleware and the token endpoints in front of it and uses
`fault_error_body` / `throttle_body` below for injected errors and 429s. Everything under `/data`
and `/Metadata` needs a bearer token issued for this service's URL; a missing, invalid or expired
one gets 401 with an empty body, as the real service answers. Every response carries the tracing
headers of the real service (`ActivityIds`). State lives in `<data dir>/finops.db`.

The Data management package API (`packages.py`) answers under `/data/` like any action; the blob
storage its URLs point to (`blobs.py`) sits beside the service, authenticated by the URLs' own
signatures.
"""

from __future__ import annotations

import json
import time
import uuid

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..auth import AuthError
from . import rest_metadata
from .admin import admin_routes
from .batch import run_batch
from .blobs import BlobStore, blob_routes
from .entities import hidden
from .packages import DataManagement, package_routes
from .service import DEFAULT_PAGE_SIZE, JSON, FinOpsService, connect


def tracing_headers(duration_ms: float) -> dict[str, str]:
    """`ms-dyn-aid` (a new activity id) and `server-timing` (processing time), as F&O stamps every
    response (B8): clients log the id, and support finds the server trace of a call by it."""
    return {"ms-dyn-aid": str(uuid.uuid4()), "server-timing": f"dur={duration_ms:.0f}"}


class ActivityIds:
    """ASGI middleware adding `tracing_headers` to every response of the app, errors, 401s and
    `$batch` responses included (a failed row inside a batch is quoted by the batch's id)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = tracing_headers((time.perf_counter() - started) * 1000)
                message = {**message, "headers": [
                    *message.get("headers", []),
                    *((k.encode(), v.encode()) for k, v in headers.items())]}
            await send(message)

        await self.app(scope, receive, stamped)


def fault_error_body(status: int) -> tuple[dict, bytes]:
    """An injected 5xx in the F&O error shape, with an activity id like any F&O answer."""
    body = {"error": {"code": "", "message": "An error has occurred.",
                      "innererror": {"message": f"Injected sandbox fault (HTTP {status}).",
                                     "type": "System.Exception", "stacktrace": ""}}}
    return {"content-type": JSON, **tracing_headers(0)}, json.dumps(body).encode()


def throttle_body(retry_after_s: int) -> tuple[dict, bytes]:
    """F&O priority-based throttling answers 429 with a plain-text body (B9)."""
    return ({"content-type": "text/plain; charset=utf-8", **tracing_headers(0)},
            b"Too many requests")


def create_app(ctx) -> Starlette:
    """The F&O service for a `p2c_sandbox.server.SandboxContext`."""
    faults = ctx.faults["finops"]

    def page_size() -> int:
        """Rows per page: 10,000 like the real service, or the `finops_page_size` fault key."""
        try:
            return max(1, int(faults.get("finops_page_size") or DEFAULT_PAGE_SIZE))
        except (TypeError, ValueError):
            return DEFAULT_PAGE_SIZE

    service = FinOpsService(connect(ctx.data_dir / "finops.db"), ctx.finops_url, page_size,
                            hidden_columns=lambda: hidden(faults.get("hidden_columns")))
    blobs = BlobStore(ctx.data_dir, ctx.finops_url)
    data_management = DataManagement(service, blobs,
                                     failure=lambda: faults.get("dmf_execution_failure"))

    def authorized(request: Request) -> bool:
        try:
            ctx.issuer.validate(request.headers.get("authorization"), ctx.finops_url)
        except AuthError:
            return False
        return True

    async def data(request: Request) -> Response:
        if not authorized(request):
            return Response(status_code=401)
        path = request.path_params.get("path", "")
        body = await request.body()
        if path.strip("/") == "$batch" and request.method == "POST":
            reply = await run_in_threadpool(run_batch, service, request.headers.get(
                "content-type", ""), body)
        else:
            reply = await run_in_threadpool(service.handle, request.method, path,
                                            dict(request.query_params), body)
        return Response(reply.body, reply.status, {"OData-Version": "4.0", **reply.headers})

    async def package_action(request: Request) -> Response:
        if not authorized(request):
            return Response(status_code=401)
        reply = await run_in_threadpool(data_management.handle, request.path_params["action"],
                                        await request.body())
        return Response(reply.body, reply.status, {"OData-Version": "4.0", **reply.headers})

    async def metadata(request: Request) -> Response:
        if not authorized(request):
            return Response(status_code=401)
        reply = rest_metadata.handle(request.method, request.path_params.get("path", ""),
                                     dict(request.query_params), ctx.finops_url)
        return Response(reply.body, reply.status, {"OData-Version": "4.0", **reply.headers})

    methods = ["GET", "POST", "PATCH", "PUT", "DELETE", "MERGE"]
    app = Starlette(routes=[Route("/data", data, methods=methods),
                            Route("/data/DataManagementDefinitionGroups/"
                                  "Microsoft.Dynamics.DataEntities.{action}", package_action,
                                  methods=["POST"]),
                            Route("/data/{path:path}", data, methods=methods),
                            Route("/Metadata", metadata, methods=methods),
                            Route("/Metadata/{path:path}", metadata, methods=methods),
                            *admin_routes(service), *package_routes(data_management)])
    app.state.finops = service
    # the blob storage is Azure's, not F&O's: no bearer token, no F&O activity ids
    return Starlette(routes=[*blob_routes(blobs), Mount("/", app=ActivityIds(app))])
