"""The entity assets of the Prospect-to-cash graph: one per node of the flow graph (`defs/graph.py`).

Source assets (`sales/accounts`, `fo/sales_orders` ...) extract and validate what the source holds.
Target assets (`fo/customers`, `sales/orders` ...) run the engine for their flows and report counts,
rejections and write failures as metadata and asset checks. Keys, groups and edges come from the
graph; descriptions, columns, column lineage, tags and code references from `defs/lineage.py`, with
the effective settings (the overrides file included) read when the definitions load.
"""

import hashlib
import json
from functools import partial

import dagster as dg
import pandas as pd
from pydantic import Field

from p2c_assets.connectors.frames import TEXT, release_unused
from p2c_assets.defs import lineage
from p2c_assets.defs.graph import AssetNode, FlowGraph
from p2c_assets.defs.partitions import (
    SCHEMA_CHECK, Frames, LegalEntityFrames, Stored, StoredFrames, assign_partitions, legal_entity_partitions,
    run_companies)
from p2c_assets.defs.reporting import check_summary, report_metadata, source_check, stored_check, target_checks
from p2c_assets.defs.resources import DataverseResource, FinOpsResource, FlowSettingsResource, LedgerResource
from p2c_assets.engine.extract import Patch, extract_changes
from p2c_assets.engine.settled import IDENTITY, code_digest, described
from p2c_assets.engine.sync import sync
from p2c_assets.flows.settings import Settings
from p2c_assets.preflight import schema_problems
from p2c_assets.schemas import BY_ENTITY_SET

OWNERS = ["team:integration"]
KINDS = {"sales": {"dataverse", "pandas"}, "fo": {"finops", "pandas"}}
POOLS = {"sales": "dataverse_api", "fo": "finops_api"}
RETRY_PARKED_TAG = "p2c/retry_parked"  # runs with this tag give parked rows new attempts first


class ExtractConfig(dg.Config):
    """Run config of a source asset."""

    full_refresh: bool = Field(False, description=(
        "Read every row again instead of only what changed since the last run (Dataverse change tracking; "
        "F&O sources are read in full on every run anyway)."))


class SyncConfig(dg.Config):
    """Run config of a target asset."""

    full_resync: bool = Field(False, description=(
        "Write every valid row, also the ones whose content has not changed since they last landed (the "
        "ledger's content hashes are ignored for this run)."))
    max_problem_share: float = Field(0.05, description=(
        "Rejected or failed rows are a warning; above this share of the rows a run attempted (and at "
        "least min_problem_rows of them) they are an error that stops the downstream assets."))
    min_problem_rows: int = Field(10, description=(
        "The fewest rejected or failed rows that can stop downstream assets (so one bad record on a "
        "small tenant never does)."))


def client_for(system: str, dataverse: DataverseResource, finops: FinOpsResource):
    return dataverse.get_client() if system == "sales" else finops.get_client()


def build_assets(graph: FlowGraph, settings: Settings) -> list[dg.AssetsDefinition]:
    """Every asset of the graph, described with the effective settings."""
    return [(build_source_asset if node.role == "source" else build_target_asset)(node, graph, settings)
            for node in graph.nodes.values()]


def _common(node: AssetNode, graph: FlowGraph, settings: Settings) -> dict:
    """What source and target assets declare alike: identity, lineage, and what the UI says about them."""
    return dict(
        key=node.key, group_name=node.group, kinds=KINDS[node.system], owners=OWNERS, pool=POOLS[node.system],
        partitions_def=legal_entity_partitions(settings.companies),
        tags=lineage.tags(node, graph), description=lineage.description(node, graph, settings),
        ins={graph.nodes[k].op_name: dg.AssetIn(k) for k in node.inputs}, deps=node.deps,
        metadata={"entity_set": node.entity_set, "flows": ", ".join(node.flows),
                  "dagster/column_schema": lineage.columns(node, graph, settings),
                  "dagster/column_lineage": lineage.column_lineage(node, graph, settings),
                  "dagster/code_references": lineage.code_references(node)},
    )


def build_source_asset(node: AssetNode, graph: FlowGraph, settings: Settings) -> dg.AssetsDefinition:
    owner = node.flows[0]  # flows sharing a source read it as the first one does
    header_flow = graph.nodes[node.inputs[0]].flows[0] if node.inputs else None
    schema = BY_ENTITY_SET[node.entity_set]
    common = _common(node, graph, settings)
    common["metadata"]["source_filter"] = settings.templates[owner].source.filter or "(none)"
    columns = common["metadata"]["dagster/column_schema"]

    @dg.asset(**common, check_specs=[dg.AssetCheckSpec(
        "pandera_schema", asset=node.key, description=f"source rows match the {schema.name} schema")])
    def source_asset(context: dg.AssetExecutionContext, config: ExtractConfig, dataverse: DataverseResource,
                     finops: FinOpsResource, ledger: LedgerResource, flow_settings: FlowSettingsResource,
                     io_manager: dg.ResourceParam[LegalEntityFrames], **inputs: Frames):
        settings = flow_settings.get()
        template = settings.templates[owner]
        source = template.source
        chosen = run_companies(context, settings.companies)
        client = client_for(node.system, dataverse, finops)
        before = client.stats.requests
        headers = next(iter(inputs.values())).load() if inputs else None
        made_of = partial(_identity, owner, node.name, settings, header_flow, headers)
        if headers is not None and settings.templates[header_flow].row_filter:
            # only lines of headers the header flow sends (orders Confirmed or later, ...)
            headers = headers.query(settings.templates[header_flow].row_filter)

        found: dict[str, Stored | None] = {}  # version -> the frames stored for it, read once

        def held(version: str) -> bool:  # the frames stored for the run's legal entities are made of these rows
            identity = made_of(version)
            found[version] = None if identity is None else io_manager.stored(context.instance, node.key,
                                                                              list(chosen), identity)
            return found[version] is not None

        # only what changed where the service keeps a change feed (Dataverse), in full otherwise (F&O);
        # F&O reads only the run's legal entities, unless the first company of all must win
        frame, mode, version, patch = extract_changes(
            client, source, ledger=ledger.get(), name=node.name,
            companies=settings.companies if source.first_company_wins else chosen, headers=headers,
            full=config.full_refresh, held=None if config.full_refresh else held)
        requests = client.stats.requests - before
        if frame is None and patch is None:
            stored = found[version]
            context.log.info(f"{node.name} ({', '.join(chosen)}): {stored.rows} rows, {mode}: the stored frames hold")
            yield dg.Output(StoredFrames(made_of(version)), metadata={
                "dagster/row_count": stored.rows, "extract_mode": mode, "http_requests": requests,
                "frames": "unchanged: the rows the last run stored and checked are passed on"})
            yield stored_check(schema, stored.check, node.key)
            return
        if patch is not None:  # the frames the last run stored, with what changed since
            previous = io_manager.load(context.instance, node.key, list(chosen))
            frame = _patched(previous, patch, assign_partitions(patch.rows, template, settings.companies, chosen))
            mode += f"; {len(patch.rows)} rows applied to the {len(previous)} stored"
        else:
            frame = assign_partitions(frame, template, settings.companies, chosen)
        check = source_check(schema, frame, node.key)
        frame.attrs.update({IDENTITY: made_of(version) if version else None, SCHEMA_CHECK: check_summary(check)})
        context.log.info(f"{node.name} ({', '.join(chosen)}): {len(frame)} rows, {mode}")
        yield dg.Output(io_manager.store(context.instance, node.key, list(chosen), frame), metadata={
            "dagster/row_count": len(frame),
            "dagster/column_schema": lineage.observed_columns(columns, frame),
            "extract_mode": mode,
            "http_requests": requests,
            "preview": dg.MetadataValue.md(_preview(frame)),
        })
        del frame
        release_unused()
        yield check  # after the output: it belongs to this materialization

    return source_asset


def build_target_asset(node: AssetNode, graph: FlowGraph, settings: Settings) -> dg.AssetsDefinition:
    sources = {flow: graph.source_of(flow).op_name for flow in node.flows}  # flow -> its input

    @dg.asset(**_common(node, graph, settings), check_specs=[
        dg.AssetCheckSpec("preflight", asset=node.key, blocking=True,
                          description="every entity, field, key and navigation property the flows use "
                                      "exists on the live services (checked before any write)"),
        dg.AssetCheckSpec("valid_rows", asset=node.key, blocking=True,
                          description=f"mapped rows pass the {node.entity_set} schema (rejected rows are not sent)"),
        dg.AssetCheckSpec("writes_landed", asset=node.key, blocking=True,
                          description="every row sent landed, none blocked, and pending rows moved"),
    ])
    def target_asset(context: dg.AssetExecutionContext, config: SyncConfig, dataverse: DataverseResource,
                     finops: FinOpsResource, ledger: LedgerResource, flow_settings: FlowSettingsResource,
                     **frames: Frames):
        settings = flow_settings.get()
        problems = schema_problems([settings.templates[f] for f in node.flows], dataverse.get_client(),
                                   finops.get_client())
        yield dg.AssetCheckResult(check_name="preflight", passed=not problems, metadata={
            "problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems) or "none")})
        if problems:
            raise dg.Failure(description=f"preflight: {len(problems)} name(s) the flows use are missing on the "
                                         f"live service; nothing was written. {problems[0]}",
                             metadata={"problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems))})
        client = client_for(node.system, dataverse, finops)
        companies = run_companies(context, settings.companies)
        reports = []
        for flow in node.flows:
            if context.run.tags.get(RETRY_PARKED_TAG) == "true":
                context.log.info(f"{flow}: {ledger.get().unpark(flow)} parked rows unparked")
            template = settings.templates[flow]
            report = sync(template, frames[sources[flow]].load_for(template), client=client,
                          ledger=ledger.get(), companies=companies, full=config.full_resync,
                          dagster_run_id=context.run.run_id)
            context.log.info(f"{flow}: {dict(report.counts)} in {report.duration_s:.1f}s, {report.requests} requests")
            reports.append(report)
            release_unused()  # the flow's frames are gone
        yield dg.MaterializeResult(metadata=report_metadata(reports),
                                   check_results=target_checks(reports, node.key, config.max_problem_share,
                                                              config.min_problem_rows))

    return target_asset


def _patched(previous: pd.DataFrame, patch: Patch, changed: pd.DataFrame) -> pd.DataFrame:
    """The stored rows whose id did not change or go, then the changed rows of the run's partitions (a
    column blank in all of them takes the stored rows' type: pandas' concat would warn otherwise; a
    column the stored rows hold as pyarrow's text is so in the changed rows too: joined with Python
    strings, every stored value would become one)."""
    kept = previous[~previous[patch.id_column].map(str).isin(patch.removed)]
    if changed.empty:
        return kept.reset_index(drop=True)
    changed = changed.dropna(axis="columns", how="all")
    text = {name: TEXT for name in changed.columns if name in kept and kept[name].dtype == TEXT}
    return pd.concat([kept, changed.astype(text)], ignore_index=True)


def _identity(owner: str, name: str, settings: Settings, header_flow: str | None, headers: pd.DataFrame | None,
              version: str | None) -> str | None:
    """What a source asset's frames are made of: its stored rows' version, its header frames' identity
    (a line source keeps the lines of the headers it is given), the rules that read and partition them
    and the code; None when one of them is unknown (never the same as anything)."""
    header = "" if headers is None else headers.attrs.get(IDENTITY)
    if version is None or header is None:
        return None
    rules = [settings.templates[header_flow].row_filter if header_flow else None,
             described(settings.templates[owner].source), settings.companies]
    return hashlib.sha256("\0".join([name, version, header, json.dumps(rules, default=str), code_digest()]).encode()
                          ).hexdigest()


def _preview(frame: pd.DataFrame) -> str:
    return frame.head(5).to_markdown(index=False) if not frame.empty else "(no rows)"
