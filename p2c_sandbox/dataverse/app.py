"""The Starlette app of the Dataverse service: bearer auth, then `Dataverse.handle`.

Also the Dataverse shapes of injected faults (`fault_error_body`, `throttle_body`) that the
sandbox core uses in front of this app.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..auth import AuthError
from . import errors
from .messages import Req
from .service import Dataverse

API_PREFIX = "/api/data/v9.2/"


def fault_error_body(status: int) -> tuple[dict, bytes]:
    message = {500: "An unexpected error occurred.", 503: "The service is temporarily unavailable."}
    return ({"content-type": "application/json; odata.metadata=minimal"},
            errors.error_body("0x80040216", message.get(status, f"Injected sandbox fault (HTTP {status}).")))


def throttle_body(retry_after: int) -> tuple[dict, bytes]:
    return {"content-type": "application/json; odata.metadata=minimal"}, errors.throttled_body(retry_after)


def create_app(ctx) -> Starlette:
    service = Dataverse(ctx)
    authority = f"{ctx.dataverse_url}/{ctx.issuer.tenant}/oauth2/authorize"

    def unauthorized(exc: AuthError) -> Response:
        headers = {"WWW-Authenticate": f"Bearer authorization_uri={authority}, resource_id={ctx.dataverse_url}/"}
        if exc.reason == "missing":
            return Response(status_code=401, headers=headers)
        return Response(errors.error_body("0x80072243", exc.message), 401,
                        {**headers, "Content-Type": "application/json; odata.metadata=minimal"})

    async def api(request: Request) -> Response:
        try:
            ctx.issuer.validate(request.headers.get("authorization"), ctx.dataverse_url)
        except AuthError as exc:
            return unauthorized(exc)
        # the decoded path keeps `?` or `/` inside quoted key values intact; the query stays raw
        req = Req(request.method, request.scope["path"][len(API_PREFIX):],
                  dict(parse_qsl(request.scope["query_string"].decode("latin-1"), keep_blank_values=True)),
                  dict(request.headers), await request.body())
        resp = service.handle(req)  # synchronous: the request's database work is atomic
        return Response(resp.body, resp.status, resp.headers)

    app = Starlette(routes=[Route(API_PREFIX + "{rest:path}", api,
                                  methods=["GET", "POST", "PATCH", "PUT", "DELETE"])])
    app.state.service = service
    return app
