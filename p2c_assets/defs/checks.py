"""Cross-asset checks: referential integrity across the two systems, and reconciliation per flow.

They read both services after the writes, so they catch what per-row validation cannot: a quotation
whose customer is missing in F&O, an order line whose product is missing in Sales, or a target record
that differs from what its source says (drift), key by key on the mapped fields (by default for the
records the run wrote; every landed record in a run tagged `p2c/reconcile: full`). The comparisons are
the engine's (`engine.reconcile`); this module wires them to the assets.
"""


import warnings

import dagster as dg

from p2c_assets.connectors.frames import release_unused
from p2c_assets.defs.assets import client_for
from p2c_assets.defs.graph import GRAPH, AssetNode, asset_key as key
from p2c_assets.defs.partitions import Frames, legal_entity_partitions, run_companies
from p2c_assets.defs.reporting import table
from p2c_assets.defs.resources import DataverseResource, FinOpsResource, FlowSettingsResource, LedgerResource
from p2c_assets.connectors.protocol import AnyOf
from p2c_assets.engine.reconcile import missing_references, reconcile

# a run carrying this tag with the value "full" reconciles every landed record against the whole target
RECONCILE_TAG = "p2c/reconcile"
QUOTATIONS = key("fo", "quotations")
ORDER_LINES = key("sales", "order_lines")


def quotation_customer_exists(context: dg.AssetCheckExecutionContext, finops: FinOpsResource,
                              ledger: LedgerResource, flow_settings: FlowSettingsResource) -> dg.AssetCheckResult:
    """Every F&O quotation's customer exists as an F&O customer, in the run's legal entities."""
    if unwritten := _nothing_written(context, ledger, QUOTATIONS):
        return unwritten
    client = finops.get_client()
    companies = sorted(run_companies(context.op_execution_context, flow_settings.get().companies))
    quotes = client.read("CDSSalesQuotationHeaders", select=["dataAreaId", "SalesQuotationNumber",
                                                               "RequestingCustomerAccountNumber"],
                         companies=companies)
    customers = client.read("CustomersV3", select=["dataAreaId", "CustomerAccount"], companies=companies)
    missing = missing_references(quotes, ["dataAreaId", "RequestingCustomerAccountNumber"],
                                 customers, ["dataAreaId", "CustomerAccount"])
    return dg.AssetCheckResult(passed=missing.empty, metadata={"quotations": len(quotes), "missing": len(missing),
                                                              "sample": table(missing)})


def order_line_product_exists(context: dg.AssetCheckExecutionContext, dataverse: DataverseResource,
                              ledger: LedgerResource) -> dg.AssetCheckResult:
    """Every synced Sales order line (other than Freight Tax) points at an existing product (Sales
    orders belong to no legal entity on the Dataverse side: every line is read)."""
    if unwritten := _nothing_written(context, ledger, ORDER_LINES):
        return unwritten
    client = dataverse.get_client()
    lines = client.read("salesorderdetails", select=["msdynce_ordernumber", "sequencenumber", "_productid_value",
                                                     "msdynce_ismisctax"],
                        where=AnyOf.equal(msdynce_ismaintainedexternally=True))
    products = client.read("products", select=["productid"])
    real = lines[lines["msdynce_ismisctax"] != True]  # noqa: E712 - pandas element-wise comparison
    missing = missing_references(real, ["_productid_value"], products, ["productid"])
    return dg.AssetCheckResult(passed=missing.empty, metadata={"lines": len(real), "missing": len(missing),
                                                              "sample": table(missing)})


def _nothing_written(context: dg.AssetCheckExecutionContext, ledger: LedgerResource,
                     asset: dg.AssetKey) -> dg.AssetCheckResult | None:
    """A passed result when the run wrote no record of `asset` and is not a full reconciliation: the
    references were checked when the records were written, and a record deleted on the other side since
    is found by the next full one (`RECONCILE_TAG`), as the reconciliation's drift is. None otherwise."""
    if context.run.tags.get(RECONCILE_TAG) == "full" or any(
            len(ledger.get().written_in(flow, context.run.run_id)) for flow in GRAPH.nodes[asset].flows):
        return None
    return dg.AssetCheckResult(passed=True, metadata={
        "mode": f"no {asset.to_user_string()} record written in this run; nothing to check"})


def build_reconciliation(node: AssetNode, partitions: dg.PartitionsDefinition) -> dg.AssetChecksDefinition:
    """One `reconciliation` check per target asset; its source frames come in as `first` (and `second`).

    Scoped to the records this Dagster run wrote unless the run carries `RECONCILE_TAG: full`: a
    full reconciliation reads the whole target, which a run that changed nothing should not pay for
    (see `engine.reconcile`)."""
    sources = {flow: GRAPH.source_of(flow).key for flow in node.flows}
    names = list(dict.fromkeys(sources.values()))
    ins = {param: dg.AssetIn(name) for param, name in zip(("first", "second"), names)}
    decorate = dg.asset_check(
        asset=node.key, name="reconciliation", additional_ins=ins, blocking=False, partitions_def=partitions,
        description="the target holds what the source says, key by key on the mapped fields, for every "
                    "record this run wrote (every record the ledger says landed, with the run tag "
                    f"{RECONCILE_TAG}: full); records whose source is gone are reported as orphans")

    def check(context, dataverse, finops, ledger, flow_settings, frames: dict) -> dg.AssetCheckResult:
        settings = flow_settings.get()
        full = context.run.tags.get(RECONCILE_TAG) == "full"
        # each flow's source loaded when reconcile comes to it, with the columns its mapping reads
        flows = ((settings.templates[flow], frames[source]) for flow, source in sources.items())
        result = reconcile(((t, stored.load_for(t)) for t, stored in flows),
                           client=client_for(node.system, dataverse, finops), ledger=ledger.get(),
                           companies=run_companies(context.op_execution_context, settings.companies),
                           dagster_run_id=None if full else context.run.run_id)
        release_unused()  # the sources it mapped and the target it read are gone
        found = result.differences
        mode = "full: every landed record, against the whole target" if result.full else (
            f"{result.compared} records written in this run, read back by key" if result.compared
            else "0 records written in this run; nothing to compare")
        return dg.AssetCheckResult(passed=found.empty, metadata={"mode": mode, "records_compared": result.compared,
                                                                "differences": len(found), "sample": table(found)})

    if len(names) == 1:
        @decorate
        def reconciliation(context: dg.AssetCheckExecutionContext, dataverse: DataverseResource,
                           finops: FinOpsResource, ledger: LedgerResource, flow_settings: FlowSettingsResource,
                           first: Frames) -> dg.AssetCheckResult:
            return check(context, dataverse, finops, ledger, flow_settings, {names[0]: first})
    else:
        @decorate
        def reconciliation(context: dg.AssetCheckExecutionContext, dataverse: DataverseResource,
                           finops: FinOpsResource, ledger: LedgerResource, flow_settings: FlowSettingsResource,
                           first: Frames, second: Frames) -> dg.AssetCheckResult:
            return check(context, dataverse, finops, ledger, flow_settings, {names[0]: first, names[1]: second})
    return reconciliation


def build_checks(companies: dict[str, str]) -> list[dg.AssetChecksDefinition]:
    """The cross-asset checks, partitioned like the assets (each run checks its legal entities).

    Partitioned checks are a Dagster preview in 1.13; its warning is silenced here, where the choice is
    made, so `p2c run` and the UI's logs do not repeat it: without them a check of one legal entity's run
    would load every legal entity's rows."""
    partitions = legal_entity_partitions(companies)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return _checks(partitions)


def _checks(partitions: dg.PartitionsDefinition) -> list[dg.AssetChecksDefinition]:
    return [
        dg.asset_check(asset=QUOTATIONS, name="customer_exists", blocking=False, partitions_def=partitions,
                       description="every F&O quotation's customer exists as an F&O customer")(quotation_customer_exists),
        dg.asset_check(asset=ORDER_LINES, name="product_exists", blocking=False, partitions_def=partitions,
                       description="every synced Sales order line (other than Freight Tax) points at an existing "
                                   "product")(order_line_product_exists),
        *(build_reconciliation(node, partitions) for node in GRAPH.nodes.values() if node.role == "target"),
    ]
