"""Frames of what the services answer, kept small: one string object per distinct text of a column."""

from __future__ import annotations

import numpy as np
import pandas as pd

SAMPLE = 1000  # values of a column looked at to tell whether sharing its strings is worth a hash each


def shared_strings(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with each text column's equal strings made one object (in place; values unchanged).

    Why: a JSON parser makes a new string for every value, so a business unit id, a currency or a
    country repeated on 100,000 rows costs 100,000 strings of 50 to 90 bytes each. Frames of sources
    and targets hold mostly such columns, and they live for a whole step (and, pickled between steps,
    stay shared). One hash per value (`pd.factorize`), a fraction of the parse; a column whose first
    `SAMPLE` values hardly repeat (ids, e-mail addresses, timestamps) is left as it is."""
    for name in frame.columns:
        values = frame[name].to_numpy()
        if values.dtype != object or len(set(values[:SAMPLE].tolist())) > 0.9 * min(SAMPLE, len(values)):
            continue
        if pd.api.types.infer_dtype(values, skipna=True) == "string":
            codes, uniques = pd.factorize(values)  # None and NaN: code -1, kept as they are
            frame[name] = np.where(codes >= 0, uniques.take(codes), values)
    return frame
