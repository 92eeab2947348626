"""Small reads of related tables, made once per run and shared by every lookup and bind.

A flow over 100,000 quote lines must not ask Dataverse for each product number: it reads
`products(productid, productnumber)` once and maps in memory. Values are matched as the services
match keys (`fold`): `usd` finds `USD`.
"""

from __future__ import annotations

import pandas as pd

from p2c_assets.connectors.protocol import ServiceClient, fold


class References:
    def __init__(self, client: ServiceClient) -> None:
        self._client = client
        self._frames: dict[tuple[str, tuple[str, ...]], pd.DataFrame] = {}
        self._folded: dict[tuple, dict | set] = {}

    def _frame(self, entity_set: str, columns: tuple[str, ...]) -> pd.DataFrame:
        key = (entity_set, columns)
        if key not in self._frames:
            self._frames[key] = self._client.read(entity_set, select=list(columns))
        return self._frames[key]

    def mapping(self, entity_set: str, key: str, value: str) -> dict:
        """`key` column (folded) -> `value` column."""
        if ("mapping", entity_set, key, value) not in self._folded:
            frame = self._frame(entity_set, tuple(dict.fromkeys((key, value))))
            self._folded["mapping", entity_set, key, value] = (
                {} if frame.empty else {fold(k): v for k, v in zip(frame[key], frame[value])})
        return self._folded["mapping", entity_set, key, value]

    def ids(self, entity_set: str, column: str) -> dict:
        """`column` value (folded) -> the record's id, for links to records that have no alternate key."""
        return self.mapping(entity_set, column, self._client.id_column(entity_set))

    def values(self, entity_set: str, column: str) -> set:
        """The values of `column` (folded) that `entity_set` holds."""
        if ("values", entity_set, column) not in self._folded:
            frame = self._frame(entity_set, (column,))
            self._folded["values", entity_set, column] = set() if frame.empty else {fold(v) for v in frame[column]}
        return self._folded["values", entity_set, column]
