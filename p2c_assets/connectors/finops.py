"""Finance and Operations OData client (``{url}/data/``).

Writes: F&O has no upsert verb (PATCH on a missing key is 404), so each batch first asks which keys
exist (a few filtered GETs), then sends one ``$batch`` where every row is its own changeset: PATCH
on the key URL for existing rows, POST for new ones. One changeset per row means a row that F&O
refuses rolls back only itself and needs no retry round trips to isolate, at the same request
count as one big changeset (1 POST per batch). The refusal text is the Infolog from
``innererror.message``, followed by the batch response's ``ms-dyn-aid`` activity id, which
Microsoft support needs to find the server-side trace of the refusal.

A POST that F&O refuses because "the record already exists" is sent again as a PATCH of that key,
once a lookup finds the key: the row exists, whoever created it. That is what happens when the
answer to a ``$batch`` was lost after F&O committed it (``http.HttpSession`` sends the batch again,
and its POSTs now meet the rows they created) or when someone created the record between the key
lookup and the write; either way the row lands instead of being recorded as failed. F&O names no
error code for it, so the Infolog text is matched (``ALREADY_EXISTS``).

Large writes (``package_threshold`` rows or more, ``FINOPS_PACKAGE_THRESHOLD``, default 2,000) take
F&O's bulk route instead, a Data management package import (``packages.py``), as Data Integrator
does; smaller ones stay on ``$batch``, which answers within the request.

Reads: F&O pages server-side (up to 10,000 rows) and only sees the caller's default company unless
``cross-company=true`` is sent.
"""

from __future__ import annotations

import logging
import re
from typing import Iterator, Mapping, Sequence

import pandas as pd

from . import packages
from .base import MAX_BATCH, ODataClient, concat, frame
from .batch import BatchRequest, build_batch, parse_batch
from .errors import Activity, parse_error_body, with_activity
from .odata import any_of, entity_path, key_predicate
from .protocol import AnyOf, Delta
from .writes import PendingRow, WriteOutcome, match_key, write_isolating_failures

COMPANY_FIELD = "dataAreaId"
#: the Infolog of a create that met an existing key: "Cannot create a record in Customers (CustTable).
#: Customer account: US-001. The record already exists." (protocols.md B8)
ALREADY_EXISTS = re.compile(r"record already exists", re.IGNORECASE)

log = logging.getLogger("p2c_assets.connectors")


class FinOpsClient(ODataClient):
    """Reads and bulk upserts against one F&O environment; ``company`` fills rows without a dataAreaId."""

    service = "FinOps"
    api_path = "/data/"

    def __init__(self, url: str, credential, *, company: str = "usmf", package_threshold: int | None = None,
                 **kwargs):
        super().__init__(url, credential, **kwargs)
        self.company = company.lower()
        self.package_threshold = packages.threshold(package_threshold)  # 0: never

    def iter_pages(self, entity_set: str, select: Sequence[str] | None = None, filter: str | None = None,
                   cross_company: bool = False, companies: Sequence[str] | None = None,
                   orderby: str | None = None, *, where: AnyOf | None = None,
                   compact: bool = False) -> Iterator[pd.DataFrame]:
        """One DataFrame per server page (`compact`: its text held by pyarrow, `frames.compact_text`).

        ``companies`` limits the read to those legal entities (and implies cross-company);
        ``cross_company=True`` alone reads every company; neither reads the default company only.
        """
        params: dict[str, str] = {}
        filters = [f"({filter})"] if filter else []
        if companies:
            filters.append(f"({any_of([COMPANY_FIELD], [(c.lower(),) for c in companies])})")
        if companies or cross_company:
            params["cross-company"] = "true"
        if select:
            params["$select"] = ",".join(select)
        if orderby:
            params["$orderby"] = orderby
        for query in self._filters(" and ".join(filters) or None, where):
            for body in self._pages(self.api + entity_set, {**params, **({"$filter": query} if query else {})}):
                yield frame(body.get("value", []), select, compact)

    def read(self, entity_set: str, select: Sequence[str] | None = None, filter: str | None = None,
             cross_company: bool = False, companies: Sequence[str] | None = None,
             orderby: str | None = None, *, where: AnyOf | None = None, compact: bool = False) -> pd.DataFrame:
        """All rows of the query (every page) as one DataFrame."""
        return concat(list(self.iter_pages(entity_set, select, filter, cross_company, companies, orderby,
                                           where=where, compact=compact)), select, compact)

    def read_since(self, entity_set: str, select: Sequence[str], *, filter: str | None = None,
                   companies: Sequence[str] | None = None, delta_link: str | None = None,
                   compact: bool = False) -> Delta:
        """The whole query, every time: F&O keeps no change feed (and most entities no reliable
        modified stamp), so there is no link to resume from."""
        return Delta(self.read(entity_set, select, filter, companies=companies, compact=compact), (), (), None)

    def id_column(self, entity_set: str) -> None:
        """None: F&O data entities are addressed by their key fields and have no record id."""
        return None

    def organization_setting(self, name: str) -> None:
        """F&O keeps no organization row of settings (`ServiceClient.organization_setting`)."""
        return None

    def upsert_many(self, entity_set: str, rows: Sequence[Mapping[str, object]], key: Sequence[str],
                    batch_size: int = MAX_BATCH, *, landed: Sequence[bool] | None = None) -> Sequence[WriteOutcome]:
        """Insert or update ``rows`` by ``key``; one ``WriteOutcome`` per row, in row order: a package
        import from ``package_threshold`` rows on (entities with a Data management name), else ``$batch``.
        ``landed`` (``ServiceClient``): the package route reports those rows updated without looking them up
        (and reads nothing when every row landed before); ``$batch`` looks every key up, to PATCH or POST."""
        if 0 < self.package_threshold <= len(rows) and packages.importable(entity_set):
            return packages.upsert(self, entity_set, rows, list(key), landed=landed)
        return super().upsert_many(entity_set, rows, key, batch_size)

    def _complete(self, row: Mapping[str, object], key: list[str]) -> Mapping[str, object]:
        if COMPANY_FIELD in key and not row.get(COMPANY_FIELD):
            return {**row, COMPANY_FIELD: self.company}
        return row

    def _upsert_batch(self, entity_set: str, rows: list[PendingRow], key: list[str]) -> dict[int, WriteOutcome]:
        existing = self._existing(entity_set, key, rows)
        return write_isolating_failures(
            rows, lambda part: self._send_changesets(entity_set, part, key, existing))

    def _existing(self, entity_set: str, key: list[str], rows: list[PendingRow]) -> set[tuple]:
        """The ``match_key`` of every row among ``rows`` that F&O holds (in any company the key names)."""
        params = {"cross-company": "true"} if COMPANY_FIELD in key else None
        return set(self._find_existing(entity_set, key, [r.key for r in rows], params=params))

    def _send_changesets(self, entity_set: str, rows: list[PendingRow], key: list[str],
                         existing: set[tuple]) -> dict[int, WriteOutcome]:
        """One ``$batch``, a changeset per row: PATCH the keys in ``existing``, POST the others.

        A POST answered "already exists" goes out again as a PATCH once a lookup finds its key (module
        docstring). When the lookup does not, F&O holds a record under a key it treats as equal and
        this client does not (SQL Server's collation equates more than letter case): patching would
        merge two source records into one, so the row fails with F&O's message instead.
        """
        # like a read, a key URL only sees the default company unless cross-company is on
        suffix = "?cross-company=true" if COMPANY_FIELD in key else ""
        items = []
        for r in rows:
            if match_key(r.key) in existing:
                items.append([BatchRequest("PATCH", self.api + entity_path(entity_set, r.key_dict(key)) + suffix,
                                           r.body_without(key))])
            else:
                items.append([BatchRequest("POST", self.api + entity_set, dict(r.row))])
        content_type, body = build_batch(items)
        response = self.http.request("POST", self.api + "$batch", data=body,
                                     headers={"Content-Type": content_type})
        answers = parse_batch(response.headers.get("Content-Type", ""), response.content)
        activity = Activity.of(response.headers)
        outcomes = {}
        for i, r in enumerate(rows):
            target = key_predicate(r.key_dict(key))
            answer = answers[i][-1] if i < len(answers) and answers[i] else None
            if answer is None:
                message = with_activity("the $batch response has no part for this row", activity)
                outcomes[r.index] = WriteOutcome(r.key, "failed", error_code="NoResponse", error_message=message)
            elif answer.status < 300:
                status = "created" if answer.status == 201 else "updated"
                outcomes[r.index] = WriteOutcome(r.key, status, target_id=target)
            else:
                code, message = parse_error_body(answer.body)
                message = with_activity(message or f"HTTP {answer.status}", activity)
                outcomes[r.index] = WriteOutcome(r.key, "failed", error_code=code or f"HTTP {answer.status}",
                                                 error_message=message)
        met = [r for r in rows if outcomes[r.index].status == "failed" and match_key(r.key) not in existing
               and ALREADY_EXISTS.search(outcomes[r.index].error_message or "")]
        if met:
            existing.update(self._existing(entity_set, key, met))
        again = [r for r in met if match_key(r.key) in existing]
        refused = sum(outcomes[r.index].status == "failed" for r in rows) - len(again)
        if refused:
            summary = f"{self.service} $batch into {entity_set}: {refused} of {len(rows)} rows refused"
            log.warning("%s", with_activity(summary, activity))
        if again:
            log.info("%s $batch into %s: %d rows already existed, updating them", self.service, entity_set,
                     len(again))
            outcomes.update(self._send_changesets(entity_set, again, key, existing))
        return outcomes
