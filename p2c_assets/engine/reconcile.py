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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import pandas as pd

from p2c_assets.connectors.protocol import ServiceClient
from p2c_assets.engine.diff import compare, target_snapshot
from p2c_assets.engine.keys import KeyIndex, record_keys
from p2c_assets.engine.ledger import Ledger
from p2c_assets.engine.mapping import map_rows
from p2c_assets.engine.sync import LANDED
from p2c_assets.flows.template import FlowTemplate

DIFFERENCE_COLUMNS = ["key", "field", "source", "target", "flow"]


@dataclass(frozen=True)
class Reconciliation:
    compared: int  # landed records compared with the target
    differences: pd.DataFrame  # DIFFERENCE_COLUMNS; field '(record)' for a record missing on one side


def reconcile(flows: Iterable[tuple[FlowTemplate, pd.DataFrame]], *, client: ServiceClient, ledger: Ledger,
              companies: dict[str, str]) -> Reconciliation:
    """Compare each flow's landed records (template, source frame) with what the target holds."""
    found, compared = [], 0
    for template, source in flows:
        mapped = map_rows(template, source, companies)
        keys = record_keys(mapped, template.target.key)
        landed = {k for k, s in ledger.states(template.name).items() if s.outcome in LANDED}
        mapped = mapped[keys.isin(landed)]
        compared += len(mapped)
        # a record handed over is the target's: only that it is there is compared
        fields = [] if template.handover else [f for f in template.target_fields if f not in template.binds]
        target = target_snapshot(template, client, companies)
        found.append(compare(mapped, target, template.target.key, fields).assign(flow=template.name))
        in_target = KeyIndex(record_keys(target, template.target.key))
        orphans = [] if template.handover else sorted(k for k in landed - set(keys) if k in in_target)
        found.append(pd.DataFrame({"key": orphans, "field": "(record)", "source": "missing in source",
                                   "target": "present", "flow": template.name}))
    return Reconciliation(compared, pd.concat(found, ignore_index=True)[DIFFERENCE_COLUMNS])


def missing_references(rows: pd.DataFrame, columns: Sequence[str], records: pd.DataFrame,
                       key: Sequence[str]) -> pd.DataFrame:
    """The `rows` whose `columns` name no record of `records` by its `key` (same order), matched as
    the services match keys; a blank reference names nothing."""
    known = KeyIndex(record_keys(records, key))
    return rows[~known.isin(record_keys(rows, columns))]
