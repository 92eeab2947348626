"""Extract: read a flow's source rows and make them readable.

Reads the source entity with only the columns the template needs (and its OData filter), resolves
GUID lookups to natural values, keeps only lines whose header passed the header's own filter, and
applies the template's row filter. F&O is read across the mapped legal entities (`cross-company`).
"""

from __future__ import annotations

import pandas as pd

from p2c_assets.engine.references import References, _fold
from p2c_assets.flows.template import Source


def extract(client, source: Source, *, companies: dict[str, str], headers: pd.DataFrame | None = None,
            references: References | None = None) -> pd.DataFrame:
    if source.system == "fo":
        frame = client.read(source.entity_set, select=list(source.select), filter=source.filter,
                            cross_company=True, companies=sorted(companies))
    else:
        frame = client.read(source.entity_set, select=list(source.select), filter=source.filter)
    frame = frame.reindex(columns=list(dict.fromkeys([*source.select, *frame.columns])))
    if source.first_company_wins and not frame.empty:
        rank = {company: i for i, company in enumerate(companies)}
        frame = (frame.assign(_rank=frame["dataAreaId"].str.lower().map(rank))
                 .sort_values("_rank", kind="stable").drop_duplicates(list(source.key)).drop(columns="_rank"))
    references = references or References(client)
    for lookup in source.lookups:
        frame[lookup.into] = resolve_lookup(frame[lookup.column], lookup.targets, references)
    if source.header is not None:
        frame = join_header(frame, headers, source.header)
    return frame.reset_index(drop=True)


def resolve_lookup(guids: pd.Series, targets, references: References) -> pd.Series:
    resolved = pd.Series([None] * len(guids), index=guids.index, dtype=object)
    for entity_set, key, value in targets:
        mapping = references.mapping(entity_set, key, value)
        found = guids.map(lambda g: mapping.get(_fold(g)) if isinstance(g, str) else None)
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
