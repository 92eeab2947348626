"""One HTTP session per service: auth header, timeouts, retries, a concurrency cap and counters.

Both services throttle (429 + ``Retry-After``) and both have transient failures, so every call goes
through ``HttpSession.request``, whose ``RetryPolicy`` decides what is worth another attempt:

- 429, 502, 503, 504 and transport failures (refused, reset, timed out, cut mid-answer) are retried
  with capped exponential backoff and full jitter; ``Retry-After`` from the service wins over our own
  backoff when it is longer.
- 500 is retried on reads only (GET, metadata included): a read changes nothing, so another attempt is
  always safe. A write answered 500 is not retried: Finance and Operations answers a refused write with
  500, and repeating it only burns the service-protection budget; the row fails and the next run
  tries it again.
- Dataverse error codes Microsoft documents as transient are retried whatever the method (see
  ``TRANSIENT_DATAVERSE_CODES``): the service rolled the request back, and every write of these clients
  is an upsert by key, so sending it again cannot create a second record.
- A write whose answer is lost (the connection drops after the service committed it) is sent again
  like any transport failure; the clients make that safe: Dataverse writes are upserts by key, and
  the F&O client turns "the record already exists" for its own POST into an update.
- Other 4xx are not retried: the request itself is wrong.
- A 401 drops the cached token and tries once more with a fresh one; a second 401 is an
  ``AuthenticationError`` (usually a missing application user), never a retry loop.
- A service that cannot be reached once a request has spent ``unreachable_after_s`` of backoff on
  transport failures is marked down for this session (one session per service per run): every later
  request fails at once with the same ``ServiceUnreachable`` message, so a run against a stopped
  service is red in seconds instead of after every step's own retries.
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
from .errors import (Activity, AuthenticationError, ServiceError, ServiceUnreachable, parse_error_body,
                     with_activity)

log = logging.getLogger("p2c_assets.connectors")

TRANSIENT_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)

#: Methods that change nothing on the service: safe to repeat after any answer.
READS = frozenset({"GET", "HEAD"})

#: Dataverse error codes that say the request was rolled back by a deadlock, not refused for its
#: content, so the same request can succeed when sent again. "Troubleshoot Dataverse bulk operation
#: errors" (https://learn.microsoft.com/troubleshoot/power-platform/power-apps/dataverse/bulk-operation-errors):
#: "Generic SQL error" -2147204784 (SQL number 1205, a deadlock victim) and "The transaction of the SQL
#: command has already been rolled back or committed" -2147220907 (a swallowed deadlock), both caused by
#: concurrent updates of the same record. Not "SQL timeout expired" (-2147204783): Microsoft's advice
#: there is a smaller batch, which the same request does not get by being sent again. Throttling
#: (0x80072321/0x80072322/0x80072326, https://learn.microsoft.com/power-apps/developer/data-platform/api-limits)
#: comes as 429 and is retried by status.
TRANSIENT_DATAVERSE_CODES = frozenset({"0x80044150", "0x80040255"})


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often to keep trying a transient failure, and which failures are transient."""

    max_attempts: int = 6
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    retry_after_max_s: float = 300.0
    retry_statuses: frozenset[int] = frozenset({429, 502, 503, 504})
    read_retry_statuses: frozenset[int] = frozenset({500})
    transient_codes: frozenset[str] = TRANSIENT_DATAVERSE_CODES
    unreachable_after_s: float = 8.0   # backoff spent on transport failures before a service counts as down

    def retryable(self, method: str, status: int, code: str | None) -> bool:
        """Whether an error answer to ``method`` may be sent again (see the module docstring)."""
        return (status in self.retry_statuses or code in self.transient_codes
                or (method.upper() in READS and status in self.read_retry_statuses))

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
        self._down: str | None = None   # why the service counts as unreachable, once it does

    def request(self, method: str, url: str, *, params: dict | None = None, json: object = None,
                data: bytes | None = None, headers: dict[str, str] | None = None) -> requests.Response:
        """Send one logical request; returns a 2xx response or raises ``ServiceError``.

        Raises ``ServiceUnreachable`` when the service cannot be reached (now or by an earlier request).
        """
        if self._down:
            raise ServiceUnreachable(self._down)
        where = urlsplit(url).path
        refreshed = False
        attempt = 0
        waited = 0.0   # backoff spent on transport failures
        while True:
            attempt += 1
            try:
                response = self._send(method, url, params=params, json=json, data=data, headers=headers)
            except TRANSIENT_ERRORS as exc:
                left = self.retry.unreachable_after_s - waited
                if attempt >= self.retry.max_attempts or left <= 0:
                    raise self._mark_down(method, url, attempt, waited, exc) from None
                waited += self.backoff(attempt, None, type(exc).__name__, method, where, at_most=left)
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
            code, message = parse_error_body(response.content)
            if attempt < self.retry.max_attempts and self.retry.retryable(method, status, code):
                reason = f"HTTP {status}" + (f" [{code}]" if code else "")
                self.backoff(attempt, retry_after_seconds(response.headers.get("Retry-After")),
                             with_activity(reason, activity), method, where)
                continue
            raise ServiceError(self.service, method, where, status, code, message, activity)

    def _mark_down(self, method: str, url: str, attempts: int, waited: float,
                   exc: Exception) -> ServiceUnreachable:
        """The service could not be reached: say so once, and fail every later request the same way."""
        parts = urlsplit(url)
        self._down = (f"{self.service} at {parts.scheme}://{parts.netloc} cannot be reached: {method} "
                      f"{parts.path} failed {attempts} times in {waited:.1f} s of retries "
                      f"({type(exc).__name__}: {exc}); check that the service is up and the URL is right "
                      f"(later requests of this run fail at once)")
        log.error("%s", self._down)
        return ServiceUnreachable(self._down)

    def _send(self, method, url, **kwargs) -> requests.Response:
        headers = dict(kwargs.pop("headers") or {})
        token = self.token_source.token()
        if token:  # a URL with a shared access signature authenticates itself (connectors/packages.py)
            headers["Authorization"] = f"Bearer {token}"
        headers["x-ms-client-request-id"] = str(uuid.uuid4())
        with self._slots:
            self.stats.add(requests=1)
            response = self._session.request(method, url, headers=headers, timeout=self.timeout, **kwargs)
        sent = response.request.body
        self.stats.add(bytes=len(response.content) + (len(sent) if sent else 0))
        return response

    def backoff(self, attempt: int, retry_after: float | None, reason: str, method: str, where: str,
                at_most: float | None = None) -> float:
        """Count a retry and sleep before retry ``attempt`` (also for parts of a ``$batch``); the seconds slept."""
        delay = self.retry.delay(attempt, retry_after)
        if at_most is not None:
            delay = min(delay, at_most)
        self.stats.add(retries=1)
        log.warning("%s %s %s: %s, retry %d in %.2fs", self.service, method, where, reason, attempt, delay)
        time.sleep(delay)
        return delay

    def close(self) -> None:
        self._session.close()

    def __repr__(self) -> str:
        return f"HttpSession(service={self.service!r}, token_source={self.token_source!r})"
