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
and plans (`engine`, `flows`, `schemas`), and `Ledger.version` of the flow and its parent (a record
recorded, parked, unparked or retried anywhere, by any legal entity's run, changes it). A full resync
and a dry run never rely on it; a change of any part makes the run a full plan again.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd

from p2c_assets.flows.template import FlowTemplate

PREFIX = "settled@"  # cursor name: settled@<legal entities>; value: {"fingerprint", "rows", "orphans"}
CODE = ("engine", "flows", "schemas")  # the packages whose code (and Microsoft's schema files) decide a plan
SUFFIXES = {".py", ".json"}
IDENTITY = "p2c_identity"  # frame attrs: what a source frame was made of (set by the source assets)


def source_digest(source: pd.DataFrame) -> str | None:
    """The source frame's digest (columns, types, every value in order); None for values that cannot
    be hashed, whose flow then never counts as settled. A frame that says what it was made of
    (`IDENTITY`: a change-feed source's stored rows, rules and code) is known by that, unhashed."""
    if source.attrs.get(IDENTITY):
        return f"{IDENTITY}:{source.attrs[IDENTITY]}"
    digest = hashlib.sha256(json.dumps([list(map(str, source.columns)), list(map(str, source.dtypes))]).encode())
    try:
        digest.update(pd.util.hash_pandas_object(source, index=False).to_numpy().tobytes())
    except TypeError:
        return None
    return digest.hexdigest()


def fingerprint(template: FlowTemplate, source_digest: str | None, companies: dict[str, str], ledger) -> str | None:
    """What a plan of `template` over a source with that digest would be made of, now."""
    if source_digest is None:
        return None
    parts = [source_digest, code_digest(), described(template),
             json.dumps(companies, sort_keys=True), ledger.version(template.name),
             ledger.version(template.parent.flow) if template.parent else ""]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class Settled:
    """How a flow's last run left it: its mapped rows, all unchanged from then on, and its orphans (landed
    records of its legal entities whose source row is gone, which reconciliation reports every run)."""

    rows: int
    orphans: tuple[str, ...] = ()


def settled(ledger, template: FlowTemplate, companies: dict[str, str], fingerprint_now: str | None) -> Settled | None:
    """How the flow settled, when its state now has the fingerprint it settled with; None otherwise."""
    if fingerprint_now is None:
        return None
    stored = ledger.get_cursor(template.name, _name(companies))
    if stored is None:
        return None
    state = json.loads(stored)
    return Settled(state["rows"], tuple(state["orphans"])) if state["fingerprint"] == fingerprint_now else None


def remember(ledger, template: FlowTemplate, companies: dict[str, str], fingerprint_now: str | None,
             state: Settled | None) -> None:
    """Store that the flow settled as `state` at `fingerprint_now` (taken after the run recorded its
    outcomes), or forget it (`state` None: the run left a problem row)."""
    value = None if state is None or fingerprint_now is None else json.dumps(
        {"fingerprint": fingerprint_now, "rows": state.rows, "orphans": list(state.orphans)})
    ledger.put_cursor(template.name, _name(companies), value)


def _name(companies: dict[str, str]) -> str:
    return PREFIX + ",".join(sorted(companies))


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
