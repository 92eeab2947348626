"""The Azure Blob storage behind F&O's Data management package API (protocols.md B10).

Real F&O hands out blob URLs with a shared access signature (SAS) in the query: `GetAzureWriteUrl`
for the package a client uploads, `GetExportedPackageUrl` and the error file APIs for what the
client downloads. The client talks to storage, not to F&O, with that URL alone: no bearer token.
The sandbox serves the container `dmf` path-style (as Azurite does) on the F&O port:

    PUT {finops_url}/blob/dmf/{name}?sv=...&sr=b&sp=cw&se=...&sig=...   (x-ms-blob-type: BlockBlob)
    GET {finops_url}/blob/dmf/{name}?sv=...&sr=b&sp=r&se=...&sig=...

The signature is an HMAC-SHA256 (key in `<data dir>/blob-account.key`, like Azure's account key)
over the permissions, the expiry and the blob's path, so a URL works for the blob, the operations
and the time it was issued for and nothing else. Failures answer as Azure Storage does: an XML
`<Error>` with `Code` and `Message` and the `x-ms-error-code` header (403 `AuthenticationFailed`
for a missing, altered or expired signature, 403 `AuthorizationPermissionMismatch` for an
operation the signature does not grant, 400 `MissingRequiredHeader` for a PUT without
`x-ms-blob-type`, 404 `BlobNotFound`). Blobs are files under `<data dir>/blobs/dmf/`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
import uuid
from datetime import datetime, timezone
from email.utils import formatdate
from pathlib import Path
from urllib.parse import quote, urlsplit, parse_qs
from xml.sax.saxutils import escape

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..auth import _signing_key

CONTAINER = "dmf"
STORAGE_VERSION = "2021-08-06"
#: how long a SAS URL stays valid; F&O's are short-lived too (data-management-api.md: "An SAS is
#: valid only during an expiry time window")
SAS_LIFETIME_S = 3600
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")


class BlobError(Exception):
    """An Azure Storage error answer: HTTP status, error code and message."""

    def __init__(self, status: int, code: str, message: str, **details: str):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details

    def response(self) -> Response:
        request_id = str(uuid.uuid4())
        extra = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in self.details.items())
        body = (f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{self.code}</Code><Message>'
                f'{escape(self.message)}\nRequestId:{request_id}\nTime:{_now_iso()}</Message>'
                f'{extra}</Error>')
        return Response(body, self.status, {"content-type": "application/xml",
                                            "x-ms-error-code": self.code,
                                            "x-ms-request-id": request_id,
                                            "x-ms-version": STORAGE_VERSION})


def _now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


def blob_name(text: str) -> str:
    """`text` as a blob name this store accepts (spaces and other characters become `-`)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:255] or "blob"


class BlobStore:
    """The `dmf` container: signed URLs, and the blobs themselves."""

    def __init__(self, root: Path, base_url: str):
        self.root = Path(root) / "blobs" / CONTAINER
        self.root.mkdir(parents=True, exist_ok=True)
        self.base_url = base_url
        self._key = _signing_key(Path(root) / "blob-account.key")

    def url(self, name: str, permissions: str) -> str:
        """A SAS URL for blob `name` granting `permissions` (`r` read, `c` create, `w` write)."""
        expiry = datetime.fromtimestamp(time.time() + SAS_LIFETIME_S, timezone.utc)
        se = expiry.strftime("%Y-%m-%dT%H:%M:%SZ")
        sig = quote(self._sign(name, permissions, se), safe="")
        return (f"{self.base_url}/blob/{CONTAINER}/{name}?sv={STORAGE_VERSION}&sr=b"
                f"&sp={permissions}&se={se}&sig={sig}")

    def name_of(self, url: str) -> str | None:
        """The blob a URL of this store names (None for any other URL): how F&O reads a package
        whose URL it issued."""
        parts = urlsplit(url)
        prefix = f"/blob/{CONTAINER}/"
        if f"{parts.scheme}://{parts.netloc}" != self.base_url or not parts.path.startswith(prefix):
            return None
        name = parts.path[len(prefix):]
        return name if _NAME.match(name) else None

    def _sign(self, name: str, permissions: str, expiry: str) -> str:
        text = f"{permissions}\n{expiry}\n/{CONTAINER}/{name}".encode()
        return base64.b64encode(hmac.new(self._key, text, hashlib.sha256).digest()).decode()

    def authorize(self, name: str, query: str, needed: str) -> None:
        """Raise the Azure error unless the SAS in `query` is this store's, for `name`, unexpired
        and grants one of the `needed` permissions."""
        params = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
        sp, se, sig = params.get("sp", ""), params.get("se", ""), params.get("sig", "")
        if not (sig and se) or not hmac.compare_digest(sig, self._sign(name, sp, se)):
            raise BlobError(403, "AuthenticationFailed",
                            "Server failed to authenticate the request. Make sure the value of "
                            "Authorization header is formed correctly including the signature.",
                            AuthenticationErrorDetail="Signature did not match.")
        try:
            expiry = datetime.strptime(se, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        except ValueError:
            expiry = datetime.fromtimestamp(0, timezone.utc)
        if expiry.timestamp() < time.time():
            raise BlobError(403, "AuthenticationFailed",
                            "Server failed to authenticate the request. Make sure the value of "
                            "Authorization header is formed correctly including the signature.",
                            AuthenticationErrorDetail=f"Signed expiry time [{se}] has to be after "
                                                      "the current time.")
        if not set(needed) & set(sp):
            raise BlobError(403, "AuthorizationPermissionMismatch",
                            "This request is not authorized to perform this operation using this "
                            "permission.")

    def put(self, name: str, data: bytes) -> None:
        path = self.root / name
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(data)
        partial.replace(path)  # readers never see half a blob

    def get(self, name: str) -> bytes:
        try:
            return (self.root / name).read_bytes()
        except FileNotFoundError:
            raise BlobError(404, "BlobNotFound", "The specified blob does not exist.") from None


def blob_routes(store: BlobStore) -> list[Route]:
    """`PUT`/`GET`/`HEAD` of `/blob/dmf/{name}`, authenticated by the SAS in the query alone."""

    async def blob(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            if not _NAME.match(name):
                raise BlobError(400, "InvalidResourceName",
                                "The specified resource name contains invalid characters.")
            if request.method == "PUT":
                store.authorize(name, request.url.query, "cw")
                if request.headers.get("x-ms-blob-type") != "BlockBlob":
                    raise BlobError(400, "MissingRequiredHeader",
                                    "An HTTP header that's mandatory for this request is not "
                                    "specified.", HeaderName="x-ms-blob-type")
                data = await request.body()
                await run_in_threadpool(store.put, name, data)
                md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
                return Response(status_code=201, headers={
                    "etag": f'"0x{uuid.uuid4().hex[:15].upper()}"', "content-md5": md5,
                    "last-modified": formatdate(usegmt=True), "x-ms-version": STORAGE_VERSION,
                    "x-ms-request-id": str(uuid.uuid4()),
                    "x-ms-request-server-encrypted": "true"})
            store.authorize(name, request.url.query, "r")
            data = await run_in_threadpool(store.get, name)
            headers = {"content-type": "application/octet-stream", "x-ms-blob-type": "BlockBlob",
                       "x-ms-version": STORAGE_VERSION, "x-ms-request-id": str(uuid.uuid4())}
            if request.method == "HEAD":
                return Response(status_code=200, headers={**headers,
                                                          "content-length": str(len(data))})
            return Response(data, 200, headers)
        except BlobError as exc:
            return exc.response()

    return [Route(f"/blob/{CONTAINER}/{{name}}", blob, methods=["GET", "HEAD", "PUT"])]
