"""The definitions load, and the asset graph (keys, groups, kinds, deps, checks) matches the snapshot.

A change to the graph shows up as a diff of `snapshots/asset_graph.json` in review. Regenerate it on
purpose with `P2C_UPDATE_SNAPSHOTS=1 pytest p2c_assets_tests/defs`.
"""

import json
import os
from pathlib import Path

import dagster as dg

from p2c_assets.definitions import defs

SNAPSHOT = Path(__file__).parent.parent / "snapshots" / "asset_graph.json"


def graph_snapshot() -> list[dict]:
    graph = defs.resolve_asset_graph()
    return [
        {
            "key": k.to_user_string(),
            "group": graph.get(k).group_name,
            "kinds": sorted(graph.get(k).kinds),
            "deps": sorted(p.to_user_string() for p in graph.get(k).parent_keys),
            "checks": sorted(c.name for c in graph.get(k).check_keys),
        }
        for k in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string())
    ]


def test_definitions_load_with_jobs_schedule_and_sensor():
    dg.Definitions.validate_loadable(defs)
    for job in ("prospect_to_cash", "retry_failed", "accounts_flow", "products_flow", "quotes_flow",
                "orders_flow", "invoices_flow"):
        assert defs.resolve_job_def(job)
    assert defs.resolve_schedule_def("prospect_to_cash_schedule").cron_schedule == "*/15 * * * *"
    assert defs.resolve_sensor_def("p2c_alerts")


def test_asset_graph_matches_snapshot():
    current = graph_snapshot()
    if os.environ.get("P2C_UPDATE_SNAPSHOTS") or not SNAPSHOT.exists():
        SNAPSHOT.write_text(json.dumps(current, indent=1) + "\n")
    assert current == json.loads(SNAPSHOT.read_text())
    assert len(current) == 18


def test_prospect_to_cash_orders_flows_by_their_dependencies():
    by_key = {a["key"]: a for a in graph_snapshot()}
    assert "sales/quotes" in by_key["sales/quote_lines"]["deps"]
    assert {"fo/customers", "sales/products", "sales/quotes"} <= set(by_key["fo/quotations"]["deps"])
    assert {"sales/orders", "fo/sales_invoices"} <= set(by_key["sales/invoices"]["deps"])
    assert by_key["fo/customers"]["checks"] == ["preflight", "reconciliation", "valid_rows", "writes_landed"]
