"""Entra ID tokens for the two services.

``ClientCredentials`` speaks the client-credentials grant through authlib and has the same
``get_token(*scopes)`` shape as azure-identity credentials, so the clients accept either: a user on
a managed identity passes ``DefaultAzureCredential()`` instead. ``TokenSource`` sits in front of any
such credential, caches the token per scope and fetches a new one shortly before it expires, so a
long sync never sends a token the service is about to reject.

authlib refuses plain http except on loopback, which is exactly the policy we want: the sandbox
runs on 127.0.0.1, real tenants are https only.
"""

from __future__ import annotations

import threading
import time
from typing import NamedTuple, Protocol

from authlib.integrations.requests_client import OAuth2Session
from authlib.common.errors import AuthlibBaseError

from .errors import AuthenticationError

DEFAULT_AUTHORITY = "https://login.microsoftonline.com"


class AccessToken(NamedTuple):
    """Same fields as ``azure.core.credentials.AccessToken``."""

    token: str
    expires_on: int

    def __repr__(self) -> str:  # the token is a bearer secret
        return f"AccessToken(token='***', expires_on={self.expires_on})"


class TokenCredential(Protocol):
    def get_token(self, *scopes: str, **kwargs) -> AccessToken: ...


class ClientCredentials:
    """An app registration's client id and secret, exchanged for tokens at the tenant's endpoint."""

    def __init__(self, tenant_id: str, client_id: str, client_secret: str,
                 authority_host: str = DEFAULT_AUTHORITY, *, timeout: float = 30):
        if not (tenant_id and client_id and client_secret):
            raise ValueError("ClientCredentials needs tenant_id, client_id and client_secret")
        self.tenant_id = tenant_id
        self.client_id = client_id
        self._secret = client_secret
        self.authority_host = authority_host.rstrip("/")
        self.timeout = timeout

    @property
    def token_endpoint(self) -> str:
        return f"{self.authority_host}/{self.tenant_id}/oauth2/v2.0/token"

    def get_token(self, *scopes: str, **kwargs) -> AccessToken:
        """Fetch a fresh token for ``scopes`` (caching is ``TokenSource``'s job)."""
        # client_secret_post: Entra ID and the sandbox read the secret from the form body.
        with OAuth2Session(self.client_id, self._secret, scope=" ".join(scopes),
                           token_endpoint_auth_method="client_secret_post") as session:
            try:
                token = session.fetch_token(self.token_endpoint, grant_type="client_credentials",
                                            timeout=self.timeout)
            except AuthlibBaseError as exc:
                # authlib's message is the provider's error and description (AADSTS...), no secret.
                raise AuthenticationError(
                    f"token request for client {self.client_id!r} at {self.token_endpoint} refused: "
                    f"{exc.error}: {exc.description}") from None
        expires_at = token.get("expires_at") or int(time.time()) + int(token.get("expires_in", 3599))
        return AccessToken(token["access_token"], int(expires_at))

    def __repr__(self) -> str:
        return (f"ClientCredentials(tenant_id={self.tenant_id!r}, client_id={self.client_id!r}, "
                f"client_secret='***', authority_host={self.authority_host!r})")


class TokenSource:
    """The current bearer token for one scope, refreshed before it expires.

    The refresh margin is two minutes, or a quarter of the token's lifetime when that is shorter
    (tests and some tenants issue short-lived tokens).
    """

    def __init__(self, credential: TokenCredential, scope: str, margin_s: float = 120):
        if not callable(getattr(credential, "get_token", None)):
            raise TypeError(f"credential {type(credential).__name__} has no get_token(scope) method")
        self.credential = credential
        self.scope = scope
        self.margin_s = margin_s
        self._token: AccessToken | None = None
        self._refresh_at = 0.0
        self._lock = threading.Lock()

    def token(self) -> str:
        with self._lock:
            now = time.time()
            if self._token is None or now >= self._refresh_at:
                self._token = self.credential.get_token(self.scope)
                lifetime = max(self._token.expires_on - now, 0)
                self._refresh_at = self._token.expires_on - min(self.margin_s, lifetime / 4)
            return self._token.token

    def invalidate(self) -> None:
        """Forget the cached token (the service said it is no longer valid)."""
        with self._lock:
            self._token = None

    def __repr__(self) -> str:
        return f"TokenSource(scope={self.scope!r}, credential={self.credential!r})"
