"""Dataverse Web API client (``{url}/api/data/v9.2/``).

Writes use ``UpsertMultiple`` with each target addressed by its alternate key
(``"@odata.id": "accounts(accountnumber='A-1')"``): one request per batch of up to 1,000 rows.
UpsertMultiple does not say which rows it created, so each batch first looks its keys up (a few
filtered GETs selecting only key and id columns): keys found are *updated* with the id read, the
rest are *created* and their ids are read back afterwards. A steady-state sync (mostly updates)
therefore costs about 1 lookup + 1 write per 1,000 rows, an initial load one more lookup. The
alternative, a ``$batch`` of PATCH upserts with ``return=representation``, tells 201 from 200
directly but runs 1,000 separate operations on the server; UpsertMultiple is Dataverse's fast path.
On standard tables one bad target fails the whole request, so failing requests are split
(``writes.write_isolating_failures``).

Alternate-key fields are left out of the target bodies (the key in ``@odata.id`` fills them on
create), which avoids the UpsertMultiple create-path bug with key fields in the body (SDK #127).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Iterator, Sequence

import pandas as pd

from .base import ODataClient, frame
from .errors import DeltaTokenExpired, ServiceError
from .odata import eq, key_predicate
from .writes import PendingRow, WriteOutcome, match_key, write_isolating_failures

MAX_PAGE = 5000
TOKEN_EXPIRED = "0x80044352"   # "Version stamp associated with the client has expired."


@dataclass(frozen=True)
class Changes:
    """One change-tracking read: new and changed rows, ids of deleted rows, the link for next time."""

    rows: pd.DataFrame
    deleted_ids: list[str]
    delta_link: str


@dataclass(frozen=True)
class TableInfo:
    logical_name: str
    primary_id: str


class DataverseClient(ODataClient):
    """Reads, change tracking and bulk upserts against one Dataverse environment."""

    service = "Dataverse"
    api_path = "/api/data/v9.2/"

    def __init__(self, url: str, credential, *, page_size: int = MAX_PAGE, **kwargs):
        super().__init__(url, credential, **kwargs)
        if not 1 <= page_size <= MAX_PAGE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE}, got {page_size}")
        self.page_size = page_size
        self._tables: dict[str, TableInfo] = {}
        self._tables_lock = threading.Lock()

    def _prefer(self, *extra: str) -> dict[str, str]:
        return {"Prefer": ",".join([f"odata.maxpagesize={self.page_size}", *extra])}

    # --- reading -------------------------------------------------------------------------------

    def iter_pages(self, entity_set: str, select: Sequence[str] | None = None, filter: str | None = None,
                   orderby: str | None = None) -> Iterator[pd.DataFrame]:
        """One DataFrame per page of ``page_size`` rows."""
        params = {name: value for name, value in (("$select", ",".join(select or ())), ("$filter", filter),
                                                  ("$orderby", orderby)) if value}
        for body in self._pages(self.api + entity_set, params, self._prefer()):
            yield frame(body.get("value", []), select)

    def read(self, entity_set: str, select: Sequence[str] | None = None, filter: str | None = None,
             orderby: str | None = None) -> pd.DataFrame:
        """All rows of the query (every page) as one DataFrame."""
        pages = list(self.iter_pages(entity_set, select, filter, orderby))
        return pd.concat(pages, ignore_index=True) if len(pages) > 1 else pages[0]

    def read_changes(self, entity_set: str, select: Sequence[str] | None = None,
                     delta_link: str | None = None) -> Changes:
        """Rows changed and deleted since ``delta_link`` (everything when it is None).

        Raises ``DeltaTokenExpired`` when Dataverse has forgotten the token, so the caller can fall
        back to a full read.
        """
        if delta_link:
            url, params = delta_link, None
        else:
            url, params = self.api + entity_set, ({"$select": ",".join(select)} if select else None)
        rows, deleted, next_delta = [], [], None
        try:
            for body in self._pages(url, params, self._prefer("odata.track-changes")):
                for row in body.get("value", []):
                    if row.get("reason") == "deleted" or "$deletedEntity" in row.get("@odata.context", ""):
                        deleted.append(row["id"])
                    else:
                        rows.append(row)
                next_delta = body.get("@odata.deltaLink", next_delta)
        except ServiceError as exc:
            if delta_link and exc.is_row_error and (exc.code == TOKEN_EXPIRED or "expired" in (exc.message or "")):
                raise DeltaTokenExpired(f"Dataverse change-tracking token for {entity_set} expired: "
                                        f"{exc.message} (do a full read)") from None
            raise
        if not next_delta:
            raise ServiceError(self.service, "GET", entity_set, 200, None,
                               "no @odata.deltaLink in the response: is change tracking enabled on this table?")
        return Changes(frame(rows, select), deleted, next_delta)

    # --- writing -------------------------------------------------------------------------------

    def table(self, entity_set: str) -> TableInfo:
        """Logical name and primary id column of ``entity_set``, from EntityDefinitions (cached)."""
        with self._tables_lock:
            if entity_set not in self._tables:
                found = self.http.request("GET", self.api + "EntityDefinitions", params={
                    "$select": "LogicalName,EntitySetName,PrimaryIdAttribute",
                    "$filter": eq("EntitySetName", entity_set)}).json().get("value", [])
                if not found:
                    raise ValueError(f"Dataverse has no table with entity set {entity_set!r}")
                self._tables[entity_set] = TableInfo(found[0]["LogicalName"], found[0]["PrimaryIdAttribute"])
            return self._tables[entity_set]

    def _upsert_batch(self, entity_set: str, rows: list[PendingRow], key: list[str]) -> dict[int, WriteOutcome]:
        table = self.table(entity_set)
        keys = [r.key for r in rows]
        before = self._find_existing(entity_set, key, keys, [table.primary_id], headers=self._prefer())
        outcomes = write_isolating_failures(rows, lambda part: self._upsert_multiple(entity_set, table, part, key))
        created = [r for r in rows if outcomes[r.index].status != "failed" and match_key(r.key) not in before]
        after = self._find_existing(entity_set, key, [r.key for r in created], [table.primary_id],
                                    headers=self._prefer()) if created else {}
        for r in rows:
            if outcomes[r.index].status == "failed":
                continue
            seen = before.get(match_key(r.key)) or after.get(match_key(r.key)) or {}
            outcomes[r.index] = WriteOutcome(r.key, "updated" if match_key(r.key) in before else "created",
                                             target_id=seen.get(table.primary_id))
        return outcomes

    def _upsert_multiple(self, entity_set: str, table: TableInfo, rows: list[PendingRow],
                         key: list[str]) -> dict[int, WriteOutcome]:
        targets = [{"@odata.type": f"Microsoft.Dynamics.CRM.{table.logical_name}",
                    "@odata.id": f"{entity_set}({key_predicate(r.key_dict(key))})",
                    **r.body_without(key)} for r in rows]
        self.http.request("POST", f"{self.api}{entity_set}/Microsoft.Dynamics.CRM.UpsertMultiple",
                          json={"Targets": targets}, headers={"Content-Type": "application/json"})
        # provisional: _upsert_batch decides created vs updated and fills the ids
        return {r.index: WriteOutcome(r.key, "updated") for r in rows}
