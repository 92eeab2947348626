"""Record keys: one text form for the ledger, the problem lists and messages; one fold for matching.

A record's key is the normal values of its target key columns joined with `|` (`usmf|ACC-01000-ABCDEF`,
`SO-1|2`), a blank part left blank (`|ACC-1` when the legal entity is unknown). That text is what
the ledger stores and what a user reads; it is built only by `record_keys`. Matching keys against
what a service holds (a header's key in the ledger, a record in the target snapshot) goes through
`KeyIndex`, which compares them as the services do, with the connectors' one `fold` (letter case
ignored, character for character: `ACC-STRAßE-1` and `ACC-STRASSE-1` stay two records).
"""

from __future__ import annotations

from typing import Iterable

import pandas as pd

from p2c_assets.connectors.protocol import fold
from p2c_assets.engine.values import normal_column

SEPARATOR = "|"


def record_keys(frame: pd.DataFrame, columns: Iterable[str]) -> pd.Series:
    """The key text of every row of `frame`, from its `columns` (same index as `frame`). Each key is made
    at once from its parts (`str.join`), not part by part as `Series.str.cat` makes them: a string per
    row and part thrown away (the step grew by 72 MB making 383,000 contact persons' keys so)."""
    columns = list(columns)
    if frame.empty:
        return pd.Series([], dtype=object, index=frame.index)
    parts = [["" if v is None else str(v) for v in normal_column(frame[c]).tolist()] for c in columns]
    keys = list(map(SEPARATOR.join, zip(*parts))) if len(parts) > 1 else parts[0]
    return pd.Series(keys, index=frame.index, dtype=object)


class KeyIndex:
    """A set of keys that answers as the services match keys: `'usmf|acc-1' in KeyIndex(['usmf|ACC-1'])`."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._folded = {fold(k) for k in keys}

    def __contains__(self, key: str) -> bool:
        return fold(key) in self._folded

    def isin(self, keys: pd.Series) -> pd.Series:
        """Per key of `keys`: whether this index holds it."""
        return keys.map(fold).isin(self._folded)
