"""A settled flow whose source changed in a few rows plans those rows alone (`engine.settled`), against a
seeded sandbox: what it writes, reports and records is what a full plan would, and whatever a full plan
could decide otherwise (a row gone, a key taken twice, a row the filter now drops) plans every row.

Each run that leaves no problem row is checked against a full plan right after it, on the same ledger and
target: that plan must find nothing to do and settle the flow exactly as the run did (the same records,
and the same rows, keys and orphans remembered). The ledger is a SQLite file and a PostgreSQL database
in turn (the `ledger` fixture).
"""

import json
from dataclasses import replace

import pandas as pd
import pytest
import sqlalchemy as sa

from p2c_assets.engine.extract import extract
from p2c_assets.engine.ledger import Ledger, RecordOutcome
from p2c_assets.engine.ledger.tables import records
from p2c_assets.engine.sync import sync
from p2c_assets.flows import TEMPLATES

COMPANIES = {"usmf": "USMF Sales", "demf": "DEMF Sales"}
ACCOUNTS = replace(TEMPLATES["accounts"], row_filter="telephone1 != 'filtered'")  # a filter that rows can fall under
CURSORS = ("settled@demf,usmf", "settled-rows@demf,usmf")
COMPANY = (20, 12)  # the seeded sandbox of this module: scale, seed (conftest.company)


@pytest.fixture(scope="module")
def source(clients) -> pd.DataFrame:
    dv, _ = clients
    source = extract(dv, ACCOUNTS.source, companies=COMPANIES)
    assert len(source) == 20 and source.index.is_unique
    return source


@pytest.fixture
def run(clients, ledger):
    """A sync of the accounts flow over a source frame, then (when it left no problem row) a full plan."""
    _, fo = clients

    def run(source: pd.DataFrame):
        report = sync(ACCOUNTS, source, client=fo, ledger=ledger, companies=COMPANIES)
        if report.problems.empty:
            remembered, version = [ledger.get_cursor("accounts", c) for c in CURSORS], ledger.version("accounts")
            for name in CURSORS:
                ledger.put_cursor("accounts", name, None)
            full = sync(ACCOUNTS, source, client=fo, ledger=ledger, companies=COMPANIES)
            assert full.planned == len(source) and full.problems.empty
            assert dict(full.counts) == {"unchanged": sum(report.counts.values())}
            assert (full.extracted, full.filtered) == (report.extracted, report.filtered)
            assert ledger.version("accounts") == version  # every record as the run left it
            assert [ledger.get_cursor("accounts", c) for c in CURSORS] == remembered
        return report

    return run


def recorded_in(ledger: Ledger, report) -> list[str]:
    """The keys whose records the run of `report` wrote to the ledger."""
    query = sa.select(records.c.natural_key).where(records.c.flow == "accounts", records.c.last_run == report.run_id)
    with ledger._engine.connect() as conn:
        return sorted(conn.scalars(query))


def key(frame: pd.DataFrame, row: int) -> str:
    """The record key of the source row at `row`: its legal entity and account number."""
    return f"{frame['business_unit'].iloc[row][:4].lower()}|{frame['accountnumber'].iloc[row]}"


def changed(source: pd.DataFrame, row: int, **values) -> pd.DataFrame:
    frame = source.copy()
    for column, value in values.items():
        frame.loc[frame.index[row], column] = value
    return frame


def added(source: pd.DataFrame, number: str, **values) -> pd.DataFrame:
    """`source` and a new row after it: a copy of its first row as account `number`."""
    row = source.iloc[[0]].assign(accountnumber=number, accountid=f"new-{number}", **values)
    return pd.concat([source, row.set_axis([source.index.max() + 1])])


def test_changed_and_new_rows_are_planned_alone_and_every_other_row_reported_unchanged(run, ledger, source):
    first = run(source)
    assert first.planned == 20 and first.counts["created"] + first.counts["updated"] == 20

    phone = changed(source, 3, telephone1="+1 555 0142")
    one = run(phone)
    assert (one.planned, dict(one.counts), one.extracted, one.filtered) == (1, {"updated": 1, "unchanged": 19}, 20, 0)
    assert recorded_in(ledger, one) == [key(phone, 3)]
    assert one.preview["CustomerAccount"].tolist() == [phone["accountnumber"].iloc[3]]

    more = added(phone, "ACC-ROWS-1", name="A new customer")
    new = run(more)
    assert (new.planned, new.counts["unchanged"], new.extracted) == (1, 20, 21)
    assert new.counts["created"] + new.counts["updated"] == 1  # updated: a run on the other ledger created it
    assert recorded_in(ledger, new) == [key(more, 20)]


def test_a_row_the_filter_now_drops_plans_every_row_and_one_it_dropped_before_does_not(run, source):
    run(source)
    dropped = run(changed(source, 5, telephone1="filtered"))
    assert (dropped.planned, dict(dropped.counts), dropped.filtered) == (20, {"unchanged": 19}, 1)

    still = run(changed(source, 5, telephone1="filtered", name="Renamed, still filtered"))
    assert (still.planned, dict(still.counts), still.filtered) == (1, {"unchanged": 19}, 1)

    kept = source.drop(index=source.index[5]).iloc[::-1]  # the dropped row gone, the others in another order
    same = run(kept)
    assert (same.planned, dict(same.counts), same.filtered, same.requests) == (0, {"unchanged": 19}, 0, 0)


def test_a_deleted_row_plans_every_row_and_its_record_stays_an_orphan(run, ledger, source):
    run(source)
    fewer = source.drop(index=source.index[7])
    gone = run(fewer)
    assert (gone.planned, dict(gone.counts)) == (19, {"unchanged": 19})
    assert json.loads(ledger.get_cursor("accounts", CURSORS[0]))["orphans"] == [key(source, 7)]

    then = run(changed(fewer, 0, name="Renamed after a deletion"))  # the orphan is kept with the flow
    assert (then.planned, dict(then.counts)) == (1, {"updated": 1, "unchanged": 18})

    back = run(pd.concat([changed(fewer, 0, name="Renamed after a deletion"), source.loc[[source.index[7]]]]))
    assert (back.planned, dict(back.counts)) == (1, {"unchanged": 20})  # as it landed: nothing to write
    assert json.loads(ledger.get_cursor("accounts", CURSORS[0]))["orphans"] == []


def test_a_key_taken_twice_plans_every_row_and_both_rows_are_rejected_as_duplicates(run, source):
    run(source)
    taken = changed(source, 2, accountnumber=source["accountnumber"].iloc[9])
    twice = run(taken)
    assert (twice.planned, twice.counts["rejected"]) == (20, 2)
    assert set(twice.problems["key"]) == {key(source, 9)}
    assert twice.problems["reason"].str.contains("duplicate key").all()

    run(source)  # settled again
    copy = run(added(source, source["accountnumber"].iloc[0], name="A copy"))  # a new row with a row's key
    assert (copy.planned, copy.counts["rejected"]) == (21, 2)

    run(source)
    both = run(added(added(source, "ACC-ROWS-2", name="One"), "ACC-ROWS-2", name="The other"))
    assert (both.planned, both.counts["rejected"]) == (22, 2)


def test_the_ledger_reads_the_records_of_the_changed_rows_alone(ledger):
    keys = ["usmf|O'Brien 50%", "usmf|ACC-1", *(f"usmf|ACC-{n}" for n in range(2, 1200))]
    run_id = ledger.start_run("accounts")
    ledger.record(run_id, "accounts", [RecordOutcome(key=k, legal_entity="usmf", content_hash="h", outcome="created")
                                       for k in keys])
    assert sorted(ledger.states("accounts", [keys[0], "usmf|acc-1", "usmf|ACC-1199"])) == ["usmf|ACC-1199", keys[0]]
    assert sorted(ledger.states("accounts", keys[1:])) == sorted(keys[1:])  # more keys than one query takes
    assert list(ledger.states("accounts", [])) == []


def test_a_run_of_one_legal_entity_that_writes_leaves_the_others_settled(clients, ledger, source):
    """The schedule runs each legal entity apart: what a demf run records says nothing about usmf's rows."""
    _, fo = clients
    by_company = {c: source[source["business_unit"] == unit] for c, unit in COMPANIES.items()}
    assert all(len(rows) for rows in by_company.values())

    def sync_of(company: str, frame: pd.DataFrame):
        return sync(ACCOUNTS, frame, client=fo, ledger=ledger, companies={company: COMPANIES[company]})

    for company, rows in by_company.items():  # each settles
        sync_of(company, rows)
    demf = sync_of("demf", changed(by_company["demf"], 0, name="Renamed in demf"))
    assert demf.counts["updated"] == 1  # recorded: the flow's ledger records are not as they were
    usmf = sync_of("usmf", by_company["usmf"])
    assert usmf.settled and (usmf.planned, dict(usmf.counts)) == (0, {"unchanged": len(by_company["usmf"])})
