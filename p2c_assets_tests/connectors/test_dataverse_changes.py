"""DataverseClient.read_changes follows the pages of a tracked read to the final delta link (real HTTP)."""

from __future__ import annotations

import math

import pytest

from p2c_assets.connectors import DataverseClient

from p2c_assets_tests.connectors.conftest import FAST_RETRY


@pytest.fixture
def small_pages(sandbox, creds):
    """A client reading 4 rows a page, so a handful of changes already spans several pages."""
    with DataverseClient(sandbox.dataverse_url, creds, page_size=4, retry=FAST_RETRY) as client:
        yield client


def _accounts(tag: str, n: int) -> list[dict]:
    return [{"accountnumber": f"{tag}-{i:02d}", "name": f"{tag} {i}"} for i in range(n)]


def test_a_paged_delta_read_returns_every_change_and_delete_and_the_final_link(dv, small_pages, tag):
    start = dv.read_changes("accounts", select=["accountnumber", "name"])
    written = dv.upsert_many("accounts", _accounts(tag, 10), key=["accountnumber"])
    gone = [written[i].target_id for i in (2, 5, 7)]
    for account_id in gone:
        dv.http.request("DELETE", dv.api + f"accounts({account_id})", headers={"If-Match": "*"})

    before = small_pages.stats.snapshot()
    changes = small_pages.read_changes("accounts", select=["accountnumber", "name"], delta_link=start.delta_link)
    assert small_pages.stats.since(before).requests == 3   # 7 rows + 3 deleted entries, 4 a page
    assert sorted(changes.rows["accountnumber"]) == [f"{tag}-{i:02d}" for i in (0, 1, 3, 4, 6, 8, 9)]
    assert changes.deleted_ids == gone
    assert not any("@" in c for c in changes.rows.columns)

    nothing = small_pages.read_changes("accounts", select=["accountnumber"], delta_link=changes.delta_link)
    assert nothing.rows.empty and nothing.deleted_ids == []


def test_a_paged_initial_read_returns_the_whole_table_and_a_working_link(sandbox, creds, dv, tag):
    dv.upsert_many("accounts", _accounts(tag, 5), key=["accountnumber"])
    every_id = set(dv.read("accounts", select=["accountid"])["accountid"])
    page_size = max(1, math.ceil(len(every_id) / 3))
    with DataverseClient(sandbox.dataverse_url, creds, page_size=page_size, retry=FAST_RETRY) as paged:
        before = paged.stats.snapshot()
        initial = paged.read_changes("accounts", select=["accountnumber", "name"])
        assert paged.stats.since(before).requests == math.ceil(len(every_id) / page_size) > 1
        assert set(initial.rows["accountid"]) == every_id and initial.deleted_ids == []

        dv.upsert_many("accounts", [{"accountnumber": f"{tag}-01", "name": "renamed"}], key=["accountnumber"])
        changes = paged.read_changes("accounts", select=["accountnumber", "name"], delta_link=initial.delta_link)
    assert changes.rows[["accountnumber", "name"]].to_dict("records") == [
        {"accountnumber": f"{tag}-01", "name": "renamed"}]
