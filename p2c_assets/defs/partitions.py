"""Partitions by legal entity: the `companies` of the overrides file, one partition each.

Why: a company that syncs a million customers in `usmf` should not wait for `demf`, and a fix in one
legal entity should be backfilled there alone. Every asset and reconciliation check is partitioned
by the same static definition (`usmf`, `demf` ...), so:

- a run for one partition reads the sources, keeps that legal entity's rows and writes only them;
  runs of different legal entities go in parallel (the ledger holds each flow per legal entity);
- a run over a range (what `p2c run` and the tests launch: every company, one run) does what an
  unpartitioned run did;
- the schedule asks for one run per legal entity at each tick.

Each source row is given the partition it belongs to (`PARTITION` column): the legal entity its
business unit maps to (Sales) or that it names (F&O). A row whose business unit is in no mapped
company goes with the first company of the mapping, so it is reported once, with its reason, in
that legal entity's runs (never dropped silently).

Rows travel between steps in `LegalEntityFrames`, an IO manager that keeps one file per asset and
legal entity: a run over both companies can hand `usmf` rows to a later `usmf`-only run, which
Dagster's default IO manager refuses to do for outputs that span several partitions.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Iterable

import dagster as dg
import numpy as np
import pandas as pd

from p2c_assets.connectors.frames import TEXT, as_objects, release_unused
from p2c_assets.engine.mapping import FILTERED_OUT, filter_names, kept_positions, legal_entities, source_columns
from p2c_assets.engine.settled import IDENTITY
from p2c_assets.connectors.protocol import fold
from p2c_assets.flows.template import FlowTemplate

PARTITION = "p2c_partition"  # the legal entity (partition key) a source row belongs to
SCHEMA_CHECK = "p2c_schema_check"  # frame attrs: what the source schema check found on it (`stored`)


def legal_entity_partitions(companies: dict[str, str]) -> dg.StaticPartitionsDefinition:
    return dg.StaticPartitionsDefinition(list(companies))


def run_companies(context: dg.OpExecutionContext, companies: dict[str, str]) -> dict[str, str]:
    """The companies of the run's partitions (one, or a range), in the mapping's order."""
    if not (context.has_partition_key or context.has_partition_key_range):
        raise dg.Failure(description=(
            "this run names no legal entity: launch it for one of the partitions "
            f"({', '.join(companies)}) or a range of them (what `p2c run` does, and the UI's partition picker); "
            'from the dagster CLI: --tags \'{"dagster/partition": "' + next(iter(companies)) + '"}\''),
            allow_retries=False)
    keys = set(context.partition_keys)
    return {key: unit for key, unit in companies.items() if key in keys}


def assign_partitions(frame: pd.DataFrame, template: FlowTemplate, companies: dict[str, str],
                      chosen: dict[str, str]) -> pd.DataFrame:
    """The rows of the `chosen` companies, each with its partition (see the module docstring)."""
    if frame.empty:
        return frame.assign(**{PARTITION: pd.Series(dtype=object)})
    known = {fold(key): key for key in companies}
    entities = legal_entities(template, frame, companies).map(lambda e: known.get(fold(e)) if isinstance(e, str) else None)
    partition = entities.fillna(next(iter(companies)))
    frame = frame.assign(**{PARTITION: partition})
    kept = partition.isin(list(chosen))
    # a run of every legal entity keeps every row: no copy of them all
    return frame if kept.all() else frame[kept].reset_index(drop=True)


@dataclass(frozen=True)
class StoredFrames:
    """What a source asset outputs: a note that its frames are stored for its partitions
    (`LegalEntityFrames.store`), by this run or, when they still hold, by an earlier one; the next steps
    load them. Never the frames themselves: a run in one process (`p2c run`, `execute_in_process`) keeps
    every output until it ends, so a frame output would stay in memory through every later step.
    `identity` is what the frames are made of (None: unknown)."""

    identity: str | None


@dataclass(frozen=True)
class Stored:
    """Frames stored for a run's partitions: their rows, and what the source schema check found on them
    (`SCHEMA_CHECK`)."""

    rows: int
    check: dict


@dataclass(frozen=True)
class Frames:
    """What a step gets for an input from a source asset: its frames stored for the run's partitions,
    loaded when the step asks, with the columns and rows its flow reads (`load_for`). A step's
    inputs live as long as the step, so a frame given as an input would stay whole in memory while the
    step writes; loaded by the step, it goes when the step is done with it, and the columns no flow of
    the step reads are never loaded (at 500,000 accounts, half the million contacts' memory)."""

    manager: "LegalEntityFrames"
    instance: dg.DagsterInstance
    asset_key: dg.AssetKey
    partitions: list[str]

    def load(self) -> pd.DataFrame:
        """The stored rows, their text as Python strings, one object per distinct text of a column
        (`as_objects`: sources store it held by pyarrow)."""
        return as_objects(self.manager.load(self.instance, self.asset_key, self.partitions))

    def load_for(self, template: FlowTemplate) -> pd.DataFrame:
        """What a flow reads of the stored rows: the columns it reads (`source_columns`) of the rows its row
        filter keeps (`kept_positions`; the others counted in `FILTERED_OUT`), their text as Python
        strings. The filter's columns are read first, then each other column for the kept rows alone,
        as it is read: the rows left out are never whole in memory (at 500,000 accounts the contact
        customers flow keeps 100,000 of the million contacts)."""
        load = partial(self.manager.load, self.instance, self.asset_key, self.partitions)
        judged = load(filter_names(template)) if template.row_filter else None
        rows = None if judged is None else kept_positions(template, judged)
        out = 0 if rows is None else len(judged) - len(rows)
        del judged
        frame = load(source_columns(template), rows)
        if rows is not None:
            frame.index = rows  # the rows' labels in the whole stored frame, as a selection of it keeps them
            frame.attrs[FILTERED_OUT] = out
        release_unused()
        return as_objects(frame)


class LegalEntityFrames(dg.ConfigurableIOManager):
    """Data frames by asset and legal entity, as pickle files under `base_dir` (default: the
    instance's storage folder, like Dagster's filesystem IO manager). The source assets `store` their
    frames and output `StoredFrames`; the steps that take them as input are given `Frames`, and load them.

    Beside each file, what its rows were made of (`IDENTITY` in the frame's attrs), how many there are,
    the partitions stored with it and what the source schema check found: a source whose change feed
    found nothing new asks `stored` and, when the files still hold, stores nothing and outputs their
    `StoredFrames` instead of loading, checking and storing the same rows again (issue 11: a no-change
    run passes no frame it need not)."""

    base_dir: str | None = None

    def handle_output(self, context: dg.OutputContext, obj: StoredFrames) -> None:
        folder = self._path(context.step_context.instance, context.asset_key, "-").parent
        context.add_output_metadata({"stored_in": dg.MetadataValue.path(str(folder))})

    def store(self, instance: dg.DagsterInstance, asset_key: dg.AssetKey, partitions: list[str],
              frame: pd.DataFrame) -> StoredFrames:
        """`frame`'s rows, one file per partition (every source asset gives its rows their partition), each
        with what they were made of, their count, the partitions stored together and the schema check's
        findings beside it."""
        for key in partitions:
            rows = (frame[PARTITION] == key).to_numpy()
            path = self._path(instance, asset_key, key)
            path.parent.mkdir(parents=True, exist_ok=True)
            made_of = path.with_suffix(".json")
            made_of.unlink(missing_ok=True)  # no moment at which the file and what it was made of disagree
            _replace(path, lambda name: _write_frame(frame, rows, name))
            _replace(made_of, lambda name: Path(name).write_text(json.dumps({
                "identity": frame.attrs.get(IDENTITY), "rows": int(rows.sum()), "partitions": sorted(partitions),
                "check": frame.attrs.get(SCHEMA_CHECK)})))
        return StoredFrames(frame.attrs.get(IDENTITY))

    def load_input(self, context: dg.InputContext) -> Frames:
        return Frames(self, context.step_context.instance, context.asset_key, list(context.asset_partition_keys))

    def load(self, instance: dg.DagsterInstance, asset_key: dg.AssetKey, partitions: list[str],
             columns: Iterable[str] | None = None, rows: np.ndarray | None = None) -> pd.DataFrame:
        """The frames stored for `partitions`, as one; only `columns` (those stored, in their stored
        order) when given, only the rows at positions `rows` of the whole (a new range index) when given."""
        paths = []
        for key in partitions:
            path = self._path(instance, asset_key, key)
            if not path.exists():
                raise dg.Failure(description=(
                    f"{asset_key.to_user_string()} has no rows stored for legal entity {key!r}: "
                    f"materialize it for {key} first (or run the whole flow for {key})."))
            paths.append(path)
        return _read_frames(paths, None if columns is None else set(columns), rows)

    def stored(self, instance: dg.DagsterInstance, asset_key: dg.AssetKey, partitions: list[str],
               identity: str) -> Stored | None:
        """The frames stored for `partitions`, when all were stored together, by one output over exactly
        these partitions, made of `identity`; None otherwise (a file missing or older, another range)."""
        found = []
        for key in partitions:
            path = self._path(instance, asset_key, key)
            try:
                made_of = json.loads(path.with_suffix(".json").read_text())
            except FileNotFoundError:
                return None
            if (made_of["identity"], made_of["partitions"]) != (identity, sorted(partitions)) or not path.exists():
                return None
            found.append(made_of)
        return Stored(sum(f["rows"] for f in found), found[0]["check"])

    def _path(self, instance: dg.DagsterInstance, asset_key: dg.AssetKey, partition: str) -> Path:
        base = Path(self.base_dir or instance.storage_directory())
        return base.joinpath("p2c_frames", *asset_key.path, f"{partition}.pkl")


def _replace(path: Path, write) -> None:
    """Written aside and renamed: a parallel run of another legal entity never reads half a file."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(handle)
    write(temporary)
    os.replace(temporary, path)


def _write_frame(frame: pd.DataFrame, rows: np.ndarray, name: str) -> None:
    """The frame's `rows` (a flag per row): its attrs and column names, then each column pickled on its own
    (the index is not kept: a RangeIndex on loading). `DataFrame.to_pickle` turns the whole block of text
    columns into nested lists first: 45% of the frame's size again at the moment of storing; a column at
    a time, its rows taken as it is written, holds one column's copy. Taken by flags, pyarrow's text is
    filtered a piece (a page read) at a time, where a `take` by positions joined the pieces first, a copy
    of the whole column (storing the million contacts of 500,000 accounts went 100 MB above the frame)."""
    whole = rows.all()  # one legal entity's run: no copy at all
    with open(name, "wb") as file:
        pickle.dump((frame.attrs, list(frame.columns)), file, protocol=pickle.HIGHEST_PROTOCOL)
        for column in range(frame.shape[1]):
            values = frame.iloc[:, column].array
            pickle.dump(values if whole else values[rows], file, protocol=pickle.HIGHEST_PROTOCOL)


def _read_frames(paths: list[Path], columns: set[str] | None, rows: np.ndarray | None = None) -> pd.DataFrame:
    """The frames `_write_frame` stored, as one, a column at a time: each column is read from every file
    and joined before the next, so neither the whole frames nor their pieces sit beside the joined one
    (at 500,000 accounts the million contacts of two legal entities were held twice while `pd.concat`
    joined them); the columns not asked for are read past, and only `rows` (positions) of each kept.
    Files of an earlier release (whole frames, `DataFrame.to_pickle`) and files of different columns are
    joined whole, as `pd.concat` does."""
    with ExitStack() as stack:
        files = [stack.enter_context(open(path, "rb")) for path in paths]
        heads = [pickle.load(file) for file in files]
        names = {tuple(head[1]) if isinstance(head, tuple) else None for head in heads}
        if None in names or len(names) > 1:
            frames = [head if isinstance(head, pd.DataFrame) else _columns_of(head, file)
                      for head, file in zip(heads, files)]
            frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
            frame = frame if columns is None else frame[[c for c in frame.columns if c in columns]]
            return frame if rows is None else frame.iloc[rows].reset_index(drop=True)
        kept, names = [], names.pop()
        for name in names:
            parts = [pickle.load(file) for file in files]
            if columns is None or name in columns:
                values = parts[0] if len(parts) == 1 else _joined(parts)
                kept.append(values if rows is None else values.take(rows))
            del parts  # before the next column's pieces are read
    frame = pd.DataFrame(dict(enumerate(kept)), copy=False)
    frame.columns = [name for name in names if columns is None or name in columns]
    attrs = [head[0] for head in heads]
    if all(a == attrs[0] for a in attrs):  # as `pd.concat` keeps them
        frame.attrs.update(attrs[0])
    return frame


def _joined(parts: list) -> pd.api.extensions.ExtensionArray:
    """One column's values from several files, as one array. Where one legal entity's run held the column
    as pyarrow's text and another's as shared Python strings (`fit_text` decides per run), all are held as
    pyarrow's text: joined as they are, every value would become a Python string."""
    series = [pd.Series(part, copy=False) for part in parts]
    if any(s.dtype == TEXT for s in series):
        series = [s if s.dtype == TEXT else s.astype(TEXT) for s in series]
    return pd.concat(series, ignore_index=True).array


def _columns_of(head: tuple, file) -> pd.DataFrame:
    """The rest of a file `_write_frame` stored, after its `head` (attrs and column names)."""
    attrs, columns = head
    frame = pd.DataFrame({i: pickle.load(file) for i in range(len(columns))}, copy=False)
    frame.columns = columns
    frame.attrs.update(attrs)
    return frame
