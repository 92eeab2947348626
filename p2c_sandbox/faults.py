"""Fault injection: the bad days of a real service, on demand and reproducibly.

Each service has one `FaultState` (its configuration, a seeded RNG and its request budget) and one
`FaultMiddleware` in front of its API. The middleware also serves the runtime control endpoints
`/_sandbox/health`, `/_sandbox/faults` and `/_sandbox/reset-faults` (docs/architecture.md section 1),
which, like the token endpoint, are exempt from faults and from auth.

The configuration is a plain dict so that services can keep their own keys in it
(`change_tracking_retention_s` for Dataverse, `finops_page_size` for F&O, the schema drift of
`hidden_columns` and `hidden_alternate_keys` for both): unknown keys are accepted and stored, and a
service reads them with `state.get(key)` at request time.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from collections import Counter
from collections.abc import Callable
from copy import deepcopy

from starlette.types import ASGIApp, Receive, Scope, Send

DEFAULTS: dict = {
    "latency_ms": 0,
    "error_rate": 0.0,
    "error_statuses": [500, 503],
    "drop_rate": 0.0,
    "drop_after_commit_rate": 0.0,
    "budget": None,  # {"requests": N, "window_s": S}
    "token_lifetime_s": 3599,
}

# paths that never get faults: the control endpoints and the token endpoints
EXEMPT_MARKERS = ("/_sandbox/", "/oauth2/", "/.well-known/")
# methods that change nothing: a commit-then-drop is only a write's fault
READS = ("GET", "HEAD")


class FaultConfigError(ValueError):
    """A faults update that makes no sense; the message names the key."""


class DroppedConnection(Exception):
    """Raised inside the ASGI app after the response started, so the server cuts the socket."""


def _validate(update: dict) -> None:
    for key in ("error_rate", "drop_rate", "drop_after_commit_rate"):
        if key in update and not (isinstance(update[key], (int, float)) and 0 <= update[key] <= 1):
            raise FaultConfigError(f"faults key '{key}' must be a fraction between 0 and 1")
    if "latency_ms" in update and not (isinstance(update["latency_ms"], (int, float))
                                       and update["latency_ms"] >= 0):
        raise FaultConfigError("faults key 'latency_ms' must be a number >= 0")
    if "error_statuses" in update and not (
            isinstance(update["error_statuses"], list) and update["error_statuses"]
            and all(isinstance(s, int) and 400 <= s <= 599 for s in update["error_statuses"])):
        raise FaultConfigError("faults key 'error_statuses' must be a non-empty list of 4xx/5xx codes")
    budget = update.get("budget")
    if budget is not None and not (isinstance(budget, dict) and
                                   isinstance(budget.get("requests"), int) and budget["requests"] >= 0
                                   and isinstance(budget.get("window_s"), (int, float))
                                   and budget["window_s"] > 0):
        raise FaultConfigError("faults key 'budget' must be null or {\"requests\": N, \"window_s\": S}")
    if "token_lifetime_s" in update and not (isinstance(update["token_lifetime_s"], (int, float))
                                             and update["token_lifetime_s"] >= 1):
        raise FaultConfigError("faults key 'token_lifetime_s' must be a number >= 1")
    if "bulk_timeout_over_rows" in update and not (update["bulk_timeout_over_rows"] is None or (
            isinstance(update["bulk_timeout_over_rows"], int) and update["bulk_timeout_over_rows"] >= 1)):
        raise FaultConfigError("faults key 'bulk_timeout_over_rows' must be null or a number of rows >= 1")
    if "hidden_columns" in update and not _names_by_set(update["hidden_columns"], _names):
        raise FaultConfigError("faults key 'hidden_columns' must map entity sets to lists of column names")
    if "hidden_alternate_keys" in update and not _names_by_set(
            update["hidden_alternate_keys"], lambda keys: isinstance(keys, list) and all(map(_names, keys))):
        raise FaultConfigError("faults key 'hidden_alternate_keys' must map entity sets to lists of keys "
                               "(lists of column names)")


def _names(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _names_by_set(value, valid) -> bool:
    """A schema-drift setting: {"<entity set>": ...} with every value `valid`."""
    return isinstance(value, dict) and all(isinstance(k, str) and valid(v) for k, v in value.items())


class FaultState:
    """The current fault configuration of one service, its RNG and its budget window.

    The RNG is seeded once, when the sandbox starts: a whole session is repeatable with the same
    seed, and a reset does not replay the faults the previous test or run already met.
    """

    def __init__(self, initial: dict | None = None, seed: int | None = None):
        self._initial = {**deepcopy(DEFAULTS), **deepcopy(initial or {})}
        _validate(self._initial)
        self.rng = random.Random(seed)
        self.reset()

    def reset(self) -> None:
        """Back to the start-up configuration, a fresh budget window and no faults counted (the RNG runs on)."""
        self.config = deepcopy(self._initial)
        self.injected: Counter = Counter()   # faults injected since the last reset, by kind
        self._window_start = time.monotonic()
        self._window_count = 0

    def update(self, changes: dict) -> dict:
        """Merge `changes` into the configuration (unknown keys are kept for the services)."""
        _validate(changes)
        self.config.update(deepcopy(changes))
        if "budget" in changes:
            self._window_start, self._window_count = time.monotonic(), 0
        return self.snapshot()

    def snapshot(self) -> dict:
        """The configuration, and under `injected` what it has done since the last reset."""
        return {**deepcopy(self.config), "injected": dict(self.injected)}

    def get(self, key: str, default=None):
        return self.config.get(key, default)

    def spend(self) -> float | None:
        """Count one request against the budget; the seconds to wait when it is exhausted."""
        budget = self.config.get("budget")
        if not budget:
            return None
        now = time.monotonic()
        if now - self._window_start >= budget["window_s"]:
            self._window_start, self._window_count = now, 0
        if self._window_count >= budget["requests"]:
            return max(1.0, self._window_start + budget["window_s"] - now)
        self._window_count += 1
        return None


def _json(status: int, body: dict) -> tuple[int, dict, bytes]:
    return status, {"content-type": "application/json"}, json.dumps(body).encode()


class FaultMiddleware:
    """ASGI middleware injecting latency, errors, dropped connections and throttling.

`drop_rate` cuts a connection before the service sees the request; `drop_after_commit_rate` lets a
write (any method but GET/HEAD) run and commit, then cuts the connection before the answer, the way a
gateway timeout or a network blip loses the response of a write that did happen: a client that
sends it again must not create the record twice nor report the row as failed.

    `error_body(status)` gives the service-specific `(headers, body)` of an injected error,
    `throttle_body(retry_after_s)` the service-specific 429 (its `Retry-After` is added here).
    """

    def __init__(self, app: ASGIApp, service: str, state: FaultState,
                 error_body: Callable[[int], tuple[dict, bytes]],
                 throttle_body: Callable[[int], tuple[dict, bytes]]):
        self.app, self.service, self.state = app, service, state
        self.error_body, self.throttle_body = error_body, throttle_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        if path.startswith("/_sandbox/") and path in _CONTROL:
            return await _CONTROL[path](self, scope, receive, send)
        if any(marker in path for marker in EXEMPT_MARKERS):
            return await self.app(scope, receive, send)

        state = self.state
        wait = state.spend()
        if wait is not None:
            state.injected["429"] += 1
            retry_after = math.ceil(wait)
            headers, body = self.throttle_body(retry_after)
            return await _respond(send, 429, {**headers, "retry-after": str(retry_after)}, body)
        if state.get("latency_ms"):
            await asyncio.sleep(state.get("latency_ms") / 1000)
        if state.get("drop_rate") and state.rng.random() < state.get("drop_rate"):
            state.injected["dropped"] += 1
            return await self._cut(send, f"dropped {self.service} connection on {path}")
        if (scope["method"] not in READS and state.get("drop_after_commit_rate")
                and state.rng.random() < state.get("drop_after_commit_rate")):
            state.injected["dropped_after_commit"] += 1
            await self.app(scope, receive, _discard)  # the service does the write and commits it ...
            return await self._cut(send, f"dropped {self.service} connection after committing "
                                         f"{scope['method']} {path}")  # ... and the answer is lost
        if state.get("error_rate") and state.rng.random() < state.get("error_rate"):
            status = state.rng.choice(state.get("error_statuses"))
            state.injected[str(status)] += 1
            headers, body = self.error_body(status)
            return await _respond(send, status, headers, body)
        await self.app(scope, receive, send)

    async def _cut(self, send: Send, what: str) -> None:
        """Start an answer, then cut the connection half-way through its body (the server logs `what`)."""
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")]})
        await send({"type": "http.response.body", "body": b'{"value":[', "more_body": True})
        raise DroppedConnection(f"sandbox fault: {what}")


async def _discard(message) -> None:
    """An ASGI `send` that loses the answer (the commit-then-drop fault)."""


async def _respond(send: Send, status: int, headers: dict, body: bytes) -> None:
    raw = [(k.lower().encode(), str(v).encode()) for k, v in headers.items()]
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _health(mw: FaultMiddleware, scope: Scope, receive: Receive, send: Send) -> None:
    await _respond(send, *_json(200, {"status": "ok", "service": mw.service}))


async def _faults(mw: FaultMiddleware, scope: Scope, receive: Receive, send: Send) -> None:
    if scope["method"] == "GET":
        return await _respond(send, *_json(200, mw.state.snapshot()))
    if scope["method"] != "PUT":
        return await _respond(send, *_json(405, {"error": "use GET or PUT"}))
    try:
        update = json.loads(await _read_body(receive) or b"{}")
        if not isinstance(update, dict):
            raise FaultConfigError("faults body must be a JSON object")
        return await _respond(send, *_json(200, mw.state.update(update)))
    except (ValueError, FaultConfigError) as exc:
        return await _respond(send, *_json(400, {"error": str(exc)}))


async def _reset(mw: FaultMiddleware, scope: Scope, receive: Receive, send: Send) -> None:
    if scope["method"] != "POST":
        return await _respond(send, *_json(405, {"error": "use POST"}))
    mw.state.reset()
    await _respond(send, *_json(200, mw.state.snapshot()))


_CONTROL = {"/_sandbox/health": _health, "/_sandbox/faults": _faults,
            "/_sandbox/reset-faults": _reset}
