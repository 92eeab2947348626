"""The engine on its own, against a seeded sandbox: extract, sync and reconcile through the client seam.

No Dagster here: what the engine needs from a service is `connectors.protocol.ServiceClient`, and both
clients give it. The products flow crosses the seam both ways (an F&O source read in its mapped legal
entities with no change feed, a Dataverse target written with links by alternate key and by id).
"""

import pandas as pd
import pytest

from p2c_assets.engine.extract import extract, extract_changes
from p2c_assets.engine.ledger import Ledger
from p2c_assets.engine.reconcile import missing_references, reconcile
from p2c_assets.engine.sync import sync
from p2c_assets.flows import TEMPLATES
from p2c_assets_tests.clients import service_clients
from p2c_sandbox.process import seeded_sandbox

COMPANIES = {"usmf": "USMF Sales", "demf": "DEMF Sales"}
PRODUCTS = TEMPLATES["products"]


@pytest.fixture(scope="module")
def clients(tmp_path_factory):
    with seeded_sandbox(tmp_path_factory.mktemp("company"), scale=5, seed=5) as company, \
            service_clients(company) as clients:
        yield clients


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    ledger = Ledger(f"sqlite:///{tmp_path_factory.mktemp('state') / 'state.db'}")
    ledger.upgrade()
    yield ledger
    ledger.close()


def test_a_synced_flow_reconciles_and_drift_in_the_target_is_named_by_key_and_field(clients, ledger):
    dv, fo = clients
    source, mode, *_ = extract_changes(fo, PRODUCTS.source, ledger=ledger, name="fo/released_products",
                                       companies=COMPANIES)
    assert mode == "full" and ledger.get_cursor("fo/released_products", "delta_link") is None  # F&O: no feed
    assert not source.duplicated("ProductNumber").any()  # released in both companies: one Sales product
    report = sync(PRODUCTS, source, client=dv, ledger=ledger, companies=COMPANIES)
    landed = report.counts["created"] + report.counts["updated"] + report.counts["unchanged"]
    assert landed == len(source) > 0 and not report.counts["failed"]
    written = dv.read("products", select=["productnumber", "_defaultuomid_value", "_transactioncurrencyid_value"])
    mine = written[written["productnumber"].isin(source["ProductNumber"])]
    assert mine["_defaultuomid_value"].notna().all() and mine["_transactioncurrencyid_value"].notna().all()

    clean = reconcile([(PRODUCTS, source)], client=dv, ledger=ledger, companies=COMPANIES)
    assert (clean.compared, len(clean.differences)) == (landed, 0)

    number = source["ProductNumber"].iloc[0]
    dv.upsert_many("products", [{"productnumber": number, "name": "Renamed in Sales"}], key=["productnumber"])
    drift = reconcile([(PRODUCTS, source)], client=dv, ledger=ledger, companies=COMPANIES)
    assert drift.differences.to_dict("records") == [
        {"key": number, "field": "name", "source": source["ProductName"].iloc[0], "target": "Renamed in Sales",
         "flow": "products"}]


def test_a_run_reconciles_what_it_wrote_by_key_and_a_run_that_wrote_nothing_reads_nothing(clients, tmp_path):
    dv, fo = clients
    ledger = Ledger(f"sqlite:///{tmp_path / 'state.db'}")
    ledger.upgrade()
    source = extract(fo, PRODUCTS.source, companies=COMPANIES)
    sync(PRODUCTS, source, client=dv, ledger=ledger, companies=COMPANIES, dagster_run_id="first")
    # one of 18 products changes: few enough of the landed records to be read back by key
    renamed = source.assign(ProductName=[f"{name} (new)" if i == 0 else name
                                         for i, name in enumerate(source["ProductName"])])
    second = sync(PRODUCTS, renamed, client=dv, ledger=ledger, companies=COMPANIES, dagster_run_id="second")
    quiet = sync(PRODUCTS, renamed, client=dv, ledger=ledger, companies=COMPANIES, dagster_run_id="quiet")
    assert (second.counts["updated"], quiet.counts["created"] + quiet.counts["updated"]) == (1, 0)

    written, untouched = renamed["ProductNumber"].iloc[0], renamed["ProductNumber"].iloc[5]
    dv.upsert_many("products", [{"productnumber": written, "name": "Renamed in Sales"},
                                {"productnumber": untouched, "name": "Also renamed in Sales"}], key=["productnumber"])
    before = dv.stats.requests
    scoped = reconcile([(PRODUCTS, renamed)], client=dv, ledger=ledger, companies=COMPANIES, dagster_run_id="second")
    assert (scoped.compared, scoped.full, dv.stats.requests - before) == (1, False, 1)  # what the run wrote
    assert scoped.differences.to_dict("records") == [  # drift on it is still found; not on the untouched one
        {"key": written, "field": "name", "source": renamed["ProductName"].iloc[0], "target": "Renamed in Sales",
         "flow": "products"}]

    before = dv.stats.requests
    nothing = reconcile([(PRODUCTS, renamed)], client=dv, ledger=ledger, companies=COMPANIES, dagster_run_id="quiet")
    assert (nothing.compared, len(nothing.differences), dv.stats.requests - before) == (0, 0, 0)

    full = reconcile([(PRODUCTS, renamed)], client=dv, ledger=ledger, companies=COMPANIES)
    assert (full.compared, full.full) == (len(renamed), True)
    assert sorted(full.differences["key"]) == sorted([written, untouched])  # drift no run of ours wrote
    ledger.close()


def test_references_match_as_the_services_match_keys(clients):
    _, fo = clients
    customers = fo.read("CustomersV3", select=["dataAreaId", "CustomerAccount"], companies=["usmf"])
    account = customers["CustomerAccount"].iloc[0]
    quotes = pd.DataFrame({"number": ["Q-1", "Q-2", "Q-3"], "dataAreaId": ["USMF", "usmf", "usmf"],
                           "CustomerAccount": [account.lower(), "NOBODY", None]})
    missing = missing_references(quotes, ["dataAreaId", "CustomerAccount"], customers, ["dataAreaId", "CustomerAccount"])
    assert list(missing["number"]) == ["Q-2", "Q-3"]  # letter case ignored; a blank customer names nothing
