"""$batch, bulk messages and change tracking on the sandbox's Dataverse service."""

from __future__ import annotations

import json
import time

from p2c_sandbox.multipart import parse_response


def _batch(dv, parts: list, prefer: str | None = None):
    """Send a $batch; `parts` holds (method, url, body) tuples or lists of them (changesets)."""
    lines = []
    for n, part in enumerate(parts):
        lines.append("--batch_x")
        if isinstance(part, list):
            lines += [f'Content-Type: multipart/mixed; boundary="changeset_{n}"', ""]
            for i, (method, url, body) in enumerate(part, start=1):
                lines += [f"--changeset_{n}", "Content-Type: application/http", "Content-Transfer-Encoding: binary",
                          f"Content-ID: {i}", "", f"{method} {url} HTTP/1.1",
                          "Content-Type: application/json; type=entry", "", json.dumps(body)]
            lines.append(f"--changeset_{n}--")
        else:
            method, url, body = part
            lines += ["Content-Type: application/http", "Content-Transfer-Encoding: binary", "",
                      f"{method} {url} HTTP/1.1", "Accept: application/json", "", json.dumps(body) if body else ""]
    lines.append("--batch_x--")
    headers = {"Content-Type": 'multipart/mixed; boundary="batch_x"'}
    if prefer:
        headers["Prefer"] = prefer
    response = dv.post("$batch", data="\r\n".join(lines).encode(), headers=headers)
    return response, parse_response(response.content, response.headers["Content-Type"])


def _count(dv, filter_):
    return len(dv.get("accounts", params={"$filter": filter_, "$select": "name"}).json()["value"])


def test_batch_changeset_with_content_id_reference(dv, unique):
    tag = unique("B")
    response, items = _batch(dv, [[
        ("POST", "/api/data/v9.2/accounts", {"name": tag}),
        ("POST", f"{dv.root}contacts", {"lastname": tag, "parentcustomerid_account@odata.bind": "$1"}),
    ]])
    assert response.status_code == 200
    assert [r.status for r in items[0]] == [204, 204]
    assert [r.content_id for r in items[0]] == ["1", "2"]
    contact = dv.get("contacts", params={"$filter": f"lastname eq '{tag}'"}).json()["value"][0]
    assert contact["_parentcustomerid_value"] is not None and contact["msdynce_iscompanyanaccount"] is True


def test_failing_changeset_rolls_back_and_stops_the_batch(dv, unique):
    tag = unique("RB")
    response, items = _batch(dv, [
        [("POST", "accounts", {"name": f"{tag} ok"}), ("POST", "accounts", {"name": "x" * 200})],
        ("POST", "accounts", {"name": f"{tag} after"}),
    ])
    assert response.status_code == 400
    assert len(items) == 1 and items[0].status == 400
    assert b"0x80044331" in items[0].body
    assert _count(dv, f"startswith(name,'{tag}')") == 0


def test_continue_on_error_runs_the_rest(dv, unique):
    tag = unique("CE")
    response, items = _batch(dv, [
        [("POST", "accounts", {"name": f"{tag} ok"}), ("POST", "accounts", {"name": "x" * 200})],
        ("POST", "accounts", {"name": f"{tag} after"}),
        ("GET", f"accounts?$filter=name eq '{tag} after'", None),
    ], prefer="odata.continue-on-error")
    assert response.status_code == 200
    assert [i.status for i in items] == [400, 204, 200]
    assert _count(dv, f"startswith(name,'{tag}')") == 1


def test_create_multiple_returns_ids(dv, unique):
    tag = unique("CM")
    targets = [{"@odata.type": "Microsoft.Dynamics.CRM.account", "name": f"{tag} {i}"} for i in range(3)]
    response = dv.post("accounts/Microsoft.Dynamics.CRM.CreateMultiple", json={"Targets": targets})
    assert response.status_code == 200 and len(response.json()["Ids"]) == 3


def test_upsert_multiple_of_1000_rows(dv, unique):
    tag = unique("UM")
    targets = [{"@odata.type": "Microsoft.Dynamics.CRM.account", "@odata.id": f"accounts(accountnumber='{tag}-{i}')",
                "name": f"{tag} {i}"} for i in range(1000)]
    assert dv.post("accounts/Microsoft.Dynamics.CRM.UpsertMultiple", json={"Targets": targets}).status_code == 204
    targets[0]["name"] = f"{tag} renamed"
    assert dv.post("accounts/Microsoft.Dynamics.CRM.UpsertMultiple", json={"Targets": targets}).status_code == 204
    body = dv.get("accounts", params={"$filter": f"startswith(accountnumber,'{tag}-')", "$count": "true",
                                      "$select": "name"}).json()
    assert body["@odata.count"] == 1000
    assert dv.get(f"accounts(accountnumber='{tag}-0')").json()["name"] == f"{tag} renamed"


def test_one_bad_target_rolls_back_the_whole_upsert_multiple(dv, unique):
    tag = unique("UMB")
    targets = [{"@odata.type": "Microsoft.Dynamics.CRM.account", "@odata.id": f"accounts(accountnumber='{tag}-{i}')",
                "name": f"{tag} {i}"} for i in range(5)]
    targets[3]["name"] = "y" * 300
    response = dv.post("accounts/Microsoft.Dynamics.CRM.UpsertMultiple", json={"Targets": targets})
    assert response.status_code == 400 and response.json()["error"]["code"] == "0x80044331"
    assert _count(dv, f"startswith(accountnumber,'{tag}-')") == 0


def test_change_tracking_reports_changes_and_deletes(dv, unique):
    first = dv.get("contacts?$select=lastname", headers={"Prefer": "odata.track-changes"})
    assert first.headers["Preference-Applied"] == "odata.track-changes"
    delta = first.json()["@odata.deltaLink"]
    added = dv.create("contacts", {"lastname": unique("CT")})
    doomed = dv.create("contacts", {"lastname": unique("CTD")})
    dv.delete(f"contacts({doomed['contactid']})")
    body = dv.get(delta, headers={"Prefer": "odata.track-changes"}).json()
    assert body["@odata.context"].endswith("/$delta")
    changed = {r["contactid"] for r in body["value"] if "reason" not in r}
    deleted = [r for r in body["value"] if r.get("reason") == "deleted"]
    assert added["contactid"] in changed and doomed["contactid"] not in changed
    assert [d["id"] for d in deleted] == [doomed["contactid"]]
    assert deleted[0]["@odata.context"].endswith("#contacts/$deletedEntity")
    again = dv.get(body["@odata.deltaLink"], headers={"Prefer": "odata.track-changes"}).json()
    assert again["value"] == []


def test_change_tracking_rejects_filter(dv):
    response = dv.get("contacts?$filter=lastname eq 'x'", headers={"Prefer": "odata.track-changes"})
    assert response.status_code == 400 and "$filter" in response.json()["error"]["message"]


def test_expired_delta_token_asks_for_full_sync(clean_faults, dv):
    delta = dv.get("contacts?$select=lastname", headers={"Prefer": "odata.track-changes"}).json()["@odata.deltaLink"]
    clean_faults.set_faults(change_tracking_retention_s=1)
    time.sleep(1.1)
    response = dv.get(delta, headers={"Prefer": "odata.track-changes"})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == ("Version stamp associated with the client has expired. "
                                                   "Please perform a full sync.")


NOT_FOUND = "Resource not found for the segment 'Microsoft.Dynamics.CRM.{}'."


def test_table_without_bulk_messages_answers_segment_not_found(clean_faults, dv, unique):
    tag = unique("NB")
    target = {"@odata.type": "Microsoft.Dynamics.CRM.account", "@odata.id": f"accounts(accountnumber='{tag}')",
              "name": tag}
    clean_faults.set_faults(bulk_unsupported_tables=["accounts"])
    for message in ("CreateMultiple", "UpdateMultiple", "UpsertMultiple"):
        response = dv.post(f"accounts/Microsoft.Dynamics.CRM.{message}", json={"Targets": [target]})
        assert response.status_code == 404
        assert response.json() == {"error": {"code": "0x80060888", "message": NOT_FOUND.format(message)}}
    assert _count(dv, f"accountnumber eq '{tag}'") == 0
    # other tables keep them, and the table itself still takes single-row upserts
    contact = {"@odata.type": "Microsoft.Dynamics.CRM.contact", "lastname": tag,
               "@odata.id": f"contacts(msdynce_contactnumber='{tag}')"}
    assert dv.post("contacts/Microsoft.Dynamics.CRM.UpsertMultiple", json={"Targets": [contact]}).status_code == 204
    assert dv.patch(f"accounts(accountnumber='{tag}')", json={"name": tag}).status_code == 204
    # switched back on at run time
    clean_faults.set_faults(bulk_unsupported_tables=[])
    assert dv.post("accounts/Microsoft.Dynamics.CRM.UpsertMultiple", json={"Targets": [target]}).status_code == 204


def test_catalogue_flag_leaves_the_bulk_messages_out():
    from dataclasses import replace
    from types import SimpleNamespace

    from p2c_sandbox.dataverse import bulk
    from p2c_sandbox.dataverse.tables import BY_SET, ENTITIES
    from p2c_sandbox.faults import FaultState

    svc = SimpleNamespace(faults=FaultState())
    # every Prospect-to-cash table has them; the organization table (the settings row) has not
    assert [e.entity_set for e in ENTITIES if not e.bulk_messages] == ["organizations"]
    assert bulk.declared(svc, BY_SET["accounts"])
    assert not bulk.declared(svc, replace(BY_SET["accounts"], bulk_messages=False))
    svc.faults.update({"bulk_unsupported_tables": ["accounts"]})
    assert not bulk.declared(svc, BY_SET["accounts"]) and bulk.declared(svc, BY_SET["contacts"])


def test_a_bulk_request_over_the_timeout_setting_writes_nothing_and_answers_sql_timeout(clean_faults, dv, unique):
    import pytest

    from p2c_sandbox.faults import FaultConfigError, FaultState

    tag = unique("TO")
    targets = [{"@odata.type": "Microsoft.Dynamics.CRM.account", "accountnumber": f"{tag}-{i}", "name": tag}
               for i in range(3)]
    clean_faults.set_faults(bulk_timeout_over_rows=2)
    response = dv.post("accounts/Microsoft.Dynamics.CRM.CreateMultiple", json={"Targets": targets})
    assert response.status_code == 500 and response.json()["error"]["code"] == "0x80044151"
    assert "SQL timeout expired" in response.json()["error"]["message"]
    assert _count(dv, f"name eq '{tag}'") == 0
    response = dv.post("accounts/Microsoft.Dynamics.CRM.CreateMultiple", json={"Targets": targets[:2]})
    assert response.status_code == 200 and len(response.json()["Ids"]) == 2
    with pytest.raises(FaultConfigError, match="bulk_timeout_over_rows"):
        FaultState().update({"bulk_timeout_over_rows": 0})
