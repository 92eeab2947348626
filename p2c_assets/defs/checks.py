"""Cross-asset checks: referential integrity across the two systems, and reconciliation per flow.

They read both services after the writes, so they catch what per-row validation cannot: a quotation
whose customer is missing in F&O, an order line whose product is missing in Sales, or a target record
that differs from what its source says (drift), key by key on the mapped fields.
"""


import dagster as dg
import pandas as pd

from p2c_assets.defs.assets import SOURCE_SYSTEM, TARGETS, client_for, key
from p2c_assets.defs.reporting import table
from p2c_assets.defs.resources import DataverseResource, FinOpsResource, FlowSettingsResource, LedgerResource
from p2c_assets.engine.diff import compare
from p2c_assets.engine.mapping import map_rows, natural_key
from p2c_assets.engine.references import fold
from p2c_assets.engine.sync import LANDED, target_snapshot

QUOTATIONS = key("fo", "quotations")
ORDER_LINES = key("sales", "order_lines")


@dg.asset_check(asset=QUOTATIONS, name="customer_exists", blocking=False,
                description="every F&O quotation's customer exists as an F&O customer")
def quotation_customer_exists(finops: FinOpsResource, flow_settings: FlowSettingsResource) -> dg.AssetCheckResult:
    client, companies = finops.get_client(), sorted(flow_settings.get().companies)
    quotes = client.read("CDSSalesQuotationHeaders", select=["dataAreaId", "SalesQuotationNumber",
                                                               "RequestingCustomerAccountNumber"],
                         cross_company=True, companies=companies)
    customers = client.read("CustomersV3", select=["dataAreaId", "CustomerAccount"], cross_company=True,
                            companies=companies)
    known = set(zip(customers["dataAreaId"].str.lower(), customers["CustomerAccount"].map(fold)))
    missing = quotes[[(c.lower(), fold(a)) not in known for c, a in
                      zip(quotes["dataAreaId"], quotes["RequestingCustomerAccountNumber"].fillna(""))]]
    return dg.AssetCheckResult(passed=missing.empty, metadata={"quotations": len(quotes), "missing": len(missing),
                                                              "sample": table(missing)})


@dg.asset_check(asset=ORDER_LINES, name="product_exists", blocking=False,
                description="every synced Sales order line (other than Freight Tax) points at an existing product")
def order_line_product_exists(dataverse: DataverseResource) -> dg.AssetCheckResult:
    client = dataverse.get_client()
    lines = client.read("salesorderdetails", select=["msdynce_ordernumber", "sequencenumber", "_productid_value",
                                                     "msdynce_ismisctax"],
                        filter="msdynce_ismaintainedexternally eq true")
    products = set(client.read("products", select=["productid"])["productid"].str.lower())
    real = lines[lines["msdynce_ismisctax"] != True]  # noqa: E712 - pandas element-wise comparison
    missing = real[[not isinstance(p, str) or p.lower() not in products for p in real["_productid_value"]]]
    return dg.AssetCheckResult(passed=missing.empty, metadata={"lines": len(real), "missing": len(missing),
                                                              "sample": table(missing)})


def build_reconciliation(spec) -> dg.AssetChecksDefinition:
    """One `reconciliation` check per target asset; its source frames come in as `first` (and `second`)."""
    asset_key = key(spec.system, spec.name)
    names = list(dict.fromkeys(spec.flows.values()))
    ins = {param: dg.AssetIn(key(SOURCE_SYSTEM[name], name)) for param, name in zip(("first", "second"), names)}
    decorate = dg.asset_check(
        asset=asset_key, name="reconciliation", additional_ins=ins, blocking=False,
        description="the target holds what the source says, key by key on the mapped fields, for every "
                    "record the ledger says landed; records whose source is gone are reported as orphans")

    def reconcile(dataverse, finops, ledger, flow_settings, frames: dict) -> dg.AssetCheckResult:
        settings = flow_settings.get()
        client = client_for(spec.system, dataverse, finops)
        drift, checked = [], 0
        for flow, source_name in spec.flows.items():
            template = settings.templates[flow]
            mapped = map_rows(template, frames[source_name], settings.companies)
            keys = natural_key(mapped, template.target.key)
            landed = {k for k, s in ledger.get().states(flow).items() if s.outcome in LANDED}
            mapped = mapped[keys.isin(landed)]
            checked += len(mapped)
            fields = [f for f in template.target_fields if f not in template.binds]
            target = target_snapshot(template, client, settings.companies)
            drift.append(compare(mapped, target, template.target.key, fields).assign(flow=flow))
            # deletes are not propagated (the safe choice): records the sync wrote whose source is
            # gone or no longer passes the filter are reported here for an admin to decide
            in_target = set(natural_key(target, template.target.key).map(fold))
            orphans = sorted(k for k in landed - set(keys) if fold(k) in in_target)
            drift.append(pd.DataFrame({"key": orphans, "field": "(record)", "source": "missing in source",
                                       "target": "present", "flow": flow}))
        found = pd.concat(drift, ignore_index=True)
        return dg.AssetCheckResult(passed=found.empty, metadata={"records_compared": checked,
                                                                "differences": len(found), "sample": table(found)})

    if len(names) == 1:
        @decorate
        def reconciliation(dataverse: DataverseResource, finops: FinOpsResource, ledger: LedgerResource,
                           flow_settings: FlowSettingsResource, first: pd.DataFrame) -> dg.AssetCheckResult:
            return reconcile(dataverse, finops, ledger, flow_settings, {names[0]: first})
    else:
        @decorate
        def reconciliation(dataverse: DataverseResource, finops: FinOpsResource, ledger: LedgerResource,
                           flow_settings: FlowSettingsResource, first: pd.DataFrame,
                           second: pd.DataFrame) -> dg.AssetCheckResult:
            return reconcile(dataverse, finops, ledger, flow_settings, {names[0]: first, names[1]: second})
    return reconciliation


CHECKS = [quotation_customer_exists, order_line_product_exists, *(build_reconciliation(t) for t in TARGETS)]
