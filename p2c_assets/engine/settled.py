"""Settled flows: a run that finds a flow as its last run left it knows the outcome without the work.

Why: a run in which nothing changed should cost a small share of a full sync (issue 11), and what is
left of it once every row turns out unchanged is mapping, hashing and comparing every row with the
ledger (seconds per 100,000 rows, in every flow, in every scheduled run). A flow is *settled* for a set
of legal entities when its last run there left no problem row (rejected, failed, blocked or parked);
its orphans (landed records whose source row is gone) are kept with it for reconciliation to report
without mapping the source again. The next run with the same source rows
(same content, same order), the same template, companies and code, and the same ledger records of the
flow and of its header's flow, would find every row unchanged again: it says so at once.

What the fingerprint covers is everything a plan is made of: the source frame (hashed column-wise,
`pd.util.hash_pandas_object`), the template and the companies mapping, the code that maps, validates
and plans (`engine`, `flows`, `schemas`), and `Ledger.version` of the flow and its parent in the run's
legal entities (a record of theirs recorded, parked, unparked or retried by any run changes it; a
record of another legal entity does not: its runs plan it). A full resync
and a dry run never rely on it; a change of any part but the source's rows makes the run a full plan again.

When only some source rows changed and the rest of the fingerprint holds (`fingerprints`: the same
columns, template, companies, code and ledger records), the run plans those rows alone
(`changed_rows`): every other row would be planned as when the flow settled, unchanged. Settling
remembers each source row's 64-bit hash and record key for this (`Rows`, a cursor of its own: a
settled run never reads it); a row whose hash is new is changed or new. Whatever a plan of those rows
alone could decide otherwise than a full plan makes the run plan every row: a remembered row gone
without a changed row taking its key letter for letter (a deletion, a key change, a row the filter
now drops: the full plan finds its orphan), a changed row taking a key another row has (duplicates
are rejected together), two rows alike, or more than `CHANGED_SHARE` of the rows changed (no gain).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from p2c_assets.connectors.protocol import fold
from p2c_assets.engine.keys import record_keys
from p2c_assets.engine.mapping import map_rows
from p2c_assets.flows.template import FlowTemplate

PREFIX = "settled@"  # cursor name: settled@<legal entities>; value: {"fingerprint", "rows", "orphans"}
ROWS_PREFIX = "settled-rows@"  # cursor name: settled-rows@<legal entities>; value: {"rest", "hashes", "keys",
#   "orphans"}: `Rows` with the rest of the fingerprint and the orphans they settled with
CODE = ("engine", "flows", "schemas")  # the packages whose code (and Microsoft's schema files) decide a plan
SUFFIXES = {".py", ".json"}
IDENTITY = "p2c_identity"  # frame attrs: what a source frame was made of (set by the source assets)
HASHED_AT_ONCE = 50_000  # source rows hashed at a time (`SourceRows.hashes`)
CHANGED_SHARE = 0.2  # above this share of changed source rows a run plans them all: picking them out gains little


class SourceRows:
    """A source frame's row hashes and digest, each made once and only when asked: a frame known by its
    `IDENTITY` is hashed only when a run compares it row by row."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    @cached_property
    def hashes(self) -> np.ndarray | None:
        """One 64-bit hash per row, of its values (not its index); None for values that cannot be hashed.
        `HASHED_AT_ONCE` rows at a time (a row's hash is of its own values alone): pandas holds a bytes
        copy of every text it hashes until the column is done, 110 MB at once for 765,000 contact persons."""
        try:
            return np.concatenate([pd.util.hash_pandas_object(self.frame.iloc[start:start + HASHED_AT_ONCE],
                                                              index=False).to_numpy()
                                   for start in range(0, len(self.frame), HASHED_AT_ONCE)] or [np.empty(0, np.uint64)])
        except TypeError:
            return None

    @cached_property
    def digest(self) -> str | None:
        """The frame's digest (columns, types, every value in order); None for values that cannot be
        hashed, whose flow then never counts as settled. A frame that says what it was made of
        (`IDENTITY`: a change-feed source's stored rows, rules and code) is known by that, unhashed."""
        if self.frame.attrs.get(IDENTITY):
            return f"{IDENTITY}:{self.frame.attrs[IDENTITY]}"
        if self.hashes is None:
            return None
        digest = hashlib.sha256(_header(self.frame).encode())
        digest.update(self.hashes.tobytes())
        return digest.hexdigest()

    @cached_property
    def distinct(self) -> bool:
        """Whether each row can be told by its hash: hashable, no two rows alike, no two index labels alike."""
        return self.hashes is not None and self.frame.index.is_unique and pd.Index(self.hashes).is_unique


def fingerprints(template: FlowTemplate, source: SourceRows, companies: dict[str, str],
                 ledger) -> tuple[str | None, str]:
    """The fingerprint of a plan over `source` now (None when its values cannot be hashed), and its rest:
    the same but for the source's rows (its columns and types stay in it), which `changed_rows` compares."""
    parts = _planned_with(template, companies, ledger)
    whole = None if source.digest is None else _hexdigest(source.digest, *parts)
    return whole, _hexdigest(_header(source.frame), *parts)


def _planned_with(template: FlowTemplate, companies: dict[str, str], ledger) -> list[str]:
    parent = ledger.version(template.parent.flow, companies) if template.parent else ""
    return [code_digest(), described(template), json.dumps(companies, sort_keys=True),
            ledger.version(template.name, companies), parent]


@dataclass(frozen=True)
class Rows:
    """A settled source row by row: each row's hash and record key (None: the row filter dropped it)."""

    hashes: np.ndarray
    keys: list


def by_row(source: SourceRows, keys: pd.Series) -> Rows | None:
    """Each source row's hash and key (`keys`: the mapped rows' keys, by row; None where the row filter
    dropped the row), when the rows tell apart (`SourceRows.distinct`)."""
    if not source.distinct:
        return None
    keys = keys.reindex(source.frame.index)
    return Rows(source.hashes, keys.astype(object).where(keys.notna(), None).tolist())


@dataclass(frozen=True)
class Settled:
    """How a flow's last run left it: its mapped rows, all unchanged from then on, and its orphans (landed
    records of its legal entities whose source row is gone, which reconciliation reports every run);
    with each source row (`by_row`) when the source's rows tell apart."""

    rows: int
    orphans: tuple[str, ...] = ()
    by_row: Rows | None = None


def settled(ledger, template: FlowTemplate, companies: dict[str, str], fingerprint_now: str | None) -> Settled | None:
    """How the flow settled, when its state now has the fingerprint it settled with; None otherwise."""
    if fingerprint_now is None:
        return None
    stored = ledger.get_cursor(template.name, _name(companies))
    if stored is None:
        return None
    state = json.loads(stored)
    return Settled(state["rows"], tuple(state["orphans"])) if state["fingerprint"] == fingerprint_now else None


def remember(ledger, template: FlowTemplate, companies: dict[str, str], fingerprints_now: tuple[str | None, str],
             state: Settled | None) -> None:
    """Store that the flow settled as `state` at `fingerprints_now` (taken after the run recorded its
    outcomes), or forget it (`state` None: the run left a problem row).

    The rows go to a cursor of their own, with the orphans they were settled with: a settled run reads
    the fingerprint only, and a run that plans changed rows finds rows and orphans of one moment even
    if a run ended between the two writes."""
    whole, rest = fingerprints_now
    value = None if state is None or whole is None else json.dumps(
        {"fingerprint": whole, "rows": state.rows, "orphans": list(state.orphans)})
    ledger.put_cursor(template.name, _name(companies), value)
    rows = None if state is None or state.by_row is None else json.dumps(
        {"rest": rest, "hashes": base64.b64encode(state.by_row.hashes.tobytes()).decode(),
         "keys": state.by_row.keys, "orphans": list(state.orphans)})
    ledger.put_cursor(template.name, _name(companies, ROWS_PREFIX), rows)


@dataclass(frozen=True)
class Changes:
    """The source rows a run plans, the others being as the flow settled with them."""

    rows: pd.Index  # the changed and new rows: their labels in the source frame
    unchanged: int  # mapped rows the flow settled with, still as they were
    orphans: tuple[str, ...]  # the flow's when it settled
    keys: pd.Series  # per source row, its key when the flow settled (None for the changed rows)

    def keys_after(self, planned: pd.Series) -> pd.Series:
        """Every source row's key once the changed rows are planned (`planned`: their keys, by row)."""
        return self.keys.where(~self.keys.index.isin(self.rows), planned.reindex(self.keys.index))


def changed_rows(ledger, template: FlowTemplate, companies: dict[str, str], source: SourceRows,
                 rest_now: str) -> Changes | None:
    """The rows to plan when the flow settled with the rest of the fingerprint it has now and the source
    differs in a few rows, each an update of a record it had or a new one; None when the run must plan
    every row (see the module docstring)."""
    last = _remembered(ledger, template, companies)
    if last is None or last["rest"] != rest_now or not source.distinct:
        return None
    hashes = np.frombuffer(base64.b64decode(last["hashes"]), dtype=np.uint64)
    at = pd.Index(hashes).get_indexer(source.hashes)  # each row's place among the settled ones; -1: changed
    changed = at < 0
    if changed.sum() > CHANGED_SHARE * len(at):
        return None
    settled_keys = pd.Series(last["keys"], dtype=object)
    gone = ~settled_keys.index.isin(at[~changed])
    rows = source.frame.index[changed]
    keys = record_keys(map_rows(template, source.frame.loc[rows], companies), template.target.key)
    if not _updates_or_new(keys, settled_keys[gone].dropna(), settled_keys[~gone].dropna()):
        return None
    carried = settled_keys.reindex(at).set_axis(source.frame.index).where(~changed, None)
    return Changes(rows, int(settled_keys[~gone].notna().sum()), tuple(last["orphans"]), carried)


def _updates_or_new(keys: pd.Series, gone: pd.Series, kept: pd.Series) -> bool:
    """Whether the changed rows' `keys` take the `gone` settled rows' keys (letter for letter: what an
    orphan is told by) and none of the `kept` ones, and no two of them share a key (as keys match)."""
    folded = keys.map(fold)
    return (gone.isin(keys).all() and not folded.duplicated().any()
            and not kept.map(fold).isin(folded).any())


def _remembered(ledger, template: FlowTemplate, companies: dict[str, str]) -> dict | None:
    stored = ledger.get_cursor(template.name, _name(companies, ROWS_PREFIX))
    return None if stored is None else json.loads(stored)


def _name(companies: dict[str, str], prefix: str = PREFIX) -> str:
    return prefix + ",".join(sorted(companies))


def _header(frame: pd.DataFrame) -> str:
    return json.dumps([list(map(str, frame.columns)), list(map(str, frame.dtypes))])


def _hexdigest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def described(value) -> str:
    """`repr` without memory addresses (a template's transform functions), the same in every process."""
    return re.sub(r" at 0x[0-9a-f]+", "", repr(value))


@cache
def code_digest() -> str:
    """The digest of the planning code, once per process: a new release (or a local edit) plans again."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted(p for package in CODE for p in (root / package).rglob("*") if p.suffix in SUFFIXES):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()
