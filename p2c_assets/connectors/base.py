"""What both OData clients share: the session, paging, key lookups and the bulk-write loop."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Iterator, Mapping, Sequence

import pandas as pd

from .auth import TokenCredential, TokenSource
from .frames import TEXT, compact_text, shared_strings
from .http import HttpSession, RequestStats, RetryPolicy
from .odata import any_of, chunk_keys
from .protocol import AnyOf
from .writes import PendingRow, WriteOutcome, match_key, prepare_rows

MAX_BATCH = 1000   # both services cap a $batch / bulk message at 1,000 operations


def concat(pages: list[pd.DataFrame], select: Sequence[str] | None, compact: bool = False) -> pd.DataFrame:
    """The pages of a read as one DataFrame (a read of no keys made no request: no rows). A column that
    is text (`TEXT`) on one page and blank on another is text on all, so that joining them never turns
    pyarrow's text back into Python strings."""
    if not pages:
        return frame([], select, compact)
    if compact and len(pages) > 1:
        text = {name for page in pages for name, dtype in page.dtypes.items() if dtype == TEXT}
        pages = [page.astype({name: TEXT for name in text if name in page and page[name].isna().all()})
                 for page in pages]
    return pd.concat(pages, ignore_index=True) if len(pages) > 1 else pages[0]


def frame(rows: list[dict], select: Sequence[str] | None, compact: bool = False) -> pd.DataFrame:
    """Rows as a DataFrame without OData annotations; the selected columns even when empty; `compact`:
    its text held by pyarrow (`compact_text`), else a string object per distinct text of a column."""
    df = pd.DataFrame.from_records(rows)
    df = df.drop(columns=[c for c in df.columns if "@" in str(c)])  # annotations, column-wise
    for column in select or ():
        if column not in df.columns:
            df[column] = pd.Series(dtype=object)
    return compact_text(df) if compact else shared_strings(df)


class ODataClient:
    """Base of ``DataverseClient`` and ``FinOpsClient``: one service at ``url``, API under ``api_path``."""

    service = "OData"
    api_path = "/"

    def __init__(self, url: str, credential: TokenCredential, *, max_concurrency: int = 4,
                 timeout: float = 60, retry: RetryPolicy | None = None, max_filter_chars: int = 8000):
        if not url:
            raise ValueError(f"{self.service} URL is empty")
        self.url = url.rstrip("/")
        self.api = self.url + self.api_path
        self.max_concurrency = max_concurrency
        self.max_filter_chars = max_filter_chars
        self.http = HttpSession(self.service, TokenSource(credential, f"{self.url}/.default"),
                                timeout=timeout, max_concurrency=max_concurrency, retry=retry)

    @property
    def stats(self) -> RequestStats:
        return self.http.stats

    def close(self) -> None:
        self.http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self.url!r})"

    # --- reading -------------------------------------------------------------------------------

    def _filters(self, filter: str | None, where: AnyOf | None) -> list[str | None]:
        """The ``$filter`` of each request a read needs: ``filter`` and, with ``where``, one share of its
        keys per request, each under ``max_filter_chars`` once encoded (servers cap the request line)."""
        if where is None:
            return [filter]
        keys = [any_of(where.fields, chunk) for chunk in chunk_keys(where.fields, where.keys, self.max_filter_chars)]
        return [f"({filter}) and ({k})" if filter else k for k in keys]

    def _pages(self, url: str, params: Mapping | None = None,
               headers: Mapping[str, str] | None = None) -> Iterator[dict]:
        """Response bodies of a query, following ``@odata.nextLink`` (verbatim) to the end."""
        next_url: str | None = url
        while next_url:
            body = self.http.request("GET", next_url, params=params, headers=dict(headers or {})).json()
            yield body
            next_url = body.get("@odata.nextLink")
            params = None  # the next link already carries the query

    def _find_existing(self, entity_set: str, fields: Sequence[str], keys: Sequence[tuple],
                       extra_select: Sequence[str] = (), params: Mapping | None = None,
                       headers: Mapping[str, str] | None = None) -> dict[tuple, dict]:
        """The rows among ``keys`` that exist, by ``match_key``: a few filtered GETs, not one per row."""
        found: dict[tuple, dict] = {}
        for key_filter in self._filters(None, AnyOf(tuple(fields), tuple(keys))):
            query = {**(params or {}), "$select": ",".join([*fields, *extra_select]), "$filter": key_filter}
            for body in self._pages(self.api + entity_set, query, headers):
                for row in body.get("value", []):
                    found[match_key(tuple(row.get(f) for f in fields))] = row
        return found

    # --- writing -------------------------------------------------------------------------------

    def upsert_many(self, entity_set: str, rows: Sequence[Mapping[str, object]], key: Sequence[str],
                    batch_size: int = MAX_BATCH) -> list[WriteOutcome]:
        """Insert or update ``rows`` by ``key``; one ``WriteOutcome`` per row, in row order.

        Batches of ``batch_size`` go out in parallel (up to ``max_concurrency``). Rows the service
        refuses come back as ``failed`` with its error code and message; the other rows land.
        """
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be between 1 and {MAX_BATCH}, got {batch_size}")
        key = list(key)
        pending, outcomes = prepare_rows(entity_set, [self._complete(r, key) for r in rows], key)
        batches = [pending[i:i + batch_size] for i in range(0, len(pending), batch_size)]
        with ThreadPoolExecutor(max_workers=self.max_concurrency) as pool:
            for result in pool.map(lambda b: self._upsert_batch(entity_set, b, key), batches):
                outcomes.update(result)
        return [outcomes[i] for i in range(len(rows))]

    def _complete(self, row: Mapping[str, object], key: list[str]) -> Mapping[str, object]:
        """Hook: fill defaults into a row before its key is checked (F&O: the company)."""
        return row

    def _upsert_batch(self, entity_set: str, rows: list[PendingRow], key: list[str]) -> dict[int, WriteOutcome]:
        raise NotImplementedError
