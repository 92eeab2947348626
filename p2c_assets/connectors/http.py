"""One HTTP session per service: auth header, timeouts, retries, a concurrency cap and counters.

Both services throttle (429 + ``Retry-After``) and both have transient gateway errors, so every call
goes through ``HttpSession.request``:

- 429, 502, 503, 504 and connection errors are retried with capped exponential backoff and full
  jitter; ``Retry-After`` from the service wins over our own backoff when it is longer.
- 500 is *not* retried: Finance and Operations answers a refused write with 500, and repeating a
  refused write only burns the service-protection budget.
- Other 4xx are not retried either: the request itself is wrong.
- A 401 drops the cached token and tries once more with a fresh one; a second 401 is an
  ``AuthenticationError`` (usually a missing application user), never a retry loop.
- A semaphore caps requests in flight across all threads sharing the session, so parallel batch
  writes stay under the service's concurrency limit (Dataverse: 52 per user).
- ``stats`` counts requests, retries, throttles and bytes, for materialization metadata.
- The service's request id (F&O ``ms-dyn-aid``) goes into every retry warning and every
  ``ServiceError``, so a failure can be quoted to Microsoft support.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
import uuid
from dataclasses import dataclass, field, fields, replace
from urllib.parse import urlsplit

import requests

from .auth import TokenSource
from .errors import Activity, AuthenticationError, ConnectorError, ServiceError, parse_error_body, with_activity

log = logging.getLogger("p2c_assets.connectors")

TRANSIENT_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often to keep trying a transient failure."""

    max_attempts: int = 6
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    retry_after_max_s: float = 300.0
    retry_statuses: frozenset[int] = frozenset({429, 502, 503, 504})

    def delay(self, retry_number: int, retry_after: float | None) -> float:
        """Seconds to wait before retry ``retry_number`` (1-based)."""
        backoff = random.uniform(0, min(self.backoff_max_s, self.backoff_base_s * 2 ** (retry_number - 1)))
        if retry_after is not None:
            return max(min(retry_after, self.retry_after_max_s), backoff)
        return backoff


@dataclass
class RequestStats:
    """Cumulative counters of one client; ``snapshot()``/``since()`` give per-call figures."""

    requests: int = 0     # HTTP requests sent, retries included
    retries: int = 0      # requests that were repeats of a failed one
    throttled: int = 0    # 429 answers
    bytes: int = 0        # request plus response body bytes
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)

    def snapshot(self) -> RequestStats:
        with self._lock:
            return replace(self)

    def since(self, earlier: RequestStats) -> RequestStats:
        now = self.snapshot()
        return RequestStats(**{f.name: getattr(now, f.name) - getattr(earlier, f.name)
                               for f in fields(self) if f.compare})

    def as_dict(self) -> dict[str, int]:
        now = self.snapshot()
        return {f.name: getattr(now, f.name) for f in fields(self) if f.compare}


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        when = email.utils.parsedate_to_datetime(value)
        return max(when.timestamp() - time.time(), 0.0) if when else None


class HttpSession:
    """A ``requests.Session`` that authenticates, retries and counts, for one service."""

    def __init__(self, service: str, token_source: TokenSource, *, timeout: float = 60,
                 max_concurrency: int = 4, retry: RetryPolicy | None = None,
                 headers: dict[str, str] | None = None):
        self.service = service
        self.token_source = token_source
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.stats = RequestStats()
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self._session = requests.Session()
        self._session.headers.update({"Accept": "application/json", "OData-MaxVersion": "4.0",
                                      "OData-Version": "4.0", "x-ms-client-session-id": str(uuid.uuid4())})
        self._session.headers.update(headers or {})

    def request(self, method: str, url: str, *, params: dict | None = None, json: object = None,
                data: bytes | None = None, headers: dict[str, str] | None = None) -> requests.Response:
        """Send one logical request; returns a 2xx response or raises ``ServiceError``."""
        where = urlsplit(url).path
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._send(method, url, params=params, json=json, data=data, headers=headers)
            except TRANSIENT_ERRORS as exc:
                if attempt >= self.retry.max_attempts:
                    raise ConnectorError(f"{self.service} {method} {where} failed after {attempt} attempts: "
                                         f"{type(exc).__name__}: {exc}") from None
                self.backoff(attempt, None, f"{type(exc).__name__}", method, where)
                continue
            status = response.status_code
            if status < 400:
                return response
            if status == 401:
                if refreshed:
                    raise AuthenticationError(
                        f"{self.service} {method} {where} -> HTTP 401 with a freshly issued token: check that "
                        f"the app registration is an application user of this environment and that the "
                        f"token scope ({self.token_source.scope}) is this service's URL")
                refreshed = True
                self.stats.add(retries=1)
                self.token_source.invalidate()
                continue
            if status == 429:
                self.stats.add(throttled=1)
            activity = Activity.of(response.headers)
            if status in self.retry.retry_statuses and attempt < self.retry.max_attempts:
                self.backoff(attempt, retry_after_seconds(response.headers.get("Retry-After")),
                             with_activity(f"HTTP {status}", activity), method, where)
                continue
            code, message = parse_error_body(response.content)
            raise ServiceError(self.service, method, where, status, code, message, activity)

    def _send(self, method, url, **kwargs) -> requests.Response:
        headers = dict(kwargs.pop("headers") or {})
        headers["Authorization"] = f"Bearer {self.token_source.token()}"
        headers["x-ms-client-request-id"] = str(uuid.uuid4())
        with self._slots:
            self.stats.add(requests=1)
            response = self._session.request(method, url, headers=headers, timeout=self.timeout, **kwargs)
        sent = response.request.body
        self.stats.add(bytes=len(response.content) + (len(sent) if sent else 0))
        return response

    def backoff(self, attempt: int, retry_after: float | None, reason: str, method: str, where: str) -> None:
        """Count a retry and sleep before retry ``attempt`` (also for parts of a ``$batch``)."""
        delay = self.retry.delay(attempt, retry_after)
        self.stats.add(retries=1)
        log.warning("%s %s %s: %s, retry %d in %.2fs", self.service, method, where, reason, attempt, delay)
        time.sleep(delay)

    def close(self) -> None:
        self._session.close()

    def __repr__(self) -> str:
        return f"HttpSession(service={self.service!r}, token_source={self.token_source!r})"
