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
    """One row per difference: key, field, source value, target value ('missing in target' rows too)."""
    key = list(key)
    fields = [f for f in fields if f in mapped and f in target and f not in key]
    shown = mapped[key].astype(str).agg("|".join, axis=1) if not mapped.empty else pd.Series(dtype=object)
    left = mapped.assign(_k=_keys(mapped, key), _shown=shown).set_index("_k")
    right = target.assign(_k=_keys(target, key)).drop_duplicates("_k").set_index("_k")
    found = []
    for k, row in left.iterrows():
        if k not in right.index:
            found.append({"key": row["_shown"], "field": "(record)", "source": "present", "target": "missing in target"})
            continue
        other = right.loc[k]
        for f in fields:
            # a blank source value is never written (a sync does not blank target fields): not drift
            if _normal(row[f]) is not None and _normal(row[f]) != _normal(other[f]):
                found.append({"key": row["_shown"], "field": f, "source": row[f], "target": other[f]})
    return pd.DataFrame(found, columns=["key", "field", "source", "target"])


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
