"""Diff: what changed since the last successful write, and how the target differs from the source.

A row is written only when the hash of its mapped content differs from the hash recorded at its last
successful write; a no-change run writes nothing. The same comparison of mapped values against what
the target holds serves the dry run's field diff and the reconciliation check.
"""

from __future__ import annotations

import hashlib
import json

import pandas as pd


def content_hash(row: dict) -> str:
    canonical = json.dumps({k: _normal(v) for k, v in sorted(row.items())}, default=str, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def compare(mapped: pd.DataFrame, target: pd.DataFrame, key: tuple[str, ...], fields: list[str]) -> pd.DataFrame:
    """One row per difference: key, field, source value, target value ('missing in target' rows too).

    Column by column over a key join, not row by row: 100,000 records compare in seconds.
    """
    key = list(key)
    columns = ["key", "field", "source", "target"]
    if mapped.empty:
        return pd.DataFrame(columns=columns)
    fields = [f for f in fields if f in mapped and f in target and f not in key]
    left = mapped.assign(_k=_keys(mapped, key), _shown=mapped[key].astype(str).agg("|".join, axis=1))
    right = target[fields].assign(_k=_keys(target, key)).drop_duplicates("_k") if not target.empty \
        else pd.DataFrame(columns=[*fields, "_k"])
    joined = left.merge(right, on="_k", how="left", suffixes=("", "__target"), indicator=True)
    found = [pd.DataFrame({"key": joined.loc[joined["_merge"] == "left_only", "_shown"], "field": "(record)",
                           "source": "present", "target": "missing in target"})]
    both = joined[joined["_merge"] == "both"]
    for f in fields:
        source, other = both[f].map(_normal), both[f + "__target"].map(_normal)
        # a blank source value is never written (a sync does not blank target fields): not drift
        differs = source.notna() & (source != other)
        found.append(pd.DataFrame({"key": both.loc[differs, "_shown"], "field": f,
                                   "source": both.loc[differs, f], "target": both.loc[differs, f + "__target"]}))
    return pd.concat(found, ignore_index=True)[columns]


def _keys(frame: pd.DataFrame, key: list[str]) -> pd.Series:
    if frame.empty:
        return pd.Series([], dtype=object, index=frame.index)
    return frame[key].map(lambda v: str(_normal(v))).agg("|".join, axis=1).str.casefold()


def _normal(value):
    """Compare as the services store: money to the cent, blanks as None, whole floats as ints."""
    if value is None or (isinstance(value, float) and pd.isna(value)) or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        rounded = round(float(value), 2)
        return int(rounded) if rounded.is_integer() else rounded
    if hasattr(value, "item"):
        return _normal(value.item())
    text = str(value)
    if len(text) >= 19 and text[4] == "-" and text[10] == "T":
        return text[:19]
    return text
