"""The sync engine against a seeded sandbox: bad rows, retries, incremental writes, previews, crashes.

One seeded company per module; each test changes its own records through the services' APIs and runs
one flow's job, as an engineer would from the UI.
"""

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pandas as pd
import pytest
import requests
import sqlalchemy as sa

from p2c_assets.connectors.frames import TEXT
from p2c_assets.defs.partitions import LegalEntityFrames
from p2c_assets.engine.ledger import Ledger
from p2c_assets.engine.ledger.tables import records
from p2c_assets.execution import failed_checks, materialization_metadata, target_metadata
from p2c_assets.flows.settings import load_settings
from p2c_assets.preview import preview
from p2c_assets_tests.helpers import new_accounts, run_prospect_to_cash, sandbox_resources, USMF

COMPANY = (20, 11)  # the seeded sandbox of this module: scale, seed (conftest.company)



@pytest.fixture(scope="module")
def resources(company, state_db):
    resources = sandbox_resources(company, state_db)
    first = run_prospect_to_cash(resources)
    assert first.success and not failed_checks(first)
    return resources


@pytest.fixture(scope="module")
def dv(clients):
    return clients[0]


@pytest.fixture(scope="module")
def fo(clients):
    return clients[1]


def customers(fo, numbers) -> list[str]:
    frame = fo.read("CustomersV3", select=["CustomerAccount"], cross_company=True)
    return sorted(frame[frame["CustomerAccount"].isin(numbers)]["CustomerAccount"])


def test_bad_rows_are_rejected_with_reasons_while_the_rest_lands_and_are_picked_up_once_fixed(dv, fo, resources):
    good = new_accounts(dv, "GOOD", 3)
    [long_name] = new_accounts(dv, "LONG", 1, name="N" * 130)
    result = run_prospect_to_cash(resources, job="accounts_flow")
    meta = target_metadata(result)["fo/customers"]
    assert (meta["rows_created"], meta["rows_rejected"]) == (3, 1)
    assert customers(fo, good + [long_name]) == good
    [check] = [e for e in result.get_asset_check_evaluations() if e.check_name == "valid_rows"
               and e.asset_key.to_user_string() == "fo/customers"]
    assert not check.passed and check.severity.value == "WARN"  # 1 row of about 25: under the 5% error share
    [sample] = [r.data for r in check.metadata["rejected_rows"].value.records]
    assert sample["key"] == f"usmf|{long_name}"
    assert sample["reason"].startswith("OrganizationName is 130 characters, at most 100 allowed")
    assert result.success  # a WARN does not block downstream

    dv.upsert_many("accounts", [{"accountnumber": long_name, "name": "Shorter name Ltd"}], key=["accountnumber"])
    again = target_metadata(run_prospect_to_cash(resources, job="accounts_flow"))["fo/customers"]
    assert (again["rows_created"], again["rows_updated"], again["rows_rejected"]) == (1, 0, 0)
    assert customers(fo, [long_name]) == [long_name]


def test_rejections_above_the_allowed_share_are_an_error_that_blocks_downstream(dv, resources):
    new_accounts(dv, "HUGE", 5, name="H" * 150)
    result = run_prospect_to_cash(resources, job="accounts_flow", max_problem_share=0.01,
                                  min_problem_rows=5)
    assert not result.success
    assert any("fo/customers valid_rows (ERROR)" in c for c in failed_checks(result))
    executed = {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}
    assert "fo__contact_persons" not in executed  # downstream of the blocked customers
    dv.upsert_many("accounts", [{"accountnumber": f"HUGE-{i:03d}", "name": f"Huge {i}"} for i in range(5)],
                   key=["accountnumber"])


def test_changing_ten_source_rows_updates_exactly_those_ten(dv, resources):
    run_prospect_to_cash(resources, job="accounts_flow")  # settle everything earlier tests left
    accounts = dv.read("accounts", select=["accountnumber"], filter="statecode eq 0").head(10)
    dv.upsert_many("accounts", [{"accountnumber": n, "telephone1": f"+1 555 01{i:02d}"}
                                for i, n in enumerate(accounts["accountnumber"])], key=["accountnumber"])
    meta = target_metadata(run_prospect_to_cash(resources, job="accounts_flow"))["fo/customers"]
    assert (meta["rows_created"], meta["rows_updated"], meta["rows_failed"]) == (0, 10, 0)


def test_a_run_in_which_nothing_changed_leaves_landed_records_as_they_are(dv, resources, state_db):
    """Rows that landed with the content they have now are neither validated nor recorded again; rows
    that never landed (rejected ones) are, and keep their reasons."""
    [refused] = new_accounts(dv, "SETTLE-LONG", 1, name="N" * 130)
    settle = target_metadata(run_prospect_to_cash(resources, job="accounts_flow"))["fo/customers"]
    ledger = Ledger(f"sqlite:///{state_db}")

    def landed_last_runs() -> dict[str, int]:
        query = sa.select(records.c.natural_key, records.c.last_run).where(
            records.c.flow == "accounts", records.c.outcome.in_(["created", "updated", "unchanged"]))
        with ledger._engine.connect() as conn:
            return dict(conn.execute(query).all())

    before = landed_last_runs()
    meta = target_metadata(run_prospect_to_cash(resources, job="accounts_flow"))["fo/customers"]
    [latest] = ledger.history("accounts", limit=1)
    assert (meta["rows_created"], meta["rows_updated"]) == (0, 0) and latest.counts["unchanged"] == len(before)
    assert landed_last_runs() == before  # not one landed record rewritten
    assert meta["rows_rejected"] == settle["rows_rejected"] > 0  # the long name is still refused, by name
    assert any(p.key.endswith(refused) and "OrganizationName is 130 characters" in p.error_message
               for p in ledger.problems("accounts"))

    dv.upsert_many("accounts", [{"accountnumber": refused, "name": "Settled customer"}], key=["accountnumber"])
    fixed = target_metadata(run_prospect_to_cash(resources, job="accounts_flow"))["fo/customers"]
    assert (fixed["rows_created"], fixed["rows_rejected"]) == (1, settle["rows_rejected"] - 1)


def test_a_row_the_target_refuses_is_retried_each_run_and_lands_once_fixed(dv, fo, resources, state_db, company):
    token = company.token("dataverse")
    requests.post(f"{company.dataverse_url}/api/data/v9.2/transactioncurrencies", timeout=10,
                  headers={"Authorization": f"Bearer {token}"},
                  json={"isocurrencycode": "GBP", "currencyname": "Pound Sterling", "currencysymbol": "£",
                        "exchangerate": 0.8}).raise_for_status()
    [pound] = new_accounts(dv, "GBP", 1, **{"transactioncurrencyid@odata.bind": "/transactioncurrencies(isocurrencycode='GBP')"})
    for attempt in (1, 2):
        meta = target_metadata(run_prospect_to_cash(resources, job="accounts_flow"))["fo/customers"]
        assert meta["rows_failed"] == 1
        state = Ledger(f"sqlite:///{state_db}").states("accounts")[f"usmf|{pound}"]
        assert (state.outcome, state.attempts) == ("failed", attempt)
        assert "GBP" in Ledger(f"sqlite:///{state_db}").run_errors(
            Ledger(f"sqlite:///{state_db}").history("accounts", limit=1)[0].id)[0].error_message
    fo.upsert_many("Currencies", [{"CurrencyCode": "GBP", "Name": "Pound Sterling"}], key=["CurrencyCode"])
    meta = target_metadata(run_prospect_to_cash(resources, job="accounts_flow"))["fo/customers"]
    assert (meta["rows_created"], meta["rows_failed"]) == (1, 0)
    assert customers(fo, [pound]) == [pound]  # once, not duplicated


def test_preview_writes_nothing_and_predicts_the_next_run(dv, fo, resources, state_db):
    changed = new_accounts(dv, "SEEN", 3)
    run_prospect_to_cash(resources, job="accounts_flow")
    fresh = new_accounts(dv, "DRY", 2)
    dv.upsert_many("accounts", [{"accountnumber": n, "websiteurl": "https://example.com/dry"} for n in changed],
                   key=["accountnumber"])
    runs_before = len(Ledger(f"sqlite:///{state_db}").history("accounts", limit=1000))
    reports = [report for asset, report in preview(
        ["accounts", "contact_customers"], settings=load_settings(), dataverse=resources["dataverse"].get_client(),
        finops=resources["finops"].get_client(), ledger=resources["ledger"].get()) if asset == "fo/customers"]
    dry = sum((r.counts for r in reports), Counter())
    assert (dry["created"], dry["updated"]) == (2, 3)
    diff = {(r.key, r.field, r.source) for r in pd.concat([r.field_diff for r in reports]).itertuples()}
    assert diff == {*((f"usmf|{n}", "PrimaryContactURL", "https://example.com/dry") for n in changed),
                    *((f"usmf|{n}", "(record)", "present") for n in fresh)}
    assert customers(fo, fresh) == []
    assert len(Ledger(f"sqlite:///{state_db}").history("accounts", limit=1000)) == runs_before
    real = target_metadata(run_prospect_to_cash(resources, job="accounts_flow"))["fo/customers"]
    for outcome in ("created", "updated", "unchanged", "rejected", "failed"):
        assert real[f"rows_{outcome}"] == dry[outcome], outcome


def test_a_run_killed_while_writing_loses_and_duplicates_nothing(dv, fo, resources, company, state_db, tmp_path):
    run_prospect_to_cash(resources, job="accounts_flow")
    numbers = new_accounts(dv, "KILL", 40)
    company.set_faults(latency_ms=1500)  # every request to both services now takes 1.5 s
    env = {**os.environ, "DATAVERSE_URL": company.dataverse_url, "FINOPS_URL": company.finops_url,
           "AZURE_AUTHORITY_HOST": company.authority_host, "P2C_STATE_URL": f"sqlite:///{state_db}",
           "DAGSTER_HOME": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "p2c_assets.cli", "run", "--job", "accounts_flow"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    ledger = Ledger(f"sqlite:///{state_db}")
    started = len(ledger.history("accounts", limit=1000))
    try:
        deadline = time.monotonic() + 60
        while len(ledger.history("accounts", limit=1000)) == started:  # until the sync step opens its run
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.2)
        time.sleep(2)  # inside the writes: each request now takes 1.5 s
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        company.reset_faults()
    assert ledger.history("accounts", limit=1)[0].status == "running"  # killed before it could finish
    meta = target_metadata(run_prospect_to_cash(resources, job="accounts_flow"))["fo/customers"]
    # the killed run recorded nothing, so the re-run sends all 40 again: upserts by key, whatever landed
    assert (meta["rows_created"] + meta["rows_updated"], meta["rows_failed"]) == (40, 0)
    assert customers(fo, numbers) == numbers


def test_unknown_product_and_currency_are_rejected_by_name_and_block_only_their_own_lines(dv, fo, resources, company):
    admin = f"{company.finops_url}/_sandbox/finops"
    customer = fo.read("CustomersV3", select=["CustomerAccount"],
                       filter="IsExternallyMaintained eq Microsoft.Dynamics.DataEntities.NoYes'Yes'").iloc[0, 0]
    known = fo.read("SellableReleasedProducts", select=["ProductNumber"]).iloc[0, 0]
    requests.post(f"{admin}/products", timeout=10, json={
        "company": "usmf", "ItemNumber": "LATE-1", "ProductNumber": "LATE-1", "ProductName": "Late",
        "SalesUnitSymbol": "ea", "SalesPrice": 10}).raise_for_status()
    fo.upsert_many("Currencies", [{"CurrencyCode": "CHF", "Name": "Swiss franc"}], key=["CurrencyCode"])
    orders = []
    for header, lines in (({}, [known, "LATE-1"]), ({"CurrencyCode": "CHF"}, [known])):
        made = requests.post(f"{admin}/orders", timeout=10, json={
            "company": "usmf", "customer": customer, **header,
            "lines": [{"ProductNumber": p, "OrderedSalesQuantity": 2} for p in lines]})
        made.raise_for_status()
        number = made.json()["SalesOrderNumber"]
        requests.post(f"{admin}/orders/usmf/{number}/confirm", timeout=10).raise_for_status()
        orders.append(number)
    requests.post(f"{admin}/calculate-totals", json={}, timeout=10).raise_for_status()

    # 1 of the few orders is a large share, but one row is never systemic: the check warns, lines go on
    result = run_prospect_to_cash(resources, job="orders_flow")
    meta = target_metadata(result)
    assert meta["sales/orders"]["rows_rejected"] == 1
    assert meta["sales/order_lines"]["rows_rejected"] == 1 and meta["sales/order_lines"]["rows_blocked"] == 1
    reasons = {e.asset_key.to_user_string(): [{k: r.data[k] for k in ("key", "flow", "reason")}
                                              for r in e.metadata["rejected_rows"].value.records]
               for e in result.get_asset_check_evaluations() if e.check_name == "valid_rows" and not e.passed}
    assert reasons["sales/orders"] == [{"key": orders[1], "flow": "orders", "reason":
                                        "transactioncurrencyid: no transactioncurrencies with isocurrencycode 'CHF' in "
                                        "Sales; create it there (or sync it first) and this row is sent on the next "
                                        "run; pricelevelid: no pricelevels with name 'CHF' in Sales; create it "
                                        "there (or sync it first) and this row is sent on the next run"}]
    assert reasons["sales/order_lines"] == [{"key": f"{orders[0]}|2", "flow": "order_lines", "reason":
                                             "productid: no products with productnumber 'LATE-1' in Sales; create it "
                                             "there (or sync it first) and this row is sent on the next run"}]
    landed = dv.read("salesorderdetails", select=["msdynce_ordernumber", "sequencenumber"],
                     filter=f"msdynce_ordernumber eq '{orders[0]}'")
    assert list(landed["sequencenumber"]) == [1]  # the good line of the same order landed
    assert result.success  # rejections and blocked lines warn; they do not stop the invoices


def test_dataverse_sources_read_only_what_changed_and_fall_back_to_full_reads(dv, resources, company):
    run_prospect_to_cash(resources, job="accounts_flow")
    quiet = materialization_metadata(run_prospect_to_cash(resources, job="accounts_flow"))
    assert quiet["sales/accounts"]["extract_mode"] == "incremental (0 changed, 0 deleted)"
    extracted = quiet["sales/accounts"]["dagster/row_count"]

    [gone] = new_accounts(dv, "GONE", 1)
    run_prospect_to_cash(resources, job="accounts_flow")
    [account_id] = dv.read("accounts", select=["accountid"], filter=f"accountnumber eq '{gone}'")["accountid"]
    token = company.token("dataverse")
    requests.delete(f"{company.dataverse_url}/api/data/v9.2/accounts({account_id})", timeout=10,
                    headers={"Authorization": f"Bearer {token}"}).raise_for_status()
    result = run_prospect_to_cash(resources, job="accounts_flow")
    changed = materialization_metadata(result)
    assert changed["sales/accounts"]["extract_mode"] == "incremental (0 changed, 1 deleted)"
    assert changed["sales/accounts"]["dagster/row_count"] == extracted  # +1 created, -1 deleted
    [orphans] = [e for e in result.get_asset_check_evaluations() if e.check_name == "reconciliation"
                 and e.asset_key.to_user_string() == "fo/customers"]
    assert not orphans.passed  # the F&O customer stays (deletes are not propagated) and is reported
    assert [r.data for r in orphans.metadata["sample"].value.records] == [
        {"key": f"usmf|{gone}", "field": "(record)", "source": "missing in source", "target": "present",
         "flow": "accounts"}]

    company.set_faults(change_tracking_retention_s=0)
    try:
        expired = materialization_metadata(run_prospect_to_cash(resources, job="accounts_flow"))
    finally:
        company.reset_faults()
    assert expired["sales/accounts"]["extract_mode"] == "full (delta token expired)"
    assert expired["sales/accounts"]["dagster/row_count"] == extracted
    assert expired["fo/customers"]["rows_created"] + expired["fo/customers"]["rows_updated"] == 0

    forced = materialization_metadata(run_prospect_to_cash(resources, job="accounts_flow", full_resync=True))
    assert forced["sales/accounts"]["extract_mode"] == "full (requested)"
    customers_written = forced["fo/customers"]
    assert customers_written["rows_unchanged"] == 0 and customers_written["rows_created"] == 0
    assert customers_written["rows_updated"] == len(dv.read("accounts", select=["accountid"], filter="statecode eq 0")) \
        + len(dv.read("contacts", select=["contactid"], filter="msdynce_isactivecustomer eq true and statecode eq 0"))


def test_a_flow_found_as_its_last_run_left_it_is_not_planned_again(dv, resources, monkeypatch):
    """Same source rows, rules, code and ledger records as when the flow last settled (no problem row, no
    orphan): the run reports every row unchanged without mapping one; a changed row is planned alone."""
    import p2c_assets.engine.sync as engine

    planned = []
    plan_rows = engine.plan_rows
    monkeypatch.setattr(engine, "plan_rows", lambda template, *a, **k: planned.append(template.name)
                        or plan_rows(template, *a, **k))

    def run() -> dict:
        planned.clear()
        return target_metadata(run_prospect_to_cash(resources, job="accounts_flow"))["fo/customers"]

    before = run()  # settles what earlier tests left
    quiet = run()
    assert "accounts" not in planned and "rows not mapped again" in quiet["result"]
    assert (quiet["rows_unchanged"], quiet["rows_extracted"], quiet["rows_filtered_out"]) == (
        before["rows_unchanged"] + before["rows_created"] + before["rows_updated"], before["rows_extracted"],
        before["rows_filtered_out"])
    assert quiet["http_requests"] == 0

    [number] = dv.read("accounts", select=["accountnumber"], filter="statecode eq 0").head(1)["accountnumber"]
    dv.upsert_many("accounts", [{"accountnumber": number, "telephone1": "+1 555 0199"}], key=["accountnumber"])
    changed = run()
    assert "accounts" in planned and changed["rows_updated"] == 1
    # the changed account alone was planned; the contacts that are customers were as they settled
    assert f"(1 of {changed['rows_extracted']} source rows planned: the others as the last run left them)" \
        in changed["result"]
    run()
    assert "accounts" not in planned  # settled again

    [refused] = new_accounts(dv, "UNSETTLED", 1, name="N" * 130)
    assert run()["rows_rejected"] == 1 and "accounts" in planned
    assert run()["rows_rejected"] == 1 and "accounts" in planned  # a problem row keeps it planned, and reported
    dv.upsert_many("accounts", [{"accountnumber": refused, "name": "Settled at last"}], key=["accountnumber"])
    assert run()["rows_created"] == 1
    run()
    assert "accounts" not in planned


def test_a_source_whose_change_feed_found_nothing_new_passes_on_the_frames_it_stored(dv, resources, tmp_path,
                                                                                      company):
    """On an instance that keeps its storage (a deployment, `p2c run`), a Dataverse source that read
    nothing new loads, checks and stores nothing: the frames its last run stored go on, with that check."""
    import dagster as dg

    instance = dg.DagsterInstance.ephemeral(tempdir=str(tmp_path))

    def run() -> dg.ExecuteInProcessResult:
        return run_prospect_to_cash(resources, job="accounts_flow", instance=instance)

    def schema_check(result) -> tuple:
        [check] = [e for e in result.get_asset_check_evaluations() if e.check_name == "pandera_schema"
                   and e.asset_key.to_user_string() == "sales/accounts"]
        return check.passed, check.metadata["failing_rows"].value

    first = run()
    key, companies = dg.AssetKey(["sales", "accounts"]), list(resources["flow_settings"].get().companies)
    stored_frame = LegalEntityFrames().load(instance, key, companies)
    dtypes = stored_frame.dtypes
    assert (stored_frame.dtypes == TEXT).sum() > 5  # the extracted source's text unique per row is pyarrow's
    # and its columns of few values (GUIDs of currencies, business units) one string per value and file
    shared = [c for c in stored_frame if stored_frame[c].dtype == object and stored_frame[c].map(type).eq(str).any()]
    assert {"_transactioncurrencyid_value", "_owningbusinessunit_value"} <= set(shared)
    assert all(stored_frame[c].dropna().map(id).nunique() <= len(companies) * stored_frame[c].dropna().nunique()
               for c in shared)
    quiet = run()
    stored, reused = materialization_metadata(first)["sales/accounts"], materialization_metadata(quiet)["sales/accounts"]
    assert "frames" not in stored and reused["frames"].startswith("unchanged")
    assert reused["dagster/row_count"] == stored["dagster/row_count"] and schema_check(quiet) == schema_check(first)
    assert quiet.success and target_metadata(quiet)["fo/customers"]["rows_extracted"] == \
        target_metadata(first)["fo/customers"]["rows_extracted"]

    # a few changes are applied to the stored frames: the whole source is not loaded from the ledger again
    [number] = new_accounts(dv, "FRAMES", 1)
    changed = run()
    patched = materialization_metadata(changed)["sales/accounts"]
    assert "frames" not in patched and patched["extract_mode"] == (
        f"incremental (1 changed, 0 deleted); 1 rows applied to the {stored['dagster/row_count']} stored")
    assert patched["dagster/row_count"] == stored["dagster/row_count"] + 1
    assert target_metadata(changed)["fo/customers"]["rows_created"] == 1
    pd.testing.assert_series_equal(LegalEntityFrames().load(instance, key, companies).dtypes, dtypes)

    [account_id] = dv.read("accounts", select=["accountid"], filter=f"accountnumber eq '{number}'")["accountid"]
    dv.upsert_many("accounts", [{"accountnumber": number, "telephone1": "+1 555 0142"}], key=["accountnumber"])
    renamed = run()
    assert materialization_metadata(renamed)["sales/accounts"]["dagster/row_count"] == stored["dagster/row_count"] + 1
    assert (target_metadata(renamed)["fo/customers"]["rows_updated"], target_metadata(renamed)["fo/customers"][
        "rows_created"]) == (1, 0)
    token = company.token("dataverse")
    requests.delete(f"{company.dataverse_url}/api/data/v9.2/accounts({account_id})", timeout=10,
                    headers={"Authorization": f"Bearer {token}"}).raise_for_status()
    gone = materialization_metadata(run())["sales/accounts"]
    assert gone["extract_mode"].startswith("incremental (0 changed, 1 deleted); 0 rows applied")
    assert gone["dagster/row_count"] == stored["dagster/row_count"]
    # what the patches made is what a full read makes
    full = materialization_metadata(run_prospect_to_cash(resources, job="accounts_flow", instance=instance,
                                                         full_resync=True))["sales/accounts"]
    assert full["dagster/row_count"] == gone["dagster/row_count"]


def test_records_are_made_as_they_are_read_a_slice_of_columns_at_a_time():
    """`Records`, what `write` hands a client: one record per payload row, in order, without its blanks
    (a sync never blanks a field), whole floats as ints, values as Python's; by index and slice too."""
    from p2c_assets.engine.sync import Records

    payload = pd.DataFrame({"CustomerAccount": [f"C-{i}" for i in range(25)], "CreditLimit": [1.0] * 24 + [2.5],
                            "Phone": [None] * 24 + ["555"]}, dtype=object)
    records = Records(payload)
    records.SLICE = 10  # three slices
    made = list(records)
    assert len(records) == len(made) == 25 and made[0] == {"CustomerAccount": "C-0", "CreditLimit": 1}
    assert type(made[0]["CreditLimit"]) is int and made[24] == {"CustomerAccount": "C-24", "CreditLimit": 2.5,
                                                                "Phone": "555"}
    assert records[24] == records[-1] == made[24] and records[9:12] == made[9:12]


def test_outcomes_hold_their_target_ids_in_pyarrow_a_part_at_a_time_in_row_order(monkeypatch):
    """`_outcomes` reads each outcome once into four columns; the target ids (an F&O key predicate each)
    go to pyarrow `IDS_AT_ONCE` at a time, in row order, NaN where a row has none (a failure)."""
    from p2c_assets.connectors.protocol import WriteOutcome
    from p2c_assets.engine import sync

    monkeypatch.setattr(sync, "IDS_AT_ONCE", 2)
    results = [WriteOutcome(("usmf", f"C-{i}"), "created", target_id=f"dataAreaId='usmf',CustomerAccount='C-{i}'")
               for i in range(4)]
    results.insert(2, WriteOutcome(("usmf", "BAD"), "failed", error_code="Invalid", error_message="refused"))
    outcomes = sync._outcomes([10, 11, 12, 13, 14], iter(results))
    assert list(outcomes.columns) == sync.OUTCOME_COLUMNS and list(outcomes.index) == [10, 11, 12, 13, 14]
    assert outcomes["target_id"].dtype == TEXT
    assert outcomes["target_id"].tolist()[:2] == ["dataAreaId='usmf',CustomerAccount='C-0'",
                                                  "dataAreaId='usmf',CustomerAccount='C-1'"]
    assert pd.isna(outcomes.loc[12, "target_id"]) and outcomes.loc[12].tolist()[::2] == ["failed", "Invalid"]
    assert outcomes.loc[14, "target_id"] == "dataAreaId='usmf',CustomerAccount='C-3'"
    assert sync._outcomes([], []).empty
