"""Diff: what changed since the last successful write, and how the target differs from the source.

A row is written only when the hash of its mapped content differs from the hash recorded at its last
successful write; a no-change run writes nothing. The same comparison of mapped values against what
the target holds (`target_snapshot`) serves the dry run's field diff and the reconciliation.
"""

from __future__ import annotations

import hashlib
import json
from json.encoder import encode_basestring_ascii

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

from p2c_assets.connectors.protocol import AnyOf, ServiceClient, fold
from p2c_assets.engine.keys import record_keys
from p2c_assets.engine.values import normal_column
from p2c_assets.flows.template import FlowTemplate


def content_hashes(frame: pd.DataFrame) -> pd.Series:
    """One hash per row of the normal values of every column (in column-name order): SHA-256 of the
    row's JSON, `[["name", value], ...]`, as the ledger has always recorded it.

    The JSON is put together from each column's `["name", value]` texts, encoded once per distinct
    value of a text column (`_pairs`): the same characters as `json.dumps` of the whole row, at a
    fraction of its cost."""
    names = sorted(frame.columns)
    if not names:
        return pd.Series([""] * len(frame), index=frame.index, dtype=object)
    columns = [_pairs(name, frame[name]) for name in names]
    digests = [hashlib.sha256(f"[{', '.join(pairs)}]".encode()).hexdigest()[:32] for pairs in zip(*columns)]
    return pd.Series(digests, index=frame.index, dtype=object)


COMPARED_AT_ONCE = 50_000  # mapped rows compared with the target at a time (`compare`)

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


def compare(mapped: pd.DataFrame, target: pd.DataFrame, key: tuple[str, ...], fields: list[str]) -> pd.DataFrame:
    """One row per difference: key, field, source value, target value ('missing in target' rows too).

    Column by column, `COMPARED_AT_ONCE` mapped rows at a time against the target indexed once by key:
    100,000 records compare in seconds, and no joined copy of both sides is ever whole (at 500,000 records
    it was the reconciliation's peak of memory).
    """
    key = list(key)
    columns = ["key", "field", "source", "target"]
    if mapped.empty:
        return pd.DataFrame(columns=columns)
    fields = [f for f in fields if f in mapped and f in target and f not in key]
    # matched on keys as the target matches them (`fold`): `acc-1` finds `ACC-1`, `STRAßE` never finds `STRASSE`
    shown = record_keys(mapped, key)
    folded = shown.map(fold)
    right = target[fields].set_axis(record_keys(target, key).map(fold).to_numpy()) if not target.empty \
        else pd.DataFrame(columns=fields)
    right = right[~right.index.duplicated()]
    missing, by_field = [], {f: [] for f in fields}
    for start in range(0, len(mapped), COMPARED_AT_ONCE):
        part = slice(start, start + COMPARED_AT_ONCE)
        keys, names = folded.iloc[part], shown.iloc[part]
        there = keys.isin(right.index).to_numpy()
        missing.append(names[~there])
        theirs = right.reindex(keys[there].to_numpy())
        for f in fields:
            ours = mapped[f].iloc[part][there]
            source, other = normal_column(ours), normal_column(theirs[f]).set_axis(ours.index)
            # a blank source value is never written (a sync does not blank target fields): not drift
            differs = (source.notna() & (source != other)).to_numpy()
            by_field[f].append(pd.DataFrame({"key": names[there][differs], "field": f, "source": ours[differs],
                                             "target": theirs[f].to_numpy()[differs]}))
    found = [pd.DataFrame({"key": pd.concat(missing), "field": "(record)", "source": "present",
                           "target": "missing in target"})]
    found += [frame for f in fields for frame in by_field[f]]
    return pd.concat(found, ignore_index=True)[columns]


def target_snapshot(template: FlowTemplate, client: ServiceClient, companies: dict[str, str],
                    where: AnyOf | None = None) -> pd.DataFrame:
    """What the target holds for this flow: its key and plain (not bound) mapped fields, in the mapped
    legal entities; with `where`, only those records (a reconciliation of the few a run wrote)."""
    columns = [f for f in template.target_fields if f not in template.binds]
    return client.read(template.target.entity_set, select=list(dict.fromkeys([*template.target.key, *columns])),
                       where=where, companies=sorted(companies))
