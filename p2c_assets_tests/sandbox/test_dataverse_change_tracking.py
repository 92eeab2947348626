"""Change tracking on the sandbox's Dataverse service pages like the real one, and loses nothing.

These tests run on a sandbox of their own, so a table holds exactly the rows a test made: page
sizes and the order of entries can be checked exactly. Only `test_initial_read_*` reads a whole
table (contacts); the other tests start from a delta link of their own, so they see only their
own changes.
"""

from __future__ import annotations

import pytest

from p2c_assets_tests.conftest import DataverseApi, running_sandbox

TRACK = "odata.track-changes"


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> DataverseApi:
    with running_sandbox(tmp_path_factory.mktemp("change-tracking")) as handle:
        yield DataverseApi(handle)


def _pages(api: DataverseApi, url: str, page_size: int) -> list[dict]:
    """Every page of a tracked read, following nextLinks with the same Prefer header, as a client must."""
    prefer = {"Prefer": f"{TRACK},odata.maxpagesize={page_size}"}
    pages = []
    while url:
        response = api.get(url, headers=prefer)
        assert response.status_code == 200, response.text
        assert response.headers["Preference-Applied"] == f"{TRACK},odata.maxpagesize={page_size}"
        pages.append(response.json())
        url = pages[-1].get("@odata.nextLink")
    return pages


def _delta_link(api: DataverseApi, entity_set: str) -> str:
    return _pages(api, f"{entity_set}?$select=name", 5000)[-1]["@odata.deltaLink"]


def _accounts(api: DataverseApi, names: list[str]) -> list[str]:
    return [api.create("accounts", {"name": name})["accountid"] for name in names]


def _links_in_order(api: DataverseApi, pages: list[dict]) -> None:
    """nextLink on every page but the last (absolute, to this service), deltaLink on the last only."""
    for page in pages[:-1]:
        assert page["@odata.nextLink"].startswith(api.root) and "@odata.deltaLink" not in page
    assert "@odata.nextLink" not in pages[-1] and pages[-1]["@odata.deltaLink"].startswith(api.root)


def test_initial_read_pages_and_only_the_last_page_carries_the_delta_link(api):
    ids = [api.create("contacts", {"lastname": f"Paged {i}"})["contactid"] for i in range(7)]
    pages = _pages(api, "contacts?$select=lastname", page_size=3)
    assert [len(p["value"]) for p in pages] == [3, 3, 1]
    _links_in_order(api, pages)
    assert [r["contactid"] for p in pages for r in p["value"]] == ids
    assert all(not p["@odata.context"].endswith("/$delta") for p in pages)
    assert _pages(api, pages[-1]["@odata.deltaLink"], page_size=3)[0]["value"] == []


def test_delta_read_pages_changed_rows_first_then_deleted_entries(api):
    link = _delta_link(api, "accounts")
    ids = _accounts(api, [f"Delta {i}" for i in range(7)])
    for gone in (ids[1], ids[4]):
        assert api.delete(f"accounts({gone})").status_code == 204
    pages = _pages(api, link, page_size=3)
    assert [len(p["value"]) for p in pages] == [3, 3, 1]
    _links_in_order(api, pages)
    assert all(p["@odata.context"].endswith("/$delta") for p in pages)
    entries = [e for p in pages for e in p["value"]]
    assert [e["accountid"] for e in entries[:5]] == [ids[0], ids[2], ids[3], ids[5], ids[6]]
    assert [(e["id"], e["reason"]) for e in entries[5:]] == [(ids[1], "deleted"), (ids[4], "deleted")]
    assert all(e["@odata.context"].endswith("#accounts/$deletedEntity") for e in entries[5:])
    assert _pages(api, pages[-1]["@odata.deltaLink"], page_size=3)[0]["value"] == []


def test_changes_made_while_a_client_pages_come_back_in_the_next_delta_read(api):
    link = _delta_link(api, "accounts")
    ids = _accounts(api, [f"Moving {i}" for i in range(7)])
    prefer = {"Prefer": f"{TRACK},odata.maxpagesize=3"}
    first = api.get(link, headers=prefer).json()
    assert [r["accountid"] for r in first["value"]] == ids[:3]

    # between page 1 and page 2: a row already served and a row not yet served change, one is
    # deleted, one is created
    assert api.patch(f"accounts({ids[0]})", json={"name": "renamed after page 1"}).status_code == 204
    assert api.patch(f"accounts({ids[5]})", json={"name": "renamed before page 2"}).status_code == 204
    assert api.delete(f"accounts({ids[6]})").status_code == 204
    (late,) = _accounts(api, ["created while paging"])

    rest = _pages(api, first["@odata.nextLink"], page_size=3)
    served = [r["accountid"] for p in [first, *rest] for r in p["value"]]
    assert served == ids[:5], "a read holds the rows as of its first page; later changes wait for the next read"

    after = [e for p in _pages(api, rest[-1]["@odata.deltaLink"], page_size=3) for e in p["value"]]
    changed = {e["accountid"]: e["name"] for e in after if "reason" not in e}
    assert changed == {ids[0]: "renamed after page 1", ids[5]: "renamed before page 2",
                       late: "created while paging"}
    assert [e["id"] for e in after if e.get("reason") == "deleted"] == [ids[6]]


def test_without_a_page_size_a_tracked_read_answers_in_one_page_as_before(api):
    link = _delta_link(api, "accounts")
    ids = _accounts(api, [f"Unpaged {i}" for i in range(7)])
    response = api.get(link, headers={"Prefer": TRACK})
    assert response.headers["Preference-Applied"] == TRACK
    body = response.json()
    assert [r["accountid"] for r in body["value"]] == ids
    assert "@odata.nextLink" not in body and "@odata.deltaLink" in body


def test_a_skiptoken_that_is_not_a_change_tracking_cookie_is_refused(api):
    link = _delta_link(api, "accounts")
    response = api.get(link + "&$skiptoken=1000", headers={"Prefer": TRACK})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "The $skiptoken is not a valid paging cookie."
