"""Reconciliation: does the target hold what the sources say, key by key, after the writes?

Per-row validation cannot see drift: a record someone changed in the target, a write that landed
differently, a record whose source is gone. For every record the ledger says landed, the source row
is mapped again and compared field by field with one read of the target (the plain mapped fields;
bound lookups are checked by the references they need). Deletes are not propagated (the safe
choice), so a landed record whose source is gone or no longer passes the filter is reported as an
orphan for an admin to decide. A flow that hands its records over (`FlowTemplate.handover`: F&O is
master of an order from Sales once it is there) has no orphans, and only its records' presence is
compared: their fields are the target's to change. `missing_references` is the same key matching for
referential integrity across entities: a quotation whose customer the target lacks.

Two scopes. A full reconciliation compares every landed record with one read of the whole target: it
finds drift on any record, and costs seconds per 100,000 records in every run. Scoped to one Dagster
run (`dagster_run_id`), it compares only the records that run created or updated, read from the target
by key: a run that wrote nothing reads nothing, so a no-change run pays nothing for it (issue 11).
Orphans are found either way: the ledger's landed keys minus the source's keys are the candidates, and
only those are read to confirm they are still in the target. A flow settled with the very source the
run had (`engine.settled`: its sync, this run's or an earlier one, left no problem row) has its orphans
kept with it: the ledger's states are not read, and when the run wrote nothing of it, nothing is mapped. Drift on a record the run did not write
waits for the next full reconciliation (the `p2c/reconcile: full` run tag, `p2c run --full-resync`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Collection, Iterable, Sequence

import pandas as pd

from p2c_assets.connectors.protocol import TEXT, AnyOf, ServiceClient, fold
from p2c_assets.engine.diff import compare, target_pages
from p2c_assets.engine.keys import SEPARATOR, KeyIndex, record_keys
from p2c_assets.engine.ledger import Ledger
from p2c_assets.engine.mapping import map_rows
from p2c_assets.engine.settled import SourceRows, fingerprints, settled
from p2c_assets.engine.sync import LANDED
from p2c_assets.engine.values import normal_column
from p2c_assets.flows.template import FlowTemplate

DIFFERENCE_COLUMNS = ["key", "field", "source", "target", "flow"]
KEYED_SHARE = 0.1  # up to this share of a flow's landed records, a scoped reconciliation reads them by key
TYPED_BY = 100  # source rows a settled flow maps to type its orphans' key parts


@dataclass(frozen=True)
class Reconciliation:
    compared: int  # landed records compared with the target
    differences: pd.DataFrame  # DIFFERENCE_COLUMNS; field '(record)' for a record missing on one side
    full: bool  # every landed record against the whole target; else only what one Dagster run wrote


def reconcile(flows: Iterable[tuple[FlowTemplate, pd.DataFrame]], *, client: ServiceClient, ledger: Ledger,
              companies: dict[str, str], dagster_run_id: str | None = None) -> Reconciliation:
    """Compare each flow's landed records (template, source frame) with what the target holds: all of
    them, or with `dagster_run_id` only those that Dagster run wrote (see the module docstring); the
    records of the legal entities in `companies` (the run's partitions) only."""
    found, compared = [], 0
    ours = {fold(company) for company in companies}
    for template, source in flows:
        # the run's written keys (pyarrow's text), or the landed ones (a set), less those of other runs
        written = pd.Index([], dtype=TEXT) if dagster_run_id is None else ledger.written_in(template.name,
                                                                                            dagster_run_id)
        state = None if dagster_run_id is None else settled(
            ledger, template, companies, fingerprints(template, SourceRows(source), companies, ledger)[0])
        if state is not None:  # the flow is settled with this very source: its orphans are known
            mapped = map_rows(template, source if len(written) else source.head(TYPED_BY), companies)
            keys, landed, gone = record_keys(mapped, template.target.key), written, set(state.orphans)
        else:
            mapped = map_rows(template, source, companies)
            keys = record_keys(mapped, template.target.key)
            # the companies' records only: a run of one legal entity says nothing about another's
            landed = {k for k, s in ledger.states(template.name).items()
                      if s.outcome in LANDED and fold(s.legal_entity or "") in ours}
            gone = set() if template.handover else landed - set(keys)
        if dagster_run_id is None:
            target = target_pages(template, client, companies)
        else:
            every = state.rows if state is not None else len(landed)
            if landed is not written:
                landed &= set(written)
            target = target_pages(template, client, companies,
                                  where=_by_key(landed, gone, every, mapped, template.target.key)) \
                if len(landed) or gone else pd.DataFrame(columns=list(template.target.key))
        kept = keys.isin(landed).to_numpy()
        if not kept.all():  # a first sync's reconciliation keeps every row: no copy of them
            mapped, keys = mapped[kept], keys[kept]
        compared += len(mapped)
        # a record handed over is the target's: only that it is there is compared
        fields = [] if template.handover else [f for f in template.target_fields if f not in template.binds]
        comparison = compare(mapped, target, template.target.key, fields, keys=keys)
        found.append(comparison.differences.assign(flow=template.name))
        orphans = sorted(k for k in gone if k in comparison.held)
        found.append(pd.DataFrame({"key": orphans, "field": "(record)", "source": "missing in source",
                                   "target": "present", "flow": template.name}))
    differences = pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=DIFFERENCE_COLUMNS)
    return Reconciliation(compared, differences[DIFFERENCE_COLUMNS], dagster_run_id is None)


def _by_key(written: Collection[str], gone: set[str], landed: int, mapped: pd.DataFrame,
            key: Sequence[str]) -> AnyOf | None:
    """The filter that reads the records the run wrote and the orphan candidates (key texts) from the
    target: each text split back into its parts, typed like the mapped source's values of that column (a
    line's sequence number is a number to the service, not text).

    None, the whole target, when those records are more than `KEYED_SHARE` of the `landed` ones (a
    first sync: one paged read beats a request per few hundred keys, each matched by the service against
    a long `or` filter), or when no source row is left to type them by (every landed record is then an
    orphan candidate)."""
    if mapped.empty or len(written) > KEYED_SHARE * landed:
        return None
    wanted = gone.union(written)
    if len(wanted) > KEYED_SHARE * landed:
        return None
    kinds = []
    for column in key:
        sample = normal_column(mapped[column].dropna().head(1)).dropna().tolist()
        kinds.append(type(sample[0]) if sample and type(sample[0]) in (int, float) else str)
    parts = (text.split(SEPARATOR, len(key) - 1) for text in sorted(wanted))
    return AnyOf(tuple(key), tuple(tuple(kind(p) if p else None for kind, p in zip(kinds, k)) for k in parts))


def missing_references(rows: pd.DataFrame, columns: Sequence[str], records: pd.DataFrame,
                       key: Sequence[str]) -> pd.DataFrame:
    """The `rows` whose `columns` name no record of `records` by its `key` (same order), matched as
    the services match keys; a blank reference names nothing."""
    known = KeyIndex(record_keys(records, key))
    return rows[~known.isin(record_keys(rows, columns))]
