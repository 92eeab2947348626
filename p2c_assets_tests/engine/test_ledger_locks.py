"""One run at a time per flow, and runs that die shown as such, on SQLite and a real PostgreSQL server.

Each "process" here is its own `Ledger` (its own connections), in a thread or a forked process, as two
`p2c run` or two Dagster run workers would be.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from p2c_assets.engine.ledger import FlowLocked, Ledger, RecordOutcome
from p2c_assets.engine.ledger.tables import now
from p2c_assets.history import history_text

FLOW = "accounts"


def created(*keys: str) -> list[RecordOutcome]:
    return [RecordOutcome(key, "usmf", "h1", "created", f"id-{key}") for key in keys]


def set_run(ledger: Ledger, run: int, **values) -> None:
    """Change a run row as another machine's process would have left it."""
    with ledger._engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE p2c_runs SET {', '.join(f'{k} = :{k}' for k in values)} WHERE id = :run"),
                     {**values, "run": run})


def test_runs_of_one_flow_take_turns_while_other_flows_go_on(state_url, ledger):
    barrier = threading.Barrier(4)
    held: list[tuple[int, float, float]] = []

    def one_run(index: int) -> None:
        own = Ledger(state_url)  # its own connections, like another process
        barrier.wait()
        with own.running(FLOW, wait_s=60) as run:
            entered = time.monotonic()
            time.sleep(0.3)  # long enough for the others to try and wait
            own.record(run, FLOW, created(f"ACC-{index}"))
            own.finish_run(run, {"created": 1})
            held.append((run, entered, time.monotonic()))
        own.close()

    threads = [threading.Thread(target=one_run, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    with ledger.running("contacts", wait_s=0) as other:  # another flow is never held up
        ledger.finish_run(other, {})
    for thread in threads:
        thread.join(timeout=120)

    held.sort(key=lambda entry: entry[1])
    assert len(held) == 4
    assert all(previous[2] <= following[1] for previous, following in zip(held, held[1:]))  # never two at once
    runs = ledger.history(flow=FLOW)
    assert sorted(r.id for r in runs) == sorted(run for run, _, _ in held)
    assert {(r.status, r.counts["created"], r.died) for r in runs} == {("success", 1, False)}
    assert len(ledger.states(FLOW)) == 4


def test_a_run_that_cannot_wait_names_the_run_that_holds_the_flow(state_url, ledger, monkeypatch):
    other = Ledger(state_url)
    with ledger.running(FLOW, dagster_run_id="first") as holder:
        started = time.monotonic()
        with pytest.raises(FlowLocked) as error:
            with other.running(FLOW, wait_s=0.5):
                pytest.fail("entered a flow another run holds")
        assert time.monotonic() - started >= 0.5  # it waited as long as it was told
        monkeypatch.setenv("P2C_LOCK_WAIT_S", "0")
        with pytest.raises(FlowLocked):
            with other.running(FLOW):
                pytest.fail("entered a flow another run holds")
        monkeypatch.setenv("P2C_LOCK_WAIT_S", "ten minutes")
        with pytest.raises(ValueError, match="P2C_LOCK_WAIT_S='ten minutes': expected a number of seconds"):
            with other.running(FLOW):
                pytest.fail("entered with a wait it could not read")
        ledger.finish_run(holder, {})
    other.close()

    summary = ledger.run(holder)
    message = str(error.value)
    assert f"flow '{FLOW}' is being synced by ledger run {holder}" in message
    assert f"on host {summary.host} (pid {os.getpid()})" in message
    assert f"started {summary.started_at:%Y-%m-%d %H:%M:%S} UTC" in message and "waiting 0.5 s" in message
    assert [r.id for r in ledger.history()] == [holder]  # the runs that gave up left no run behind


def _die_while_holding(url: str, recorded, ready) -> None:
    ledger = Ledger(url)
    with ledger.running(FLOW) as run:
        ledger.record(run, FLOW, created("ACC-1", "ACC-2", "ACC-3"))
        recorded.value = run
        ready.set()
        time.sleep(600)  # killed here, before it can finish


def test_a_killed_run_shows_as_died_with_what_it_wrote_and_its_flow_is_taken_over(state_url, ledger):
    context = multiprocessing.get_context("fork")
    recorded, ready = context.Value("i", 0), context.Event()
    child = context.Process(target=_die_while_holding, args=(state_url, recorded, ready))
    child.start()
    assert ready.wait(timeout=60)
    with pytest.raises(FlowLocked):  # alive: it holds the flow
        with ledger.running(FLOW, wait_s=0):
            pytest.fail("entered a flow a live run holds")
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    dead = recorded.value

    summary = ledger.run(dead)
    assert (summary.status, summary.died, summary.pid) == ("running", True, child.pid)
    assert summary.counts["created"] == 3  # from the record events it wrote before it died
    [row] = [line for line in history_text(ledger, flow=FLOW).splitlines() if line.split()[0] == str(dead)]
    assert "died" in row.split() and "running" not in row.split()
    assert "3 row(s) were recorded as written before it died" in history_text(ledger, run=dead)

    with ledger.running(FLOW, wait_s=0) as run:  # taken over at once: no waiting for a dead process
        ledger.finish_run(run, {})
    assert ledger.run(run).status == "success"


def test_a_silent_run_on_another_machine_holds_its_flow_until_its_heartbeat_is_stale(state_url, ledger):
    other = Ledger(state_url)
    with pytest.raises(ValueError, match="lost the flow"):
        with ledger.running(FLOW) as far:
            set_run(ledger, far, host="another-machine", pid=1, heartbeat_at=now() - timedelta(seconds=60))
            with pytest.raises(FlowLocked):  # a minute of silence: maybe busy, still holds the flow
                with other.running(FLOW, wait_s=0):
                    pytest.fail("took the flow of a run that may be alive")
            set_run(ledger, far, heartbeat_at=now() - timedelta(minutes=10))
            assert ledger.run(far).died
            with other.running(FLOW, wait_s=0) as taken:
                other.record(taken, FLOW, created("ACC-1"))
                other.finish_run(taken, {"created": 1})
            # the machine comes back: its run must not overwrite what the later run recorded
            ledger.record(far, FLOW, [RecordOutcome("ACC-1", "usmf", "h1", "failed", None, "409", "already exists")])
    other.close()

    assert ledger.states(FLOW)["ACC-1"].outcome == "created"
    lost = ledger.run(far)
    assert (lost.status, lost.died) == ("failed", False)
    assert f"lost the flow to run {taken}" in lost.error and lost.finished_at is not None


def test_a_heartbeat_keeps_a_long_run_alive(state_url, ledger):
    ledger.heartbeat_s = 0.05
    other = Ledger(state_url)
    with ledger.running(FLOW) as run:
        set_run(ledger, run, host="another-machine", heartbeat_at=now() - timedelta(minutes=10))
        time.sleep(0.5)  # a few beats
        assert not ledger.run(run).died
        with pytest.raises(FlowLocked):
            with other.running(FLOW, wait_s=0):
                pytest.fail("took the flow of a run that beats")
        ledger.finish_run(run, {})
    other.close()


def test_a_run_that_raises_ends_failed_with_its_error_and_frees_the_flow(ledger):
    with pytest.raises(ConnectionError):
        with ledger.running(FLOW) as broken:
            ledger.record(broken, FLOW, created("ACC-1", "ACC-2"))
            raise ConnectionError("F&O at https://contoso.operations.dynamics.com refused the connection")
    with ledger.running(FLOW, wait_s=0) as unfinished:
        pass  # returns without finish_run(): a bug, but never a run "running" forever

    failed = ledger.run(broken)
    assert (failed.status, failed.counts["created"]) == ("failed", 2) and failed.finished_at is not None
    assert failed.error == "ConnectionError: F&O at https://contoso.operations.dynamics.com refused the connection"
    assert "It failed with: ConnectionError: F&O" in history_text(ledger, run=broken)
    assert ledger.run(unfinished).error == "the run ended without recording its result"
    assert {r.status for r in ledger.history()} == {"failed"}
