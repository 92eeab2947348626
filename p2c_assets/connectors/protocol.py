"""The seam between the engine and the services: what the engine may ask of a client.

`DataverseClient` and `FinOpsClient` implement `ServiceClient`. The engine is typed against it and
imports nothing else from the connectors, so it builds no URL, no OData filter and no `@odata.bind`
path, and never asks which service it is talking to. Where the services differ, the client decides:

- `read(..., companies=)`: F&O reads those legal entities (cross-company); Dataverse rows belong to
  business units, not legal entities, so Dataverse reads every row and the flow maps units itself.
- `read_since`: Dataverse answers from its change feed; F&O keeps none and answers with a full read
  and no link, so a caller keeps nothing between runs.
- a `Ref` in a written row: Dataverse writes it as a link (`<nav>@odata.bind`); F&O data entities take
  related records as plain key fields, so the flows into F&O have none.
- `organization_setting`: Dataverse reads a column of its organization row (settings that change what
  a write does, such as creating products Active); F&O has no such row and answers None.

Why here and not in the engine: the types that cross the seam (`AnyOf`, `Ref`, `Delta`, `WriteOutcome`,
the key `fold`, `shared_strings`, which the ledger's stored sources use as the clients' frames do, and the
text held by pyarrow or as Python strings, `compact_text` and `as_objects`)
are the clients' own vocabulary. Kept in the connector package, the clients speak
it without importing the engine (pandera, the ledger, the templates), and the dependency runs one way:
the engine imports the connectors through this one module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Mapping, Protocol, Sequence

import pandas as pd

from .errors import DeltaTokenExpired
from .frames import TEXT, as_objects, compact_text, fit_text, shared_strings
from .http import RequestStats
from .odata import fold
from .writes import WriteOutcome

__all__ = ["TEXT", "AnyOf", "Delta", "DeltaTokenExpired", "Ref", "ServiceClient", "WriteOutcome", "as_objects",
           "compact_text", "fit_text", "fold", "shared_strings"]


@dataclass(frozen=True)
class AnyOf:
    """A structured row filter: rows whose `fields` equal one of `keys` (value tuples in `fields` order).

    Values are Python values (`True`, `42`, a `uuid.UUID` for an id); the client writes them in its
    query syntax and spreads a long list over as many requests as its URL limit needs.
    """

    fields: tuple[str, ...]
    keys: tuple[tuple, ...]

    @classmethod
    def equal(cls, **values: object) -> AnyOf:
        """Rows where every named field has the given value: `AnyOf.equal(statecode=0)`."""
        return cls(tuple(values), (tuple(values.values()),))


@dataclass(frozen=True)
class Ref:
    """A written field that points at a record of `entity_set`: by its alternate key, or by its id."""

    entity_set: str
    key: tuple[tuple[str, object], ...] = ()  # (column, value) pairs of an alternate key
    id: str | None = None


@dataclass(frozen=True)
class Delta:
    """What changed in a query since the last read (`ServiceClient.read_since`)."""

    rows: pd.DataFrame  # the query's current rows among the changed ones; every row when read without a link
    changed_ids: tuple[str, ...]  # ids the service named as new or changed, whether or not they still match
    deleted_ids: tuple[str, ...]
    delta_link: str | None  # where the next read starts; None: the service keeps no change feed


class ServiceClient(Protocol):
    """One service, as the engine uses it."""

    @property
    def stats(self) -> RequestStats:
        """Requests made so far (cumulative): the engine reports the difference per sync."""

    def read(self, entity_set: str, select: Sequence[str] | None = None, filter: str | None = None, *,
             where: AnyOf | None = None, companies: Sequence[str] | None = None,
             compact: bool = False) -> pd.DataFrame:
        """Every row of `entity_set` (all pages) with the `select` columns.

        `filter` is a template's filter text in the service's query syntax, passed as written; `where`
        narrows further; `companies` names the legal entities to read; `compact`: text held by pyarrow
        (`frames.compact_text`: what a source asset extracts and stores), else Python strings.
        """

    def iter_pages(self, entity_set: str, select: Sequence[str] | None = None, filter: str | None = None, *,
                   where: AnyOf | None = None, companies: Sequence[str] | None = None) -> Iterator[pd.DataFrame]:
        """The rows of `read`, a DataFrame per page as the service sends them: a caller that looks at
        each row once never holds the whole read."""

    def read_since(self, entity_set: str, select: Sequence[str], *, filter: str | None = None,
                   companies: Sequence[str] | None = None, delta_link: str | None = None,
                   compact: bool = False) -> Delta:
        """The rows of the query (as `read`, `compact` too) that changed since `delta_link`; all of them
        without one.

        Raises `DeltaTokenExpired` when the service no longer knows the link: read again without one.
        """

    def id_column(self, entity_set: str) -> str | None:
        """The column holding a record's id (for `Ref` by id, and the ids of a `Delta`); None when
        the service knows records only by their key fields."""

    def upsert_many(self, entity_set: str, rows: Sequence[Mapping[str, object]], key: Sequence[str],
                    batch_size: int = ..., *, landed: Sequence[bool] | None = None) -> Sequence[WriteOutcome]:
        """Insert or update `rows` by the `key` fields; one outcome per row, in row order.

        `landed[i]` True: the caller knows row `i` is in the target (the engine's ledger saw it land),
        so a client that must look rows up to tell created from updated skips it (it is updated).
        """

    def organization_setting(self, name: str) -> object:
        """The value of the service's environment-wide setting `name` (a column of Dataverse's organization
        row, `createproductswithoutparentinactivestate`), read once per client; None when the service
        has no such setting (F&O) or will not tell, so the caller goes without it.
        """
