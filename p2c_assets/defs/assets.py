"""The 18 entity assets of the Prospect-to-cash graph (DESIGN.md section 3), built from the templates.

Source assets (`sales/accounts`, `fo/sales_orders` ...) extract and validate what the source holds.
Target assets (`fo/customers`, `sales/orders` ...) run the engine for their flows and report counts,
rejections and write failures as metadata and asset checks. Dependencies follow the P2C order: quotes
need customers and products, invoices need orders, lines need their header.
"""


from dataclasses import dataclass

import dagster as dg
import pandas as pd
from pydantic import Field

from p2c_assets.defs.reporting import column_schema, report_metadata, source_check, target_checks
from p2c_assets.defs.resources import DataverseResource, FinOpsResource, FlowSettingsResource, LedgerResource
from p2c_assets.engine.extract import extract, extract_changes
from p2c_assets.engine.sync import sync
from p2c_assets.flows import TEMPLATES
from p2c_assets.preflight import schema_problems
from p2c_assets.schemas import BY_ENTITY_SET

OWNERS = ["team:integration"]
KINDS = {"sales": {"dataverse", "pandas"}, "fo": {"finops", "pandas"}}
POOLS = {"sales": "dataverse_api", "fo": "finops_api"}
RETRY_PARKED_TAG = "p2c/retry_parked"  # runs with this tag give parked rows new attempts first


def key(system: str, name: str) -> dg.AssetKey:
    return dg.AssetKey([system, name])


@dataclass(frozen=True)
class SourceAsset:
    system: str
    name: str
    flow: str  # the template whose source this asset extracts
    header: str | None = None  # asset name of the header (lines only)


@dataclass(frozen=True)
class TargetAsset:
    system: str
    name: str
    flows: dict[str, str]  # flow -> source asset name feeding it
    deps: tuple[tuple[str, str], ...] = ()


SOURCES = (
    SourceAsset("sales", "accounts", "accounts"),
    SourceAsset("sales", "contacts", "contacts"),
    SourceAsset("fo", "released_products", "products"),
    SourceAsset("sales", "quotes", "quotes"),
    SourceAsset("sales", "quote_lines", "quote_lines", header="quotes"),
    SourceAsset("fo", "sales_orders", "orders"),
    SourceAsset("fo", "sales_order_lines", "order_lines", header="sales_orders"),
    SourceAsset("fo", "sales_invoices", "invoices"),
    SourceAsset("fo", "sales_invoice_lines", "invoice_lines", header="sales_invoices"),
)
TARGETS = (
    TargetAsset("fo", "customers", {"accounts": "accounts", "contact_customers": "contacts"}),
    TargetAsset("fo", "contacts", {"contacts": "contacts"}, deps=(("fo", "customers"),)),
    TargetAsset("sales", "products", {"products": "released_products"}),
    TargetAsset("fo", "quotations", {"quotes": "quotes"}, deps=(("fo", "customers"), ("sales", "products"))),
    TargetAsset("fo", "quotation_lines", {"quote_lines": "quote_lines"},
                deps=(("fo", "quotations"), ("sales", "products"))),
    TargetAsset("sales", "orders", {"orders": "sales_orders"},
                deps=(("sales", "accounts"), ("fo", "customers"), ("sales", "products"))),
    TargetAsset("sales", "order_lines", {"order_lines": "sales_order_lines"},
                deps=(("sales", "orders"), ("sales", "products"))),
    TargetAsset("sales", "invoices", {"invoices": "sales_invoices"},
                deps=(("sales", "orders"), ("sales", "products"))),
    TargetAsset("sales", "invoice_lines", {"invoice_lines": "sales_invoice_lines"},
                deps=(("sales", "invoices"), ("sales", "products"))),
)
SOURCE_SYSTEM = {s.name: s.system for s in SOURCES}
HEADER_FLOW = {s.name: s.flow for s in SOURCES}


class ExtractConfig(dg.Config):
    """Run config of a source asset."""

    full_refresh: bool = False  # read everything again instead of only what changed (Dataverse sources)


class SyncConfig(dg.Config):
    """Run config of a target asset."""

    full_resync: bool = False  # write every valid row, even unchanged ones
    max_problem_share: float = Field(0.05, description=(
        "Rejected or failed rows are a warning; above this share of the rows a run attempted (and at "
        "least min_problem_rows of them) they are an error that stops the downstream assets."))
    min_problem_rows: int = Field(10, description=(
        "The fewest rejected or failed rows that can stop downstream assets (so one bad record on a "
        "small tenant never does)."))


def client_for(system: str, dataverse: DataverseResource, finops: FinOpsResource):
    return dataverse.get_client() if system == "sales" else finops.get_client()


def build_source_asset(spec: SourceAsset) -> dg.AssetsDefinition:
    template = TEMPLATES[spec.flow]
    asset_key = key(spec.system, spec.name)
    schema = BY_ENTITY_SET[template.source.entity_set]
    ins = {"header": dg.AssetIn(key(spec.system, spec.header))} if spec.header else {}

    @dg.asset(
        key=asset_key, group_name=spec.system, kinds=KINDS[spec.system], owners=OWNERS,
        pool=POOLS[spec.system], ins=ins,
        description=f"{template.source.entity_set} as read for '{template.title}'.",
        check_specs=[dg.AssetCheckSpec("pandera_schema", asset=asset_key,
                                       description=f"source rows match the {schema.name} schema")],
        metadata={"entity_set": template.source.entity_set, "source_filter": template.source.filter or "(none)",
                  "dagster/column_schema": column_schema(schema)},
    )
    def source_asset(context: dg.AssetExecutionContext, config: ExtractConfig, dataverse: DataverseResource,
                     finops: FinOpsResource, ledger: LedgerResource, flow_settings: FlowSettingsResource, **inputs):
        settings = flow_settings.get()
        source = settings.templates[spec.flow].source
        client = client_for(spec.system, dataverse, finops)
        before = client.stats.requests
        headers = inputs.get("header")
        if headers is not None and settings.templates[HEADER_FLOW[spec.header]].row_filter:
            # only lines of headers the header flow sends (orders Confirmed or later, ...)
            headers = headers.query(settings.templates[HEADER_FLOW[spec.header]].row_filter)
        if spec.system == "sales":  # Dataverse change tracking; F&O has no reliable change stamp
            frame, mode = extract_changes(client, source, ledger=ledger.get(), name=asset_key.to_user_string(),
                                          companies=settings.companies, headers=headers, full=config.full_refresh)
        else:
            frame, mode = extract(client, source, companies=settings.companies, headers=headers), "full"
        context.log.info(f"{asset_key.to_user_string()}: {len(frame)} rows, {mode}")
        yield dg.Output(frame, metadata={
            "dagster/row_count": len(frame),
            "extract_mode": mode,
            "http_requests": client.stats.requests - before,
            "preview": dg.MetadataValue.md(_preview(frame)),
        })
        yield source_check(schema, frame, asset_key)  # after the output: it belongs to this materialization

    return source_asset


def build_target_asset(spec: TargetAsset) -> dg.AssetsDefinition:
    asset_key = key(spec.system, spec.name)
    templates = [TEMPLATES[flow] for flow in spec.flows]
    inputs = {source: dg.AssetIn(key(SOURCE_SYSTEM[source], source)) for source in set(spec.flows.values())}
    titles = "; ".join(t.title for t in templates)
    entity_set = templates[0].target.entity_set

    @dg.asset(
        key=asset_key, group_name=spec.system, kinds=KINDS[spec.system], owners=OWNERS,
        pool=POOLS[spec.system], ins=inputs, deps=[key(*d) for d in spec.deps],
        description=f"{entity_set} written by: {titles}.",
        check_specs=[
            dg.AssetCheckSpec("preflight", asset=asset_key, blocking=True,
                              description="every entity, field, key and navigation property the flows use "
                                          "exists on the live services (checked before any write)"),
            dg.AssetCheckSpec("valid_rows", asset=asset_key, blocking=True,
                              description=f"mapped rows pass the {entity_set} schema (rejected rows are not sent)"),
            dg.AssetCheckSpec("writes_landed", asset=asset_key, blocking=True,
                              description="every row sent landed, none blocked, and pending rows moved"),
        ],
        metadata={"entity_set": entity_set, "flows": ", ".join(spec.flows),
                  "dagster/column_schema": column_schema(BY_ENTITY_SET[entity_set])},
    )
    def target_asset(context: dg.AssetExecutionContext, config: SyncConfig, dataverse: DataverseResource,
                     finops: FinOpsResource, ledger: LedgerResource, flow_settings: FlowSettingsResource,
                     **frames: pd.DataFrame):
        settings = flow_settings.get()
        problems = schema_problems([settings.templates[f] for f in spec.flows], dataverse.get_client(),
                                   finops.get_client())
        yield dg.AssetCheckResult(check_name="preflight", passed=not problems, metadata={
            "problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems) or "none")})
        if problems:
            raise dg.Failure(description=f"preflight: {len(problems)} name(s) the flows use are missing on the "
                                         f"live service; nothing was written. {problems[0]}",
                             metadata={"problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems))})
        client = client_for(spec.system, dataverse, finops)
        reports = []
        for flow, source_name in spec.flows.items():
            if context.run.tags.get(RETRY_PARKED_TAG) == "true":
                context.log.info(f"{flow}: {ledger.get().unpark(flow)} parked rows unparked")
            report = sync(settings.templates[flow], frames[source_name], client=client, ledger=ledger.get(),
                          companies=settings.companies, full=config.full_resync,
                          dagster_run_id=context.run.run_id)
            context.log.info(f"{flow}: {dict(report.counts)} in {report.duration_s:.1f}s, {report.requests} requests")
            reports.append(report)
        yield dg.MaterializeResult(metadata=report_metadata(reports),
                                   check_results=target_checks(reports, asset_key, config.max_problem_share,
                                                              config.min_problem_rows))

    return target_asset


def _preview(frame: pd.DataFrame) -> str:
    return frame.head(5).to_markdown(index=False) if not frame.empty else "(no rows)"


SOURCE_ASSETS = [build_source_asset(s) for s in SOURCES]
TARGET_ASSETS = [build_target_asset(t) for t in TARGETS]
