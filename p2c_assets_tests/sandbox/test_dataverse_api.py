"""The Dataverse service over real HTTP: auth, queries, paging, keys, writes and errors."""

from __future__ import annotations

import time
import uuid
from urllib.parse import quote, unquote

import requests


def test_missing_token_gets_401_with_authenticate_header(sandbox):
    response = requests.get(f"{sandbox.dataverse_url}/api/data/v9.2/accounts")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer authorization_uri=")
    assert response.content == b""


def test_finops_token_is_refused_by_dataverse(sandbox):
    response = requests.get(f"{sandbox.dataverse_url}/api/data/v9.2/accounts",
                            headers={"Authorization": f"Bearer {sandbox.token('finops')}"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "0x80072243"


def test_expired_token_is_refused(clean_faults):
    clean_faults.set_faults(token_lifetime_s=1)
    token = clean_faults.token("dataverse")
    time.sleep(1.1)
    response = requests.get(f"{clean_faults.dataverse_url}/api/data/v9.2/accounts",
                            headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "expired" in response.json()["error"]["message"]


def test_create_returns_204_with_entity_id_and_row_reads_back(dv, unique):
    name = unique("Zürich AG")
    response = dv.post("accounts", json={"name": name, "creditlimit": 1500.5})
    assert response.status_code == 204
    url = response.headers["OData-EntityId"]
    assert url.startswith(dv.root + "accounts(")
    row = dv.get(url).json()
    assert row["name"] == name and row["creditlimit"] == 1500.5
    assert row["@odata.etag"] == f'W/"{row["versionnumber"]}"'


def test_paging_follows_absolute_next_links_across_pages(dv, unique):
    tag = unique("Page")
    for i in range(7):
        dv.post("accounts", json={"name": f"{tag} {i}"})
    seen, url, pages = [], f"accounts?$select=name&$filter=startswith(name,'{tag}')&$orderby=name", 0
    while url:
        response = dv.get(url, headers={"Prefer": "odata.maxpagesize=3"})
        assert response.headers["Preference-Applied"] == "odata.maxpagesize=3"
        body = response.json()
        seen += [r["name"] for r in body["value"]]
        url, pages = body.get("@odata.nextLink"), pages + 1
        assert url is None or url.startswith(dv.root)
    assert pages == 3
    assert seen == [f"{tag} {i}" for i in range(7)]


def test_paging_in_the_default_order_goes_on_after_the_last_id_of_the_page(dv, unique):
    """As Dataverse's paging cookie does (`<accountid last="{...}" first="{...}" />`): a page starts after
    the id the one before ended on, so a row created meanwhile before that id moves no row to another
    page, and a million rows never skip what came before them."""
    tag = unique("Keyset")
    for i in range(7):
        dv.post("accounts", json={"name": f"{tag} {i}"})
    url, pages, seen = f"accounts?$select=name,accountid&$filter=startswith(name,'{tag}')&$count=true", [], []
    while url:
        body = dv.get(url, headers={"Prefer": "odata.maxpagesize=3"}).json()
        pages.append(body)
        seen += [r["accountid"] for r in body["value"]]
        url = body.get("@odata.nextLink")
        if len(pages) == 1:  # rows created between pages: one before every id, one after
            for first in ("0", "f"):
                dv.post("accounts", json={"name": f"{tag} late", "accountid": str(uuid.UUID(first * 32))})
    assert [len(p["value"]) for p in pages] == [3, 3, 2] and pages[0]["@odata.count"] == 7
    assert len(set(seen)) == 8 and seen[-1] == str(uuid.UUID("f" * 32))  # the row before: never a repeat
    assert seen == sorted(seen, key=str.lower)
    cookie = unquote(unquote(pages[0]["@odata.nextLink"].split("$skiptoken=")[1]))
    assert f'<accountid last="{{{seen[2]}}}" first="{{{seen[0]}}}" />' in cookie
    assert dv.get(pages[0]["@odata.nextLink"].replace("accountid", "name")).status_code == 400  # not ours


def test_filter_with_escaped_quote_and_non_ascii(dv, unique):
    tag = unique("x")
    dv.post("accounts", json={"name": f"O'Bryan Ñandú {tag}"})
    dv.post("accounts", json={"name": f"Other {tag}"})
    response = dv.get("accounts", params={"$select": "name",
                                          "$filter": f"name eq 'O''Bryan Ñandú {tag}' or name eq 'nobody'"})
    assert [r["name"] for r in response.json()["value"]] == [f"O'Bryan Ñandú {tag}"]


def test_filter_is_case_insensitive_and_counts(dv, unique):
    tag = unique("case")
    dv.post("accounts", json={"name": tag.upper()})
    body = dv.get("accounts", params={"$filter": f"name eq '{tag.lower()}'", "$count": "true"}).json()
    assert body["@odata.count"] == 1 and body["value"][0]["name"] == tag.upper()


def test_in_query_function_matches_any_of_its_values_without_case(dv, unique):
    tag = unique("in")
    made = [dv.create("accounts", {"name": f"{tag} {n}"}) for n in ("O'Hara", "Two", "Three")]
    values = f"['{tag.upper()} O''Hara',\"{tag} two\",'nobody']"
    response = dv.get("accounts", params={"$select": "name", "$orderby": "name",
                                          "$filter": f"Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues={values})"})
    assert response.status_code == 200, response.text
    assert [r["name"] for r in response.json()["value"]] == [f"{tag} O'Hara", f"{tag} Two"]
    ids = f"['{made[2]['accountid'].upper()}']"
    response = dv.get("accounts", params={
        "$filter": f"startswith(name,'{tag}') and Microsoft.Dynamics.CRM.In(PropertyName='accountid',PropertyValues={ids})"})
    assert [r["name"] for r in response.json()["value"]] == [f"{tag} Three"]


def test_in_query_function_takes_at_most_2000_values(dv):
    values = ",".join(f"'{i}'" for i in range(2001))
    response = dv.get("accounts", params={"$filter": f"Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=[{values}])"})
    assert response.status_code == 400 and "2000" in response.json()["error"]["message"]


def test_unknown_column_in_filter_names_it(dv):
    response = dv.get("accounts", params={"$filter": "nmae eq 'x'"})
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "0x80060888",
        "message": "Could not find a property named 'nmae' on type 'Microsoft.Dynamics.CRM.account'."}


def test_skip_is_rejected_like_dataverse(dv):
    response = dv.get("accounts", params={"$skip": "10"})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "Skip Clause is not supported in CRM"


def test_unknown_entity_set_is_404(dv):
    response = dv.get("acounts")
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "Resource not found for the segment 'acounts'."


def test_alternate_key_url_with_special_characters(dv, unique):
    number = unique("A/B?C'D&")[:20]
    path = "accounts(accountnumber='" + quote(number.replace("'", "''"), safe="") + "')"
    created = dv.patch(path, json={"name": "special"}, headers={"Prefer": "return=representation"})
    assert created.status_code == 201, created.text
    assert dv.get(path).json()["accountnumber"] == number


def test_upsert_creates_then_updates(dv, unique):
    path = f"accounts(accountnumber='{unique('UP')}')"
    first = dv.patch(path, json={"name": "first"}, headers={"Prefer": "return=representation"})
    second = dv.patch(path, json={"name": "second"}, headers={"Prefer": "return=representation"})
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["accountid"] == first.json()["accountid"]
    assert dv.get(path).json()["name"] == "second"


def test_if_match_star_refuses_to_create(dv, unique):
    response = dv.patch(f"accounts(accountnumber='{unique('IM')}')", json={"name": "x"}, headers={"If-Match": "*"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "0x80040217"


def test_if_none_match_star_refuses_to_update(dv, unique):
    path = f"accounts(accountnumber='{unique('INM')}')"
    dv.patch(path, json={"name": "x"})
    response = dv.patch(path, json={"name": "y"}, headers={"If-None-Match": "*"})
    assert response.status_code == 412
    assert dv.get(path).json()["name"] == "x"


def test_stale_etag_is_412(dv, unique):
    row = dv.create("accounts", {"name": unique()})
    path = f"accounts({row['accountid']})"
    dv.patch(path, json={"name": "changed"})
    response = dv.patch(path, json={"name": "late"}, headers={"If-Match": row["@odata.etag"]})
    assert response.status_code == 412 and response.json()["error"]["code"] == "0x80060882"


def test_duplicate_alternate_key_on_create(dv, unique):
    number = unique("DUP")
    dv.post("accounts", json={"name": "a", "accountnumber": number})
    response = dv.post("accounts", json={"name": "b", "accountnumber": number})
    assert response.status_code == 412 and response.json()["error"]["code"] == "0x80040237"


def test_too_long_value_names_the_attribute(dv):
    response = dv.post("accounts", json={"name": "x" * 161})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "0x80044331" and "'name'" in error["message"] and "'160'" in error["message"]


def test_unknown_property_in_body(dv):
    response = dv.post("accounts", json={"name": "x", "colour": "red"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "0x80048d19" and "colour" in response.json()["error"]["message"]


def test_delete_then_get_is_404(dv, unique):
    row = dv.create("accounts", {"name": unique()})
    assert dv.delete(f"accounts({row['accountid']})", headers={"If-Match": "*"}).status_code == 204
    response = dv.get(f"accounts({row['accountid']})")
    assert response.status_code == 404
    assert response.json()["error"]["message"] == f"account With Id = {row['accountid']} Does Not Exist"


def test_lookup_bound_by_alternate_key_reads_as_value_and_expands(dv, unique):
    account = dv.create("accounts", {"name": unique("Parent"), "accountnumber": unique("P")})
    contact = dv.create("contacts", {
        "firstname": "Ada", "lastname": "Lovelace",
        "parentcustomerid_account@odata.bind": f"/accounts(accountnumber='{account['accountnumber']}')"})
    assert contact["_parentcustomerid_value"] == account["accountid"]
    assert contact["fullname"] == "Ada Lovelace"
    expanded = dv.get(f"contacts({contact['contactid']})?$expand=parentcustomerid_account($select=name)").json()
    assert expanded["parentcustomerid_account"]["name"] == account["name"]


def test_binding_the_bare_lookup_name_fails(dv):
    response = dv.post("contacts", json={"lastname": "x", "parentcustomerid@odata.bind": "/accounts(00000000-0000-0000-0000-000000000001)"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "0x80048d19"


def test_formatted_values_when_asked(dv, unique):
    row = dv.create("accounts", {"name": unique(), "customertypecode": 3, "creditlimit": 1234.5})
    body = dv.get(f"accounts({row['accountid']})",
                  headers={"Prefer": 'odata.include-annotations="OData.Community.Display.V1.FormattedValue"'}).json()
    assert body["customertypecode@OData.Community.Display.V1.FormattedValue"] == "Customer"
    assert body["creditlimit@OData.Community.Display.V1.FormattedValue"] == "$1,234.50"
    assert body["statecode@OData.Community.Display.V1.FormattedValue"] == "Active"


def test_throttling_answers_429_with_retry_after(clean_faults, dv):
    clean_faults.set_faults(budget={"requests": 2, "window_s": 30})
    statuses = [dv.get("accounts?$top=1").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    response = dv.get("accounts?$top=1")
    assert response.json()["error"]["code"] == "0x80072322"
    assert 1 <= int(response.headers["Retry-After"]) <= 30


def test_injected_server_errors(clean_faults, dv):
    clean_faults.set_faults(error_rate=1.0, error_statuses=[503])
    response = dv.get("accounts?$top=1")
    assert response.status_code == 503 and response.json()["error"]["message"]
    # the token endpoint is exempt, so a client can still authenticate
    assert clean_faults.token("dataverse")


def test_dropped_connection_breaks_the_response(clean_faults, dv):
    clean_faults.set_faults(drop_rate=1.0)
    try:
        dv.get("accounts?$top=1")
    except requests.exceptions.RequestException as exc:
        assert isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError))
    else:
        raise AssertionError("the connection was not dropped")


def test_latency_is_added(clean_faults, dv):
    clean_faults.set_faults(latency_ms=300)
    started = time.monotonic()
    dv.get("accounts?$top=1")
    assert time.monotonic() - started >= 0.3


def test_who_am_i(dv):
    body = dv.get("WhoAmI").json()
    assert set(body) >= {"BusinessUnitId", "UserId", "OrganizationId"}
