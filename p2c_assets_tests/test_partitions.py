"""Partitions by legal entity: one company syncs alone and the other follows, a run of one company
says nothing about the other's records, rows travel between runs of different partitions, and a run
that names no legal entity stops with what to do."""

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import requests
from click.testing import CliRunner

from p2c_assets.cli import main
from p2c_assets.definitions import build_definitions
from p2c_assets.defs.partitions import PARTITION, LegalEntityFrames
from p2c_assets.engine.ledger import Ledger
from p2c_assets.execution import execute, target_metadata
from p2c_assets_tests.helpers import sandbox_resources

COMPANY = (20, 21)  # the seeded sandbox of this module: scale, seed (conftest.company)
CUSTOMERS = dg.AssetKey(["fo", "customers"])


def sales_accounts_by_unit(dv) -> dict[str, set[str]]:
    """Active Sales account numbers per business unit name."""
    units = dv.read("businessunits", select=["businessunitid", "name"])
    name_of = dict(zip(units["businessunitid"], units["name"]))
    accounts = dv.read("accounts", select=["accountnumber", "_owningbusinessunit_value"], filter="statecode eq 0")
    by_unit: dict[str, set[str]] = {}
    for number, unit in zip(accounts["accountnumber"], accounts["_owningbusinessunit_value"]):
        by_unit.setdefault(name_of.get(unit, "?"), set()).add(number)
    return by_unit


def customers(fo, company: str) -> set[str]:
    return set(fo.read("CustomersV3", select=["CustomerAccount"], companies=[company])["CustomerAccount"])


def reconciliation(result: dg.ExecuteInProcessResult, asset: dg.AssetKey) -> dg.AssetCheckEvaluation:
    [check] = [e for e in result.get_asset_check_evaluations()
               if e.asset_key == asset and e.check_name == "reconciliation"]
    return check


@pytest.fixture(scope="module")
def resources(company, state_db):
    return sandbox_resources(company, state_db)


def test_one_legal_entity_syncs_alone_and_the_other_follows(company, clients, state_db, resources):
    dv, fo = clients
    dv.upsert_many("accounts", [{"accountnumber": "NO-LE-1", "name": "A customer of no legal entity",
                                 "owningbusinessunit@odata.bind": "/businessunits(name='Contoso')",
                                 "transactioncurrencyid@odata.bind": "/transactioncurrencies(isocurrencycode='USD')"}],
                   key=["accountnumber"])
    sales = sales_accounts_by_unit(dv)
    assert sales["USMF Sales"] and sales["DEMF Sales"]
    ledger = Ledger(f"sqlite:///{state_db}")

    demf = execute("accounts_flow", resources=resources, company="demf")
    assert demf.success
    assert sales["DEMF Sales"] <= customers(fo, "demf")
    assert not sales["USMF Sales"] & customers(fo, "usmf")  # usmf untouched
    assert {state.legal_entity for state in ledger.states("accounts").values()} == {"demf"}
    written = target_metadata(demf)["fo/customers"]
    assert written["rows_created"] == len(sales["DEMF Sales"])
    # a row of no mapped company goes with the first company of the mapping (usmf), not here
    assert "NO-LE-1" not in str(written["problem_rows"])
    assert reconciliation(demf, CUSTOMERS).passed  # no usmf record is an orphan of a demf run

    usmf = execute("accounts_flow", resources=resources, company="usmf")
    assert usmf.success
    assert sales["USMF Sales"] <= customers(fo, "usmf")
    written = target_metadata(usmf)["fo/customers"]
    assert written["rows_created"] == len(sales["USMF Sales"])
    assert written["rows_rejected"] == 1
    [problem] = ledger.problems("accounts")
    assert problem.key.endswith("NO-LE-1") and "is not in 'companies'" in problem.error_message
    assert reconciliation(usmf, CUSTOMERS).passed

    everything = execute("accounts_flow", resources=resources)  # both, one run: nothing left to write
    written = target_metadata(everything)["fo/customers"]
    assert (written["rows_created"], written["rows_updated"]) == (0, 0)
    assert written["rows_unchanged"] == len(sales["USMF Sales"]) + len(sales["DEMF Sales"])
    assert {e.partition for e in everything.get_asset_materialization_events()
            if e.asset_key == CUSTOMERS} == {"usmf", "demf"}


def test_rows_a_run_over_both_companies_stored_feed_a_later_run_of_one(resources):
    definitions = build_definitions(resources)
    instance = dg.DagsterInstance.ephemeral()
    both = execute("accounts_flow", resources=resources, instance=instance)
    assert both.success
    only_customers = definitions.resolve_implicit_global_asset_job_def()

    usmf = only_customers.execute_in_process(asset_selection=[CUSTOMERS], partition_key="usmf", instance=instance)
    [event] = usmf.get_asset_materialization_events()
    counts = {k.removeprefix("rows_"): v.value for k, v in event.materialization.metadata.items()
              if k.startswith("rows_")}
    assert event.materialization.partition == "usmf" and counts["unchanged"] > 0
    assert counts["extracted"] < target_metadata(both)["fo/customers"]["rows_extracted"]
    # usmf's rows from the stored partition, all landed before: none to write, none missing
    assert counts["extracted"] == counts["filtered_out"] + counts["unchanged"] + counts["rejected"]

    fresh = dg.DagsterInstance.ephemeral()  # never ran the source: says what to materialize first
    result = only_customers.execute_in_process(asset_selection=[CUSTOMERS], partition_key="demf", instance=fresh,
                                               raise_on_error=False)
    assert not result.success
    [failure] = result.get_step_failure_events()
    assert ("sales/accounts has no rows stored for legal entity 'demf': materialize it for demf first"
            in failure.step_failure_data.user_failure_data.description)


def test_a_run_that_names_no_legal_entity_stops_and_says_how_to_name_one(resources):
    job = build_definitions(resources).resolve_job_def("accounts_flow")
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert not result.success
    descriptions = [e.step_failure_data.user_failure_data.description for e in result.get_step_failure_events()
                    if e.step_failure_data.user_failure_data]
    assert descriptions and "this run names no legal entity" in descriptions[0]
    assert '{"dagster/partition": "usmf"}' in descriptions[0]


def test_p2c_run_refuses_a_legal_entity_the_mapping_does_not_have():
    outcome = CliRunner().invoke(main, ["run", "--company", "frsi"])
    assert outcome.exit_code == 2
    assert "legal entity 'frsi' is not in 'companies' (p2c_flows.yaml): use one of usmf, demf" in outcome.output


def problem_rows(result: dg.ExecuteInProcessResult, asset: str) -> list[dict]:
    """The problem rows a target asset's materialization lists."""
    return [record.data for record in target_metadata(result)[asset]["problem_rows"].records]


def confirmed_order(company, fo, legal_entity: str, lines: int = 1) -> str:
    """An F&O order of an externally maintained customer, confirmed with its totals, as the order
    processors of `p2c_sandbox.simulate` make them (the sandbox's business actions); its number."""
    customer = fo.read("CustomersV3", select=["CustomerAccount"], companies=[legal_entity],
                       filter="IsExternallyMaintained eq Microsoft.Dynamics.DataEntities.NoYes'Yes'")["CustomerAccount"][0]
    products = fo.read("SellableReleasedProducts", select=["ProductNumber"], companies=[legal_entity])["ProductNumber"]
    act = f"{company.finops_url}/_sandbox/finops"
    created = requests.post(f"{act}/orders", timeout=30, json={
        "company": legal_entity, "customer": customer, "SalesOrderName": "Numbered alike",
        "lines": [{"ProductNumber": p, "OrderedSalesQuantity": 1.0} for p in products[:lines]]}).json()
    number = created["SalesOrderNumber"]
    requests.post(f"{act}/orders/{legal_entity}/{number}/confirm", timeout=30).raise_for_status()
    requests.post(f"{act}/calculate-totals", json={"company": legal_entity, "number": number}, timeout=30).raise_for_status()
    return number


def test_an_order_number_both_companies_use_lands_once_and_the_other_is_rejected_by_name(clients, resources,
                                                                                        state_db, company):
    """F&O numbers each legal entity's orders from the same start; Sales knows orders by number alone. Runs of
    one legal entity never see the other's orders, so the first to land keeps the number and the other is
    rejected naming it: never overwritten, never taken back and forth."""
    dv, fo = clients
    assert execute("prospect_to_cash", resources=resources).success  # customers and products in both
    number = confirmed_order(company, fo, "usmf")
    demf_numbers = [confirmed_order(company, fo, "demf", lines=2) for _ in range(int(number))]  # demf's catch up
    assert number in demf_numbers

    assert execute("orders_flow", resources=resources, company="usmf").success
    demf = execute("orders_flow", resources=resources, company="demf")
    [refused] = [p for p in problem_rows(demf, "sales/orders") if p["key"] == number]
    assert refused["legal_entity"] == "demf" and refused["outcome"] == "rejected"
    assert (f"ordernumber '{number}' already belongs to the record synced from legal entity usmf: document numbers "
            "must not overlap across legal entities") in refused["reason"]
    ledger = Ledger(f"sqlite:///{state_db}")
    assert ledger.states("orders")[number].legal_entity == "usmf"  # the record stays usmf's
    [name] = dv.read("salesorders", select=["name"], filter=f"ordernumber eq '{number}'")["name"]
    assert name == "Numbered alike" and target_metadata(demf)["sales/orders"]["rows_created"] >= 1  # the others land

    # the demf order's lines join no Sales order: the one with their number is usmf's (line 1 has usmf's
    # line's key too, line 2 a key of its own)
    lines = {p["key"]: p for p in problem_rows(demf, "sales/order_lines") if p["key"].startswith(f"{number}|")}
    assert {k: (p["legal_entity"], p["outcome"]) for k, p in lines.items()} == {
        f"{number}|1": ("demf", "rejected"), f"{number}|2": ("demf", "blocked")}
    [order_id] = dv.read("salesorders", select=["salesorderid"], filter=f"ordernumber eq '{number}'")["salesorderid"]
    assert len(dv.read("salesorderdetails", select=["salesorderdetailid"],
                       filter=f"_salesorderid_value eq {order_id}")) == 1  # usmf's one line only

    again = execute("orders_flow", resources=resources, company="usmf")
    assert target_metadata(again)["sales/orders"]["rows_updated"] == 0  # usmf's order stays: no tug of war
    assert target_metadata(again)["sales/order_lines"]["rows_updated"] == 0

    both = execute("orders_flow", resources=resources)  # a run over both: usmf's still holds the number
    [refused] = [p for p in problem_rows(both, "sales/orders") if p["key"] == number]
    assert refused["legal_entity"] == "demf" and "already belongs to the record synced from legal entity usmf" \
        in refused["reason"]
    kept = ledger.states("orders")[number]
    assert kept.legal_entity == "usmf" and kept.outcome in ("created", "updated", "unchanged")
    assert target_metadata(both)["sales/orders"]["rows_updated"] == 0


def test_stored_frames_come_back_as_stored_column_by_column_and_files_of_the_whole_frame_format_still_load(tmp_path):
    """Frames are stored a column at a time (a whole frame's pickle held its text as nested lists first):
    each legal entity's rows, their dtypes and the frame's attrs come back; a file an earlier release
    stored with `DataFrame.to_pickle` still loads, so a deployment's stored frames survive the upgrade. Some
    rows alone (by position) come back from both."""
    instance = dg.DagsterInstance.ephemeral(tempdir=str(tmp_path))
    frames, key = LegalEntityFrames(), dg.AssetKey(["sales", "accounts"])
    frame = pd.DataFrame({"name": ["Contoso", None, "Fabrikam"], "creditlimit": [10.5, np.nan, 3.0],
                          "employees": pd.array([5, None, 7], dtype="Int64"), "active": [True, False, True],
                          PARTITION: ["usmf", "demf", "usmf"]}, index=[7, 8, 9])
    frame.attrs["identity"] = "rows@3"
    frames.store(instance, key, ["usmf", "demf"], frame)
    usmf = frames.load(instance, key, ["usmf"])
    pd.testing.assert_frame_equal(usmf, frame.loc[[7, 9]].reset_index(drop=True))
    assert usmf.attrs == {"identity": "rows@3"} and frames.load(instance, key, ["demf"])["creditlimit"].isna().all()
    # both legal entities joined a column at a time, as `pd.concat` joins them; the columns asked for only
    both = pd.concat([usmf, frames.load(instance, key, ["demf"])], ignore_index=True)
    pd.testing.assert_frame_equal(frames.load(instance, key, ["usmf", "demf"]), both)
    assert frames.load(instance, key, ["usmf", "demf"]).attrs == {"identity": "rows@3"}
    pd.testing.assert_frame_equal(frames.load(instance, key, ["usmf", "demf"], ["employees", "name", "gone"]),
                                  both[["name", "employees"]])
    # some rows of the whole (positions), each column taken as it is read
    pd.testing.assert_frame_equal(frames.load(instance, key, ["usmf", "demf"], ["name", "employees"], np.array([2, 0])),
                                  both.iloc[[2, 0]][["name", "employees"]].reset_index(drop=True))
    frames.store(instance, key, ["demf"], frame.loc[[8]])  # one legal entity's run stores its frame as it is
    pd.testing.assert_frame_equal(frames.load(instance, key, ["demf"]), frame.loc[[8]].reset_index(drop=True))
    frame.loc[[7, 9]].reset_index(drop=True).to_pickle(frames._path(instance, key, "usmf"))  # an earlier release's file
    pd.testing.assert_frame_equal(frames.load(instance, key, ["usmf"]), usmf)
    pd.testing.assert_frame_equal(frames.load(instance, key, ["usmf", "demf"], ["name"]),
                                  pd.concat([usmf, frame.loc[[8]]], ignore_index=True)[["name"]])
    pd.testing.assert_frame_equal(frames.load(instance, key, ["usmf", "demf"], ["name"], np.array([2])),
                                  frame.loc[[8], ["name"]].reset_index(drop=True))


def test_a_patch_whose_rows_leave_a_column_blank_keeps_the_stored_text_in_pyarrow():
    """A few changed rows applied to the stored frames (`_patched`): a column blank in all of them is left
    out of them and keeps the stored type when pandas joins them, pyarrow text included, so the stored
    text never turns into a Python string per row."""
    from p2c_assets.connectors.frames import TEXT, compact_text
    from p2c_assets.defs.assets import _patched
    from p2c_assets.engine.extract import Patch

    stored = compact_text(pd.DataFrame({"accountid": ["a1", "a2", "a3"], "name": ["A", "B", "C"],
                                        "telephone1": ["1", None, "3"], "creditlimit": [1.0, 2.0, None]}))
    changed = compact_text(pd.DataFrame({"accountid": ["a2", "a4"], "name": ["B2", "D"], "telephone1": [None, None],
                                         "creditlimit": [None, None]}))
    patched = _patched(stored, Patch("v1", changed, frozenset({"a2"}), "accountid"), changed)
    assert patched["accountid"].tolist() == ["a1", "a3", "a2", "a4"]
    assert patched["telephone1"].dtype == TEXT and patched["name"].dtype == TEXT
    assert patched["telephone1"].isna().tolist() == [False, False, True, True]
    assert patched["creditlimit"].dtype == "float64"
