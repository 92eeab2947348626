"""Dataverse error responses: `{"error":{"code":"0x8004…","message":"…"}}` with the real codes.

Handlers raise `DataverseError`; the app turns it into the JSON body (protocols.md A14).
"""

from __future__ import annotations

import json


class DataverseError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}

    def body(self) -> bytes:
        return error_body(self.code, self.message)


def error_body(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


def not_found(logical: str, row_id: str) -> DataverseError:
    return DataverseError(404, "0x80040217", f"{logical} With Id = {row_id} Does Not Exist")


def not_found_by_key(logical: str, key: dict) -> DataverseError:
    described = ", ".join(f"{k}:{v}" for k, v in key.items())
    return DataverseError(404, "0x80040217", f"A record with the specified key values does not exist in "
                                             f"{logical} entity ({described})")


def bad_query(message: str, status: int = 400) -> DataverseError:
    return DataverseError(status, "0x80060888", message)


def bad_payload(message: str) -> DataverseError:
    return DataverseError(400, "0x80048d19", message)


def validation(message: str) -> DataverseError:
    return DataverseError(400, "0x80044331", message)


def too_long(logical: str, attribute: str, max_length: int) -> DataverseError:
    return validation(f"A validation error occurred.  The length of the '{attribute}' attribute of the "
                      f"'{logical}' entity exceeded the maximum allowed length of '{max_length}'.")


def duplicate(message: str = "A record with matching key values already exists.") -> DataverseError:
    return DataverseError(412, "0x80040237", message)


def plugin(message: str) -> DataverseError:
    return DataverseError(400, "0x80040265", message)


def sql_timeout() -> DataverseError:
    return DataverseError(500, "0x80044151", "Sql error: SQL timeout expired. CRM ErrorCode: -2147204783 "
                                             "Sql ErrorCode: -2146232060 Sql Number: -2")


def version_mismatch() -> DataverseError:
    return DataverseError(412, "0x80060882", "The version of the existing record doesn't match the "
                                             "RowVersion property provided.")


def throttled_body(retry_after: int) -> bytes:
    return error_body("0x80072322", "Number of requests exceeded the limit of 6000 over time window of "
                                    "300 seconds.")
