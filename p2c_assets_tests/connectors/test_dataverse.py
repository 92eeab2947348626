"""DataverseClient against the sandbox's Dataverse Web API over real HTTP."""

import pytest

from p2c_assets.connectors import ClientCredentials, DataverseClient, DeltaTokenExpired
from p2c_assets.connectors.errors import ServiceError
from p2c_assets.connectors.odata import entity_path, literal
from p2c_assets.connectors.protocol import AnyOf


def accounts(tag, n, **extra):
    return [{"accountnumber": f"{tag}-{i:03d}", "name": f"{tag} Account {i}", **extra} for i in range(n)]


def test_read_follows_next_links_past_several_pages(sandbox, creds, tag):
    with DataverseClient(sandbox.dataverse_url, creds, page_size=7) as dv:
        outcomes = dv.upsert_many("accounts", accounts(tag, 30), key=["accountnumber"])
        assert {o.status for o in outcomes} == {"created"}
        before = dv.stats.snapshot()
        pages = list(dv.iter_pages("accounts", select=["accountnumber", "name"],
                                   filter=f"startswith(accountnumber,{literal(tag)})"))
        assert [len(p) for p in pages] == [7, 7, 7, 7, 2]
        assert dv.stats.since(before).requests == 5
        df = dv.read("accounts", select=["accountnumber", "name"],
                     filter=f"startswith(accountnumber,{literal(tag)})", orderby="accountnumber")
    assert df["accountnumber"].tolist() == [f"{tag}-{i:03d}" for i in range(30)]
    assert "accountid" in df.columns and not any("@" in c for c in df.columns)


def test_upsert_reports_created_then_updated_with_ids(dv, tag):
    first = dv.upsert_many("accounts", accounts(tag, 5), key=["accountnumber"])
    second = dv.upsert_many("accounts", accounts(tag, 6, telephone1="555"), key=["accountnumber"])
    assert [o.status for o in first] == ["created"] * 5
    assert [o.status for o in second] == ["updated"] * 5 + ["created"]
    assert [o.target_id for o in second[:5]] == [o.target_id for o in first]
    assert all(o.target_id for o in second)
    stored = dv.read("accounts", select=["accountnumber", "telephone1"],
                     filter=f"startswith(accountnumber,{literal(tag)})")
    assert set(stored["telephone1"]) == {"555"} and len(stored) == 6


def test_bad_rows_are_isolated_and_reported_while_good_rows_land(dv, tag):
    rows = accounts(tag, 20)
    for i in (3, 11, 12):
        rows[i]["name"] = "x" * 161          # name is String(160)
    rows[15]["accountnumber"] = None         # no key at all
    outcomes = dv.upsert_many("accounts", rows, key=["accountnumber"], batch_size=8)
    failed = {i for i, o in enumerate(outcomes) if o.status == "failed"}
    assert failed == {3, 11, 12, 15}
    assert outcomes[3].error_code == "0x80044331" and "name" in outcomes[3].error_message
    assert outcomes[15].error_code == "MissingKey" and "accountnumber" in outcomes[15].error_message
    assert outcomes[3].key == (f"{tag}-003",)
    landed = dv.read("accounts", select=["accountnumber"], filter=f"startswith(accountnumber,{literal(tag)})")
    assert sorted(landed["accountnumber"]) == sorted(r["accountnumber"] for i, r in enumerate(rows)
                                                    if i not in failed)


@pytest.mark.parametrize("suffix", ["O'Brien", "A&B", "#1/2", "Ünïcødé", "50% +?"])
def test_awkward_key_values_round_trip_through_key_and_filter(dv, tag, suffix):
    number = f"{tag} {suffix}"
    assert dv.upsert_many("accounts", [{"accountnumber": number, "name": "first"}],
                          key=["accountnumber"])[0].status == "created"
    again = dv.upsert_many("accounts", [{"accountnumber": number, "name": "second"}], key=["accountnumber"])[0]
    assert again.status == "updated"
    df = dv.read("accounts", select=["accountnumber", "name"], filter=f"accountnumber eq {literal(number)}")
    assert df.to_dict("records") == [{"accountnumber": number, "name": "second", "accountid": again.target_id}]
    one = dv.http.request("GET", dv.api + entity_path("accounts", {"accountnumber": number}),
                          params={"$select": "name"}).json()
    assert one["accountid"] == again.target_id


def test_change_tracking_returns_changes_deletes_and_a_new_token(sandbox, dv, tag):
    created = dv.upsert_many("accounts", accounts(tag, 3), key=["accountnumber"])
    initial = dv.read_changes("accounts", select=["accountnumber", "name"])
    assert {f"{tag}-000", f"{tag}-001", f"{tag}-002"} <= set(initial.rows["accountnumber"])

    dv.upsert_many("accounts", [{"accountnumber": f"{tag}-001", "name": "renamed"},
                                {"accountnumber": f"{tag}-009", "name": "new"}], key=["accountnumber"])
    dv.http.request("DELETE", dv.api + f"accounts({created[2].target_id})", headers={"If-Match": "*"})
    changes = dv.read_changes("accounts", select=["accountnumber", "name"], delta_link=initial.delta_link)
    assert sorted(changes.rows["accountnumber"]) == [f"{tag}-001", f"{tag}-009"]
    assert changes.rows.set_index("accountnumber").loc[f"{tag}-001", "name"] == "renamed"
    assert changes.deleted_ids == [created[2].target_id]
    assert changes.delta_link != initial.delta_link

    nothing = dv.read_changes("accounts", select=["accountnumber"], delta_link=changes.delta_link)
    assert nothing.rows.empty and nothing.deleted_ids == []


def test_expired_change_token_raises_delta_token_expired(sandbox, dv, tag):
    dv.upsert_many("accounts", accounts(tag, 1), key=["accountnumber"])
    start = dv.read_changes("accounts", select=["accountnumber"])
    sandbox.set_faults(change_tracking_retention_s=1)
    dv.upsert_many("accounts", accounts(tag, 2), key=["accountnumber"])
    import time
    time.sleep(1.5)
    dv.upsert_many("accounts", accounts(tag, 3), key=["accountnumber"])
    with pytest.raises(DeltaTokenExpired, match="accounts"):
        dv.read_changes("accounts", select=["accountnumber"], delta_link=start.delta_link)


# --- tables without the bulk messages: $batch -------------------------------------------------------

CREATE = ("POST", "accounts/Microsoft.Dynamics.CRM.CreateMultiple")
UPSERT = ("POST", "accounts/Microsoft.Dynamics.CRM.UpsertMultiple")
KEY_READ = ("GET", "accounts")


def _spy(client):
    """Record (method, path) of every request the client sends."""
    sent, original = [], client.http.request

    def request(method, url, **kwargs):
        sent.append((method, url.split("/api/data/v9.2/", 1)[-1]))
        return original(method, url, **kwargs)

    client.http.request = request
    return sent


def test_table_without_bulk_messages_is_written_with_batch(sandbox, dv, tag):
    sandbox.set_faults(bulk_unsupported_tables=["accounts"])
    sent = _spy(dv)
    first = dv.upsert_many("accounts", accounts(tag, 5), key=["accountnumber"])
    assert [o.status for o in first] == ["created"] * 5 and all(o.target_id for o in first)
    assert sent == [("GET", "EntityDefinitions"), CREATE, ("POST", "$batch")]
    assert dv.tables_without_bulk == {"accounts"}

    sent.clear()
    second = dv.upsert_many("accounts", accounts(tag, 6, telephone1="555"), key=["accountnumber"])
    assert sent == [("POST", "$batch")]          # remembered: no bulk message, no key lookups
    assert [o.status for o in second] == ["updated"] * 5 + ["created"]
    assert [o.target_id for o in second[:5]] == [o.target_id for o in first]
    stored = dv.read("accounts", select=["accountnumber", "name", "telephone1"],
                     filter=f"startswith(accountnumber,{literal(tag)})", orderby="accountnumber")
    assert stored["accountnumber"].tolist() == [f"{tag}-{i:03d}" for i in range(6)]
    assert set(stored["telephone1"]) == {"555"} and stored["name"].iloc[5] == f"{tag} Account 5"
    assert stored["accountid"].tolist() == [o.target_id for o in second]


def test_batch_path_isolates_a_bad_row_with_its_dataverse_error(sandbox, dv, tag):
    sandbox.set_faults(bulk_unsupported_tables=["accounts"])
    rows = accounts(tag, 10)
    rows[3]["name"] = "x" * 161                  # name is String(160)
    rows[7]["accountnumber"] = ""                # no key
    outcomes = dv.upsert_many("accounts", rows, key=["accountnumber"], batch_size=4)
    failed = {i for i, o in enumerate(outcomes) if o.status == "failed"}
    assert failed == {3, 7}
    assert outcomes[3].error_code == "0x80044331" and "'name'" in outcomes[3].error_message
    assert outcomes[3].key == (f"{tag}-003",) and outcomes[3].target_id is None
    assert outcomes[7].error_code == "MissingKey"
    assert {o.status for i, o in enumerate(outcomes) if i not in failed} == {"created"}
    landed = dv.read("accounts", select=["accountnumber"], filter=f"startswith(accountnumber,{literal(tag)})")
    assert sorted(landed["accountnumber"]) == [r["accountnumber"] for i, r in enumerate(rows) if i not in failed]
    # table lookup and one refused CreateMultiple, then 3 batches, and the read
    assert dv.stats.requests == 1 + 1 + 3 + 1


def test_batch_path_round_trips_awkward_and_compound_keys(sandbox, dv, tag):
    sandbox.set_faults(bulk_unsupported_tables=["accounts", "salesorderdetails"])
    numbers = [f"{tag} {s}" for s in ("O'Brien", "A&B", "#1/2", "Ünïcødé", "50% +?")]
    created = dv.upsert_many("accounts", [{"accountnumber": n, "name": "first"} for n in numbers],
                             key=["accountnumber"])
    again = dv.upsert_many("accounts", [{"accountnumber": n, "name": "second"} for n in numbers],
                           key=["accountnumber"])
    assert [o.status for o in created] == ["created"] * 5 and [o.status for o in again] == ["updated"] * 5
    assert [o.target_id for o in again] == [o.target_id for o in created]
    lines = [{"msdynce_ordernumber": f"{tag}-SO", "sequencenumber": n, "productdescription": f"line {n}"}
             for n in (1, 2)]
    written = dv.upsert_many("salesorderdetails", lines, key=["msdynce_ordernumber", "sequencenumber"])
    assert [o.status for o in written] == ["created", "created"]
    assert written[1].key == (f"{tag}-SO", 2) and dv.tables_without_bulk == {"accounts", "salesorderdetails"}


def test_tables_that_have_the_bulk_messages_still_use_them(sandbox, dv, tag):
    sandbox.set_faults(bulk_unsupported_tables=["contacts"])
    sent = _spy(dv)
    contacts = [{"msdynce_contactnumber": f"{tag}-C{i}", "lastname": f"{tag} {i}"} for i in range(3)]
    assert {o.status for o in dv.upsert_many("contacts", contacts, key=["msdynce_contactnumber"])} == {"created"}
    assert sent[-1] == ("POST", "$batch")
    sent.clear()
    outcomes = dv.upsert_many("accounts", accounts(tag, 3), key=["accountnumber"])
    assert {o.status for o in outcomes} == {"created"} and all(o.target_id for o in outcomes)
    assert sent == [("GET", "EntityDefinitions"), CREATE] and dv.tables_without_bulk == {"contacts"}


def test_batch_parts_answering_503_or_429_are_sent_again(monkeypatch, tag):
    """Part-level transient errors get the same retries as a whole request (no sandbox needed)."""
    from types import SimpleNamespace

    from p2c_assets.connectors.dataverse import TableInfo
    from p2c_assets_tests.connectors.conftest import FAST_RETRY
    from p2c_sandbox.multipart import Result, build_response

    class Response:
        def __init__(self, results):
            self.content, content_type = build_response(results)
            self.headers = {"Content-Type": content_type}

    class Token:
        def get_token(self, *scopes, **kwargs):
            return SimpleNamespace(token="t", expires_on=4102444800)

    client = DataverseClient("http://127.0.0.1:9", credential=Token(), retry=FAST_RETRY)
    client._tables["accounts"] = TableInfo("account", "accountid")
    client._no_bulk.add("accounts")
    ok = b'{"accountid":"00000000-0000-0000-0000-00000000000%d"}'
    rounds = iter([
        [[Result(201, {}, ok % 1)], Result(503, {}, b'{"error":{"code":"0x80040216","message":"busy"}}'),
         Result(429, {"Retry-After": "0"}, b'{"error":{"code":"0x80072322","message":"throttled"}}')],
        [[Result(200, {}, ok % 2)], Result(400, {}, b'{"error":{"code":"0x80044331","message":"too long"}}')],
    ])
    sent = []
    monkeypatch.setattr(client.http, "request", lambda method, url, **kw: sent.append(kw["data"]) or
                        Response(next(rounds)))
    outcomes = client.upsert_many("accounts", accounts(tag, 3), key=["accountnumber"])
    assert [(o.status, o.target_id, o.error_code) for o in outcomes] == [
        ("created", "00000000-0000-0000-0000-000000000001", None),
        ("updated", "00000000-0000-0000-0000-000000000002", None),
        ("failed", None, "0x80044331")]
    assert len(sent) == 2 and f"{tag}-000".encode() not in sent[1] and f"{tag}-001".encode() in sent[1]
    assert client.stats.retries == 1 and client.stats.throttled == 1


# --- what a bulk write costs: a request per batch when the ledger knows the target ----------------

def _ids(dv, tag):
    stored = dv.read("accounts", select=["accountnumber"], filter=f"startswith(accountnumber,{literal(tag)})")
    return dict(zip(stored["accountnumber"], stored["accountid"]))


def test_new_rows_are_created_with_the_ids_create_multiple_answers_and_landed_rows_upserted(dv, tag):
    dv.table("accounts")                     # the table's metadata, read once per client
    sent = _spy(dv)
    first = dv.upsert_many("accounts", accounts(tag, 30), key=["accountnumber"], batch_size=10)
    assert sent == [CREATE] * 3              # no key read before, no id read after
    sent.clear()
    second = dv.upsert_many("accounts", accounts(tag, 35, telephone1="555"), key=["accountnumber"], batch_size=10,
                            landed=[True] * 30 + [False] * 5)   # the engine's ledger saw the first 30 land
    assert sorted(sent) == [CREATE] + [UPSERT] * 3
    ids = _ids(dv, tag)
    assert [o.status for o in first] == ["created"] * 30
    assert [o.target_id for o in first] == [ids[f"{tag}-{i:03d}"] for i in range(30)]
    assert [o.status for o in second] == ["updated"] * 30 + ["created"] * 5
    assert [o.target_id for o in second] == [None] * 30 + [ids[f"{tag}-{i:03d}"] for i in range(30, 35)]
    stored = dv.read("accounts", select=["telephone1"], filter=f"startswith(accountnumber,{literal(tag)})")
    assert len(stored) == 35 and set(stored["telephone1"]) == {"555"}


def test_rows_the_ledger_never_saw_land_are_looked_up_once_when_a_create_is_refused(dv, tag):
    """A target holding rows the caller does not know (a new ledger): the first CreateMultiple is
    refused (duplicate key) and the other batches are not sent as creates; a key read a window tells
    updated from created, UpsertMultiple lands them, one key read gives the created rows' ids."""
    first = dv.upsert_many("accounts", accounts(tag, 30), key=["accountnumber"], batch_size=10)
    sent = _spy(dv)
    second = dv.upsert_many("accounts", accounts(tag, 35, telephone1="555"), key=["accountnumber"], batch_size=10)
    # windows of 10 rows (the first batch, what goes alone) and 25, five of them new
    assert sent == [CREATE, KEY_READ, UPSERT] + [KEY_READ] + [UPSERT] * 3 + [KEY_READ]
    ids = _ids(dv, tag)
    assert [o.status for o in second] == ["updated"] * 30 + ["created"] * 5
    assert [o.target_id for o in second] == [o.target_id for o in first] + [ids[f"{tag}-{i:03d}"]
                                                                           for i in range(30, 35)]
    assert len(ids) == 35


def test_a_refused_create_among_others_costs_one_look_up_of_its_rows(dv, tag):
    """The first batch is new, a later one meets a row created meanwhile by someone else: only the
    refused batch is looked up and upserted."""
    dv.upsert_many("accounts", [accounts(tag, 25)[24]], key=["accountnumber"])       # someone else's
    sent = _spy(dv)
    outcomes = dv.upsert_many("accounts", accounts(tag, 25, telephone1="555"), key=["accountnumber"],
                              batch_size=10)
    assert sorted(sent) == sorted([CREATE] * 3 + [KEY_READ, UPSERT, KEY_READ])
    ids = _ids(dv, tag)
    assert [o.status for o in outcomes] == ["created"] * 24 + ["updated"]
    assert [o.target_id for o in outcomes] == [ids[f"{tag}-{i:03d}"] for i in range(25)]


def test_rows_are_made_ready_a_window_at_a_time_with_the_outcomes_of_one_call(dv, tag, monkeypatch):
    """A batch of rows first (what goes alone), then `WINDOW` batches at a time, the next window made
    while one is written, never more: a duplicate key is found across windows, a first sync creates
    every window with CreateMultiple (the first alone, later ones in parallel), and once the call's
    CreateMultiple was refused the later windows send none: their new rows are looked up (two key reads
    a window) and upserted."""
    from p2c_assets.connectors import dataverse

    monkeypatch.setattr(dataverse, "WINDOW", 2)
    asked = []

    class Rows(list):  # what the engine gives: rows made as they are asked for
        def __iter__(self):
            for i, row in enumerate(super().__iter__()):
                asked.append(i)
                yield row

    rows = accounts(tag, 50)
    rows[45] = dict(rows[3])  # repeats row 3, two windows later
    dv.table("accounts")  # the table's metadata, read once per client
    sent, request = _spy(dv), dv.http.request
    made = []  # rows asked for when each request went
    dv.http.request = lambda *args, **kwargs: (made.append(len(asked)), request(*args, **kwargs))[1]
    first = dv.upsert_many("accounts", Rows(rows), key=["accountnumber"], batch_size=10)
    # windows of rows 0-9, 10-29 and 30-49; a request goes once its window is made, before the one after next
    ends, window_of = [10, 30, 50], [0, 1, 1, 2, 2]
    assert sent == [CREATE] * 5 and asked == list(range(50))
    assert all(ends[w] <= rows_made <= ends[min(w + 1, 2)] for w, rows_made in zip(window_of, made)), made
    assert [o.status for o in first] == ["created"] * 45 + ["failed"] + ["created"] * 4
    assert first[45].error_code == "DuplicateKey" and "repeats row 3" in first[45].error_message
    ids = _ids(dv, tag)
    assert [o.target_id for i, o in enumerate(first) if i != 45] == [ids[f"{tag}-{i:03d}"]
                                                                      for i in range(50) if i != 45]
    sent.clear()
    second = dv.upsert_many("accounts", accounts(tag, 55, telephone1="555"), key=["accountnumber"], batch_size=10)
    # windows of rows 0-9, 10-29, 30-49 and 50-54: every row of the first two is there (no key read
    # after); the third holds 45 (refused as a duplicate before), the last is new: created
    assert sent == [CREATE, KEY_READ, UPSERT] + [KEY_READ, UPSERT, UPSERT] \
        + [KEY_READ, UPSERT, UPSERT, KEY_READ] + [KEY_READ, UPSERT, KEY_READ]
    ids = _ids(dv, tag)
    assert [o.status for o in second] == ["updated"] * 45 + ["created"] + ["updated"] * 4 + ["created"] * 5
    assert [o.target_id for o in second] == [ids[f"{tag}-{i:03d}"] for i in range(55)]


def _sizes(client):
    """(message, rows) of every bulk request the client sends, answered or not."""
    sent, original = [], client.http.request

    def request(method, url, **kwargs):
        if "Microsoft.Dynamics.CRM." in url:
            sent.append((url.rsplit(".", 1)[-1], len(kwargs["json"]["Targets"])))
        return original(method, url, **kwargs)

    client.http.request = request
    return sent


def test_requests_grow_while_the_table_answers_fast_and_keep_every_worker_busy(dv, tag):
    """The first request of each message goes alone at the start size; its pace (fast on the sandbox)
    lets the rest of the window go as one request per worker (4), at most a window's rows over the
    workers; a small write stays at the start size."""
    dv.table("accounts")
    sent = _sizes(dv)
    first = dv.upsert_many("accounts", accounts(tag, 200), key=["accountnumber"], batch_size=10)
    assert sent[0] == ("CreateMultiple", 10) and sorted(sent[1:]) == [("CreateMultiple", 46)] + [("CreateMultiple", 48)] * 3
    assert [o.status for o in first] == ["created"] * 200
    ids = _ids(dv, tag)
    assert [o.target_id for o in first] == [ids[f"{tag}-{i:03d}"] for i in range(200)]
    sent.clear()
    second = dv.upsert_many("accounts", accounts(tag, 400, telephone1="555"), key=["accountnumber"], batch_size=10,
                            landed=[True] * 200 + [False] * 200)
    # windows of rows 0-9 (landed: UpsertMultiple's first, alone), 10-209 (the call's first CreateMultiple
    # alone: are new rows new?, then 190 landed ones, a request per worker) and 210-399 (new: the same)
    assert sent[:2] == [("UpsertMultiple", 10), ("CreateMultiple", 10)]
    assert sorted(sent[2:6]) == [("UpsertMultiple", 46)] + [("UpsertMultiple", 48)] * 3
    assert sorted(sent[6:]) == [("CreateMultiple", 46)] + [("CreateMultiple", 48)] * 3
    assert [o.status for o in second] == ["updated"] * 200 + ["created"] * 200
    sent.clear()
    dv.upsert_many("accounts", accounts(tag, 420)[400:], key=["accountnumber"], batch_size=10)
    assert sent == [("CreateMultiple", 10), ("CreateMultiple", 10)]     # 20 rows: the start size


def test_a_request_that_times_out_is_sent_in_halves_and_later_ones_stay_small(sandbox, dv, tag):
    """A slow org: a bulk request of more than 30 targets answers "SQL timeout expired"; it is sent again
    in halves, every row lands once, and the table's later requests carry at most half the timed-out size."""
    sandbox.set_faults(bulk_timeout_over_rows=30)
    dv.table("accounts")
    sent = _sizes(dv)
    outcomes = dv.upsert_many("accounts", accounts(tag, 200), key=["accountnumber"], batch_size=10)
    assert [o.status for o in outcomes] == ["created"] * 200
    ids = _ids(dv, tag)
    assert len(ids) == 200 and [o.target_id for o in outcomes] == [ids[f"{tag}-{i:03d}"] for i in range(200)]
    timed_out = [n for m, n in sent if n > 30]
    assert timed_out and all(n == 46 or n == 48 for n in timed_out)    # the first ones after the lone 10
    sent.clear()
    later = dv.upsert_many("accounts", accounts(tag, 400)[200:], key=["accountnumber"], batch_size=10)
    assert [o.status for o in later] == ["created"] * 200
    assert sent[0] == ("CreateMultiple", 10) and max(n for _, n in sent) <= 23  # half of 46 at most


def test_a_create_whose_answer_is_lost_lands_once_and_reports_the_row_with_its_id(dv, tag, monkeypatch):
    """CreateMultiple commits, the connection drops before the answer: ``HttpSession`` sends it
    again, the service refuses it (the rows are there now), and the rows are looked up and upserted.
    They count as updated (nothing tells them from rows someone else created), none as failed."""
    import requests

    send, dropped = dv.http._send, []

    def drop_first_create_answer(method, url, **kwargs):
        response = send(method, url, **kwargs)
        if url.endswith("CreateMultiple") and not dropped:
            dropped.append(response.status_code)
            raise requests.ConnectionError("connection reset after the service committed")
        return response

    monkeypatch.setattr(dv.http, "_send", drop_first_create_answer)
    outcomes = dv.upsert_many("accounts", accounts(tag, 5), key=["accountnumber"])
    ids = _ids(dv, tag)
    assert dropped == [200] and len(ids) == 5
    assert [o.status for o in outcomes] == ["updated"] * 5
    assert [o.target_id for o in outcomes] == [ids[f"{tag}-{i:03d}"] for i in range(5)]


def test_a_bad_row_among_new_ones_is_isolated_and_the_others_created(dv, tag):
    rows = accounts(tag, 12)
    rows[7]["name"] = "x" * 161              # name is String(160): the whole CreateMultiple is refused
    outcomes = dv.upsert_many("accounts", rows, key=["accountnumber"], batch_size=6)
    ids = _ids(dv, tag)
    assert [o.status for o in outcomes] == ["created"] * 7 + ["failed"] + ["created"] * 4
    assert outcomes[7].error_code == "0x80044331" and f"{tag}-007" not in ids
    assert [o.target_id for i, o in enumerate(outcomes) if i != 7] == [ids[f"{tag}-{i:03d}"]
                                                                       for i in range(12) if i != 7]


def test_keys_too_many_for_one_url_are_read_in_one_batch(sandbox, creds, tag):
    """The keys of a refused CreateMultiple whose filter needs several URLs: one $batch of GETs."""
    with DataverseClient(sandbox.dataverse_url, creds, max_filter_chars=300) as dv:
        created = dv.upsert_many("accounts", accounts(tag, 60), key=["accountnumber"], batch_size=20)
        sent = _spy(dv)
        updated = dv.upsert_many("accounts", accounts(tag, 60, telephone1="555"), key=["accountnumber"],
                                 batch_size=20)
    # a window of 20 rows (the first batch, what goes alone), then one of 40: a key read for each
    assert sent == [CREATE, ("POST", "$batch"), UPSERT, ("POST", "$batch"), UPSERT, UPSERT]
    assert {o.status for o in created} == {"created"} and {o.status for o in updated} == {"updated"}
    assert [o.target_id for o in updated] == [o.target_id for o in created]


def test_a_read_by_thousands_of_keys_is_one_batch_and_its_errors_are_the_services(dv, tag):
    dv.upsert_many("accounts", accounts(tag, 3), key=["accountnumber"])
    keys = AnyOf(("accountnumber",), tuple((f"{tag}-{i:03d}",) for i in range(5000)))
    before = dv.stats.snapshot()
    found = dv.read("accounts", select=["accountnumber"], where=keys)
    assert dv.stats.since(before).requests == 1
    assert sorted(found["accountnumber"]) == [f"{tag}-{i:03d}" for i in range(3)]
    with pytest.raises(ServiceError) as refused:
        dv.read("accounts", select=["nmae"], where=keys)
    assert refused.value.status == 400 and "Could not find a property named 'nmae'" in refused.value.message


def test_organization_setting_is_read_once_per_client_and_unknown_ones_are_none(dv, fo):
    before = dv.stats.snapshot()
    assert dv.organization_setting("createproductswithoutparentinactivestate") is False  # a fresh install's
    assert dv.organization_setting("createproductswithoutparentinactivestate") is False
    assert dv.organization_setting("no_such_setting") is None  # the service refuses the $select: go without it
    assert dv.stats.since(before).requests == 2
    assert fo.organization_setting("createproductswithoutparentinactivestate") is None  # F&O keeps no such row
