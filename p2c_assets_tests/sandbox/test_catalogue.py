"""The sandbox serves Microsoft's schema and nothing else, and can lose parts of it like a real tenant.

What a live sandbox publishes (F&O `$metadata`, Dataverse `$metadata` and `EntityDefinitions`) is
read over HTTP and every entity set and column is looked up in Microsoft's Common Data Model and its
documented extensions (`p2c_assets.schemas.microsoft`): a name the sandbox made up would let a flow
pass here and fail on its first call to a real tenant. Then the rules that come with the names
(mandatory F&O fields, Dataverse maximum lengths) and the schema-drift settings the preflight is
tested with (`hidden_columns`, `hidden_alternate_keys`).
"""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest
import requests

from p2c_assets.schemas import microsoft
from p2c_sandbox.dataverse.tables import CatalogueError as DataverseCatalogueError
from p2c_sandbox.dataverse.tables import Attr, published_attrs
from p2c_sandbox.finops.entities import CatalogueError, S, public_entity

from .test_finops import customer, fo, infolog, unique  # noqa: F401  (fo is a fixture)

_EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
# the preflight's read of one table (p2c_assets.connectors.metadata)
PREFLIGHT_EXPAND = ("Attributes($select=LogicalName,AttributeType),Keys($select=LogicalName,KeyAttributes),"
                    "ManyToOneRelationships($select=ReferencingAttribute,ReferencingEntityNavigationPropertyName,"
                    "ReferencedEntity)")


# Dataverse table reference, learn.microsoft.com/power-apps/developer/data-platform/reference/entities/organization
ORGANIZATION_COLUMNS = {"organizationid", "name", "createproductswithoutparentinactivestate", "createdon", "modifiedon",
                        "versionnumber"}


def csdl_properties(text: str) -> dict[str, set[str]]:
    """Entity set -> property names, from a CSDL document."""
    schema = ET.fromstring(text).find(f".//{_EDM}Schema")
    types = {t.get("Name"): {p.get("Name") for p in t.findall(f"{_EDM}Property")}
             for t in schema.findall(f"{_EDM}EntityType")}
    return {s.get("Name"): types[s.get("EntityType").rsplit(".", 1)[1]]
            for s in schema.findall(f"{_EDM}EntityContainer/{_EDM}EntitySet")}


def outside_microsoft(system: str, served: dict[str, set[str]]) -> list[str]:
    """Every served entity set or column Microsoft does not publish, named."""
    wrong = []
    for entity_set, columns in sorted(served.items()):
        if entity_set not in microsoft.entity_sets(system):
            wrong.append(entity_set)
            continue
        known = microsoft.columns(system, microsoft.table_of(entity_set) if system == "sales" else entity_set)
        wrong += [f"{entity_set}.{c}" for c in sorted(columns - set(known))]
    return wrong


def dataverse_definitions(dv, **params) -> list[dict]:
    response = dv.get("EntityDefinitions", params=params)
    assert response.status_code == 200, response.text
    return response.json()["value"]


def test_finops_serves_only_microsofts_entity_sets_and_fields(fo):
    served = csdl_properties(fo.get("$metadata").text)
    assert {"ContactPersonsV2", "CustomersV3", "SellableReleasedProducts"} <= set(served)
    assert outside_microsoft("fo", served) == []


def test_dataverse_serves_only_microsofts_tables_and_columns(dv):
    definitions = dataverse_definitions(dv, **{"$select": "LogicalName,EntitySetName",
                                               "$expand": "Attributes($select=LogicalName)"})
    attributes = {d["EntitySetName"]: {a["LogicalName"] for a in d["Attributes"]} for d in definitions}
    # besides the Prospect-to-cash tables, the environment's settings row (not a P2C table, so not in
    # p2c_assets.schemas.microsoft): names from its table reference
    assert attributes.pop("organizations") == ORGANIZATION_COLUMNS
    assert len(attributes) == len(microsoft.entity_sets("sales"))
    for d in definitions:
        if d["EntitySetName"] != "organizations":
            assert microsoft.table_of(d["EntitySetName"]) == d["LogicalName"]
    assert outside_microsoft("sales", attributes) == []

    # $metadata names lookups by their `_x_value` property
    properties = {name: {p[1:-len("_value")] if p.startswith("_") and p.endswith("_value") else p for p in props}
                  for name, props in csdl_properties(dv.get("$metadata").text).items()}
    assert properties.pop("organizations") == ORGANIZATION_COLUMNS
    assert outside_microsoft("sales", properties) == []
    assert "requestdeliveryby" not in attributes["invoicedetails"]  # not a column of InvoiceProduct


def test_the_preflight_reads_a_table_in_the_real_services_shape(dv):
    response = dv.get("EntityDefinitions(LogicalName='contact')", params={
        "$select": "LogicalName,EntitySetName,PrimaryIdAttribute", "$expand": PREFLIGHT_EXPAND})
    assert response.status_code == 200, response.text
    contact = response.json()
    assert (contact["LogicalName"], contact["EntitySetName"], contact["PrimaryIdAttribute"]) == (
        "contact", "contacts", "contactid")
    assert "PrimaryNameAttribute" not in contact  # not selected
    types = {a["LogicalName"]: a["AttributeType"] for a in contact["Attributes"]}
    assert (types["parentcustomerid"], types["parentcustomeridtype"], types["transactioncurrencyid"],
            types["lastname"]) == ("Customer", "EntityName", "Lookup", "String")
    assert set(contact["Attributes"][0]) == {"@odata.type", "MetadataId", "LogicalName", "AttributeType"}
    assert [k["KeyAttributes"] for k in contact["Keys"]] == [["msdynce_contactnumber"]]
    relationships = {(r["ReferencingAttribute"], r["ReferencingEntityNavigationPropertyName"], r["ReferencedEntity"])
                     for r in contact["ManyToOneRelationships"]}
    assert {("parentcustomerid", "parentcustomerid_account", "account"),
            ("parentcustomerid", "parentcustomerid_contact", "contact"),
            ("transactioncurrencyid", "transactioncurrencyid", "transactioncurrency")} <= relationships

    product_lines = dv.get("EntityDefinitions(LogicalName='salesorderdetail')/Keys").json()["value"]
    assert [k["KeyAttributes"] for k in product_lines] == [["msdynce_ordernumber", "sequencenumber"]]
    unknown = dv.get("EntityDefinitions(LogicalName='msdynce_p2cautonumber')")
    assert unknown.status_code == 404
    assert unknown.json()["error"] == {"code": "0x80041102", "message": (
        "The entity with a name = 'msdynce_p2cautonumber' with namemapping = 'Logical' was not found in "
        "the MetadataCache.")}


def test_dataverse_text_longer_than_microsofts_maximum_is_refused(dv):
    """Memo columns too: an account description holds 2,000 characters (CDM maximumLength)."""
    fits = dv.post("accounts", json={"name": "Long story", "description": "x" * 2000})
    assert fits.status_code == 204, fits.text
    too_long = dv.post("accounts", json={"name": "Longer story", "description": "x" * 2001})
    assert too_long.status_code == 400
    assert too_long.json()["error"]["code"] == "0x80044331"
    assert "'description'" in too_long.json()["error"]["message"] and "'2000'" in too_long.json()["error"]["message"]


def test_a_missing_mandatory_finops_field_is_refused_with_the_infolog(fo):
    person = {"ContactPersonId": unique("CP-"), "FirstName": "Ada", "LastName": "Lovelace",
              "EmploymentJobTitle": "Analyst", "PrimaryEmailAddress": "ada@example.com"}
    missing = fo.post("ContactPersonsV2", person)
    assert missing.status_code == 400
    assert infolog(missing) == (
        "Write failed for table row of type 'smmContactPersonV2Entity'. Infolog: Warning: Field 'Associated party "
        "number' must be filled in.; Warning: validateField failed on field "
        "'smmContactPersonV2Entity.AssociatedPartyNumber'.")

    unknown_party = fo.post("ContactPersonsV2", {**person, "AssociatedPartyNumber": "NOBODY"})
    assert "The value 'NOBODY' in field 'Associated party number' is not found in the related table " \
           "'Customers'." in infolog(unknown_party)

    account = unique("C-")
    party = fo.post("CustomersV3", customer(account)).json()["PartyNumber"]
    assert party  # F&O gives a new customer its party number
    created = fo.post("ContactPersonsV2", {**person, "AssociatedPartyNumber": party,
                                           "IsContactPersonExternallyMaintained": "Yes"})
    assert created.status_code == 201, created.text
    assert created.json()["AssociatedPartyNumber"] == party
    other_company = fo.post("ContactPersonsV2", {**person, "ContactPersonId": unique("CP-"),
                                                 "dataAreaId": "demf", "AssociatedPartyNumber": party})
    assert "'smmContactPersonV2Entity.AssociatedPartyNumber'" in infolog(other_company)


def test_hidden_finops_columns_are_gone_from_metadata_reads_and_writes(fo, clean_faults):
    account = unique("C-")
    assert fo.post("CustomersV3", customer(account, SalesMemo="keep me")).status_code == 201
    clean_faults.set_faults(hidden_columns={"CustomersV3": ["SalesMemo", "CustomerAccount"]})

    served = csdl_properties(fo.get("$metadata").text)["CustomersV3"]
    assert "SalesMemo" not in served and "CustomerAccount" in served  # keys stay
    selected = fo.get("CustomersV3", **{"$select": "CustomerAccount,SalesMemo"})
    assert selected.status_code == 400
    assert selected.json()["error"]["message"] == (
        "Could not find a property named 'SalesMemo' on type 'Microsoft.Dynamics.DataEntities.CustomerV3'.")
    written = fo.post("CustomersV3", customer(unique("C-"), SalesMemo="x"))
    assert written.status_code == 400
    assert written.json()["error"]["message"] == (
        "The property 'SalesMemo' does not exist on type 'Microsoft.Dynamics.DataEntities.CustomerV3'. Make sure "
        "to only use property names that are defined by the type or mark the type as open type.")
    row = fo.get(f"CustomersV3(dataAreaId='usmf',CustomerAccount='{account}')").json()
    assert "SalesMemo" not in row
    assert fo.patch(f"CustomersV3(dataAreaId='usmf',CustomerAccount='{account}')",
                    {"CreditLimit": 10}).status_code == 204

    clean_faults.reset_faults()
    assert fo.get(f"CustomersV3(dataAreaId='usmf',CustomerAccount='{account}')").json()["SalesMemo"] == "keep me"


def test_hidden_dataverse_columns_are_gone_from_metadata_reads_and_writes(dv, clean_faults, unique):
    clean_faults.set_faults(hidden_columns={"contacts": ["msdynce_isactivecustomer", "msdynce_contactnumber"]})

    contact = dv.get("EntityDefinitions(LogicalName='contact')", params={"$expand": PREFLIGHT_EXPAND}).json()
    names = {a["LogicalName"] for a in contact["Attributes"]}
    assert "msdynce_isactivecustomer" not in names and "lastname" in names
    assert contact["Keys"] == []  # the key went with its column
    assert "msdynce_isactivecustomer" not in csdl_properties(dv.get("$metadata").text)["contacts"]

    read = dv.get("contacts", params={"$select": "lastname,msdynce_isactivecustomer"})
    assert read.status_code == 400
    assert read.json()["error"] == {"code": "0x80060888", "message": (
        "Could not find a property named 'msdynce_isactivecustomer' on type 'Microsoft.Dynamics.CRM.contact'.")}
    written = dv.post("contacts", json={"lastname": unique(), "msdynce_isactivecustomer": True})
    assert written.status_code == 400
    error = written.json()["error"]
    assert error["code"] == "0x80048d19"
    assert error["message"].endswith(
        "Microsoft.OData.ODataException: The property 'msdynce_isactivecustomer' does not exist on type "
        "'Microsoft.Dynamics.CRM.contact'. Make sure to only use property names that are defined by the type "
        "or mark the type as open type.")


def test_a_hidden_alternate_key_is_gone_and_upserts_by_it_fail(dv, clean_faults):
    clean_faults.set_faults(hidden_alternate_keys={"salesorderdetails": [["sequencenumber", "msdynce_ordernumber"]]})
    keys = dv.get("EntityDefinitions(LogicalName='salesorderdetail')/Keys").json()["value"]
    assert keys == []
    attributes = dv.get("EntityDefinitions(LogicalName='salesorderdetail')/Attributes",
                        params={"$select": "LogicalName"}).json()["value"]
    assert "msdynce_ordernumber" in {a["LogicalName"] for a in attributes}  # the columns stay
    upsert = dv.patch("salesorderdetails(msdynce_ordernumber='SO-1',sequencenumber=1)", json={"quantity": 1})
    assert upsert.status_code == 400
    assert upsert.json()["error"] == {"code": "0x8006088a", "message": "Bad Request - Error in query syntax."}


def test_schema_drift_settings_are_checked(clean_faults):
    with pytest.raises(requests.HTTPError, match="400"):
        clean_faults.set_faults(hidden_columns={"contacts": "msdynce_isactivecustomer"})
    with pytest.raises(requests.HTTPError, match="400"):
        clean_faults.set_faults(hidden_alternate_keys={"salesorderdetails": ["msdynce_ordernumber"]})


def test_declaring_a_name_microsoft_does_not_publish_fails_loudly():
    """The catalogues refuse, when they are built, what a real tenant would not have."""
    with pytest.raises(CatalogueError, match="'ContactPersons' is not in Microsoft's schema"):
        public_entity("ContactPersons", "ContactPerson", "Contacts", ("dataAreaId", "ContactPersonId"), ())
    with pytest.raises(CatalogueError, match="CDSSalesQuotationHeaders: DeliveryAddressState not in"):
        public_entity("CDSSalesQuotationHeaders", "CDSSalesQuotationHeader", "Quotations",
                      ("dataAreaId", "SalesQuotationNumber"), (S("DeliveryAddressState", 10),))
    with pytest.raises(CatalogueError, match="ContactPersonsV2: mandatory dataAreaId, AssociatedPartyNumber"):
        public_entity("ContactPersonsV2", "ContactPersonV2", "Contacts", ("dataAreaId", "ContactPersonId"),
                      (S("ContactPersonId", 20),), table="ContactPersonsV2")
    with pytest.raises(DataverseCatalogueError, match="invoicedetail: requestdeliveryby not in"):
        published_attrs("invoicedetail", "invoicedetails", (Attr("requestdeliveryby", "DateTime"),))
