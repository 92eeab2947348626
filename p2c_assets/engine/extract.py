"""Extract: read a flow's source rows and make them readable.

Reads the source entity with only the columns the template needs (and its OData filter), resolves
GUID lookups to natural values, keeps only lines whose header passed the header's own filter, and
applies the template's row filter. F&O is read across the mapped legal entities (`cross-company`).

Dataverse sources are read incrementally (`extract_changes`): change tracking says which rows changed
or were deleted since the stored delta link, only those are read again (with the template's filter),
and the ledger keeps the whole extracted source so mapping, header joins and reconciliation still see
every row. An expired delta token, or `full`, falls back to a full read.
"""

from __future__ import annotations

import uuid

import pandas as pd

from p2c_assets.connectors import DeltaTokenExpired
from p2c_assets.connectors.odata import any_of, chunk_keys
from p2c_assets.engine.binds import primary_key
from p2c_assets.engine.references import References, fold
from p2c_assets.flows.template import Source


def extract(client, source: Source, *, companies: dict[str, str], headers: pd.DataFrame | None = None) -> pd.DataFrame:
    frame = _resolve(_read(client, source, companies), source, References(client))
    return _finish(frame, source, companies, headers)


def extract_changes(client, source: Source, *, ledger, name: str, companies: dict[str, str],
                    headers: pd.DataFrame | None = None, full: bool = False) -> tuple[pd.DataFrame, str]:
    """The whole current source of a Dataverse table, reading only what changed; returns (frame, mode)."""
    pk = primary_key(source.entity_set)
    link = None if full else ledger.get_cursor(name, "delta_link")
    mode = "full (requested)" if full else "full (first run)"
    changes = None
    if link:
        try:
            changes = client.read_changes(source.entity_set, select=[pk], delta_link=link)
            mode = f"incremental ({len(changes.rows)} changed, {len(changes.deleted_ids)} deleted)"
        except DeltaTokenExpired:
            mode = "full (delta token expired)"
    references = References(client)
    if changes is None:
        changes = client.read_changes(source.entity_set, select=[pk])  # before the read: nothing slips by
        rows = _resolve(_read(client, source, companies), source, references)
        ledger.save_source(name, _by_id(rows, pk), replace=True)
    else:
        ids = [str(i) for i in changes.rows[pk]] if not changes.rows.empty else []
        rows = _resolve(_read_ids(client, source, pk, ids), source, references)
        ledger.save_source(name, _by_id(rows, pk), removed=[*ids, *changes.deleted_ids])
    ledger.set_cursor(name, "delta_link", changes.delta_link)
    stored = pd.DataFrame.from_records(ledger.load_source(name))
    stored = stored.reindex(columns=list(dict.fromkeys([*source.select, *(l.into for l in source.lookups),
                                                        *stored.columns])))
    return _finish(stored, source, companies, headers), mode


def _read(client, source: Source, companies: dict[str, str], filter: str | None = None) -> pd.DataFrame:
    query = " and ".join(f"({f})" for f in (source.filter, filter) if f) or None
    if source.system == "fo":
        return client.read(source.entity_set, select=list(source.select), filter=query,
                           cross_company=True, companies=sorted(companies))
    return client.read(source.entity_set, select=list(source.select), filter=query)


def _read_ids(client, source: Source, pk: str, ids: list[str]) -> pd.DataFrame:
    frames = [_read(client, source, {}, any_of([pk], chunk))
              for chunk in chunk_keys([pk], [(uuid.UUID(i),) for i in ids], client.max_filter_chars)
              if chunk]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(source.select))


def _resolve(frame: pd.DataFrame, source: Source, references: References) -> pd.DataFrame:
    frame = frame.reindex(columns=list(dict.fromkeys([*source.select, *frame.columns])))
    for lookup in source.lookups:
        frame[lookup.into] = resolve_lookup(frame[lookup.column], lookup.targets, references)
    return frame


def _by_id(frame: pd.DataFrame, pk: str) -> dict[str, dict]:
    clean = frame.astype(object).where(frame.notna(), None)
    return {str(row[pk]): row for row in clean.to_dict(orient="records")}


def _finish(frame: pd.DataFrame, source: Source, companies: dict[str, str],
            headers: pd.DataFrame | None) -> pd.DataFrame:
    if source.first_company_wins and not frame.empty:
        rank = {company: i for i, company in enumerate(companies)}
        frame = (frame.assign(_rank=frame["dataAreaId"].str.lower().map(rank))
                 .sort_values("_rank", kind="stable").drop_duplicates(list(source.key)).drop(columns="_rank"))
    if source.header is not None:
        frame = join_header(frame, headers, source.header)
    return frame.reset_index(drop=True)


def resolve_lookup(guids: pd.Series, targets, references: References) -> pd.Series:
    resolved = pd.Series([None] * len(guids), index=guids.index, dtype=object)
    for entity_set, key, value in targets:
        mapping = references.mapping(entity_set, key, value)
        found = guids.map(lambda g: mapping.get(fold(g)) if isinstance(g, str) else None)
        resolved = resolved.where(resolved.notna(), found)
    return resolved


def join_header(lines: pd.DataFrame, headers: pd.DataFrame | None, join) -> pd.DataFrame:
    if headers is None:
        raise ValueError("a lines source needs its header frame")
    left = [line for line, _ in join.on]
    right = [header for _, header in join.on]
    carried = headers[list(dict.fromkeys([*right, *join.carry]))].drop_duplicates(subset=right)
    merged = lines.merge(carried, left_on=left, right_on=right, how="inner", suffixes=("", "_header"))
    extra = [c for c in right if c not in left and c not in join.carry]
    return merged.drop(columns=extra)
