"""OData `$batch` bodies (multipart/mixed): parse a request into operations, build the response.

The MIME structure is parsed with the standard library's `email` package; each `application/http`
part holds one raw HTTP request (request line, headers, blank line, body). A service runs the
operations with its own request handler and hands the results to `build_response`. Both services
share this module; what a batch *means* (atomic changesets, continue-on-error) is theirs to decide.
"""

from __future__ import annotations

import email.parser
import email.policy
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus


class BatchFormatError(ValueError):
    """The body is not a well-formed OData batch; `message` says what is wrong."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class Operation:
    """One request inside a batch; `content_id` is set inside changesets."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    content_id: str | None = None


@dataclass
class ChangeSet:
    """Operations that succeed or fail together."""

    operations: list[Operation] = field(default_factory=list)


@dataclass
class Result:
    """The response to one operation."""

    status: int
    headers: dict[str, str]
    body: bytes = b""
    content_id: str | None = None


def _parse_http(part, content_id: str | None) -> Operation:
    raw = part.get_payload(decode=True) or b""
    head, _, body = raw.partition(b"\r\n\r\n" if b"\r\n\r\n" in raw else b"\n\n")
    lines = head.decode("utf-8", "replace").strip().splitlines()
    if not lines or len(lines[0].split(" ")) < 2:
        raise BatchFormatError("A batch part does not start with an HTTP request line.")
    method, url = lines[0].split(" ")[:2]
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise BatchFormatError(f"Malformed header line in a batch part: {line!r}.")
        headers[name.strip().lower()] = value.strip()
    return Operation(method.upper(), url, headers, body.rstrip(b"\r\n"), content_id)


def parse_batch(body: bytes, content_type: str) -> list[Operation | ChangeSet]:
    """The top-level items of a batch request, in order."""
    if not content_type.lower().startswith("multipart/mixed") or "boundary" not in content_type.lower():
        raise BatchFormatError("The batch Content-Type must be multipart/mixed with a boundary.")
    message = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
    if not message.is_multipart():
        raise BatchFormatError("The batch body is not a multipart/mixed document.")
    items: list[Operation | ChangeSet] = []
    for part in message.get_payload():
        if part.get_content_type() == "multipart/mixed":
            changeset = ChangeSet()
            for inner in part.get_payload():
                changeset.operations.append(_parse_http(inner, inner.get("Content-ID")))
            items.append(changeset)
        elif part.get_content_type() == "application/http":
            items.append(_parse_http(part, part.get("Content-ID")))
        else:
            raise BatchFormatError(f"Unexpected batch part of type {part.get_content_type()}.")
    if not items:
        raise BatchFormatError("The batch holds no requests.")
    return items


def _http_part(result: Result) -> bytes:
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if result.content_id is not None:
        lines.append(f"Content-ID: {result.content_id}")
    reason = HTTPStatus(result.status).phrase if result.status in HTTPStatus._value2member_map_ else ""
    lines += ["", f"HTTP/1.1 {result.status} {reason}"]
    lines += [f"{k}: {v}" for k, v in result.headers.items() if k.lower() != "content-length"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + result.body


def build_response(items: list[Result | list[Result]], prefix: str = "batchresponse") -> tuple[bytes, str]:
    """A batch response body and its Content-Type; a list of Results is one changeset response."""
    boundary = f"{prefix}_{uuid.uuid4()}"
    chunks = []
    for item in items:
        chunks.append(f"--{boundary}\r\n".encode())
        if isinstance(item, list):
            inner = f"changesetresponse_{uuid.uuid4()}"
            chunks.append(f"Content-Type: multipart/mixed; boundary={inner}\r\n\r\n".encode())
            for result in item:
                chunks += [f"--{inner}\r\n".encode(), _http_part(result), b"\r\n"]
            chunks.append(f"--{inner}--\r\n".encode())
        else:
            chunks += [_http_part(item), b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/mixed; boundary={boundary}"


def parse_response(body: bytes, content_type: str) -> list[Result | list[Result]]:
    """A batch response body -> Results (a list of Results for each changeset), for clients and tests."""
    def result(op: Operation) -> Result:
        if not op.url.isdigit():
            raise BatchFormatError(f"A batch response part has no status line: {op.method} {op.url}.")
        return Result(int(op.url), op.headers, op.body, op.content_id)

    return [[result(op) for op in item.operations] if isinstance(item, ChangeSet) else result(item)
            for item in parse_batch(body, content_type)]
