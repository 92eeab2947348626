"""Values as both services store them, so that keys, hashes and comparisons agree across runs.

A value read back from F&O (`1.0`, `"2024-01-01T12:00:00Z"`) must compare equal to the same value read
from Dataverse or restored from the ledger (`1`, `"2024-01-01T12:00:00.000Z"`): money to the cent,
whole floats as ints, blanks as None, timestamps to the second. Column-wise and in plain Python loops
because these run over every row of every run.
"""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype


def normal(value):
    kind = type(value)
    if kind is str:
        if not value:
            return None
        return _utc_second(value) if len(value) >= 19 and value[4] == "-" and value[10] == "T" else value
    if value is None or kind is bool:
        return value
    if kind is float or kind is int:
        if value != value:  # NaN
            return None
        rounded = round(float(value), 4)  # Dataverse keeps money and decimals to 4 places
        return int(rounded) if rounded.is_integer() else rounded
    if hasattr(value, "item"):  # numpy scalars
        return normal(value.item())
    return normal(str(value))


def _utc_second(text: str) -> str:
    """'2024-01-01T14:00:00.000+02:00' -> '2024-01-01T12:00:00': the same instant, to the second."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text[:19]
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def normal_column(series: pd.Series) -> pd.Series:
    """`normal` of every value. A column of text is normalised once per distinct value: a text's normal
    form depends on the text alone, and most columns repeat theirs (companies, countries, groups, units).
    Other columns go value by value (`True == 1` would make distinct values of a mixed column one)."""
    if infer_dtype(series, skipna=True) == "string":
        codes, distinct = pd.factorize(series, use_na_sentinel=True)
        normals = np.array([normal(v) for v in distinct.tolist()] + [None], dtype=object)
        return pd.Series(normals[codes], index=series.index, dtype=object)  # code -1 (a blank) takes the None
    return pd.Series([normal(v) for v in series.tolist()], index=series.index, dtype=object)

