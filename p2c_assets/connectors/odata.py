"""OData literals, key predicates and filters, escaped once and correctly.

An account number like ``O'Brien & Sons #1/2`` must survive three layers: the OData literal
(a quote is doubled), the URL (``&``, ``#``, ``/``, ``?``, ``%``, space and non-ASCII are
percent-encoded in paths; query strings are encoded by ``requests``), and the service's parser.
Everything that puts a value into a URL goes through here.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Iterable, Mapping, Sequence
from urllib.parse import quote


def literal(value: object) -> str:
    """The OData v4 literal for a Python value (``'O''Brien'``, ``42``, ``true``, a bare GUID)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError(f"datetime {value} has no time zone; OData needs an offset")
        return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no OData literal for {type(value).__name__} value {value!r}")


def key_predicate(key: Mapping[str, object]) -> str:
    """``dataAreaId='usmf',CustomerAccount='US-001'``: the unencoded key, e.g. for ``@odata.id``."""
    return ",".join(f"{name}={literal(value)}" for name, value in key.items())


def entity_path(entity_set: str, key: Mapping[str, object]) -> str:
    """``CustomersV3(dataAreaId='usmf',CustomerAccount='A%26B')``: a key URL path segment."""
    return f"{entity_set}({quote(key_predicate(key), safe=chr(39) + ',=')})"


def fold(value):
    """A key or text value in the form this client compares it in: strings without letter case,
    anything else as is.

    Both services ignore letter case in keys (`us-001` finds `US-001`). Character for character:
    ``str.lower()``, never ``str.casefold()``, which turns ``ß`` into ``ss`` and so would make
    ``ACC-STRAßE-1`` and ``ACC-STRASSE-1``, two records in the sandbox, one key, refusing one row as a
    duplicate of the other. Every place that matches keys uses this one function: the connectors'
    upserts (``writes.match_key``) and, through ``connectors.protocol``, the engine's references,
    record keys (``engine.keys.KeyIndex``) and diffs.

    A text already without capitals is given back as it is, not as the equal copy ``lower()`` makes:
    folded keys and GUIDs are kept by the hundred thousand (a legal entity, a GUID), and the copy is
    50 bytes or more each.
    """
    if not isinstance(value, str):
        return value
    lowered = value.lower()
    return value if lowered == value else lowered


def eq(name: str, value: object) -> str:
    return f"{name} eq {literal(value)}"


def any_of(fields: Sequence[str], keys: Iterable[Sequence[object]]) -> str:
    """A filter matching any of ``keys`` (tuples in ``fields`` order).

    F&O supports neither ``in`` nor lambdas, so this is an ``or`` chain; keys that share every field
    but the last are grouped (``dataAreaId eq 'usmf' and (CustomerAccount eq 'a' or ...)``) to keep
    the URL short.
    """
    groups: dict[tuple, list[object]] = {}
    for k in keys:
        groups.setdefault(tuple(k[:-1]), []).append(k[-1])
    clauses = []
    for prefix, lasts in groups.items():
        last = " or ".join(eq(fields[-1], v) for v in lasts)
        parts = [eq(f, v) for f, v in zip(fields[:-1], prefix)]
        clauses.append(" and ".join(parts + [f"({last})" if parts and len(lasts) > 1 else last]))
    return " or ".join(f"({c})" for c in clauses) if len(clauses) > 1 else clauses[0]


def chunk_keys(fields: Sequence[str], keys: Sequence[Sequence[object]], max_chars: int) -> list[list]:
    """Split ``keys`` so each chunk's ``any_of`` filter stays under ``max_chars`` once URL-encoded.

    Servers cap the request line (uvicorn/h11 at 16 KB, IIS lower), so a 1,000-key lookup becomes a
    few GETs rather than one that is refused.
    """
    chunks: list[list] = [[]]
    prefixes: set[tuple] = set()
    size = 0
    for k in keys:
        cost = len(quote(eq(fields[-1], k[-1]), safe="")) + 8
        if tuple(k[:-1]) not in prefixes:
            cost += sum(len(quote(eq(f, v), safe="")) + 12 for f, v in zip(fields[:-1], k[:-1]))
        if chunks[-1] and size + cost > max_chars:
            chunks.append([])
            prefixes.clear()
            size = 0
            cost = sum(len(quote(eq(f, v), safe="")) + 12 for f, v in zip(fields, k))
        chunks[-1].append(k)
        prefixes.add(tuple(k[:-1]))
        size += cost
    return [c for c in chunks if c]



def in_function(field: str, values: Iterable[object]) -> str:
    """Dataverse's ``In`` query function, ``Microsoft.Dynamics.CRM.In(PropertyName='accountnumber',
    PropertyValues=['A-1','A-2'])``: rows whose ``field`` is one of ``values``. Much shorter than an
    ``or`` chain of ``eq``, so a request holds several times the values."""
    return f"Microsoft.Dynamics.CRM.In(PropertyName={literal(field)},PropertyValues=[{','.join(map(_text, values))}])"


def _text(value: object) -> str:
    """A value of ``In``'s ``PropertyValues``, a ``Collection(Edm.String)``
    (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/in): the string
    literal of the value's own literal text (a GUID as ``'<guid>'``, 42 as ``'42'``)."""
    return literal(value if isinstance(value, str) else literal(value))


def chunk_values(field: str, values: Sequence[object], max_chars: int, max_values: int) -> list[list]:
    """Split ``values`` so each chunk's ``in_function`` filter stays under ``max_chars`` once URL-encoded
    and holds at most ``max_values``."""
    chunks: list[list] = [[]]
    size = base = len(quote(in_function(field, ()), safe=""))
    for value in values:
        cost = len(quote(_text(value), safe="")) + 3   # and the encoded comma
        if chunks[-1] and (size + cost > max_chars or len(chunks[-1]) >= max_values):
            chunks.append([])
            size = base
        chunks[-1].append(value)
        size += cost
    return [c for c in chunks if c]
