"""Errors the connectors raise.

Every error names the service, the request (method and path, never headers or bodies) and the
service's own error code and message, so a failed sync says *what* the far side refused, plus the
service's id of the request (`Activity`), which is what Microsoft support asks for first. Nothing
here ever holds a token or a client secret.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Mapping

#: Response headers naming the service's id of a request, and what to call each id in a message.
#: F&O stamps every response (batch responses included) with `ms-dyn-aid` (protocols.md B8);
#: Dataverse answers with `x-ms-service-request-id` (A1).
_ACTIVITY_HEADERS = (("ms-dyn-aid", "F&O activity id"),
                     ("x-ms-service-request-id", "Dataverse request id"))


@dataclass(frozen=True)
class Activity:
    """The service's id of one request/response: quoting it lets Microsoft find the server trace."""

    label: str  # "F&O activity id"
    id: str

    @classmethod
    def of(cls, headers: Mapping[str, str]) -> Activity | None:
        """The activity named by ``headers`` (any letter case), or None when the service sent none."""
        lowered = {k.lower(): v for k, v in headers.items()}
        for header, label in _ACTIVITY_HEADERS:
            if lowered.get(header):
                return cls(label, lowered[header])
        return None


def with_activity(message: str, activity: Activity | None) -> str:
    """``message`` with the activity id appended, so whoever reads it can quote it to support."""
    if activity is None:
        return message
    return f"{message} ({activity.label} {activity.id}, quote it to Microsoft support)"


class ConnectorError(Exception):
    """Base class: something went wrong talking to Dataverse or Finance and Operations."""


class AuthenticationError(ConnectorError):
    """The identity provider refused the credentials, or the service refused a fresh token.

    Never retried: a wrong secret or a missing application user does not fix itself.
    """


class ServiceUnreachable(ConnectorError):
    """The service did not answer at all (refused, reset, timed out) after the retries.

    The session that raised it keeps raising it, with the same message, for every later request: one
    unreachable service makes a run fail fast instead of retrying in every step.
    """


class ServiceError(ConnectorError):
    """The service answered with an HTTP error (after any retries).

    ``message`` is the service's own text; ``detail`` adds the activity id, and is what the string
    of the error and a failed row's ``WriteOutcome.error_message`` show.
    """

    def __init__(self, service: str, method: str, url: str, status: int, code: str | None, message: str | None,
                 activity: Activity | None = None):
        self.service = service
        self.method = method
        self.url = url
        self.status = status
        self.code = code
        self.message = message
        self.activity_id = activity.id if activity else None
        self.detail = with_activity(message or f"HTTP {status} (no message)", activity)
        code_part = f" [{code}]" if code else ""
        super().__init__(f"{service} {method} {url} -> HTTP {status}{code_part}: {self.detail}")

    @property
    def is_row_error(self) -> bool:
        """True when the request content was refused (a 4xx other than auth/throttling).

        Only such failures are worth splitting a batch for; an outage would fail every half too.
        """
        return 400 <= self.status < 500 and self.status not in (401, 403, 429)


class DeltaTokenExpired(ConnectorError):
    """Dataverse no longer knows the change-tracking token: the caller must do a full read."""


def parse_error_body(body: bytes | str | None) -> tuple[str | None, str | None]:
    """(code, message) from an OData error body, in either service's shape.

    Dataverse puts the text in ``error.message`` with an HRESULT ``error.code``; Finance and
    Operations leaves ``code`` empty, says "An error has occurred." and puts the Infolog in
    ``error.innererror.message``, which is the only useful part, so it wins when present.
    """
    if not body:
        return None, None
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        error = json.loads(text).get("error") or {}
    except (ValueError, AttributeError):
        return None, text.strip()[:500] or None
    inner = error.get("innererror") or {}
    message = inner.get("message") or error.get("message")
    return (error.get("code") or None), message
