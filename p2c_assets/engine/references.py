"""Small reads of related tables, made once per run and shared by every lookup and bind.

A flow over 100,000 quote lines must not ask Dataverse for each product number: it reads
`products(productid, productnumber)` once and maps in memory.
"""

from __future__ import annotations

import pandas as pd

from p2c_assets.connectors.odata import fold


class References:
    def __init__(self, client) -> None:
        self._client = client
        self._frames: dict[tuple[str, tuple[str, ...]], pd.DataFrame] = {}
        self._folded: dict[tuple, dict | set] = {}

    def frame(self, entity_set: str, columns: tuple[str, ...]) -> pd.DataFrame:
        key = (entity_set, columns)
        if key not in self._frames:
            self._frames[key] = self._client.read(entity_set, select=list(columns))
        return self._frames[key]

    def mapping(self, entity_set: str, key: str, value: str) -> dict:
        """`key` column -> `value` column, string keys compared as Dataverse compares them (`fold`)."""
        if ("mapping", entity_set, key, value) not in self._folded:
            frame = self.frame(entity_set, tuple(dict.fromkeys((key, value))))
            self._folded["mapping", entity_set, key, value] = (
                {} if frame.empty else {fold(k): v for k, v in zip(frame[key], frame[value])})
        return self._folded["mapping", entity_set, key, value]

    def values(self, entity_set: str, column: str) -> set:
        if ("values", entity_set, column) not in self._folded:
            frame = self.frame(entity_set, (column,))
            self._folded["values", entity_set, column] = set() if frame.empty else {fold(v) for v in frame[column]}
        return self._folded["values", entity_set, column]
