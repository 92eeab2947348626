"""One sync of one flow: plan (map -> validate -> bind -> diff), write, record (DESIGN.md section 4).

The engine knows neither Dagster nor either service: it takes a flow template, the extracted source
frame, a target client (`connectors.protocol.ServiceClient`) and the ledger, and returns a
`SyncReport` that the Dagster layer turns into metadata and checks.

Every extracted row is accounted for exactly once: filtered out (the template's row filter or
routing rule), or one outcome: created, updated, unchanged, rejected (failed validation or a
missing reference, never sent), failed (the target refused it), blocked (its header did not land)
or parked (kept failing; retried when its source changes, and when a probe (one parked row per
distinct error, sent again every run) lands, so rows parked for a missing price list or currency go
as soon as it exists).
A problem row affects only itself and the rows that depend on it. A flow that hands its records
over (`FlowTemplate.handover`) writes each record until it lands and never again: it is unchanged
from then on, whatever its source says, since the target is its master.
"""

from __future__ import annotations

import time
from collections import Counter
from contextlib import nullcontext
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from p2c_assets.connectors.protocol import TEXT, ServiceClient, WriteOutcome, fold
from p2c_assets.engine.binds import bind_rows
from p2c_assets.engine.diff import compare, content_hashes, target_pages
from p2c_assets.engine.keys import record_keys
from p2c_assets.engine.ledger import RUN_OUTCOMES, WRITTEN, Ledger, RecordOutcome, States
from p2c_assets.engine.mapping import FILTERED_OUT, legal_entities, map_rows
from p2c_assets.engine.references import References
from p2c_assets.engine.settled import (Changes, Settled, SourceRows, by_row, changed_rows, fingerprints, remember,
                                       settled)
from p2c_assets.engine.validate import passed, validate
from p2c_assets.flows.template import FlowTemplate
from p2c_assets.schemas import BY_ENTITY_SET

LANDED = {*WRITTEN, "unchanged"}
PROBES = 20  # distinct errors among parked rows probed per run
OUTCOMES = RUN_OUTCOMES  # a row's outcome in a run, in report order
PROBLEMS = ("rejected", "failed", "blocked", "parked")
PROBLEM_COLUMNS = ["key", "legal_entity", "outcome", "reason", "error_code", "error_message"]
PREVIEW_FROM = 100  # source rows a settled run maps for its preview


@dataclass
class SyncReport:
    flow: str
    extracted: int
    filtered: int  # dropped by the template's row filter or routing rule, with `filter_rule`
    filter_rule: str | None
    counts: Counter  # per extracted row; with `filtered` they add up to `extracted`
    problems: pd.DataFrame  # one row per problem row: PROBLEM_COLUMNS
    by_rule: pd.DataFrame
    sample: pd.DataFrame
    preview: pd.DataFrame
    requests: int
    duration_s: float
    dry_run: bool
    attempted: int = 0  # rows this run tried to send, or refused to: the base of the problem shares
    pending: int = 0  # rows selected for writing (changed, valid, bound, not blocked or parked)
    run_id: int | None = None
    field_diff: pd.DataFrame = field(default_factory=pd.DataFrame)
    settled: bool = False  # the flow was as its last run left it (`engine.settled`): nothing planned
    planned: int = 0  # source rows planned: all, those changed since the flow settled (`engine.settled`), or none


@dataclass
class Plan:
    """What a run will do with each mapped row, decided before anything is written."""

    mapped: pd.DataFrame
    keys: pd.Series
    hashes: pd.Series
    legal_entities: pd.Series
    reasons: pd.Series  # row -> why it was rejected (validation, company mapping, binds)
    blocked: list
    parked: list
    payload: pd.DataFrame  # rows to write, binds resolved
    states: States  # the ledger's, by key
    validation: object
    settled: pd.Series  # row -> landed with its current content (nothing to validate or record again)
    foreign: list  # rows whose key another legal entity's landed record holds (rejected, kept out of the ledger)
    # parked rows sent again as a probe (one per distinct error) -> the parked rows sharing its error
    probes: dict = field(default_factory=dict)


def sync(template: FlowTemplate, source: pd.DataFrame, *, client: ServiceClient, ledger: Ledger,
         companies: dict[str, str], dry_run: bool = False, full: bool = False,
         dagster_run_id: str | None = None, batch_size: int = 1000) -> SyncReport:
    """A real run holds its flow (in its `companies`) and its ledger run from its first read of the ledger
    to its last record, so a second run of the flow there waits for it (`Ledger.running`), and a run that raises ends as failed
    instead of "running" forever. A dry run changes nothing in the ledger and takes neither."""
    with nullcontext() if dry_run else ledger.running(template.name, dagster_run_id=dagster_run_id,
                                                      companies=companies) as run_id:
        return _sync(template, source, client=client, ledger=ledger, companies=companies, dry_run=dry_run,
                     full=full, batch_size=batch_size, run_id=run_id)


def _sync(template: FlowTemplate, source: pd.DataFrame, *, client: ServiceClient, ledger: Ledger,
          companies: dict[str, str], dry_run: bool, full: bool, batch_size: int, run_id: int | None) -> SyncReport:
    started = time.monotonic()
    requests_before = client.stats.requests
    source_rows = SourceRows(source)
    changes = None
    if not (dry_run or full):
        whole, rest = fingerprints(template, source_rows, companies, ledger)
        state = settled(ledger, template, companies, whole)
        if state is not None:
            return _settled_report(template, source, state.rows, ledger=ledger, companies=companies, run_id=run_id,
                                   started=started)
        changes = changed_rows(ledger, template, companies, source_rows, rest)
    planned = source if changes is None else source.loc[changes.rows]
    plan = plan_rows(template, planned, client=client, ledger=ledger, companies=companies, full=full,
                     keyed=changes is not None)
    field_diff = pd.DataFrame()
    if dry_run:
        outcomes, field_diff = _predict(template, plan, client, companies)
    else:
        outcomes = write(template, client, plan, batch_size)
        freed = _unpark_with_probes(template, client, plan, outcomes, batch_size)
        if len(freed):
            outcomes = pd.concat([outcomes, freed])
    per_row = outcome_per_row(plan, outcomes)
    requests = client.stats.requests - requests_before
    if run_id is not None:
        ledger.record(run_id, template.name, ledger_rows(template, plan, per_row))
        # a failure that used up the row's attempts parked it: report it as parked
        per_row.loc[_parks(plan, per_row, ledger), "outcome"] = "parked"
    counts = Counter({outcome: int(n) for outcome, n in per_row["outcome"].value_counts().items()})
    unchanged = changes.unchanged if changes else 0  # the rows not planned: as the flow settled with them
    counts += Counter(unchanged=unchanged)
    extracted = _extracted(source)
    filtered = extracted - len(plan.mapped) - unchanged
    report = SyncReport(
        flow=template.name, extracted=extracted, filtered=filtered,
        filter_rule=template.row_filter, counts=counts, problems=_problems(plan, per_row),
        by_rule=plan.validation.by_rule, sample=plan.validation.sample,
        preview=plan.mapped.head(5).copy(),  # not a view: under Copy-on-Write it would keep every mapped row
        requests=requests, duration_s=0.0, dry_run=dry_run,
        attempted=len(outcomes) + len(plan.reasons), pending=len(plan.payload), run_id=run_id,
        field_diff=field_diff, planned=len(planned))
    if run_id is not None:
        ledger.finish_run(run_id, counts=counts, requests=requests, extracted=extracted, filtered_out=filtered,
                          status="warning" if any(counts[o] for o in PROBLEMS) else "success")
        state = _settled_with(template, plan, counts, companies, source_rows, changes)
        # what the report and the settled state need is taken: the rows' plan, outcomes and content hashes
        # (a hash, a target id and more per row) go before the settled rows are written out as text
        del plan, per_row, outcomes
        remember(ledger, template, companies, fingerprints(template, source_rows, companies, ledger), state)
    report.duration_s = time.monotonic() - started
    return report


def _settled_with(template: FlowTemplate, plan: Plan, counts: Counter, companies: dict[str, str],
                  source_rows: SourceRows, changes: Changes | None) -> Settled | None:
    """How a run left its flow (`engine.settled`): None when it left a problem row; else its mapped rows,
    orphans, the landed records of its legal entities whose source row is gone (none for a flow that
    hands its records over: see `engine.reconcile`), and its source rows' hashes and keys. A run that
    planned the changed rows only keeps the orphans the flow settled with, less the keys those rows
    took: any other row gone made it plan every row."""
    if any(counts[o] for o in PROBLEMS):
        return None
    if changes is not None:
        orphans = tuple(sorted(set(changes.orphans).difference(plan.keys)))
        return Settled(len(plan.mapped) + changes.unchanged, orphans,
                       by_row(source_rows, changes.keys_after(plan.keys)))
    states = plan.states.frame
    ours = states["legal_entity"].map(lambda e: fold(e or "")).isin({fold(c) for c in companies})
    landed = states.index[ours.to_numpy() & states["outcome"].isin(LANDED).to_numpy()]
    orphans = () if template.handover else tuple(sorted(landed[~landed.isin(plan.keys)]))
    return Settled(len(plan.mapped), orphans, by_row(source_rows, plan.keys))


def _settled_report(template: FlowTemplate, source: pd.DataFrame, rows: int, *, ledger: Ledger,
                    companies: dict[str, str], run_id: int | None, started: float) -> SyncReport:
    """A settled flow's run: every mapped row unchanged, as the last run left them; nothing mapped but a
    preview, nothing validated, hashed, compared, written or recorded beyond the run itself."""
    counts = Counter({"unchanged": rows})
    extracted = _extracted(source)
    if run_id is not None:
        ledger.finish_run(run_id, counts=counts, requests=0, extracted=extracted, filtered_out=extracted - rows,
                          status="success")
    return SyncReport(
        flow=template.name, extracted=extracted, filtered=extracted - rows, filter_rule=template.row_filter,
        counts=counts, problems=pd.DataFrame(columns=PROBLEM_COLUMNS), by_rule=passed().by_rule,
        sample=passed().sample, preview=map_rows(template, source.head(PREVIEW_FROM), companies).head(5),
        requests=0, duration_s=time.monotonic() - started, dry_run=False, run_id=run_id, settled=True)


def _extracted(source: pd.DataFrame) -> int:
    """The source rows extracted: those given, and those the row filter left out before (`kept_rows`)."""
    return len(source) + source.attrs.get(FILTERED_OUT, 0)


def plan_rows(template: FlowTemplate, source: pd.DataFrame, *, client: ServiceClient, ledger: Ledger,
              companies: dict[str, str], full: bool = False, keyed: bool = False) -> Plan:
    """Map, validate, find blocked, parked and changed rows, and bind the ones to write.

    Column-wise against the ledger's states read in one go (`row_states`): a no-change run over
    100,000 records decides in one pass per column, not a lookup per row. A row that landed with the
    content it has now (`settled`) passed validation then and is neither validated nor recorded again
    (unless `full`, or its key occurs twice), so a run in which nothing changed costs little more than
    mapping and hashing. `keyed`: `source` holds the few rows changed since the flow settled
    (`engine.settled`), and only their records are read (the plan's `states` hold no others)."""
    mapped = map_rows(template, source, companies)
    keys = record_keys(mapped, template.target.key)
    entities = legal_entities(template, source, companies).reindex(mapped.index)
    states = ledger.states(template.name, keys if keyed else None)
    state = row_states(states, keys)
    hashes = content_hashes(mapped)
    same = state["content_hash"].eq(hashes)
    landed = state["outcome"].isin(LANDED)
    foreign = _held_by_another_company(template, keys, entities, state)
    own = pd.Series(~mapped.index.isin(foreign.index), index=mapped.index)
    # a duplicate is rejected with its twin, unless the twin is another company's: the holder stays
    twinned = keys[own].map(fold).duplicated(keep=False).reindex(mapped.index, fill_value=False)
    settled = pd.Series(False, index=mapped.index) if full else landed & same & ~twinned & own
    checked = validate(BY_ENTITY_SET[template.target.entity_set], _only(mapped, (~settled & own).to_numpy()),
                       _value_map_hint(template))
    # an unmapped legal entity explains the blank company field (and the key) better than validation
    reasons = _unmapped_company(template, mapped, source).combine_first(checked.reasons).combine_first(foreign)
    valid = _without(mapped, reasons.index)
    blocked = _blocked_rows(template, valid, entities, ledger)
    valid = _without(valid, blocked)
    same, landed = same.reindex(valid.index), landed.reindex(valid.index)
    # kept failing past max_attempts and not changed at the source since: wait for an unpark
    parked = [] if full else list(valid.index[(same & state["parked"].eq(True).reindex(valid.index)).to_numpy()])
    probes = _probes(parked, state)
    parked = [row for row in parked if row not in probes]
    # a landed record of a flow that hands its records over: the target masters it now, even on a full resync
    handed_over = landed if template.handover else pd.Series(False, index=valid.index)
    unchanged = pd.Series(False, index=valid.index) if full else landed & same
    changed = valid.index[~valid.index.isin(parked) & ~handed_over.to_numpy() & ~unchanged.to_numpy()]
    payload, bind_reasons = _bound(template, _only(valid, valid.index.isin(changed)), client)
    return Plan(mapped, keys, hashes, entities, pd.concat([reasons, bind_reasons]), blocked, parked,
                payload, states, checked, settled, list(foreign.index), probes)


def _only(frame: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """The rows of `frame` where `rows` (booleans) is true; `frame` itself when it is true everywhere. Why:
    in a first sync every mapped row is validated, valid and written, and each selection of all of them
    was a copy of the mapped rows (at 765,000 contact persons, 60 MB a copy)."""
    return frame if rows.all() else frame[rows]


def _without(frame: pd.DataFrame, rows) -> pd.DataFrame:
    """`frame` without the rows labelled `rows`; `frame` itself when there are none (`_only`)."""
    return frame.drop(index=rows) if len(rows) else frame


def row_states(states: States, keys: pd.Series, columns: list[str] | None = None) -> pd.DataFrame:
    """Each row's ledger state (by the row's index; all None for a record the ledger does not know); only
    `columns` when given. Each column is taken by position from the ledger's values, None appended for the
    records it does not know: one array per column as long as the rows, where reindexing, typing and
    blanking made three (at 765,000 contact persons, 40 MB each)."""
    frame = states.frame if columns is None else states.frame[columns]
    at = frame.index.get_indexer(keys.to_numpy()) if len(frame) else np.full(len(keys), -1)
    return pd.DataFrame({name: np.append(values.astype(object).where(values.notna(), None).to_numpy(), [None])[at]
                         for name, values in frame.items()}, index=keys.index, columns=frame.columns, dtype=object)


def _bound(template: FlowTemplate, rows: pd.DataFrame, client: ServiceClient) -> tuple[pd.DataFrame, pd.Series]:
    """Binds are resolved for the rows about to be written only: a no-change run reads nothing more."""
    if not template.binds:
        return rows, pd.Series(dtype=object)
    return bind_rows(template, rows, References(client))


def _probes(parked: list, state: pd.DataFrame, limit: int = PROBES) -> dict:
    """One parked row per distinct error, sent again each run: when it lands, the cause is gone (the
    price list, currency or customer it lacked now exists), so the rows parked with it go too."""
    groups: dict[str, list] = {}
    for row in parked:
        groups.setdefault(state.at[row, "error_message"] or "", []).append(row)
    return {rows[0]: rows[1:] for rows in list(groups.values())[:limit]}


def _unpark_with_probes(template: FlowTemplate, client: ServiceClient, plan: Plan, outcomes: pd.DataFrame,
                        batch_size: int) -> pd.DataFrame:
    """Send the rows parked with a probe that landed; their outcomes (`write`'s)."""
    freed = [row for probe, rows in plan.probes.items()
             if outcomes["outcome"].get(probe) in WRITTEN for row in rows]
    if not freed:
        return _outcomes([], [])
    payload, reasons = _bound(template, plan.mapped.loc[freed], client)
    plan.parked = [row for row in plan.parked if row not in set(freed)]
    plan.reasons = pd.concat([plan.reasons, reasons])
    return write(template, client, replace(plan, payload=payload), batch_size)


def _value_map_hint(template: FlowTemplate):
    """A value-mapped field that fails validation with a value the map does not know: say so."""
    def explain(column: str, value) -> str | None:
        value_map = template.value_maps.get(column)
        if value_map is None or str(value) in value_map.values:
            return None
        return (f"has no entry in the value map from {value_map.source}: add it under "
                f"flows.{template.name}.value_maps.{column} in p2c_flows.yaml")
    return explain


def _held_by_another_company(template: FlowTemplate, keys: pd.Series, entities: pd.Series,
                             state: pd.DataFrame) -> pd.Series:
    """Rows whose key a record of another legal entity already landed under: a target key without the
    company (a Sales order number) where F&O numbers each company's documents from the same start.

    Written, the second company's order would overwrite the first's in Sales, and the two runs would
    take the record from each other ever after (runs of one legal entity never see the other's rows,
    so validation's duplicate check cannot). The first one to land keeps it, and its ledger record: the
    refused row is reported by its run, not recorded. A source that settles its companies itself
    (`first_company_wins`: products) is exempt."""
    if template.source.first_company_wins or keys.empty:
        return pd.Series(dtype=object)
    theirs = state["legal_entity"]
    clash = (state["outcome"].isin(LANDED) & theirs.notna() & entities.notna()
             & (theirs.map(lambda e: fold(str(e))) != entities.map(lambda e: fold(str(e)))))
    fields = "/".join(template.target.key)
    return pd.Series({row: f"{fields} {keys[row]!r} already belongs to the record synced from legal entity "
                           f"{theirs[row]}: document numbers must not overlap across legal entities (number "
                           f"sequences per company, p2c-spec pitfall 14); renumber one of them in F&O"
                      for row in keys.index[clash.to_numpy()]}, dtype=object)


def _unmapped_company(template: FlowTemplate, mapped: pd.DataFrame, source: pd.DataFrame) -> pd.Series:
    """Rows whose business unit / legal entity the `companies` mapping does not know."""
    if not template.company_field or mapped.empty:
        return pd.Series(dtype=object)
    missing = mapped.index[mapped[template.company_field].isna()]
    if template.business_unit_column:
        column, side = template.business_unit_column, "Sales business unit"
    else:
        column, side = template.source.company_column, "F&O legal entity"
    return pd.Series({row: f"{template.company_field}: {side} {source.at[row, column]!r} is not in 'companies' "
                           f"(p2c_flows.yaml); add it there to sync this record" for row in missing}, dtype=object)


class Records(Sequence):
    """The payload's rows as the records a client writes, each made when the client comes to it, a slice
    of the columns at a time: made all at once, the dicts of 765,000 contact persons took 500 MB beside
    everything else the step held (the F&O package route writes each into its package as it comes).

    None is left out rather than sent: a sync never blanks a field the target already has. Values are
    Python's, as `tolist` gives them, whole floats as ints (`_whole`)."""

    SLICE = 10_000

    def __init__(self, payload: pd.DataFrame):
        self.payload, self.names = payload, list(payload.columns)

    def __len__(self) -> int:
        return len(self.payload)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return list(Records(self.payload.iloc[index]))
        return next(iter(Records(self.payload.iloc[[index]])))  # its values as `tolist` gives a column's

    def __iter__(self):
        for start in range(0, len(self.payload), self.SLICE):
            part = self.payload.iloc[start:start + self.SLICE]
            yield from map(self._record, zip(*(part[name].tolist() for name in self.names)))

    def _record(self, values) -> dict:
        return {k: _whole(v) for k, v in zip(self.names, values) if v is not None}


OUTCOME_COLUMNS = ["outcome", "target_id", "code", "message"]
IDS_AT_ONCE = 50_000  # target ids made Python strings at a time, on their way to pyarrow
RECORDED_AT_ONCE = 10_000  # rows whose values `ledger_rows` makes Python's at a time


def _outcomes(rows, results) -> pd.DataFrame:
    """Outcomes by row, a column each (`OUTCOME_COLUMNS`): `results` (`WriteOutcome`s, one per row) read
    once, into four columns, not a tuple per row (a client may make each outcome as it is read:
    `connectors.packages.Outcomes`). The target ids are held by pyarrow (`TEXT`), `IDS_AT_ONCE` at a
    time: an F&O id is the record's key predicate, 90 bytes or more as a Python string, and the 765,000
    contact persons of 500,000 accounts held theirs until the ledger had recorded them all."""
    outcome, ids, code, message = [], [], [], []
    target_ids: list[pd.Series] = []
    for r in results:
        outcome.append(r.status)
        ids.append(r.target_id)
        code.append(r.error_code)
        message.append(r.error_message)
        if len(ids) == IDS_AT_ONCE:
            target_ids.append(pd.Series(ids, dtype=TEXT))
            ids = []
    target_ids.append(pd.Series(ids, dtype=TEXT))
    return pd.DataFrame({"outcome": pd.Series(outcome, dtype=object), "code": code, "message": message},
                        dtype=object).assign(target_id=pd.concat(target_ids, ignore_index=True)
                                             ).set_axis(pd.Index(rows))[OUTCOME_COLUMNS]


def write(template: FlowTemplate, client: ServiceClient, plan: Plan, batch_size: int) -> pd.DataFrame:
    """Send the payload; its outcomes by row (`OUTCOME_COLUMNS`: outcome, target id, error code, message)."""
    payload = plan.payload
    if payload.empty:
        return _outcomes([], [])
    # rows the ledger saw land are in the target: the client need not look them up
    landed = row_states(plan.states, plan.keys.loc[payload.index], ["outcome"])["outcome"].isin(LANDED)
    outcomes = _outcomes(payload.index, client.upsert_many(
        template.target.entity_set, Records(payload), key=list(template.target.key), batch_size=batch_size,
        landed=landed.tolist()))
    if template.after_create:
        # rows created now, and rows that never landed before (a failed activation is retried too)
        created = outcomes["outcome"].eq("created")
        fresh = payload.index[(created | (outcomes["outcome"].eq("updated") & ~landed)).to_numpy()]
        rule = template.created_active_when
        if len(fresh) and rule and client.organization_setting(rule.setting):
            # the target created them as after_create leaves them, but for rows written with `rule.unless`;
            # a row updated now was created before, maybe while the setting was off, so it is still written
            kept_out = payload[rule.unless].notna() if rule.unless in payload else pd.Series(False, payload.index)
            fresh = fresh[(~created[fresh] | kept_out[fresh]).to_numpy()]
        # one selection of the key columns, not a row lookup per record (seconds at 50,000 products), each
        # record made as the client comes to it
        activations = Records(payload.loc[fresh, list(template.target.key)].assign(**template.after_create))
        for row, r in zip(fresh, client.upsert_many(template.target.entity_set, activations,
                                                    key=list(template.target.key), batch_size=batch_size,
                                                    landed=[True] * len(activations))
                          if len(activations) else ()):
            if r.status == "failed":
                outcomes.loc[row] = ("failed", r.target_id, r.error_code, r.error_message)
    return outcomes


def outcome_per_row(plan: Plan, outcomes: pd.DataFrame) -> pd.DataFrame:
    """Every mapped row's outcome, target_id, code and message (by the row's index), column-wise:
    rejected over blocked over parked over what the write said; unchanged otherwise. The target ids
    stay held by pyarrow (`_outcomes`; NaN where there is none)."""
    state = row_states(plan.states, plan.keys, ["target_id", "attempts", "error_message"])
    per_row = pd.DataFrame({"outcome": "unchanged", "code": None, "message": None},
                           index=plan.mapped.index, columns=["outcome", "code", "message"], dtype=object)
    target_id = pd.Series(state["target_id"], dtype=TEXT)
    if len(outcomes):
        per_row.loc[outcomes.index] = outcomes[["outcome", "code", "message"]].to_numpy()
        written = pd.Series(outcomes["target_id"], dtype=TEXT)
        target_id = written if written.index.equals(target_id.index) else written.reindex(per_row.index).where(
            per_row.index.isin(outcomes.index), target_id)
    if plan.parked:  # their target id stays the ledger's
        parked = state.loc[plan.parked]
        per_row.loc[plan.parked] = pd.DataFrame({
            "outcome": "parked", "code": "parked",
            "message": [f"parked after {attempts or 0} failed attempts: {message or 'no message'}"
                        for attempts, message in zip(parked["attempts"], parked["error_message"])]}, index=parked.index)
    per_row.loc[plan.blocked] = ("blocked", "header", "its header did not land")
    if not plan.reasons.empty:
        per_row.loc[plan.reasons.index, ["outcome", "code"]] = ("rejected", "validation")
        per_row.loc[plan.reasons.index, "message"] = plan.reasons
    unknown = per_row.index.isin(plan.blocked) | per_row.index.isin(plan.reasons.index)
    per_row = per_row.astype(object).where(per_row.notna(), None)
    # the ids as written when every row has one (a first sync): `where` copies them (41 MB of F&O key
    # predicates for 765,000 contact persons, held beside the outcomes' own)
    per_row.insert(1, "target_id", target_id.where(~unknown) if unknown.any() else target_id)
    return per_row


def ledger_rows(template: FlowTemplate, plan: Plan, per_row: pd.DataFrame) -> Iterator[RecordOutcome]:
    """One record per natural key (rows sharing a key were rejected together as duplicates); parked
    rows are not recorded: they stay parked until `p2c unpark` or their source changes; nor are settled
    rows that stayed unchanged: the ledger already holds them as they are; nor rows whose key another
    legal entity's record holds: that record is the other company's. Made as they are read (`Ledger.record`
    stages them as they come), their values Python's `RECORDED_AT_ONCE` rows at a time: the rows kept are
    taken by position, not copied (at 765,000 contact persons, each copy of the seven columns was 40 MB
    or more)."""
    kept = ((per_row["outcome"] != "parked") & ~(plan.settled & per_row["outcome"].eq("unchanged"))
            & ~per_row.index.isin(plan.foreign)).to_numpy()
    columns = [plan.keys, plan.legal_entities, plan.hashes, *(per_row[c] for c in OUTCOME_COLUMNS)]
    columns = [c.reindex(per_row.index) for c in columns]  # the same rows as `per_row`, in its order
    at = np.flatnonzero(kept)
    at = at[~columns[0].iloc[at].duplicated().to_numpy()]  # the first kept row of each key
    for start in range(0, len(at), RECORDED_AT_ONCE):
        part = at[start:start + RECORDED_AT_ONCE]
        yield from map(RecordOutcome, *(_python(c.iloc[part]) for c in columns))


def _python(values: pd.Series) -> list:
    """The values as Python's, None where blank."""
    return values.astype(object).where(values.notna(), None).tolist()


def _parks(plan: Plan, per_row: pd.DataFrame, ledger: Ledger) -> pd.Series:
    """Rows whose failure in this run parked them: one more failure reached max_attempts."""
    state = row_states(plan.states, plan.keys, ["attempts", "outcome"])
    attempts = pd.to_numeric(state["attempts"]).fillna(0).where(state["outcome"].eq("failed"), 0)
    return per_row["outcome"].eq("failed") & (attempts + 1 >= ledger.max_attempts)


def _problems(plan: Plan, per_row: pd.DataFrame) -> pd.DataFrame:
    rows = per_row[per_row["outcome"].isin(PROBLEMS)]
    outcome, code, message = rows["outcome"], rows["code"], rows["message"]
    problems = pd.DataFrame({
        "key": plan.keys.reindex(rows.index), "legal_entity": plan.legal_entities.reindex(rows.index),
        "outcome": outcome,
        "reason": message.where(outcome.isin(["rejected", "blocked", "parked"]), None),
        "error_code": code.where(outcome.isin(["failed", "parked"]), None),
        "error_message": message.where(outcome.eq("failed"), None)}, columns=PROBLEM_COLUMNS)
    return problems.astype(object).where(problems.notna(), None).reset_index(drop=True)


def _blocked_rows(template: FlowTemplate, payload: pd.DataFrame, entities: pd.Series, ledger: Ledger) -> list:
    """Lines whose header is not landed in the ledger (failed, rejected, blocked or never written), or
    landed for another legal entity (its number is another company's order: see
    `_held_by_another_company`), which the line must not join."""
    if template.parent is None or payload.empty:
        return []
    headers = ledger.states(template.parent.flow).frame
    landed = headers[headers["outcome"].isin(LANDED)]
    owner = dict(zip(landed.index.map(fold), landed["legal_entity"].map(lambda e: fold(e) if e else None)))
    header_keys = record_keys(payload, template.parent.key).map(fold)
    theirs = header_keys.map(owner)  # the header's legal entity; NaN where unknown or not landed
    ours = entities.reindex(payload.index).map(lambda e: fold(e) if isinstance(e, str) else None)
    blocked = ~header_keys.isin(owner.keys()) | (theirs.notna() & ours.notna() & theirs.ne(ours))
    return list(payload.index[blocked.to_numpy()])


def _whole(value):
    """1.0 -> 1: pandas turns integer columns with gaps into floats, keys and sequence numbers must not."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _predict(template: FlowTemplate, plan: Plan, client: ServiceClient,
             companies: dict[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What a write would do, from one read of the target: created or updated per pending row."""
    pending = plan.mapped.loc[plan.payload.index]
    fields = [f for f in template.target_fields if f not in template.binds]
    comparison = compare(pending, target_pages(template, client, companies), template.target.key, fields)
    predicted = [WriteOutcome((key,), "updated" if key in comparison.held else "created")
                 for key in plan.keys.loc[pending.index]]
    return _outcomes(pending.index, predicted), comparison.differences
