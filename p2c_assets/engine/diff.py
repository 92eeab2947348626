"""Diff: what changed since the last successful write, and how the target differs from the source.

A row is written only when the hash of its mapped content differs from the hash recorded at its last
successful write; a no-change run writes nothing. The same comparison of mapped values against what
the target holds (`target_pages`) serves the dry run's field diff and the reconciliation.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii
from typing import Iterable, Iterator

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

from p2c_assets.connectors.protocol import TEXT, AnyOf, ServiceClient, fold
from p2c_assets.engine.keys import record_keys
from p2c_assets.engine.values import normal_column
from p2c_assets.flows.template import FlowTemplate


HASHED_AT_ONCE = 50_000  # rows whose JSON texts `content_hashes` makes together


def content_hashes(frame: pd.DataFrame) -> pd.Series:
    """One hash per row of the normal values of every column (in column-name order): SHA-256 of the
    row's JSON, `[["name", value], ...]`, as the ledger has always recorded it.

    The JSON is put together from each column's `["name", value]` texts, encoded once per distinct
    value of a text column (`_pairs`): the same characters as `json.dumps` of the whole row, at a
    fraction of its cost. `HASHED_AT_ONCE` rows at a time: a column of values that hardly repeat (numbers,
    e-mail addresses) has a text per row, and 153,000 contact persons' texts took 61 MB at once. The hashes
    are held by pyarrow (`TEXT`): 40 bytes each, where a Python string of 32 characters takes 81."""
    names = sorted(frame.columns)
    if not names:
        return pd.Series([""] * len(frame), index=frame.index, dtype=TEXT)
    digests = [pd.Series([], dtype=TEXT)]
    for start in range(0, len(frame), HASHED_AT_ONCE):
        part = frame.iloc[start:start + HASHED_AT_ONCE]
        columns = [_pairs(name, part[name]) for name in names]
        digests.append(pd.Series([hashlib.sha256(f"[{', '.join(pairs)}]".encode()).hexdigest()[:32]
                                  for pairs in zip(*columns)], dtype=TEXT))
    return pd.concat(digests, ignore_index=True).set_axis(frame.index)


# columns whose equal values (as `factorize` matches them) have one JSON text: not `mixed`, where 1 == True
DISTINCT_SAFE = {"string", "empty", "integer", "floating", "mixed-integer-float", "boolean"}


def _pairs(name, column: pd.Series) -> list[str]:
    """Each value's `["name", value]` JSON text (its normal form, `json.dumps` with `default=str`)."""
    prefix = f"[{json.dumps(name, default=str)}, "
    values = normal_column(column)
    if infer_dtype(values, skipna=True) in DISTINCT_SAFE:
        codes, distinct = pd.factorize(values, use_na_sentinel=True)
        texts = np.array([f"{prefix}{_json(v)}]" for v in distinct.tolist()] + [f"{prefix}null]"], dtype=object)
        return texts[codes].tolist()
    return [f"{prefix}{_json(v)}]" for v in values.tolist()]


_ENCODE = json.JSONEncoder(default=str).encode  # one encoder: json.dumps(default=...) builds one per call


def _json(value) -> str:
    """`json.dumps(value, default=str)`: text through the C escaper the encoder itself uses."""
    return encode_basestring_ascii(value) if type(value) is str else _ENCODE(value)


@dataclass(frozen=True)
class Comparison:
    differences: pd.DataFrame  # key, field, source, target: one row per difference ('missing in target' rows too)
    held: HeldKeys  # the keys of every record the target pages held


class HeldKeys:
    """The keys of the records a target read held, matched as the target matches keys (`fold`): those of
    the mapped rows as one flag per mapped key, the others (orphans) folded. Why: a folded copy of each
    key the target holds, a string of 50 bytes or more per record, beside the mapped rows' own keys."""

    def __init__(self, mapped: pd.Index, held: np.ndarray, others: set[str]) -> None:
        self._mapped, self._held, self._others = mapped, held, others

    def __contains__(self, key: str) -> bool:
        folded = fold(key)
        try:
            return bool(self._held[self._mapped.get_loc(folded)])
        except KeyError:
            return folded in self._others


def compare(mapped: pd.DataFrame, target: pd.DataFrame | Iterable[pd.DataFrame], key: tuple[str, ...],
            fields: list[str], keys: pd.Series | None = None) -> Comparison:
    """Each mapped row against the target's record with its key (the first one read, matched as the
    target matches keys: `fold`), field by field; differences in the mapped rows' order, field by field.
    `keys`: the mapped rows' record keys, when the caller has them (not made twice).

    `target` may be a read's pages (`target_pages`): each page is compared and dropped, so the target is
    never whole in memory (reading back 500,000 customers whole was the reconciliation's peak); the
    mapped rows are indexed once by key.
    """
    key = list(key)
    fields = [f for f in fields if f in mapped and f not in key]
    shown = record_keys(mapped, key) if keys is None else keys
    codes, distinct = pd.factorize(shown.map(fold).to_numpy())
    lookup = pd.Index(distinct)  # folded key -> its code; the rows of a code are `order[bounds[c]:bounds[c + 1]]`
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(distinct) + 1))
    matched = np.zeros(len(mapped), dtype=bool)
    held = np.zeros(len(distinct), dtype=bool)  # per mapped key: the target's record of it was read
    others: set[str] = set()  # the folded keys of the target's records no mapped row has
    by_field: dict[str, list[pd.DataFrame]] = {f: [] for f in fields}
    for page in [target] if isinstance(target, pd.DataFrame) else target:
        if page.empty:
            continue
        folded = record_keys(page, key).map(fold)
        code = lookup.get_indexer(folded.to_numpy())
        ours = code >= 0
        # the first record read of a key counts
        read_before = folded.isin(others).to_numpy().copy()  # (a read-only view under Copy-on-Write)
        read_before[ours] = held[code[ours]]
        first = ~folded.duplicated().to_numpy() & ~read_before
        held[code[first & ours]] = True
        others.update(folded[first & ~ours])
        theirs = np.flatnonzero(first & ours)
        code = code[theirs]
        counts = bounds[code + 1] - bounds[code]
        target_rows = np.repeat(theirs, counts)  # a target record once per mapped row of its key
        ours = order[np.repeat(bounds[code] - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())]
        matched[ours] = True
        for f in fields:
            if f not in page:
                continue
            source = mapped[f].iloc[ours]
            other = normal_column(page[f].iloc[target_rows]).set_axis(source.index)
            # a blank source value is never written (a sync does not blank target fields): not drift
            normal = normal_column(source)
            differs = (normal.notna() & (normal != other)).to_numpy()
            by_field[f].append(pd.DataFrame({"at": ours[differs], "key": shown.iloc[ours[differs]].to_numpy(),
                                             "field": f, "source": source.to_numpy()[differs],
                                             "target": page[f].to_numpy()[target_rows[differs]]}))
    columns = ["key", "field", "source", "target"]
    found = [pd.DataFrame({"key": shown[~matched].to_numpy(), "field": "(record)", "source": "present",
                           "target": "missing in target"}, columns=columns)]
    found += [pd.concat(parts).sort_values("at", kind="stable")[columns] for parts in by_field.values() if parts]
    return Comparison(pd.concat(found, ignore_index=True), HeldKeys(lookup, held, others))


def target_pages(template: FlowTemplate, client: ServiceClient, companies: dict[str, str],
                 where: AnyOf | None = None) -> Iterator[pd.DataFrame]:
    """What the target holds for this flow, a page at a time: its key and plain (not bound) mapped fields,
    in the mapped legal entities; with `where`, only those records (a reconciliation of the few a run wrote)."""
    columns = [f for f in template.target_fields if f not in template.binds]
    return client.iter_pages(template.target.entity_set, select=list(dict.fromkeys([*template.target.key, *columns])),
                             where=where, companies=sorted(companies))
