"""One sync of one flow: map -> validate -> bind -> diff -> write -> record (DESIGN.md section 4).

The engine knows neither Dagster nor HTTP details: it takes a flow template, the extracted source
frame, a target client (the connector contract of docs/architecture.md 3) and the ledger, and returns
a `SyncReport` that the Dagster layer turns into metadata and checks. Every row ends with exactly one
outcome in the ledger: created, updated, unchanged, rejected (failed validation, never sent), failed
(the target refused it), blocked (its header did not land) or parked (kept failing).
"""

from __future__ import annotations

import time
from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass, field

import pandas as pd

from p2c_assets.engine.binds import bind_rows
from p2c_assets.engine.diff import compare, content_hashes
from p2c_assets.engine.ledger import Ledger, RecordOutcome
from p2c_assets.engine.mapping import map_rows, natural_key
from p2c_assets.engine.references import References
from p2c_assets.engine.validate import validate
from p2c_assets.engine.values import normal
from p2c_assets.flows.template import FlowTemplate
from p2c_assets.schemas import BY_ENTITY_SET

LANDED = {"created", "updated", "unchanged"}


@dataclass
class SyncReport:
    flow: str
    extracted: int
    counts: Counter
    rejected: pd.DataFrame  # key, reason
    failed: pd.DataFrame  # key, error_code, error_message
    by_rule: pd.DataFrame
    sample: pd.DataFrame
    preview: pd.DataFrame
    requests: int
    duration_s: float
    dry_run: bool
    pending: int = 0  # rows selected for writing (changed, valid, bound, not blocked or parked)
    run_id: int | None = None
    field_diff: pd.DataFrame = field(default_factory=pd.DataFrame)


def sync(template: FlowTemplate, source: pd.DataFrame, *, client, ledger: Ledger,
         companies: dict[str, str], dry_run: bool = False, full: bool = False,
         dagster_run_id: str | None = None, batch_size: int = 1000) -> SyncReport:
    """A real run holds its flow and its ledger run from its first read of the ledger to its last record,
    so a second run of the flow waits for it (`Ledger.running`), and a run that raises ends as failed
    instead of "running" forever. A dry run changes nothing in the ledger and takes neither."""
    with nullcontext() if dry_run else ledger.running(template.name, dagster_run_id=dagster_run_id) as run_id:
        return _sync(template, source, client=client, ledger=ledger, companies=companies, dry_run=dry_run,
                     full=full, batch_size=batch_size, run_id=run_id)


def _sync(template: FlowTemplate, source: pd.DataFrame, *, client, ledger: Ledger, companies: dict[str, str],
          dry_run: bool, full: bool, batch_size: int, run_id: int | None) -> SyncReport:
    started = time.monotonic()
    requests_before = client.stats.requests
    references = References(client)
    mapped = map_rows(template, source, companies)
    keys = natural_key(mapped, template.target.key)
    checked = validate(BY_ENTITY_SET[template.target.entity_set], mapped)
    blocked = _blocked_rows(template, checked.valid, ledger)
    valid = checked.valid.drop(index=blocked)

    states = ledger.states(template.name)
    hashes = content_hashes(mapped)
    parked = {row for row in valid.index if not full and _parked(states.get(keys[row]), hashes[row])}
    changed = [row for row in valid.index
               if row not in parked and (full or not _unchanged(states.get(keys[row]), hashes[row]))]
    # binds are resolved for the rows about to be written only: a no-change run reads nothing more
    payload, bind_reasons = (bind_rows(template, valid.loc[changed], references) if template.binds
                             else (valid.loc[changed], pd.Series(dtype=object)))
    reasons = pd.concat([checked.reasons, bind_reasons])
    pending = list(payload.index)

    outcomes: dict[int, tuple[str, str | None, str | None, str | None]] = {}
    field_diff = pd.DataFrame()
    if dry_run:
        existing, field_diff = _predict(template, mapped.loc[pending], client, companies)
        for row in pending:
            outcomes[row] = ("updated" if keys[row].casefold() in existing else "created", None, None, None)
    else:
        outcomes.update(_write(template, client, payload.loc[pending], keys, batch_size, states))

    rows: list[RecordOutcome] = []
    company = template.company_field if template.target.system == "fo" else None
    for row in mapped.index:
        if row in reasons.index:
            outcome, target_id, code, message = "rejected", None, "validation", reasons[row]
        elif row in blocked:
            outcome, target_id, code, message = "blocked", None, "header", "its header did not land"
        elif row in parked:
            continue  # stays parked in the ledger until `p2c unpark` or the source changes
        elif row in outcomes:
            outcome, target_id, code, message = outcomes[row]
        else:
            state = states.get(keys[row])
            outcome, target_id, code, message = "unchanged", getattr(state, "target_id", None), None, None
        rows.append(RecordOutcome(key=keys[row], legal_entity=mapped.at[row, company] if company else None,
                                  content_hash=hashes[row], outcome=outcome, target_id=target_id,
                                  error_code=code, error_message=message))
    rows = _one_per_key(rows)
    counts = Counter(r.outcome for r in rows)
    counts["parked"] = len(parked)
    requests = client.stats.requests - requests_before
    if run_id is not None:
        recorded = ledger.record(run_id, template.name, rows)  # rows that failed once too often: parked
        counts["failed"] -= recorded.get("parked", 0)
        counts["parked"] += recorded.get("parked", 0)
        status = "failed" if counts["failed"] or counts["parked"] else ("warning" if counts["rejected"] or counts["blocked"] else "success")
        ledger.finish_run(run_id, counts=dict(counts), requests=requests, status=status)
    failed = pd.DataFrame([{"key": r.key, "error_code": r.error_code, "error_message": r.error_message}
                           for r in rows if r.outcome == "failed"], columns=["key", "error_code", "error_message"])
    rejected = pd.DataFrame([{"key": r.key, "reason": r.error_message} for r in rows if r.outcome == "rejected"],
                            columns=["key", "reason"])
    return SyncReport(flow=template.name, extracted=len(source), counts=counts, rejected=rejected, failed=failed,
                      by_rule=checked.by_rule, sample=checked.sample, preview=mapped.head(5), requests=requests,
                      duration_s=time.monotonic() - started, dry_run=dry_run, pending=len(pending), run_id=run_id,
                      field_diff=field_diff)


def _one_per_key(rows: list[RecordOutcome]) -> list[RecordOutcome]:
    """Rows sharing a natural key were rejected together as duplicates: the ledger keeps one record."""
    seen: dict[str, RecordOutcome] = {}
    for row in rows:
        seen.setdefault(row.key, row)
    return list(seen.values())


def _unchanged(state, digest: str) -> bool:
    return state is not None and state.outcome in LANDED and state.content_hash == digest


def _parked(state, digest: str) -> bool:
    """Kept failing past max_attempts and not changed at the source since: wait for an unpark."""
    return state is not None and state.parked and state.content_hash == digest


def _blocked_rows(template: FlowTemplate, payload: pd.DataFrame, ledger: Ledger) -> list:
    """Lines whose header is not landed in the ledger (failed, rejected, blocked or never written)."""
    if template.parent is None or payload.empty:
        return []
    landed = {k.casefold() for k, s in ledger.states(template.parent.flow).items() if s.outcome in LANDED}
    header_keys = natural_key(payload, template.parent.key).str.casefold()
    return list(header_keys[~header_keys.isin(landed)].index)


def _write(template: FlowTemplate, client, payload: pd.DataFrame, keys: pd.Series, batch_size: int,
           states: dict) -> dict:
    if payload.empty:
        return {}
    # None is left out rather than sent: a sync never blanks a field the target already has
    records = [{k: _whole(v) for k, v in row.items() if v is not None} for row in payload.to_dict(orient="records")]
    results = client.upsert_many(template.target.entity_set, records, key=list(template.target.key),
                                 batch_size=batch_size)
    by_key = {_key_text(r.key): r for r in results}
    outcomes = {}
    for row in payload.index:
        result = by_key.get(keys[row].casefold())
        if result is None:
            outcomes[row] = ("failed", None, "missing", "the connector reported no outcome for this row")
        else:
            outcomes[row] = (result.status, result.target_id, result.error_code, result.error_message)
    if template.after_create:
        # rows created now, and rows that never landed before (a failed activation is retried too)
        row_of = {keys[row].casefold(): row for row in payload.index}
        fresh = [r for r in results if r.status == "created" or (
            r.status == "updated" and getattr(states.get(keys[row_of[_key_text(r.key)]]), "outcome", None)
            not in LANDED)]
        activations = [dict(zip(template.target.key, r.key)) | template.after_create for r in fresh]
        for r in client.upsert_many(template.target.entity_set, activations, key=list(template.target.key),
                                    batch_size=batch_size) if activations else ():
            if r.status == "failed":
                outcomes[row_of[_key_text(r.key)]] = ("failed", r.target_id, r.error_code, r.error_message)
    return outcomes


def _key_text(values: tuple) -> str:
    """A connector outcome's key as `natural_key` writes it, case-folded for matching."""
    return "|".join(str(normal(v)) for v in values).casefold()


def _whole(value):
    """1.0 -> 1: pandas turns integer columns with gaps into floats, keys and sequence numbers must not."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def target_snapshot(template: FlowTemplate, client, companies: dict[str, str]) -> pd.DataFrame:
    """What the target holds for this flow's plain (non-bound) mapped fields."""
    columns = [f for f in template.target_fields if f not in template.binds and "@" not in f]
    columns = list(dict.fromkeys([*template.target.key, *columns]))
    if template.target.system == "fo":
        return client.read(template.target.entity_set, select=columns, cross_company=True,
                           companies=sorted(companies))
    return client.read(template.target.entity_set, select=columns)


def _predict(template: FlowTemplate, pending: pd.DataFrame, client, companies) -> tuple[set, pd.DataFrame]:
    snapshot = target_snapshot(template, client, companies)
    existing = set()
    if not snapshot.empty:
        existing = set(natural_key(snapshot, template.target.key).str.casefold())
    fields = [f for f in template.target_fields if f not in template.binds]
    diff = compare(pending, snapshot, template.target.key, fields)
    return existing, diff
