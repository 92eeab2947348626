"""Dataverse Web API client (``{url}/api/data/v9.2/``).

Writes use the bulk messages (protocols.md A11), one request per batch of rows: 1,000 to start (the
start Microsoft suggests for standard tables: "Use bulk operation messages", Number of records), more
while the table answers fast, fewer after a timeout (``sizing.BulkSize``), batches in parallel up to
``max_concurrency``. Which message a row takes depends on what the
caller knows, because the engine's ledger needs created vs updated per row and the answers differ:

- ``CreateMultiple`` for rows the caller has not seen land (``landed`` false): it answers the new
  records' ``Ids`` in ``Targets`` order, so a request that succeeds says "created" with the id for
  every row, with no lookup before or read-back after.
- ``UpsertMultiple`` by alternate key (``"@odata.id": "accounts(accountnumber='A-1')"``) for rows
  the caller knows landed before: updated, no id needed (the caller has it). Microsoft's reference
  for the action says it answers ``204 No Content``, "The UpsertMultipleResponse complex type is not
  returned" (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/upsertmultiple),
  so it can tell nobody what it created; it is used where nothing needs telling.

A CreateMultiple the service refuses (4xx) had some row already there: the ledger did not know it
(a new ledger, a target filled by someone else), or the connection dropped after the service had
created the rows and ``http.HttpSession`` sent the request again. On a standard table one such row
rolls the whole request back ("Cannot insert duplicate key", -2147220937:
https://learn.microsoft.com/troubleshoot/power-platform/power-apps/dataverse/client-errors), so the
refused rows are looked up with one key-only read (``_key_ids``) and written with UpsertMultiple,
which lands each row once whatever it meets; found rows are updated with the id read, the others
created, their ids from one more key read. (A row whose create answer was lost is among the found
ones and counts as updated: nothing tells it from a row someone else created; its id is right.)
The key's unique index (an alternate key: UpsertMultiple's ``@odata.id`` needs one anyway, and the
preflight checks the flows' keys against the tenant's) is what refuses a CreateMultiple sent twice.

The first CreateMultiple of a call goes alone: when it is refused, the other rows the ledger has not
seen land are likely not new either, and all of them are looked up instead of being sent in
requests bound to be refused. So does a client's first request of each message to a table, at the
start size: its time sizes the requests after it. So a write costs one request per batch when the
ledger knows the target, and a refused request and two key reads more a window when it does not
(each one request however many keys: see the reads below), against the 2 per 1,000 rows that
Microsoft's service protection limits make worth aiming at. Rows are made ready a batch first (what
goes alone), then ``WINDOW`` batches at a time (``writes.prepared_windows``), the next window made
while one is written (``writes.made_ahead``), so the rows of a call are never all held as request
bodies at once and the requests do not wait for rows to be made; a call whose CreateMultiple was
refused looks its new rows up a window at a time (two key reads a window).

Why batches in parallel, grown from 1,000 to at most a window's rows over the requests in flight
(5,000 at the defaults), and not one request: a failed request stays cheap to split, a request stays
well inside the time limits (``sizing``), and the requests in flight are what the service protection
limits count (protocols.md A13: 52 concurrent requests per user, and 20 minutes of execution time per 5
minutes, i.e. about 4 requests busy all the time), so ``max_concurrency`` (default 4) is the cap;
a 429 waits for its ``Retry-After`` (``http.HttpSession``). On standard tables one bad target fails
the whole request, so failing UpsertMultiple requests are split (``writes.write_isolating_failures``).
Microsoft's Python SDK (PowerPlatform-Dataverse-Client 1.1.0, ``records.create`` / ``records.upsert``
with a list) sends every row in one CreateMultiple or UpsertMultiple and one request at a time:
fewer requests, but one request as long as the whole write, all of it lost to one bad row,
and nothing in parallel. On the sandbox (``benchmarks/dataverse_writer.py``, 10,000 accounts) the
two take the same time to within the noise of a shared machine; on a real service Microsoft
recommends parallel requests for throughput ("Sending requests in parallel is a recommended strategy
to increase total throughput when performing bulk operations", its Web API Parallel Operations
sample, https://learn.microsoft.com/samples/microsoft/powerapps-samples/web-api-parallel-operations-sample),
which one request of 10,000 cannot use.

Alternate-key fields are left out of the UpsertMultiple target bodies (the key in ``@odata.id``
fills them on create), which avoids the UpsertMultiple create-path bug with key fields in the body
(SDK #127); a CreateMultiple target carries them as ordinary columns.

Not every standard table has the bulk messages (protocols.md A11): for such a table the bound
action is not declared and Dataverse answers 404 ``0x80060888`` "Resource not found for the
segment 'Microsoft.Dynamics.CRM.CreateMultiple'". The first request to a table goes alone and finds
out; the client then remembers the entity set (per client, see ``tables_without_bulk``) and writes
that table with ``$batch`` instead: one PATCH upsert per row on its alternate-key URL with
``Prefer: return=representation`` (and ``$select=<primary id>`` to keep the answer small), so 201
says created and 200 updated without any lookup; each row is its own changeset, so a refused row
rolls back only itself (no splitting needed), and the batch carries ``Prefer: odata.continue-on-error``
so the rows after it still run. One ``$batch`` per batch of up to 1,000 rows (Dataverse's cap on
operations per batch). Parts that answer a transient error (429/502/503/504, a deadlock code:
``http.RetryPolicy``) are sent again in a new batch with the same backoff as a whole request; a
PATCH upsert sent again after its answer was lost answers 200 instead of 201 (the row counts as
updated, not created). A part answering 204 (the preference ignored) counts as updated, with the id
from ``OData-EntityId``.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Callable, Iterator, Mapping, Sequence
from urllib.parse import quote, urlsplit

import pandas as pd
import requests

from .base import MAX_BATCH, ODataClient, concat, frame
from .batch import BatchRequest, BatchResponse, build_batch, parse_batch
from .errors import DeltaTokenExpired, ServiceError, parse_error_body
from .http import retry_after_seconds
from .odata import chunk_values, entity_path, eq, in_function, key_predicate
from .protocol import AnyOf, Delta, Ref
from .sizing import BulkSize
from .writes import (PendingRow, WriteOutcome, failed_with, made_ahead, match_key, prepared_windows,
                     write_isolating_failures)

log = logging.getLogger("p2c_assets.connectors")

MAX_PAGE = 5000
WINDOW = 20  # batches of rows a write makes ready at a time (`writes.prepared_windows`)
MAX_IN_VALUES = 2000   # values of one In (module docstring)
MAX_BATCH_URL = 64 * 1024   # characters of a URL inside a $batch (protocols.md A10)
TOKEN_EXPIRED = "0x80044352"   # "Version stamp associated with the client has expired."
SEGMENT_NOT_FOUND = "0x80060888"   # "Resource not found for the segment '...'": an undeclared bound action
SQL_TIMEOUT = "0x80044151"   # "SQL timeout expired" (-2147204783): a smaller batch may pass (`sizing`)
_GUID = re.compile(r"\(([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\)\s*$")


class _BulkMessagesMissing(Exception):
    """UpsertMultiple is not declared for the table; not a ServiceError, so no batch splitting."""


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
        self._no_bulk: set[str] = set()
        self._bulk_ok: set[str] = set()
        self._sizes: dict[tuple[str, str, int], BulkSize] = {}
        self._no_bulk_lock = threading.Lock()
        self._settings: dict[str, object] = {}
        self._settings_lock = threading.Lock()

    def _prefer(self, *extra: str) -> dict[str, str]:
        return {"Prefer": ",".join([f"odata.maxpagesize={self.page_size}", *extra])}

    # --- reading -------------------------------------------------------------------------------

    def iter_pages(self, entity_set: str, select: Sequence[str] | None = None, filter: str | None = None,
                   orderby: str | None = None, *, where: AnyOf | None = None,
                   companies: Sequence[str] | None = None, compact: bool = False) -> Iterator[pd.DataFrame]:
        """One DataFrame per page of ``page_size`` rows (``compact``: its text held by pyarrow,
        ``frames.compact_text``).

        ``companies`` narrows nothing: Dataverse rows belong to business units, not to F&O legal
        entities, so every row is read and a flow maps business units to legal entities itself.
        """
        url = self.api + entity_set
        params = {name: value for name, value in (("$select", ",".join(select or ())), ("$orderby", orderby)) if value}
        if where is None:
            queries = [filter]
        else:   # as long as a URL inside a $batch may be, less what the rest of it takes
            room = MAX_BATCH_URL - len(url) - len(_query({**params, "$filter": filter or ""})) - 16
            queries = self._filters(filter, where, room)
        if len(queries) == 1 and len(quote(queries[0] or "", safe="")) <= self.max_filter_chars:
            bodies = self._pages(url, {**params, "$filter": queries[0]} if queries[0] else params, self._prefer())
        else:
            bodies = self._batched_pages([f"{url}?{_query({**params, '$filter': q})}" for q in queries])
        for body in bodies:
            yield frame(body.get("value", []), select, compact)

    def _filters(self, filter: str | None, where: AnyOf | None, max_chars: int | None = None) -> list[str | None]:
        """As ``ODataClient._filters``, a one-field ``where`` as ``In`` lists of at most ``MAX_IN_VALUES``,
        each under ``max_chars`` (default ``max_filter_chars``) once encoded."""
        if where is None or len(where.fields) != 1:
            return super()._filters(filter, where)
        ins = [in_function(where.fields[0], chunk) for chunk in chunk_values(
            where.fields[0], [k[0] for k in where.keys], max_chars or self.max_filter_chars, MAX_IN_VALUES)]
        return [f"({filter}) and {i}" if filter else i for i in ins]

    def _batched_pages(self, urls: list[str]) -> Iterator[dict]:
        """Response bodies of the GETs ``urls`` and of their next pages: 1,000 GETs per ``$batch``."""
        while urls:
            links = []
            for share in range(0, len(urls), MAX_BATCH):
                gets = [BatchRequest("GET", u, headers=self._prefer()) for u in urls[share:share + MAX_BATCH]]
                for get, answer in zip(gets, self._batch(gets, changesets=False)):
                    if answer is None:
                        raise ServiceError(self.service, "GET", urlsplit(get.url).path, 0, "NoResponse",
                                           "the $batch response has no part for this GET")
                    if answer.status >= 300:
                        raise ServiceError(self.service, "GET", urlsplit(get.url).path, answer.status,
                                           *parse_error_body(answer.body))
                    body = answer.json()
                    yield body
                    if body.get("@odata.nextLink"):
                        links.append(body["@odata.nextLink"])
            urls = links

    def read(self, entity_set: str, select: Sequence[str] | None = None, filter: str | None = None,
             orderby: str | None = None, *, where: AnyOf | None = None,
             companies: Sequence[str] | None = None, compact: bool = False) -> pd.DataFrame:
        """All rows of the query (every page) as one DataFrame."""
        return concat(list(self.iter_pages(entity_set, select, filter, orderby, where=where, compact=compact)),
                      select, compact)

    def id_column(self, entity_set: str) -> str:
        """A table's primary id column: its logical name + ``id`` (``uoms`` -> ``uomid``,
        ``transactioncurrencies`` -> ``transactioncurrencyid``)."""
        singular = entity_set[:-3] + "y" if entity_set.endswith("ies") else entity_set[:-1]
        return singular + "id"

    def read_since(self, entity_set: str, select: Sequence[str], *, filter: str | None = None,
                   companies: Sequence[str] | None = None, delta_link: str | None = None,
                   compact: bool = False) -> Delta:
        """The rows of the query that changed since ``delta_link``, by change tracking; all without one.
        ``compact``: their text held by pyarrow (``frames.compact_text``).

        A change-tracking read takes no ``$filter``, so it is asked for the ids only and the changed
        rows are read again with the filter: a row that no longer matches is among ``changed_ids`` but
        not in ``rows``. Without a link the feed is opened before the full read, so a change made
        while the rows are read comes back next time rather than slipping by.
        """
        pk = self.id_column(entity_set)
        select = list(dict.fromkeys([*select, pk]))
        if delta_link is None:
            link = self.read_changes(entity_set, select=[pk]).delta_link
            return Delta(self.read(entity_set, select, filter, compact=compact), (), (), link)
        changes = self.read_changes(entity_set, select=[pk], delta_link=delta_link)
        ids = tuple(str(i) for i in changes.rows[pk]) if not changes.rows.empty else ()
        rows = self.read(entity_set, select, filter, where=AnyOf((pk,), tuple((uuid.UUID(i),) for i in ids)),
                         compact=compact)
        return Delta(rows, ids, tuple(changes.deleted_ids), changes.delta_link)

    def read_changes(self, entity_set: str, select: Sequence[str] | None = None,
                     delta_link: str | None = None) -> Changes:
        """Rows changed and deleted since ``delta_link`` (everything when it is None).

        Over ``page_size`` rows the answer pages (protocols.md A5, A12): every page but the last has
        an ``@odata.nextLink``, followed verbatim with the same ``Prefer`` (``odata.track-changes``
        too, or the service would treat the next page as an ordinary query); only the last page has
        the ``@odata.deltaLink``, so only a read that reached the last page yields a link for next time.

        Raises ``DeltaTokenExpired`` when Dataverse has forgotten the token, so the caller can fall
        back to a full read.
        """
        if delta_link:
            url, params = delta_link, None
        else:
            url, params = self.api + entity_set, ({"$select": ",".join(select)} if select else None)
        # a frame per page: opening the feed of a million rows held a dict per row before it was made a frame
        pages, deleted, next_delta = [], [], None
        try:
            for body in self._pages(url, params, self._prefer("odata.track-changes")):
                rows = []
                for row in body.get("value", []):
                    if row.get("reason") == "deleted" or "$deletedEntity" in row.get("@odata.context", ""):
                        deleted.append(row["id"])
                    else:
                        rows.append(row)
                if rows:
                    pages.append(frame(rows, select))
                next_delta = body.get("@odata.deltaLink")
        except ServiceError as exc:
            if delta_link and exc.is_row_error and (exc.code == TOKEN_EXPIRED or "expired" in (exc.message or "")):
                raise DeltaTokenExpired(f"Dataverse change-tracking token for {entity_set} expired: "
                                        f"{exc.message} (do a full read)") from None
            raise
        if not next_delta:
            raise ServiceError(self.service, "GET", entity_set, 200, None,
                               "no @odata.deltaLink in the response: is change tracking enabled on this table?")
        return Changes(concat(pages, select), deleted, next_delta)

    def organization_setting(self, name: str) -> object:
        """A column of the environment's one ``organizations`` row, its system settings
        (``createproductswithoutparentinactivestate``): one ``GET organizations?$select=<name>`` per
        name and client, since a setting changes by an admin's hand, not during a sync.

        None when the service will not tell (no such column, or no read privilege on the organization):
        the caller then does what it would do without the setting, which is always correct, only dearer.
        """
        with self._settings_lock:
            if name not in self._settings:
                try:
                    rows = self.http.request("GET", self.api + "organizations",
                                             params={"$select": name}).json().get("value", [])
                except ServiceError as exc:
                    if not (exc.is_row_error or exc.status == 403):
                        raise
                    log.warning("Dataverse organization setting %s is unknown (%s): going without it", name, exc)
                    rows = []
                self._settings[name] = rows[0].get(name) if rows else None
            return self._settings[name]

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

    def _complete(self, row: Mapping[str, object], key: list[str]) -> Mapping[str, object]:
        """A ``Ref`` becomes the link Dataverse writes: ``<nav>@odata.bind: /accounts(accountnumber='A-1')``
        for an alternate key (the Web API resolves it, no id needed), ``/uoms(<guid>)`` for an id."""
        if not any(isinstance(value, Ref) for value in row.values()):
            return row
        return {(f"{name}@odata.bind" if isinstance(value, Ref) else name): _link(value) if isinstance(value, Ref)
                else value for name, value in row.items()}

    @property
    def tables_without_bulk(self) -> frozenset[str]:
        """Entity sets this client found without the bulk messages and writes with ``$batch``."""
        with self._no_bulk_lock:
            return frozenset(self._no_bulk)

    def upsert_many(self, entity_set: str, rows: Sequence[Mapping[str, object]], key: Sequence[str],
                    batch_size: int = MAX_BATCH, *, landed: Sequence[bool] | None = None) -> list[WriteOutcome]:
        """Insert or update ``rows`` by ``key``; one ``WriteOutcome`` per row, in row order.

        ``landed[i]`` True says the caller knows row ``i`` is in the target (it landed before), so it
        is reported updated without a look-up (and without an id: the caller has it). Rows the service
        refuses come back as ``failed`` with its error code and message; the other rows land.
        """
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be between 1 and {MAX_BATCH}, got {batch_size}")
        key = list(key)
        outcomes: dict[int, WriteOutcome] = {}
        refused: bool | None = None  # whether this call's CreateMultiple was refused; None: not sent yet
        for pending, failed in made_ahead(prepared_windows(entity_set, rows, key, batch_size * WINDOW,
                                                           partial(self._complete, key=key), first=batch_size)):
            outcomes.update(failed)
            if pending:
                written, refused = self._write(entity_set, pending, key, landed, batch_size, refused)
                outcomes.update(written)
        return [outcomes[i] for i in range(len(rows))]

    def _write(self, entity_set: str, pending: list[PendingRow], key: list[str], landed: Sequence[bool] | None,
               batch_size: int, refused: bool | None) -> tuple[dict[int, WriteOutcome], bool | None]:
        """One window of rows written (bulk messages, or `$batch` for a table without them); and whether
        the call's CreateMultiple was refused, as far as it knows now."""
        table = self.table(entity_set)
        known = {r.index for r in pending if landed is not None and landed[r.index]}
        written = None
        if entity_set not in self.tables_without_bulk:
            written, refused = self._write_bulk(entity_set, table, pending, key, known, batch_size, refused)
        if written is None:
            written = self._each([partial(write_isolating_failures, batch, partial(
                self._upsert_changesets, entity_set, table, key)) for batch in _chunks(pending, batch_size)])
        return written, refused

    def _each(self, jobs: list[Callable[[], dict[int, WriteOutcome]]]) -> dict[int, WriteOutcome]:
        """Every job, ``max_concurrency`` at a time; their outcomes together."""
        outcomes: dict[int, WriteOutcome] = {}
        with ThreadPoolExecutor(max_workers=self.max_concurrency) as pool:
            for result in pool.map(lambda job: job(), jobs):
                outcomes.update(result)
        return outcomes

    # --- CreateMultiple and UpsertMultiple -----------------------------------------------------

    def _write_bulk(self, entity_set: str, table: TableInfo, rows: list[PendingRow], key: list[str],
                    known: set[int], batch_size: int, refused: bool | None,
                    ) -> tuple[dict[int, WriteOutcome] | None, bool | None]:
        """``rows`` through the bulk messages (module docstring): CreateMultiple for the rows not
        ``known`` to have landed (none once the call's first was ``refused``: they are looked up),
        UpsertMultiple for the others, refused creates looked up and upserted, each request as large as
        the table's ``BulkSize`` says; None when the table turns out to have no bulk messages. And whether
        the call's CreateMultiple was refused."""
        new = [] if refused else [r for r in rows if r.index not in known]
        old = [r for r in rows if r.index in known]
        creating, upserting = (self._size(entity_set, m, batch_size) for m in ("CreateMultiple", "UpsertMultiple"))

        def create(batch: list[PendingRow]) -> dict[int, WriteOutcome]:
            """CreateMultiple; no outcome for the rows of a request refused for its content."""
            try:
                return self._create_multiple(entity_set, table, creating, batch)
            except ServiceError as exc:
                return {} if exc.is_row_error else failed_with(batch, exc)

        upsert = partial(self._upsert_isolating, entity_set, table, key, upserting)
        # alone first: whether the table has the bulk messages, whether new rows are new, how long a
        # request of the table takes (`BulkSize`)
        first, creates_first = None, bool(new) and (refused is None or not creating.measured)
        if creates_first:
            first, new = partial(create, new[:batch_size]), new[batch_size:]
        elif old and (entity_set not in self._bulk_ok or not upserting.measured):
            first, old = partial(upsert, old[:batch_size]), old[batch_size:]
        outcomes: dict[int, WriteOutcome] = {}
        if first is not None:
            try:
                outcomes = first()
            except _BulkMessagesMissing:
                with self._no_bulk_lock:
                    self._no_bulk.add(entity_set)
                log.info("Dataverse %s has no bulk messages: writing it with $batch", entity_set)
                return None, refused
            with self._no_bulk_lock:
                self._bulk_ok.add(entity_set)
            if creates_first and refused is None:
                refused = not outcomes
                if refused:  # every new row is looked up, none created blindly
                    new = []
        outcomes.update(self._each(
            [partial(create, b) for b in _chunks(new, creating.rows(len(new), self.max_concurrency))]
            + [partial(upsert, b) for b in _chunks(old, upserting.rows(len(old), self.max_concurrency))]))
        left = [r for r in rows if r.index not in outcomes]
        if left:
            outcomes.update(self._look_up_and_upsert(entity_set, table, left, key, upserting))
        return outcomes, refused

    def _size(self, entity_set: str, message: str, batch_size: int) -> BulkSize:
        """The ``BulkSize`` of ``message`` on ``entity_set`` for writes that start at ``batch_size``: at most
        a window's rows shared among the requests in flight."""
        with self._tables_lock:
            return self._sizes.setdefault((entity_set, message, batch_size), BulkSize(
                batch_size, batch_size * WINDOW // self.max_concurrency))

    def _look_up_and_upsert(self, entity_set: str, table: TableInfo, rows: list[PendingRow], key: list[str],
                            size: BulkSize) -> dict[int, WriteOutcome]:
        """Rows of refused CreateMultiple requests: one key read before says which are there (updated,
        with the id read), UpsertMultiple lands them all (splitting around bad rows), one key read after
        gives the ids of the rows it created."""
        before = self._key_ids(entity_set, table, key, [r.key for r in rows])
        written = self._each([partial(self._upsert_isolating, entity_set, table, key, size, batch)
                              for batch in _chunks(rows, size.rows(len(rows), self.max_concurrency))])
        landed_now = [r for r in rows if written[r.index].status != "failed"]
        after = self._key_ids(entity_set, table, key, [r.key for r in landed_now if match_key(r.key) not in before])
        for r in landed_now:
            new = match_key(r.key) not in before
            written[r.index] = WriteOutcome(r.key, "created" if new else "updated",
                                            target_id=(after if new else before).get(match_key(r.key)))
        return written

    def _key_ids(self, entity_set: str, table: TableInfo, key: list[str], keys: list[tuple]) -> dict[tuple, str]:
        """``match_key`` -> primary id of the rows among ``keys`` that the table holds: one key-only read
        by those keys (``read`` narrows by ``In`` lists, as many as it takes in one ``$batch``)."""
        if not keys:
            return {}
        found = self.read(entity_set, [*key, table.primary_id], where=AnyOf(tuple(key), tuple(keys)))
        return {match_key(k): i for k, i in zip(zip(*(found[f] for f in key)), found[table.primary_id])}

    def _bulk(self, entity_set: str, table: TableInfo, message: str, size: BulkSize, targets: list[dict]) -> list[str]:
        """POST a bulk message with ``targets``: the ids a CreateMultiple answers, in their order (an
        UpsertMultiple answers none). ``_BulkMessagesMissing`` when the table has none. The time to the
        answer goes to ``size``; a request the service times out on is sent again in halves (``sizing``)."""
        kind = f"Microsoft.Dynamics.CRM.{table.logical_name}"
        try:
            response = self.http.request("POST", f"{self.api}{entity_set}/Microsoft.Dynamics.CRM.{message}",
                                         json={"Targets": [{"@odata.type": kind, **t} for t in targets]})
        except ServiceError as exc:
            if exc.status == 404 and exc.code == SEGMENT_NOT_FOUND:
                raise _BulkMessagesMissing(entity_set) from None
            if exc.code == SQL_TIMEOUT and len(targets) > 1:
                size.timed_out(len(targets))
                log.info("Dataverse %s: %s of %d rows timed out; sending it in halves", entity_set, message,
                         len(targets))
                half = len(targets) // 2
                return self._bulk(entity_set, table, message, size, targets[:half]) + \
                    self._bulk(entity_set, table, message, size, targets[half:])
            raise
        size.took(len(targets), response.elapsed.total_seconds())
        return response.json()["Ids"] if message == "CreateMultiple" else []

    def _create_multiple(self, entity_set: str, table: TableInfo, size: BulkSize,
                         rows: list[PendingRow]) -> dict[int, WriteOutcome]:
        """Every row created, with its id from the answer's ``Ids`` (one per target, in their order)."""
        ids = self._bulk(entity_set, table, "CreateMultiple", size, [r.row for r in rows])
        return {r.index: WriteOutcome(r.key, "created", target_id=i) for r, i in zip(rows, ids, strict=True)}

    def _upsert_isolating(self, entity_set: str, table: TableInfo, key: list[str], size: BulkSize,
                          rows: list[PendingRow]) -> dict[int, WriteOutcome]:
        """UpsertMultiple by alternate key, split around the rows the service refuses; the others updated."""
        def send(part: list[PendingRow]) -> dict[int, WriteOutcome]:
            self._bulk(entity_set, table, "UpsertMultiple", size, [
                {"@odata.id": f"{entity_set}({key_predicate(r.key_dict(key))})", **r.body_without(key)} for r in part])
            return {r.index: WriteOutcome(r.key, "updated") for r in part}
        return write_isolating_failures(rows, send)

    # --- $batch (tables without the bulk messages) ---------------------------------------------

    def _upsert_changesets(self, entity_set: str, table: TableInfo, key: list[str],
                           rows: list[PendingRow]) -> dict[int, WriteOutcome]:
        """One ``$batch`` of PATCH upserts, a changeset per row."""
        if len(rows) > MAX_BATCH:
            raise ValueError(f"a Dataverse $batch holds at most {MAX_BATCH} operations, got {len(rows)}")
        patches = [BatchRequest("PATCH", f"{self.api}{entity_path(entity_set, r.key_dict(key))}"
                                         f"?$select={table.primary_id}",
                                r.body_without(key), {"Prefer": "return=representation"}) for r in rows]
        answers = self._batch(patches, changesets=True)
        return {r.index: _part_outcome(r, answer, table) for r, answer in zip(rows, answers)}

    def _batch(self, operations: list[BatchRequest], *, changesets: bool) -> list[BatchResponse | None]:
        """The answer to each of ``operations`` sent in one ``$batch`` (each its own changeset when
        ``changesets``) with ``Prefer: odata.continue-on-error``; None where the batch has no part for it.
        Parts answering a transient error (429/502/503/504, a deadlock code: ``http.RetryPolicy``) are
        sent again in a new batch with the same backoff as a whole request."""
        retry = self.http.retry
        answers: list[BatchResponse | None] = [None] * len(operations)
        pending, attempt = list(range(len(operations))), 0
        while pending:
            attempt += 1
            content_type, body = build_batch([[operations[i]] if changesets else operations[i] for i in pending])
            response = self.http.request("POST", self.api + "$batch", data=body, headers={
                "Content-Type": content_type, "Prefer": "odata.continue-on-error"})
            parts = parse_batch(response.headers.get("Content-Type", ""), response.content)
            again, wait, throttled = [], None, 0
            for n, i in enumerate(pending):
                answer = answers[i] = parts[n][-1] if n < len(parts) and parts[n] else None
                if answer is not None and answer.status >= 400 and attempt < retry.max_attempts \
                        and retry.retryable(operations[i].method, answer.status, parse_error_body(answer.body)[0]):
                    again.append(i)
                    throttled += answer.status == 429
                    after = _retry_after(answer)
                    wait = after if wait is None or (after or 0) > wait else wait
            if again:
                self.http.stats.add(throttled=throttled)
                self.http.backoff(attempt, wait, f"{len(again)} $batch parts answered a transient error",
                                  "POST", urlsplit(self.api).path + "$batch")
            pending = again
        return answers


def _query(params: Mapping[str, str]) -> str:
    """A query string, every value percent-encoded (``$`` kept in the names)."""
    return "&".join(f"{name}={quote(value, safe='')}" for name, value in params.items())


def _chunks(rows: list[PendingRow], size: int) -> list[list[PendingRow]]:
    return [rows[i:i + size] for i in range(0, len(rows), size)]


def _link(ref: Ref) -> str:
    return f"/{ref.entity_set}({ref.id if ref.id else key_predicate(dict(ref.key))})"


def _header(answer: BatchResponse, name: str) -> str | None:
    return next((v for k, v in answer.headers.items() if k.lower() == name.lower()), None)


def _retry_after(answer: BatchResponse) -> float | None:
    return retry_after_seconds(_header(answer, "Retry-After"))


def _part_outcome(r: PendingRow, answer: BatchResponse | None, table: TableInfo) -> WriteOutcome:
    """The outcome of one row's PATCH upsert: 201 created, 200 updated (204 if the preference was ignored)."""
    if answer is None:
        return WriteOutcome(r.key, "failed", error_code="NoResponse",
                            error_message="the $batch response has no part for this row")
    if answer.status >= 300:
        code, message = parse_error_body(answer.body)
        return WriteOutcome(r.key, "failed", error_code=code or f"HTTP {answer.status}",
                            error_message=message or f"HTTP {answer.status}")
    try:
        target_id = answer.json().get(table.primary_id)
    except ValueError:
        target_id = None
    if not target_id:
        found = _GUID.search(_header(answer, "OData-EntityId") or _header(answer, "Location") or "")
        target_id = found.group(1) if found else None
    return WriteOutcome(r.key, "created" if answer.status == 201 else "updated", target_id=target_id)
