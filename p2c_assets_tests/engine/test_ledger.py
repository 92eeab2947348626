"""The sync ledger on SQLite and on a real PostgreSQL server (see conftest.py)."""

from __future__ import annotations

import multiprocessing
import time
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from p2c_assets.engine.ledger import MIGRATIONS, VERSION_TABLE, Ledger, RecordOutcome
from p2c_assets.engine.ledger.cursors import DELTA_LINK
from p2c_assets.engine.ledger.tables import runs
from p2c_assets.history import history_text


def _head_revision() -> str:
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    return ScriptDirectory.from_config(config).get_current_head()


HEAD = _head_revision()  # the newest migration: upgrade() must always land there

FLOW = "accounts"


def ok(key: str, outcome: str = "created", content_hash: str = "h1", target_id: str | None = None) -> RecordOutcome:
    return RecordOutcome(key, "usmf", content_hash, outcome, target_id or f"id-{key}")


def bad(key: str, outcome: str = "failed", message: str = "Infolog: customer group '99' not found") -> RecordOutcome:
    return RecordOutcome(key, "usmf", "h1", outcome, None, "0x80040265", message)


def one_run(ledger: Ledger, rows: list[RecordOutcome], flow: str = FLOW) -> tuple[int, dict[str, int]]:
    run = ledger.start_run(flow)
    counts = ledger.record(run, flow, rows)
    ledger.finish_run(run, counts, requests=1)
    return run, counts


def test_outcomes_are_counted_and_errors_listed_per_run(ledger):
    run, counts = one_run(
        ledger,
        [
            ok("ACC-1"),
            ok("ACC-2", "updated"),
            ok("ACC-3", "unchanged"),
            bad("ACC-4", "rejected", "CreditLimit: must be at least 0"),
            bad("ACC-5", "failed"),
            bad("ACC-6", "blocked", "header ACC-5 failed"),
        ],
    )

    assert counts == {"created": 1, "updated": 1, "unchanged": 1, "rejected": 1, "failed": 1, "blocked": 1}
    [summary] = ledger.history(flow=FLOW)
    assert (summary.id, summary.status, summary.requests) == (run, "success", 1)
    assert summary.counts == {**counts, "parked": 0}
    assert summary.finished_at >= summary.started_at and summary.started_at.tzinfo is not None
    errors = ledger.run_errors(run)
    assert [(e.key, e.outcome, e.error_message) for e in errors] == [
        ("ACC-4", "rejected", "CreditLimit: must be at least 0"),
        ("ACC-5", "failed", "Infolog: customer group '99' not found"),
        ("ACC-6", "blocked", "header ACC-5 failed"),
    ]
    states = ledger.states(FLOW)
    assert states["ACC-1"].target_id == "id-ACC-1" and states["ACC-1"].outcome == "created"
    assert states["ACC-4"].outcome == "rejected" and states["ACC-4"].attempts == 0
    assert ledger.pending(FLOW) == ["ACC-5", "ACC-6"]


def test_target_id_survives_a_failure_and_errors_clear_on_success(ledger):
    one_run(ledger, [ok("ACC-1", target_id="guid-1")])
    failed_run, _ = one_run(ledger, [RecordOutcome("ACC-1", "usmf", "h2", "failed", None, "500", "server busy")])

    state = ledger.states(FLOW)["ACC-1"]
    assert (state.target_id, state.content_hash, state.outcome, state.attempts) == ("guid-1", "h2", "failed", 1)

    fixed_run, counts = one_run(ledger, [ok("ACC-1", "updated", "h2", target_id="guid-1")])
    state = ledger.states(FLOW)["ACC-1"]
    assert counts == {"updated": 1}
    assert (state.outcome, state.attempts, state.parked) == ("updated", 0, False)
    assert ledger.pending(FLOW) == [] and ledger.run_errors(fixed_run) == []
    assert [e.error_message for e in ledger.run_errors(failed_run)] == ["server busy"]  # history is kept


def test_records_keep_failing_until_parked_then_unpark_retries_them(ledger):  # max_attempts=3
    for attempt, expected in ((1, {"failed": 1, "blocked": 1}), (2, {"failed": 1, "blocked": 1})):
        _, counts = one_run(ledger, [bad("ACC-1"), bad("ACC-2", "blocked")])
        assert counts == expected
        # a blocked line waits for its header: it is not at fault, so it gathers no attempts
        assert {key: s.attempts for key, s in ledger.states(FLOW).items()} == {"ACC-1": attempt, "ACC-2": 0}
    one_run(ledger, [bad("CON-1")], flow="contacts")

    third, counts = one_run(ledger, [bad("ACC-1"), bad("ACC-2", "blocked")])

    assert counts == {"parked": 1, "blocked": 1}
    assert {key: s.parked for key, s in ledger.states(FLOW).items()} == {"ACC-1": True, "ACC-2": False}
    assert ledger.pending(FLOW) == ["ACC-2"]
    assert [(e.key, e.outcome) for e in ledger.run_errors(third)] == [("ACC-1", "parked"), ("ACC-2", "blocked")]
    assert ledger.history(flow=FLOW, limit=1)[0].counts["parked"] == 1

    assert ledger.unpark(flow="contacts") == 0  # nothing parked there
    assert ledger.unpark(flow=FLOW) == 1
    assert ledger.pending(FLOW) == ["ACC-1", "ACC-2"]
    assert {(s.attempts, s.parked) for s in ledger.states(FLOW).values()} == {(0, False)}
    one_run(ledger, [ok("ACC-1", "updated")])
    assert ledger.pending(FLOW) == ["ACC-2"]


def test_a_version_of_some_legal_entities_moves_with_their_records_only(ledger):
    """What a settled flow is compared by (`engine.settled`): a demf run that writes must not make the next
    usmf run plan every row again; a record of no legal entity counts for every one."""
    one_run(ledger, [ok("ACC-1"), RecordOutcome("ACC-2", "DEMF", "h1", "created", "id-2")])
    usmf, demf, both = (ledger.version(FLOW, c) for c in (["usmf"], ["demf"], ["usmf", "demf"]))
    one_run(ledger, [RecordOutcome("ACC-2", "demf", "h2", "updated", "id-2")])
    assert ledger.version(FLOW, ["USMF"]) == usmf
    assert ledger.version(FLOW, ["demf"]) != demf and ledger.version(FLOW, ["usmf", "demf"]) != both
    one_run(ledger, [RecordOutcome("ACC-3", None, None, "rejected", None, "schema", "no legal entity")])
    assert ledger.version(FLOW, ["usmf"]) != usmf


def test_a_flow_name_is_a_parameter_of_the_states_query_never_its_text(ledger):
    """`states` reads every record through the driver's own cursor: a name with `%` or a quote must
    neither break the query (PostgreSQL's driver reads `%` as a placeholder) nor match another flow."""
    for flow in ("50% off", "o'brien", FLOW):
        one_run(ledger, [ok(f"{flow}-1")], flow=flow)
    for flow in ("50% off", "o'brien", FLOW):
        assert list(ledger.states(flow).frame.index) == [f"{flow}-1"]
        assert list(ledger.states(flow, [f"{flow}-1"]).frame.index) == [f"{flow}-1"]


def test_unchanged_runs_add_no_events_but_mark_records_seen(ledger):
    first, _ = one_run(ledger, [ok("ACC-1"), ok("ACC-2")])
    second, counts = one_run(ledger, [ok("ACC-1", "unchanged"), ok("ACC-2", "unchanged")])

    assert counts == {"unchanged": 2}
    assert ledger.run_errors(second) == []
    with ledger._engine.connect() as conn:
        events = conn.execute(sa.text("SELECT run_id, count(*) FROM p2c_record_events GROUP BY run_id")).all()
        last_runs = conn.execute(sa.text("SELECT DISTINCT last_run FROM p2c_records")).scalars().all()
    assert events == [(first, 2)]
    assert last_runs == [second]


def test_source_rows_and_delta_link_move_together_and_only_from_where_they_were(ledger):
    link = "https://org/api/data/v9.2/accounts?$deltatoken={}"
    assert ledger.get_cursor("sales/accounts", DELTA_LINK) is None
    assert ledger.advance_source("sales/accounts", [("a1", {"name": "A"})], after=None, to=link.format(1), replace=True)
    assert ledger.advance_source("sales/contacts", [("c1", {"fullname": "C"})], after=None, to="token-c", replace=True)
    # a run of another legal entity read from token 1 too and moved on first: this one's older read is refused
    assert ledger.advance_source("sales/accounts", [("a2", {"name": "B"})], after=link.format(1), to=link.format(2))
    assert not ledger.advance_source("sales/accounts", [("a2", {"name": "stale"})], after=link.format(1),
                                     to=link.format(3), removed=["a1"])

    assert ledger.get_cursor("sales/accounts", DELTA_LINK) == link.format(2)
    assert ledger.load_source("sales/accounts").to_dict("records") == [{"name": "A"}, {"name": "B"}]
    assert ledger.get_cursor("sales/contacts", DELTA_LINK) == "token-c"
    assert ledger.advance_source("sales/accounts", [("a3", {"name": "C"})], after=link.format(2), to=link.format(3),
                                 replace=True)  # a full read replaces every row
    assert ledger.load_source("sales/accounts").to_dict("records") == [{"name": "C"}]


def test_a_key_given_twice_is_told_by_the_staged_rows_not_by_equal_hashes(ledger, monkeypatch):
    """`record` keeps a hash per key, not the keys: when two hashes are equal the staged rows say whether a
    key came twice. Distinct keys whose hashes are equal land; a key given twice fails the call, and
    nothing of it lands."""
    from p2c_assets.engine.ledger import records

    monkeypatch.setattr(records, "_hash", lambda key: 0)
    run = ledger.start_run(FLOW)
    assert ledger.record(run, FLOW, [ok("ACC-1"), ok("ACC-2"), ok("ACC-3")]) == {"created": 3}
    with pytest.raises(ValueError, match=r"record 'ACC-5': given twice"):
        ledger.record(run, FLOW, [ok("ACC-4"), ok("ACC-5"), bad("ACC-5")])
    assert sorted(ledger.states(FLOW)) == ["ACC-1", "ACC-2", "ACC-3"]


def test_bad_input_names_the_record_and_the_field(ledger):
    run = ledger.start_run(FLOW)
    with pytest.raises(ValueError, match=r"record 'ACC-2': field 'outcome' is 'done'"):
        ledger.record(run, FLOW, [ok("ACC-1"), RecordOutcome("ACC-2", "usmf", "h", "done")])
    with pytest.raises(ValueError, match=r"record #1: field 'key' must be a non-empty string"):
        ledger.record(run, FLOW, [ok("ACC-1"), ok("")])
    with pytest.raises(ValueError, match=r"record 'ACC-1': given twice"):
        ledger.record(run, FLOW, [ok("ACC-1"), bad("ACC-1")])
    with pytest.raises(ValueError, match=r"run 999 does not exist"):
        ledger.record(999, FLOW, [ok("ACC-1")])
    with pytest.raises(ValueError, match=rf"run {run} belongs to flow 'accounts', not 'contacts'"):
        ledger.record(run, "contacts", [ok("CON-1")])
    with pytest.raises(ValueError, match=r"status 'green'"):
        ledger.finish_run(run, {}, status="green")
    with pytest.raises(ValueError, match=r"unknown outcome\(s\) \['moved'\]"):
        ledger.finish_run(run, {"moved": 3})
    assert ledger.states(FLOW) == {}  # nothing half-written


def test_outcomes_are_staged_as_they_come_and_a_bad_one_late_in_the_stream_records_none(ledger):
    """`record` reads its outcomes once, staging a slice at a time (`STAGED`): a generator of more than
    one slice lands whole; one whose bad row comes after whole slices were staged records nothing."""
    from p2c_assets.engine.ledger.records import STAGED

    made = []

    def outcomes(n: int, bad_at: int | None = None):
        for i in range(n):
            made.append(i)
            yield RecordOutcome(f"ACC-{i}", "usmf", "h", "done" if i == bad_at else "created")

    run = ledger.start_run(FLOW)
    with pytest.raises(ValueError, match=rf"record 'ACC-{STAGED + 5}': field 'outcome' is 'done'"):
        ledger.record(run, FLOW, outcomes(STAGED + 10, bad_at=STAGED + 5))
    assert ledger.states(FLOW) == {} and len(made) == STAGED + 6  # read up to the bad one, then nothing kept
    assert ledger.record(run, FLOW, outcomes(STAGED + 10)) == {"created": STAGED + 10}
    assert len(ledger.states(FLOW)) == STAGED + 10


def test_a_dry_run_cannot_change_the_ledger(ledger):
    run = ledger.start_run(FLOW, dagster_run_id="d4c1", dry_run=True)
    with pytest.raises(ValueError, match="is a dry run"):
        ledger.record(run, FLOW, [ok("ACC-1")])
    ledger.finish_run(run, {"created": 1})

    assert ledger.states(FLOW) == {}
    [summary] = ledger.history()
    assert (summary.dry_run, summary.dagster_run_id, summary.counts["created"]) == (True, "d4c1", 1)


def test_history_text_shows_runs_and_the_errors_of_one_run(ledger):
    run, counts = one_run(ledger, [ok("ACC-1"), bad("ACC-2", message="line one\nline two")])
    one_run(ledger, [ok("CON-1")], flow="contacts")

    table = history_text(ledger, flow=FLOW)
    [header, row] = table.splitlines()
    assert header.split()[:5] == ["run", "flow", "started", "seconds", "status"]
    assert row.split()[:2] == [str(run), FLOW] and "contacts" not in table
    assert len(history_text(ledger).splitlines()) == 3

    errors = history_text(ledger, run=run)
    assert f"Run {run} of accounts" in errors and "1 record error(s)" in errors
    assert "ACC-2" in errors and "line one line two" in errors and "ACC-1" not in errors
    with pytest.raises(ValueError, match="run 999 does not exist"):
        history_text(ledger, run=999)


def test_upgrade_is_idempotent_and_keeps_data(state_url):
    first = Ledger(state_url)
    first.upgrade()
    one_run(first, [ok("ACC-1")])
    first.upgrade()
    second = Ledger(state_url)
    second.upgrade()

    assert list(second.states(FLOW)) == ["ACC-1"]
    with second._engine.connect() as conn:
        assert conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all() == [HEAD]
    first.close()
    second.close()


def test_a_run_left_running_before_runs_had_a_heartbeat_shows_as_died_after_the_upgrade(state_url):
    ledger = Ledger(state_url)
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    with ledger._engine.begin() as conn:  # a ledger of the previous release, with a run killed long ago
        config.attributes["connection"] = conn
        command.upgrade(config, "0002")
        conn.execute(runs.insert().values(flow=FLOW, dry_run=False, status="running",
                                          started_at=datetime.now(timezone.utc) - timedelta(hours=1)))
    ledger.upgrade()

    [left] = ledger.history()
    assert (left.status, left.died, left.host) == ("running", True, None)
    assert "died" in history_text(ledger).splitlines()[1].split()
    with ledger.running(FLOW, wait_s=0) as run:  # it holds nothing
        ledger.finish_run(run, {})
    ledger.close()


def _upgrade(barrier, url: str) -> None:
    ledger = Ledger(url)
    barrier.wait()
    ledger.upgrade()


def _write(barrier, url: str, prefix: str, batches: int) -> None:
    ledger = Ledger(url, max_attempts=1000)
    ledger.upgrade()
    barrier.wait()
    for batch in range(batches):
        rows = [ok(f"{prefix}-{batch}-{i}") for i in range(300)] + [bad("SHARED")]
        one_run(ledger, rows)


def _at_once(target, *args_per_process) -> None:
    """Start one process per argument tuple; they meet at a barrier, then run `target` together."""
    context = multiprocessing.get_context("fork")  # each child opens its own Ledger after the fork
    barrier = context.Barrier(len(args_per_process))
    processes = [context.Process(target=target, args=(barrier, *args)) for args in args_per_process]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [process.exitcode for process in processes] == [0] * len(processes)


def test_concurrent_start_ups_migrate_once(state_url):
    _at_once(_upgrade, (state_url,), (state_url,))

    ledger = Ledger(state_url)
    with ledger._engine.connect() as conn:
        assert conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all() == [HEAD]
    one_run(ledger, [ok("ACC-1")])
    ledger.close()


def test_two_processes_recording_at_once_lose_nothing(state_url):
    _at_once(_write, (state_url, "A", 8), (state_url, "B", 8))

    ledger = Ledger(state_url)
    states = ledger.states(FLOW)
    assert len(states) == 2 * 8 * 300 + 1
    assert states["SHARED"].attempts == 16  # every failure counted once, none lost to a race
    assert len(ledger.history(limit=100)) == 16
    ledger.close()


def test_from_env_prefers_p2c_state_url(state_url, monkeypatch):
    monkeypatch.setenv("P2C_STATE_URL", state_url)
    monkeypatch.setenv("DAGSTER_HOME", "/nonexistent")
    ledger = Ledger.from_env(max_attempts=2)
    ledger.upgrade()
    one_run(ledger, [bad("ACC-1")])
    _, counts = one_run(ledger, [bad("ACC-1")])
    assert counts == {"parked": 1}
    ledger.close()


@pytest.mark.parametrize("dagster_home", [True, False])
def test_from_env_defaults_to_sqlite_beside_dagster_home_or_here(dagster_home, tmp_path, monkeypatch):
    monkeypatch.delenv("P2C_STATE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    if dagster_home:
        monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    else:
        monkeypatch.delenv("DAGSTER_HOME", raising=False)
    ledger = Ledger.from_env()
    ledger.upgrade()
    one_run(ledger, [ok("ACC-1")])
    ledger.close()

    expected = tmp_path / "dagster" / "p2c_state.db" if dagster_home else tmp_path / ".p2c" / "state.db"
    assert expected.is_file()


def test_urls_never_show_their_password():
    ledger = Ledger("postgresql://p2c:s3cret-pw@127.0.0.1:1/state")
    assert "s3cret-pw" not in repr(ledger) and "postgresql+psycopg://p2c:***@" in repr(ledger)
    with pytest.raises(ValueError, match="unsupported database 'mysql'") as error:
        Ledger("mysql://p2c:s3cret-pw@localhost/state")
    assert "s3cret-pw" not in str(error.value)


def test_recording_100k_rows_takes_seconds(ledger, state_url, capsys):
    rows = [ok(f"ACC-{i:06d}", content_hash=f"{i:064x}") for i in range(100_000)]
    started = time.perf_counter()
    _, created = one_run(ledger, rows)
    first = time.perf_counter() - started
    started = time.perf_counter()
    _, unchanged = one_run(ledger, [ok(row.key, "unchanged", row.content_hash) for row in rows])
    again = time.perf_counter() - started

    assert created == {"created": 100_000} and unchanged == {"unchanged": 100_000}
    with capsys.disabled():
        backend = state_url.split(":")[0]
        print(f"\n[ledger] {backend}: record() 100,000 created {first:.1f}s, 100,000 unchanged {again:.1f}s")


def test_stored_source_rows_load_as_the_frame_of_their_dicts(ledger):
    """`load_source` builds from tuples, a chunk at a time, the frame `from_records` makes of the rows'
    dicts: dtypes inferred over every row, columns in order of first appearance, NaN where a row
    lacks one (stored before the source gained it), equal strings one object."""
    rows = [(f"id{i:04d}", {"n": i, "price": None if i % 3 else 1.5, "ok": True, "none": None,
                            "unit": "pcs" if i % 2 else None, **({"new": f"x{i % 2}"} if i > 2500 else {})})
            for i in range(5000)]
    assert ledger.advance_source("sales/products", reversed(rows), after=None, to="t1", replace=True)
    expected = pd.DataFrame.from_records([row for _, row in rows])
    loaded = ledger.load_source("sales/products")
    pd.testing.assert_frame_equal(loaded, expected)
    assert loaded["unit"][1] is loaded["unit"][3] and loaded["new"][2501] is loaded["new"][2503]

    # rows read again replace theirs, removed ids go, the others stay
    assert ledger.advance_source("sales/products", [("id0001", {"n": -1})], after="t1", to="t2",
                                 removed=["id0002", "id0003"])
    loaded = ledger.load_source("sales/products")
    assert len(loaded) == 4998 and loaded["n"].tolist()[:3] == [0, -1, 4]
    assert loaded.loc[1, ["price", "unit"]].isna().all()
    assert ledger.load_source("sales/unknown").empty


def test_stored_source_rows_load_compact_a_part_at_a_time_as_the_whole_frame_made_compact(ledger, monkeypatch):
    """`load_source(compact=True)`: the text of every `COMPACTED_AT` rows goes to pyarrow before the next
    are decoded, and the parts join into the frame `compact_text` then `fit_text` make of the whole, dtypes
    inferred over every row: a column blank in a whole part (prices, a column the source gained later)
    keeps its type; a column of few values is held as shared Python strings."""
    from p2c_assets.connectors.frames import TEXT, compact_text, fit_text
    from p2c_assets.engine.ledger import cursors

    monkeypatch.setattr(cursors, "COMPACTED_AT", 1000)
    rows = [(f"id{i:04d}", {"name": f"n{i}", "price": 1.5 * i if i >= 2500 else None, "count": i, "none": None,
                            "unit": "pcs" if i % 2 else None, **({"new": f"x{i % 2}"} if i > 2500 else {})})
            for i in range(5000)]
    assert ledger.advance_source("sales/products", rows, after=None, to="t1", replace=True)
    loaded = ledger.load_source("sales/products", compact=True)
    pd.testing.assert_frame_equal(loaded, fit_text(compact_text(ledger.load_source("sales/products"))))
    assert loaded.dtypes.to_dict() == {"name": TEXT, "price": "float64", "count": "int64", "none": TEXT,
                                     "unit": object, "new": object}
    assert loaded["unit"].dropna().map(id).nunique() == 1 and loaded["new"].dropna().map(id).nunique() == 2
    assert ledger.load_source("sales/unknown", compact=True).empty
