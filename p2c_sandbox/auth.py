"""Entra-ID-shaped OAuth2 client-credentials endpoint and bearer-token validation.

Both services serve the same token endpoint (docs/architecture.md section 1), so a client can use
either URL as its authority host. Tokens are real JWTs (HS256, PyJWT) signed with a key kept in the
data directory, so they survive restarts like real tokens survive a service redeploy. The audience
is the service URL taken from the requested scope, which is what makes a Dataverse token useless
against F&O and vice versa. Each service calls `TokenIssuer.validate` with its own URL and decides
itself how its 401 looks, because the two real services answer differently.
"""

from __future__ import annotations

import base64
import secrets
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qs, unquote

import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

DEMO_TENANT = "sandbox"
DEMO_CLIENT_ID = "p2c-sandbox-client"
DEMO_CLIENT_SECRET = "p2c-sandbox-secret"
DEFAULT_TOKEN_LIFETIME_S = 3599


class AuthError(Exception):
    """A bearer token was refused; `reason` is one of missing, malformed, expired, audience."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


class TokenIssuer:
    """Issues and validates the sandbox's access tokens for one demo app registration.

    The secret is kept out of `repr` so it cannot leak through logs or tracebacks.
    """

    def __init__(self, data_dir: Path, tenant: str = DEMO_TENANT, client_id: str = DEMO_CLIENT_ID,
                 client_secret: str = DEMO_CLIENT_SECRET):
        self.tenant = tenant
        self.client_id = client_id
        self._client_secret = client_secret
        self._key = _signing_key(Path(data_dir) / "signing.key")

    def __repr__(self) -> str:
        return f"TokenIssuer(tenant={self.tenant!r}, client_id={self.client_id!r})"

    def issuer_url(self, authority: str) -> str:
        return f"{authority}/{self.tenant}/v2.0"

    def issue(self, audience: str, lifetime_s: float, issuer: str) -> str:
        now = int(time.time())
        claims = {"aud": audience, "iss": issuer, "tid": self.tenant, "appid": self.client_id,
                  "iat": now, "nbf": now, "exp": now + int(lifetime_s), "oid": str(uuid.uuid4())}
        return jwt.encode(claims, self._key, algorithm="HS256")

    def validate(self, authorization: str | None, audience: str) -> dict:
        """Return the claims of a valid `Authorization: Bearer` header for `audience`, else raise."""
        if not authorization:
            raise AuthError("missing", "Bearer token is missing.")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("malformed", "Authorization header is not a Bearer token.")
        try:
            return jwt.decode(token.strip(), self._key, algorithms=["HS256"],
                              audience=audience.rstrip("/"), options={"require": ["exp", "aud"]})
        except jwt.ExpiredSignatureError:
            raise AuthError("expired", "The access token has expired.") from None
        except jwt.InvalidAudienceError:
            raise AuthError("audience", f"The access token is not valid for {audience}.") from None
        except jwt.PyJWTError:
            raise AuthError("malformed", "The access token is invalid.") from None

    def check_client(self, client_id: str | None, client_secret: str | None) -> str | None:
        """The Entra ID error key for bad client credentials, or None when they are right."""
        if client_id != self.client_id:
            return "unknown_client"
        if not client_secret or not secrets.compare_digest(client_secret, self._client_secret):
            return "bad_secret"
        return None


def _signing_key(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(secrets.token_bytes(32))
        path.chmod(0o600)
    return path.read_bytes()


_ENTRA_ERRORS = {
    # key: (HTTP status, error, AADSTS code, description)
    "bad_secret": (401, "invalid_client", 7000215,
                   "Invalid client secret provided. Ensure the secret being sent in the request is "
                   "the client secret value, not the client secret ID, for a secret added to app "
                   "'{client_id}'."),
    "unknown_client": (400, "unauthorized_client", 700016,
                       "Application with identifier '{client_id}' was not found in the directory "
                       "'{tenant}'."),
    "bad_scope": (400, "invalid_scope", 70011,
                  "The provided request must include a 'scope' input parameter. The provided value "
                  "for the input parameter 'scope' is not valid. The scope {scope} is not valid."),
    "bad_grant": (400, "unsupported_grant_type", 70003,
                  "The app requested an unsupported grant type '{grant_type}'."),
    "unknown_tenant": (400, "invalid_request", 90002, "Tenant '{tenant}' not found."),
}


def entra_error(key: str, **fields: str) -> JSONResponse:
    """An error in the shape login.microsoftonline.com uses (never echoes the secret)."""
    status, error, code, description = _ENTRA_ERRORS[key]
    now = datetime.now(timezone.utc)
    trace = str(uuid.uuid4())
    body = {
        "error": error,
        "error_description": f"AADSTS{code}: {description.format(**fields)} Trace ID: {trace} "
                             f"Correlation ID: {uuid.uuid4()} Timestamp: {now:%Y-%m-%d %H:%M:%SZ}",
        "error_codes": [code],
        "timestamp": f"{now:%Y-%m-%d %H:%M:%SZ}",
        "trace_id": trace,
        "correlation_id": str(uuid.uuid4()),
    }
    return JSONResponse(body, status_code=status)


def token_routes(issuer: TokenIssuer, audiences: Callable[[], dict[str, float]],
                 authority: Callable[[], str]) -> list[Route]:
    """Routes for the token endpoints (v2 and v1) and the OpenID configuration.

    `audiences()` maps each service URL that may be requested to its current token lifetime in
    seconds (read at request time so the faults endpoint can shorten it); `authority()` is the
    authority host the client reached (this port's own URL).
    """

    async def token(request: Request) -> JSONResponse:
        tenant = request.path_params["tenant"]
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace"),
                                              keep_blank_values=True).items()}
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        basic = request.headers.get("authorization", "")
        if basic.lower().startswith("basic "):
            try:
                user, _, password = base64.b64decode(basic[6:].strip()).decode().partition(":")
                client_id, client_secret = unquote(user), unquote(password)
            except (ValueError, UnicodeDecodeError):
                client_id = client_secret = None
        if tenant.lower() != issuer.tenant:
            return entra_error("unknown_tenant", tenant=tenant)
        grant_type = form.get("grant_type", "")
        if grant_type != "client_credentials":
            return entra_error("bad_grant", grant_type=grant_type)
        problem = issuer.check_client(client_id, client_secret)
        if problem:
            return entra_error(problem, client_id=client_id or "", tenant=tenant)
        if request.url.path.endswith("/v2.0/token"):
            requested = form.get("scope", "")
            audience = requested.removesuffix("/.default").rstrip("/")
            valid = requested.endswith("/.default")
        else:  # v1 endpoint takes `resource`
            requested = form.get("resource", "")
            audience, valid = requested.rstrip("/"), True
        lifetimes = audiences()
        if not valid or audience not in lifetimes:
            return entra_error("bad_scope", scope=requested)
        lifetime = lifetimes[audience]
        access = issuer.issue(audience, lifetime, issuer.issuer_url(authority()))
        return JSONResponse({"token_type": "Bearer", "expires_in": int(lifetime),
                             "ext_expires_in": int(lifetime), "access_token": access})

    async def openid_configuration(request: Request) -> JSONResponse:
        base = f"{authority()}/{issuer.tenant}"
        return JSONResponse({
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "issuer": issuer.issuer_url(authority()),
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "grant_types_supported": ["client_credentials"],
            "tenant_region_scope": "WW",
        })

    return [
        Route("/{tenant}/oauth2/v2.0/token", token, methods=["POST"]),
        Route("/{tenant}/oauth2/token", token, methods=["POST"]),
        Route("/{tenant}/v2.0/.well-known/openid-configuration", openid_configuration),
    ]
