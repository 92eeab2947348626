"""DataverseClient against the sandbox's Dataverse Web API over real HTTP."""

import pytest

from p2c_assets.connectors import DataverseClient, DeltaTokenExpired
from p2c_assets.connectors.odata import entity_path, literal


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
