"""Small reads of related tables, made once per run and shared by every lookup and bind.

A flow over 100,000 quote lines must not ask Dataverse for each product number: it reads
`products(productid, productnumber)` once and maps in memory. Values are matched as the services
match keys (`fold`): `usd` finds `USD`.

Given the values it needs (`among`), a caller gets only the records holding them: binding 1,000
orders to their customers must not page through 100,000 accounts and 200,000 contacts. The client
sends the values in as few requests as its service allows (Dataverse: `In` lists of 2,000 values,
many of them in one `$batch`), which for Dataverse is never more than reading the whole table (a
request per 5,000 rows), so a narrowed read is always the cheaper one there; every Reference read
goes to Dataverse (binds write to Sales, lookups resolve Sales GUIDs). Values already asked for are
not asked again, and a table read whole answers every later question.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Set

import pandas as pd

from p2c_assets.connectors.protocol import AnyOf, ServiceClient, fold


class References:
    def __init__(self, client: ServiceClient) -> None:
        self._client = client
        self._whole: dict[tuple[str, str, str], dict] = {}   # (entity_set, key, value) read whole
        self._found: dict[tuple[str, str, str], dict] = {}   # ... read by the keys asked for
        self._asked: dict[tuple[str, str, str], set] = {}

    def mapping(self, entity_set: str, key: str, value: str, among: Iterable | None = None) -> Mapping:
        """`key` column (folded) -> `value` column: of every record, or of at least the records whose
        `key` is among `among` (the others may be there too)."""
        which = (entity_set, key, value)
        if which in self._whole:
            return self._whole[which]
        if among is None:
            self._whole[which] = self._read(which, None)
            return self._whole[which]
        found = self._found.setdefault(which, {})
        asked = self._asked.setdefault(which, set())
        wanted = {fold(v): v for v in among if not _blank(v) and fold(v) not in asked}
        if wanted:
            found.update(self.read_among(entity_set, key, value, wanted.values()))
            asked.update(wanted)
        return found

    def read_among(self, entity_set: str, key: str, value: str, among: Iterable) -> dict:
        """`key` column (folded) -> `value` column of the records whose `key` is among `among`, read now
        and not kept: for a caller that asks for each value once and a slice of them at a time (a source's
        lookups resolve a million contacts' GUIDs)."""
        keys = self._keys(entity_set, key, [v for v in among if not _blank(v)])
        return self._read((entity_set, key, value), AnyOf((key,), tuple((k,) for k in keys))) if keys else {}

    def ids(self, entity_set: str, column: str, among: Iterable | None = None) -> Mapping:
        """`column` value (folded) -> the record's id, for links to records that have no alternate key."""
        return self.mapping(entity_set, column, self._client.id_column(entity_set), among)

    def values(self, entity_set: str, column: str, among: Iterable | None = None) -> Set:
        """The values of `column` (folded) that `entity_set` holds: all, or at least those among `among`."""
        return self.mapping(entity_set, column, column, among).keys()

    def _read(self, which: tuple[str, str, str], where: AnyOf | None) -> dict:
        entity_set, key, value = which
        frame = self._client.read(entity_set, select=list(dict.fromkeys((key, value))), where=where)
        return {} if frame.empty else {fold(k): v for k, v in zip(frame[key], frame[value])}

    def _keys(self, entity_set: str, key: str, values: Iterable) -> list:
        """`values` as the filter takes them: an id column's as `uuid.UUID` (`AnyOf`), text that is no
        GUID left out (it can name no record)."""
        if key != self._client.id_column(entity_set):
            return list(values)
        keys = []
        for v in values:
            try:
                keys.append(uuid.UUID(str(v)))
            except ValueError:
                pass
        return keys


def _blank(value) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))
