"""F&O behaviours real clients rely on, over real HTTP: activity ids on every response, keys and
strings compared case-insensitively, and the `/Metadata/` service agreeing with `/data/$metadata`.
"""

from __future__ import annotations

import re
import sqlite3
from xml.etree import ElementTree as ET

import pytest
import requests

from p2c_assets_tests.conftest import running_sandbox

from .test_finops import customer, fo, infolog, key, unique  # noqa: F401  (fo is a fixture)
from .test_finops_business import batch

GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"


def metadata(sandbox, path: str, **params) -> requests.Response:
    return requests.get(f"{sandbox.finops_url}/Metadata/{path}", params=params, timeout=10,
                        headers={"Authorization": f"Bearer {sandbox.token('finops')}"})


# --- ms-dyn-aid ----------------------------------------------------------------------------------

def test_every_response_carries_its_own_activity_id_and_server_timing(sandbox, fo, clean_faults):
    account = unique("AID-")
    responses = {
        "read": fo.get("Currencies"),
        "create": fo.post("CustomersV3", customer(account)),
        "refused write": fo.post("CustomersV3", customer(unique("AID-"), CustomerGroupId="99")),
        "unknown entity": fo.get("NoSuchEntities"),
        "bad query": fo.get("CustomersV3", **{"$filter": "NoSuchField eq 1"}),
        "batch": batch(fo, [[("PATCH", key(account), {"CreditLimit": 1})]]),
        "no token": requests.get(f"{sandbox.finops_url}/data/Currencies", timeout=10),
        "metadata": metadata(sandbox, "DataEntities"),
    }
    clean_faults.set_faults(error_rate=1.0, error_statuses=[503])
    responses["injected 503"] = fo.get("Currencies")
    clean_faults.set_faults(error_rate=0.0, budget={"requests": 0, "window_s": 30})
    responses["throttled"] = fo.get("Currencies")

    assert [r.status_code for r in responses.values()] == [200, 201, 400, 404, 400, 200, 401, 200,
                                                           503, 429]
    ids = [r.headers.get("ms-dyn-aid", "") for r in responses.values()]
    assert all(GUID.match(i) for i in ids), dict(zip(responses, ids))
    assert len(set(ids)) == len(ids)  # one activity per request
    assert all(re.fullmatch(r"dur=\d+", r.headers["server-timing"]) for r in responses.values())


# --- case-insensitive keys and strings -----------------------------------------------------------

def test_keys_and_filters_find_a_customer_whatever_the_letter_case(fo):
    account = unique("CI-")  # upper case, e.g. CI-1A2B3C4D
    assert fo.post("CustomersV3", customer(account)).status_code == 201

    by_key = fo.get(key(account.lower(), "USMF"))
    assert by_key.status_code == 200
    assert (by_key.json()["CustomerAccount"], by_key.json()["dataAreaId"]) == (account, "usmf")

    found = fo.get("CustomersV3", **{"$filter": f"CustomerAccount eq '{account.lower()}'",
                                     "$select": "CustomerAccount"}).json()["value"]
    assert [r["CustomerAccount"] for r in found] == [account]
    wildcard = fo.get("CustomersV3", **{"$filter": f"CustomerAccount eq '{account.lower()}*'",
                                        "$select": "CustomerAccount"}).json()["value"]
    assert [r["CustomerAccount"] for r in wildcard] == [account]


def test_a_key_in_other_letter_case_is_a_duplicate_on_create_and_the_same_row_on_update(fo):
    account = unique("CI-")
    assert fo.post("CustomersV3", customer(account)).status_code == 201

    duplicate = fo.post("CustomersV3", customer(account.lower()))
    assert duplicate.status_code == 400
    assert "Cannot create a record in Customers (CustTable)" in infolog(duplicate)
    assert "The record already exists." in infolog(duplicate)

    # a PATCH on the lower-case key (with the key repeated in the body, as some clients send it)
    assert fo.patch(key(account.lower()), {"CustomerAccount": account.lower(),
                                           "CreditLimit": 750}).status_code == 204
    rows = fo.get("CustomersV3", **{"$filter": f"CustomerAccount eq '{account}'"}).json()["value"]
    assert [(r["CustomerAccount"], r["CreditLimit"]) for r in rows] == [(account, 750)]

    renamed = fo.patch(key(account), {"CustomerAccount": account + "X"})
    assert renamed.status_code == 400 and "can not be changed" in infolog(renamed)


def test_references_are_found_whatever_the_letter_case(fo):
    # language en-us exists in lower case; F&O's validateField finds it anyway
    created = fo.post("CustomersV3", customer(unique("CI-"), LanguageId="EN-US"))
    assert created.status_code == 201, created.text
    assert created.json()["LanguageId"] == "EN-US"  # stored as written


def test_a_data_directory_from_before_is_upgraded_to_case_insensitive_keys(tmp_path):
    """Tables created case-sensitively by an older sandbox are rebuilt on start, rows kept."""
    with sqlite3.connect(tmp_path / "finops.db") as old:
        old.execute('CREATE TABLE "Currencies" ("CurrencyCode" TEXT NOT NULL DEFAULT \'\', '
                    '"Name" TEXT NOT NULL DEFAULT \'\', "RecVersion" INTEGER NOT NULL DEFAULT 1, '
                    'PRIMARY KEY ("CurrencyCode"))')
        old.execute("INSERT INTO Currencies (CurrencyCode, Name) VALUES ('CHF', 'Swiss franc')")
    old.close()
    with running_sandbox(tmp_path) as sandbox:
        headers = {"Authorization": f"Bearer {sandbox.token('finops')}"}
        kept = requests.get(f"{sandbox.finops_url}/data/Currencies('chf')", headers=headers,
                            timeout=10)
        assert kept.status_code == 200 and kept.json()["Name"] == "Swiss franc"
        again = requests.post(f"{sandbox.finops_url}/data/Currencies", headers=headers,
                              json={"CurrencyCode": "chf"}, timeout=10)
        assert again.status_code == 400 and "already exists" in again.text


# --- /Metadata -----------------------------------------------------------------------------------

def test_data_entities_list_every_entity_set_of_the_data_endpoint(sandbox, fo):
    sets = {s["name"] for s in fo.get("").json()["value"]}
    entities = metadata(sandbox, "DataEntities").json()["value"]
    assert {e["PublicCollectionName"] for e in entities} == sets
    customers = next(e for e in entities if e["PublicCollectionName"] == "CustomersV3")
    assert customers == {
        "Name": "CustCustomerV3Entity", "PublicEntityName": "CustomerV3",
        "PublicCollectionName": "CustomersV3", "LabelId": None, "DataServiceEnabled": True,
        "DataManagementEnabled": None, "EntityCategory": None, "IsReadOnly": False}
    assert metadata(sandbox, "DataEntities('CustCustomerV3Entity')").json()["PublicEntityName"] \
        == "CustomerV3"

    # what d365fo-client and the d365fo.integrations cmdlets send
    selected = metadata(sandbox, "DataEntities", **{
        "$filter": "PublicCollectionName eq 'SellableReleasedProducts'",
        "$select": "Name,PublicEntityName,IsReadOnly"}).json()["value"]
    assert selected == [{"Name": "EcoResSellableReleasedProductEntity",
                         "PublicEntityName": "SellableReleasedProduct", "IsReadOnly": True}]
    search = metadata(sandbox, "PublicEntities", **{
        "$filter": "contains(tolower(Name), 'customer') and IsReadOnly eq false",
        "$select": "Name,EntitySetName"}).json()["value"]
    assert {"Name": "CustomerV3", "EntitySetName": "CustomersV3"} in search
    assert all("customer" in e["Name"].lower() for e in search)
    category = metadata(sandbox, "DataEntities", **{
        "$filter": "EntityCategory eq Microsoft.Dynamics.Metadata.EntityCategory'Master'"})
    assert category.status_code == 200 and category.json()["value"] == []  # no categories here
    page = metadata(sandbox, "DataEntities", **{"$top": "2", "$skip": "1", "$count": "true",
                                                "$orderby": "Name desc"}).json()
    names = sorted((e["Name"] for e in entities), reverse=True)
    assert [e["Name"] for e in page["value"]] == names[1:3]
    assert page["@odata.count"] == len(entities)


def test_public_entity_describes_keys_mandatory_and_editable_properties(sandbox):
    customer_entity = metadata(sandbox, "PublicEntities('CustomerV3')").json()
    assert (customer_entity["Name"], customer_entity["EntitySetName"],
            customer_entity["IsReadOnly"]) == ("CustomerV3", "CustomersV3", False)
    properties = {p["Name"]: p for p in customer_entity["Properties"]}
    assert [n for n, p in properties.items() if p["IsKey"]] == ["dataAreaId", "CustomerAccount"]
    assert properties["CustomerAccount"] == {
        "Name": "CustomerAccount", "TypeName": "Edm.String", "DataType": "String",
        "LabelId": None, "IsKey": True, "IsMandatory": True, "ConfigurationEnabled": True,
        "AllowEdit": False, "AllowEditOnCreate": True, "IsDimension": False,
        "DimensionRelation": "", "IsDynamicDimension": False, "DimensionLegalEntityProperty": "",
        "DimensionTypeProperty": "", "PropertyConstraints": []}
    assert {n for n, p in properties.items() if p["IsMandatory"]} == {
        "CustomerAccount", "CustomerGroupId", "SalesCurrencyCode"}
    assert (properties["IsExternallyMaintained"]["TypeName"],
            properties["IsExternallyMaintained"]["DataType"]) == (
        "Microsoft.Dynamics.DataEntities.NoYes", "Enum")
    assert properties["CreditLimit"]["DataType"] == "Real"
    assert properties["OrganizationName"]["AllowEdit"] is True

    order = metadata(sandbox, "PublicEntities(Name='CDSSalesOrderHeader')").json()
    order_properties = {p["Name"]: p for p in order["Properties"]}
    assert order_properties["OrderTotalAmount"]["AllowEditOnCreate"] is False  # computed
    assert order["NavigationProperties"] == [{
        "Name": "SalesOrderLines", "RelatedEntity": "CDSSalesOrderLine",
        "RelatedRelationName": None, "Cardinality": "Multiple", "Constraints": [
            {"@odata.type": "#Microsoft.Dynamics.Metadata.ReferentialConstraint",
             "Property": k, "ReferencedProperty": k} for k in ("dataAreaId", "SalesOrderNumber")]}]
    view = metadata(sandbox, "PublicEntities('SellableReleasedProduct')").json()
    assert view["IsReadOnly"] is True
    assert not any(p["AllowEdit"] or p["AllowEditOnCreate"] for p in view["Properties"])


def test_public_enumerations_list_members_with_their_values(sandbox):
    no_yes = metadata(sandbox, "PublicEnumerations('NoYes')").json()
    assert (no_yes["Name"], no_yes["Members"]) == ("NoYes", [
        {"Name": "No", "LabelId": None, "Value": 0, "ConfigurationEnabled": True},
        {"Name": "Yes", "LabelId": None, "Value": 1, "ConfigurationEnabled": True}])
    names = metadata(sandbox, "PublicEnumerations", **{"$select": "Name"}).json()["value"]
    assert {"Name": "SalesOrderProcessingStatus"} in names


@pytest.mark.parametrize("path", ["PublicEntities('CustomersV3')",  # a set name, not an entity
                                  "PublicEntities('NoSuchEntity')", "DataEntities('CustomerV3')",
                                  "PublicEnumerations('NoSuchEnum')", "NoSuchCollection"])
def test_unknown_names_answer_404_in_the_odata_error_shape(sandbox, path):
    response = metadata(sandbox, path)
    assert response.status_code == 404
    assert response.json()["error"]["message"].startswith("Resource not found for the segment")


def test_metadata_needs_a_token_is_read_only_and_checks_query_options(sandbox):
    url = f"{sandbox.finops_url}/Metadata/DataEntities"
    assert requests.get(url, timeout=10).status_code == 401
    token = {"Authorization": f"Bearer {sandbox.token('finops')}"}
    assert requests.post(url, json={}, headers=token, timeout=10).status_code == 405
    for params, message in (({"$select": "Colour"}, "Could not find a property named 'Colour'"),
                            ({"$filter": "Colour eq 'red'"}, "Could not find a property"),
                            ({"$filter": "Name eq"}, "Syntax error"),
                            ({"$top": "-1"}, "non-negative integer")):
        response = metadata(sandbox, "DataEntities", **params)
        assert response.status_code == 400, params
        assert message in response.json()["error"]["message"], params


def test_metadata_service_and_csdl_describe_the_same_entities_and_enums(sandbox, fo):
    schema = ET.fromstring(fo.get("$metadata").content).find(f".//{EDM}Schema")
    types = {t.get("Name"): t for t in schema.findall(f"{EDM}EntityType")}
    from_csdl = {}
    for entity_set in schema.find(f"{EDM}EntityContainer").findall(f"{EDM}EntitySet"):
        entity_type = types[entity_set.get("EntityType").rsplit(".", 1)[1]]
        from_csdl[entity_set.get("Name")] = (
            entity_type.get("Name"),
            [k.get("Name") for k in entity_type.find(f"{EDM}Key")],
            [(p.get("Name"), p.get("Type")) for p in entity_type.findall(f"{EDM}Property")],
            [n.get("Name") for n in entity_type.findall(f"{EDM}NavigationProperty")])
    from_service = {
        e["EntitySetName"]: (e["Name"], [p["Name"] for p in e["Properties"] if p["IsKey"]],
                             [(p["Name"], p["TypeName"]) for p in e["Properties"]],
                             [n["Name"] for n in e["NavigationProperties"]])
        for e in metadata(sandbox, "PublicEntities").json()["value"]}
    assert from_service == from_csdl

    enums_csdl = {e.get("Name"): [(m.get("Name"), int(m.get("Value"))) for m in e]
                  for e in schema.findall(f"{EDM}EnumType")}
    enums_service = {e["Name"]: [(m["Name"], m["Value"]) for m in e["Members"]]
                     for e in metadata(sandbox, "PublicEnumerations").json()["value"]}
    assert enums_service == enums_csdl


def test_what_a_create_must_fill_is_declared_mandatory(sandbox, fo):
    """An empty create of each writable entity is refused only for properties /Metadata marks
    IsMandatory (others the service fills itself, e.g. an order's number), so a client that reads
    /Metadata is never surprised by a "must be filled in"."""
    refused = 0
    for entity in metadata(sandbox, "PublicEntities", **{
            "$filter": "IsReadOnly eq false"}).json()["value"]:
        response = fo.post(entity["EntitySetName"], {})
        if response.status_code == 201:  # the service filled everything it needs
            assert fo.session.delete(response.headers["Location"], timeout=10).status_code == 204
            continue
        assert response.status_code == 400, entity["Name"]
        named = set(re.findall(r"validateField failed on field '\w+\.(\w+)'", infolog(response)))
        assert named, infolog(response)
        assert named <= {p["Name"] for p in entity["Properties"] if p["IsMandatory"]}, \
            entity["Name"]
        refused += 1
    assert refused >= 5  # customers, contacts, products, quotations, setup entities, ...
