"""The service's own request and response values, independent of the HTTP framework."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from . import errors


@dataclass
class Req:
    method: str
    path: str  # percent-decoded, relative to /api/data/v9.2/
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes = b""
    content_ids: dict[str, str] = field(default_factory=dict)

    @property
    def prefer(self) -> dict[str, str]:
        """`Prefer` preferences -> {name: value} (value "" when bare)."""
        prefs = {}
        for item in self.headers.get("prefer", "").split(","):
            name, _, value = item.strip().partition("=")
            if name:
                prefs[name.strip().lower()] = value.strip().strip('"')
        return prefs

    def json(self):
        try:
            return json.loads(self.body or b"{}")
        except ValueError:
            raise errors.bad_payload("Error identified in Payload provided by the user: the body is not "
                                     "valid JSON.") from None


@dataclass
class Resp:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @classmethod
    def json(cls, status: int, payload, headers: dict | None = None) -> Resp:
        return cls(status, {"Content-Type": "application/json; odata.metadata=minimal", "OData-Version": "4.0",
                            **(headers or {})}, json.dumps(payload).encode())
