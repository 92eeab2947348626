"""The definitions load, and the asset graph (keys, groups, tags, kinds, deps, checks) matches the snapshot.

A change to the graph shows up as a diff of `snapshots/asset_graph.json` in review. Regenerate it on
purpose with `P2C_UPDATE_SNAPSHOTS=1 pytest p2c_assets_tests/defs`. The graph is derived from the flow
templates, so the tests here read the templates themselves to say what the graph must contain.
"""

import json
import os
from pathlib import Path

import dagster as dg

from p2c_assets.definitions import build_definitions, defs
from p2c_assets.flows import TEMPLATES

SNAPSHOT = Path(__file__).parent.parent / "snapshots" / "asset_graph.json"
GRAPH = defs.resolve_asset_graph()


def graph_snapshot() -> list[dict]:
    return [
        {
            "key": k.to_user_string(),
            "group": GRAPH.get(k).group_name,
            "tags": {t: v for t, v in GRAPH.get(k).tags.items() if t.startswith("p2c/")},
            "kinds": sorted(GRAPH.get(k).kinds),
            "deps": sorted(p.to_user_string() for p in GRAPH.get(k).parent_keys),
            "checks": sorted(c.name for c in GRAPH.get(k).check_keys),
        }
        for k in sorted(GRAPH.get_all_asset_keys(), key=lambda k: k.to_user_string())
    ]


def test_definitions_load_with_jobs_schedule_and_sensor():
    dg.Definitions.validate_loadable(defs)
    for job in ("prospect_to_cash", "retry_failed", "accounts_flow", "contacts_flow", "products_flow",
                "quotes_flow", "sales_orders_flow", "orders_flow", "invoices_flow"):
        assert defs.resolve_job_def(job)
    assert defs.resolve_schedule_def("prospect_to_cash_schedule").cron_schedule == "*/15 * * * *"
    assert defs.resolve_sensor_def("p2c_alerts")


def test_asset_graph_matches_snapshot():
    current = graph_snapshot()
    if os.environ.get("P2C_UPDATE_SNAPSHOTS") or not SNAPSHOT.exists():
        SNAPSHOT.write_text(json.dumps(current, indent=1) + "\n")
    assert current == json.loads(SNAPSHOT.read_text())
    assert len(current) == 22


def test_one_group_per_flow_with_its_source_and_target_assets():
    groups: dict[str, set[str]] = {}
    for k in GRAPH.get_all_asset_keys():
        groups.setdefault(GRAPH.get(k).group_name, set()).add(k.to_user_string())
    assert groups == {
        "accounts": {"sales/accounts", "fo/customers"},
        "contacts": {"sales/contacts", "fo/contact_persons"},
        "products": {"fo/released_products", "sales/products"},
        "quotes": {"sales/quotes", "sales/quote_lines", "fo/quotations", "fo/quotation_lines"},
        "sales_orders": {"sales/orders_for_fo", "sales/order_lines_for_fo", "fo/orders_from_sales",
                         "fo/order_lines_from_sales"},
        "orders": {"fo/sales_orders", "fo/sales_order_lines", "sales/orders", "sales/order_lines"},
        "invoices": {"fo/sales_invoices", "fo/sales_invoice_lines", "sales/invoices", "sales/invoice_lines"},
    }
    assert {k.to_user_string() for k in GRAPH.get_all_asset_keys()
            if GRAPH.get(k).tags["p2c/direction"] == "fo_to_sales"} == \
        groups["products"] | groups["orders"] | groups["invoices"]


def test_every_dependency_a_template_names_is_an_edge_of_the_graph():
    """Each template's source feeds its target; a line's header feeds it (source and target); an entity
    set a source looks up, or a target binds or references, feeds it from the asset that holds it: the one
    that writes it, where a flow writes it (Sales orders are read for F&O and written from F&O)."""
    by_role = sorted(GRAPH.get_all_asset_keys(), key=lambda k: GRAPH.get(k).tags["p2c/role"] == "target")
    holders = {(k.path[0], GRAPH.get(k).metadata["entity_set"]): k for k in by_role}
    needed = []
    for t in TEMPLATES.values():
        source, target = dg.AssetKey([t.source.system, t.source.asset]), dg.AssetKey([t.target.system, t.target.asset])
        needed.append((source, target, f"{t.name}: its rows"))
        if t.parent is not None:
            header = TEMPLATES[t.parent.flow]
            needed.append((dg.AssetKey([header.source.system, header.source.asset]), source, f"{t.name}: header rows"))
            needed.append((dg.AssetKey([header.target.system, header.target.asset]), target, f"{t.name}: header"))
        named = [(t.source.system, entity_set, source, f"{t.name}: lookup {lookup.column}")
                 for lookup in t.source.lookups for entity_set, _, _ in lookup.targets]
        named += [(t.target.system, entity_set, target, f"{t.name}: bind {name}")
                  for name, bind in t.binds.items()
                  for _, entity_set, _ in bind.choices or ((None, bind.entity_set, None),)]
        named += [(t.target.system, r.entity_set, target, f"{t.name}: reference {name}")
                  for name, r in t.references.items()]
        needed += [(holders[(system, entity_set)], to, why) for system, entity_set, to, why in named
                   if (system, entity_set) in holders and holders[(system, entity_set)] != to]
    missing = [f"{why}: {up.to_user_string()} -> {down.to_user_string()}" for up, down, why in needed
               if up not in GRAPH.get(down).parent_keys]
    assert missing == []
    assert len(needed) > 30  # the walk found the templates' references, not nothing


def test_the_business_order_follows_from_the_templates():
    by_key = {a["key"]: a for a in graph_snapshot()}
    assert by_key["fo/customers"]["deps"] == ["sales/accounts", "sales/contacts"]  # contacts become customers too
    assert by_key["fo/contact_persons"]["deps"] == ["fo/customers", "sales/contacts"]  # a person's customer
    assert "fo/customers" in by_key["fo/quotations"]["deps"]  # F&O refuses a quotation of an unknown customer
    assert "sales/products" in by_key["sales/quote_lines"]["deps"]  # lines name Sales products
    assert {"sales/orders", "sales/products"} <= set(by_key["sales/order_lines"]["deps"])
    assert {"sales/orders", "fo/sales_invoices"} <= set(by_key["sales/invoices"]["deps"])
    # an order from Sales: its customer in F&O first, its lines after it and after the Sales products
    assert by_key["fo/orders_from_sales"]["deps"] == ["fo/customers", "sales/orders_for_fo"]
    assert by_key["fo/order_lines_from_sales"]["deps"] == ["fo/orders_from_sales", "sales/order_lines_for_fo"]
    assert "sales/products" in by_key["sales/order_lines_for_fo"]["deps"]
    assert by_key["fo/customers"]["checks"] == ["preflight", "reconciliation", "valid_rows", "writes_landed"]


def test_a_flow_job_runs_its_flow_and_the_rows_it_reads():
    def assets(job: str) -> set[str]:
        return {k.to_user_string() for k in defs.resolve_job_def(job).asset_layer.selected_asset_keys}

    assert assets("contacts_flow") == {"sales/contacts", "fo/contact_persons"}
    assert assets("quotes_flow") == {"sales/quotes", "sales/quote_lines", "fo/quotations", "fo/quotation_lines"}
    assert assets("sales_orders_flow") == {"sales/orders_for_fo", "sales/order_lines_for_fo", "fo/orders_from_sales",
                                           "fo/order_lines_from_sales"}
    # customers are written from contacts too, and then their contact persons have all they need
    assert assets("accounts_flow") == {"sales/accounts", "sales/contacts", "fo/customers", "fo/contact_persons"}
    assert assets("prospect_to_cash") == {k.to_user_string() for k in GRAPH.get_all_asset_keys()}


def test_resources_show_the_environments_a_run_talks_to_and_secrets_by_name_only(monkeypatch):
    monkeypatch.setenv("DATAVERSE_URL", "https://contoso.crm.dynamics.com")
    monkeypatch.setenv("AZURE_TENANT_ID", "contoso-tenant")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "s3cret-4711")
    resources = build_definitions().resources
    assert resources["dataverse"].url == "https://contoso.crm.dynamics.com"
    assert resources["dataverse"].tenant_id == "contoso-tenant"
    assert (resources["finops"].url, resources["finops"].company) == ("http://127.0.0.1:8802", "usmf")  # the sandbox
    assert resources["dataverse"].client_secret == dg.EnvVar("AZURE_CLIENT_SECRET")
    assert "s3cret-4711" not in repr(resources)


def test_every_job_carries_the_tags_the_deployment_run_queue_limits():
    """deploy/dagster.yaml limits runs per legal entity (the partition Dagster tags every run of a
    partitioned job with) and per service (the jobs' own tags)."""
    import yaml
    from pathlib import Path

    from p2c_assets.definitions import build_definitions

    deploy = yaml.safe_load((Path(__file__).parents[2] / "deploy" / "dagster.yaml").read_text())
    limited = {limit["key"] for limit in deploy["concurrency"]["runs"]["tag_concurrency_limits"]}
    definitions = build_definitions()
    for job in definitions.resolve_all_job_defs():
        if job.name.startswith("__"):
            continue
        assert job.partitions_def is not None and list(job.partitions_def.get_partition_keys()) == ["usmf", "demf"]
        assert limited - {"dagster/partition"} <= set(job.tags), (job.name, job.tags)
