"""F&O error responses (protocols.md B8).

The real service puts the useful text in `innererror.message` (the Infolog) and leaves `code` empty;
clients parse that shape, so every failure of this service is raised as `FinOpsError` and rendered
here, whether it ends a standalone request or one part of a `$batch`.
"""

from __future__ import annotations

import json

WRITE_EXCEPTION = "Microsoft.Dynamics.Platform.Integration.Services.OData.AxODataWriteException"
QUERY_EXCEPTION = "Microsoft.OData.ODataException"


class FinOpsError(Exception):
    """A failure the service reports to the client with `status` and the F&O error body."""

    def __init__(self, status: int, message: str, inner: str | None = None,
                 inner_type: str = WRITE_EXCEPTION):
        super().__init__(inner or message)
        self.status = status
        self.message = message
        self.inner = inner
        self.inner_type = inner_type

    def body(self) -> dict:
        error: dict = {"code": "", "message": self.message}
        if self.inner is not None:
            error["innererror"] = {"message": self.inner, "type": self.inner_type,
                                   "stacktrace": ""}
        return {"error": error}

    def payload(self) -> bytes:
        return json.dumps(self.body()).encode()


def write_failed(table_label: str, warnings: list[str], status: int = 400) -> FinOpsError:
    """The Infolog a validateField/validateWrite failure produces: every warning, in order."""
    infolog = "; ".join(warnings)
    return FinOpsError(status, "An error has occurred.",
                       f"Write failed for table row of type '{table_label}'. Infolog: {infolog}.")


def field_failed(table_label: str, field: str, warning: str) -> FinOpsError:
    """One field's validateField failure, named as the real Infolog names it."""
    return write_failed(table_label, [
        f"Warning: {warning}", f"Warning: validateField failed on field '{table_label}.{field}'"])


def bad_query(message: str) -> FinOpsError:
    return FinOpsError(400, message, message, QUERY_EXCEPTION)


def not_found(segment: str) -> FinOpsError:
    return FinOpsError(404, f"Resource not found for the segment '{segment}'.")


def read_only(set_name: str) -> FinOpsError:
    return FinOpsError(405, "An error has occurred.",
                       f"The entity '{set_name}' is read-only: it can not be created, updated "
                       "or deleted through OData.")
