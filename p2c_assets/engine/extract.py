"""Extract: read a flow's source rows and make them readable.

Reads the source entity with only the columns the template needs (and its filter) in the mapped
legal entities, resolves GUID lookups to natural values, keeps only lines whose header passed the
header's own filter, and keeps one row per key where the template says the first company wins.

`extract_changes` reads only what changed where the service keeps a change feed (Dataverse change
tracking, `ServiceClient.read_since`): the ledger keeps the whole extracted source, so mapping, header
joins and reconciliation still see every row. An expired delta link, or `full`, falls back to a full
read; a service without a change feed is read in full every time and nothing is kept. A read that
finds nothing new loads nothing when the caller still holds what it made of the same stored rows, and
one that found a few changes hands over just those (`Patch`) when it holds what it made of the rows
before them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import NamedTuple

import numpy as np
import pandas as pd

from p2c_assets.connectors.protocol import DeltaTokenExpired, ServiceClient, fit_text, fold, shared_strings
from p2c_assets.engine.ledger.cursors import DELTA_LINK
from p2c_assets.engine.references import References
from p2c_assets.flows.template import HeaderJoin, Lookup, Source

MAX_READS = 5  # reads of a source whose delta link parallel runs keep moving
LOOKUP_SLICE = 50_000  # distinct GUIDs a lookup resolves per read (25 Dataverse `In` lists in one `$batch`)


def extract(client: ServiceClient, source: Source, *, companies: dict[str, str],
            headers: pd.DataFrame | None = None) -> pd.DataFrame:
    """The whole current source, read in full (moves no change-tracking cursor)."""
    rows = client.read(source.entity_set, select=list(source.select), filter=source.filter,
                       companies=sorted(companies))
    return _finish(_resolve(rows, source, References(client)), source, companies, headers)


class Patch(NamedTuple):
    """What an incremental read changed in a source whose rows were at version `since`: the rows read (one
    per id, lookups resolved) and the ids whose earlier rows go (changed or deleted)."""

    since: str
    rows: pd.DataFrame
    removed: frozenset[str]
    id_column: str


class Extracted(NamedTuple):
    frame: pd.DataFrame | None  # None: the caller holds what it made of these rows (`held`), maybe but `patch`
    mode: str
    version: str | None  # `Ledger.rows_version` of the stored rows it was made of; None without a change feed
    patch: Patch | None = None  # what to apply to what the caller made of the rows at `patch.since`


def extract_changes(client: ServiceClient, source: Source, *, ledger, name: str, companies: dict[str, str],
                    headers: pd.DataFrame | None = None, full: bool = False,
                    held: Callable[[str], bool] | None = None) -> Extracted:
    """The whole current source, reading only what changed where the service can say.

    The stored rows and the delta link move together, and only from the link this read started at
    (`Ledger.advance_source`): when a parallel run of another legal entity moved them first, this one
    reads again from where that one stopped. The stored rows are not loaded when the caller still holds
    what it made of them (`held(version)`): at the version the read left (it found nothing new: no frame,
    no patch), or, for a source whose rows each stand alone (no header join, no first company winning),
    at the version the read started from (a `Patch` of what changed instead of the whole source)."""
    for _ in range(MAX_READS):
        at = ledger.get_cursor(name, DELTA_LINK)
        # the rows' version at the link `at`: advance_source moves both or neither, and only from `at`
        before = ledger.rows_version(name)
        extracted = _read_changes(client, source, ledger=ledger, name=name, companies=companies, at=at, full=full)
        if extracted is None:
            continue
        if extracted.version is not None and held is not None:
            if held(extracted.version):
                return Extracted(None, extracted.mode, extracted.version)
            if extracted.patch is not None and before is not None and _stands_alone(source) and held(before):
                return extracted._replace(patch=extracted.patch._replace(since=before))
        # an incremental read brought only the changes: the whole source is the stored one, loaded once what
        # was read is gone (the source is never held twice over)
        frame = extracted.frame
        if frame is None:
            frame = ledger.load_source(name, compact=_compact(source))
        return Extracted(_finish(_columns(frame, source), source, companies, headers), extracted.mode,
                         extracted.version)
    raise RuntimeError(f"{name}: other runs kept moving its delta link; {MAX_READS} reads did not settle")


def _read_changes(client: ServiceClient, source: Source, *, ledger, name: str, companies: dict[str, str],
                  at: str | None, full: bool) -> Extracted | None:
    """One read from the delta link `at` (in full without one, or when `full`), stored with the new delta
    link: the mode of the read and the version the stored rows are at, with the whole source when the read
    was full (as the ledger holds it: one row per id, in id order) or without a change feed (nothing
    stored, no version), or a patch of what changed; None when another run moved the link meanwhile."""
    link = None if full else at
    mode = "full (requested)" if full else "full (first run)"
    compact = _compact(source)
    read = {"select": list(source.select), "filter": source.filter, "companies": sorted(companies),
            "compact": compact}
    delta = None
    if link:
        try:
            delta = client.read_since(source.entity_set, delta_link=link, **read)
            mode = f"incremental ({len(delta.changed_ids)} changed, {len(delta.deleted_ids)} deleted)"
        except DeltaTokenExpired:
            mode = "full (delta token expired)"
    incremental = delta is not None
    if delta is None:
        delta = client.read_since(source.entity_set, **read)
    rows = delta.rows
    if compact:  # before the lookups: the GUIDs they resolve are the columns of few values
        fit_text(rows)
    rows = _resolve(rows, source, References(client))
    if compact:  # the looked-up columns too
        fit_text(rows, [lookup.into for lookup in source.lookups])
    link, removed = delta.delta_link, [*delta.changed_ids, *delta.deleted_ids] if incremental else ()
    del delta  # the rows as read: not held beside the rows in id order
    if link is None:  # no change feed: this read is the whole source, and nothing can resume it
        return Extracted(rows, "full", None)
    id_column = client.id_column(source.entity_set)
    rows = _by_id_order(rows, id_column)
    version = ledger.advance_source(name, _by_id(rows, id_column), after=at, to=link,
                                    removed=removed, replace=not incremental)
    if version is None:
        return None
    if not incremental:  # equal texts of different pages made one object, as `Ledger.load_source` makes them
        return Extracted(shared_strings(rows), mode, version)
    patch = Patch("", _columns(rows, source), frozenset(map(str, removed)), id_column)
    return Extracted(None, mode, version, patch)


def _compact(source: Source) -> bool:
    """Whether the source's text is held compact (`compact_text`, `fit_text`): all but lines, which join
    their headers' Python strings."""
    return source.header is None


def _stands_alone(source: Source) -> bool:
    """Each output row is made of its source row alone: a changed row replaces its earlier self."""
    return source.header is None and not source.first_company_wins


def _columns(frame: pd.DataFrame, source: Source) -> pd.DataFrame:
    """The selected columns and the looked-up ones first, as every frame of the source has them."""
    return frame.reindex(columns=list(dict.fromkeys([*source.select, *(l.into for l in source.lookups),
                                                     *frame.columns])))


def _resolve(frame: pd.DataFrame, source: Source, references: References) -> pd.DataFrame:
    frame = frame.reindex(columns=list(dict.fromkeys([*source.select, *frame.columns])))
    for lookup in source.lookups:
        frame[lookup.into] = _resolve_lookup(frame[lookup.column], lookup, references)
    return frame


def _by_id_order(frame: pd.DataFrame, id_column: str) -> pd.DataFrame:
    """One row per id (the last read), in id order: the whole source as `Ledger.load_source` gives it."""
    ids = frame[id_column].map(str)
    positions = np.flatnonzero(~ids.duplicated(keep="last").to_numpy())
    order = positions[ids.to_numpy()[positions].argsort(kind="stable")]
    if len(order) == len(frame) and (order[1:] > order[:-1]).all():  # as read (paged by id): no copy
        return frame.reset_index(drop=True)
    return frame.take(order).reset_index(drop=True)


def _by_id(frame: pd.DataFrame, id_column: str, rows_at_once: int = 10_000) -> Iterator[tuple[str, dict]]:
    """(id, row) pairs of rows with distinct ids (`_by_id_order`), blanks as None; made one row at a
    time as the ledger stores them, from a slice of the frame at a time: neither a dict per row nor a
    copy of the whole source is ever held."""
    names = list(frame.columns)
    for start in range(0, len(frame), rows_at_once):
        part = frame.iloc[start:start + rows_at_once]
        clean = part.astype(object).where(part.notna(), None)
        for row_id, values in zip(part[id_column].map(str).tolist(), zip(*(clean[c].tolist() for c in names))):
            yield row_id, dict(zip(names, values))


def _finish(frame: pd.DataFrame, source: Source, companies: dict[str, str],
            headers: pd.DataFrame | None) -> pd.DataFrame:
    if source.first_company_wins and not frame.empty:
        rank = {company: i for i, company in enumerate(companies)}
        frame = (frame.assign(_rank=frame[source.company_column].map(fold).map(rank))
                 .sort_values("_rank", kind="stable").drop_duplicates(list(source.key)).drop(columns="_rank"))
    if source.header is not None:
        frame = _join_header(frame, headers, source.header)
    return frame.reset_index(drop=True)


def _resolve_lookup(guids: pd.Series, lookup: Lookup, references: References) -> pd.Series:
    """The natural value behind each GUID, from the first of the lookup's entity sets that has it.
    Only the records the GUIDs name are read, each set asked only for the GUIDs the ones before did
    not hold: no GUID, no read (an incremental run in which nothing changed reads none of the sets).

    `LOOKUP_SLICE` distinct GUIDs at a time, each slice's records resolved and dropped before the next is
    read, and each slice's GUIDs made Python strings (folded) only for its read: the million contacts of
    500,000 accounts name half a million accounts, and their GUIDs, the filters asking for them and the
    records read were Python objects all at once, half a million of each (42 MB for the GUIDs alone).
    The column is factorized once, as it is: taking its rows with a GUID first copied it (44 MB there).
    A GUID given in two letter cases is asked for as each (Dataverse writes its GUIDs in one)."""
    codes, distinct = pd.factorize(guids)  # a code per row and one per distinct GUID, as held; blanks -1
    found = np.full(len(distinct), None, dtype=object)
    for entity_set, key, value in lookup.targets:
        asked = np.flatnonzero(pd.isna(found))  # the GUIDs the sets before did not hold
        for start in range(0, len(asked), LOOKUP_SLICE):
            part = asked[start:start + LOOKUP_SLICE]
            # only text names a record, whatever the column's dtype
            names = [fold(g) if isinstance(g, str) and g else None for g in distinct[part].tolist()]
            mapping = references.read_among(entity_set, key, value, dict.fromkeys(n for n in names if n))
            found[part] = [None if n is None else mapping.get(n) for n in names]
    resolved = np.where(codes >= 0, found[np.maximum(codes, 0)] if len(found) else None, None)
    return pd.Series(resolved, index=guids.index, dtype=object)


def _join_header(lines: pd.DataFrame, headers: pd.DataFrame | None, join: HeaderJoin) -> pd.DataFrame:
    if headers is None:
        raise ValueError("a lines source needs its header frame")
    left = [line for line, _ in join.on]
    right = [header for _, header in join.on]
    carried = headers[list(dict.fromkeys([*right, *join.carry]))].drop_duplicates(subset=right)
    merged = lines.merge(carried, left_on=left, right_on=right, how="inner", suffixes=("", "_header"))
    extra = [c for c in right if c not in left and c not in join.carry]
    return merged.drop(columns=extra)
