"""The sandbox's F&O OData service over real HTTP: reads, writes, validation, companies, auth.

Shared fixtures for the other `test_finops_*` modules live here: an authenticated session and a
small demo setup (two legal entities, currencies, units, groups, sites, products) created through
the OData API itself, and the admin endpoints for what F&O users set in forms (ledger currency,
released products with their names), idempotently, so the session-wide sandbox can be shared.
"""

from __future__ import annotations

import time
import uuid

import pytest
import requests

NOYES = "Microsoft.Dynamics.DataEntities.NoYes"


class FinOps:
    """A requests session on `/data/` with a bearer token for the F&O service."""

    def __init__(self, sandbox):
        self.root = f"{sandbox.finops_url}/data/"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {sandbox.token('finops')}"
        self.admin = f"{sandbox.finops_url}/_sandbox/finops"

    def get(self, path: str, **params) -> requests.Response:
        return self.session.get(self.root + path, params=params, timeout=10)

    def post(self, path: str, body: dict) -> requests.Response:
        return self.session.post(self.root + path, json=body, timeout=10)

    def patch(self, path: str, body: dict) -> requests.Response:
        return self.session.patch(self.root + path, json=body, timeout=10)

    def delete(self, path: str) -> requests.Response:
        return self.session.delete(self.root + path, timeout=10)

    def ensure(self, entity_set: str, row: dict) -> None:
        """Create `row` unless it exists already (the sandbox is shared by the whole session)."""
        created_or_exists(self.post(entity_set, row))

    def action(self, path: str, body: dict | None = None, method: str = "POST") -> requests.Response:
        return requests.request(method, f"{self.admin}/{path}", json=body or {}, timeout=10)


def created_or_exists(response: requests.Response) -> None:
    assert response.status_code == 201 or "already exists" in response.text, response.text


def infolog(response: requests.Response) -> str:
    return response.json()["error"]["innererror"]["message"]


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8].upper()}"


@pytest.fixture(scope="module")
def fo(sandbox) -> FinOps:
    """An F&O session on a sandbox holding the demo setup of usmf (USD) and demf (EUR)."""
    api = FinOps(sandbox)
    for code, name in (("USD", "US Dollar"), ("EUR", "Euro")):
        api.ensure("Currencies", {"CurrencyCode": code, "Name": name})
    for company, currency in (("usmf", "USD"), ("demf", "EUR")):
        api.ensure("LegalEntities", {"LegalEntityId": company, "Name": company.upper()})
        assert api.action(f"ledgers/{company}", {"AccountingCurrency": currency}, "PUT").ok
    api.ensure("UnitsOfMeasure", {"UnitSymbol": "ea", "UnitDescription": "Each"})
    api.ensure("LanguageCodes", {"LanguageId": "en-us", "Description": "English (US)"})
    for company in ("usmf", "demf"):
        api.ensure("CustomerGroups", {"dataAreaId": company, "CustomerGroupId": "10",
                                      "Description": "Wholesale customers"})
        api.ensure("OperationalSites", {"dataAreaId": company, "SiteId": "1", "SiteName": "Main"})
        api.ensure("Warehouses", {"dataAreaId": company, "WarehouseId": "11",
                                  "OperationalSiteId": "1", "WarehouseName": "Main"})
        for item, price in (("D0001", 120.0), ("D0002", 35.5), ("X0001", 0)):
            created_or_exists(api.action("products", {
                "company": company, "ItemNumber": item, "ProductNumber": item,
                "ProductName": f"Product {item}", "SalesUnitSymbol": "ea",
                "InventoryUnitSymbol": "ea", "SalesPrice": price, "UnitCost": price / 2}))
    return api


def customer(account: str, **fields) -> dict:
    return {"CustomerAccount": account, "OrganizationName": f"Org {account}",
            "CustomerGroupId": "10", "SalesCurrencyCode": "USD", "LanguageId": "en-us", **fields}


def key(account: str, company: str = "usmf") -> str:
    return f"CustomersV3(dataAreaId='{company}',CustomerAccount='{account}')"


def test_service_document_and_metadata_describe_the_entities(fo):
    names = {s["name"] for s in fo.get("").json()["value"]}
    assert {"CustomersV3", "CDSSalesOrderHeaders", "SellableReleasedProducts",
            "ExternallyMaintainedCustomerSalesInvoiceLines"} <= names

    csdl = fo.get("$metadata").text
    assert 'Namespace="Microsoft.Dynamics.DataEntities"' in csdl
    assert '<EntityType Name="CustomerV3"><Key><PropertyRef Name="dataAreaId" />' \
           '<PropertyRef Name="CustomerAccount" /></Key>' in csdl
    assert '<Property Name="IsExternallyMaintained" Type="Microsoft.Dynamics.DataEntities.NoYes"' \
           in csdl
    assert '<EnumType Name="NoYes"><Member Name="No" Value="0" />' in csdl


def test_create_read_update_delete_a_customer(fo):
    account = unique("C-")
    created = fo.post("CustomersV3", customer(account, IsExternallyMaintained="Yes"))
    assert created.status_code == 201
    assert created.json()["dataAreaId"] == "usmf"  # the default company
    assert created.json()["IsExternallyMaintained"] == "Yes"
    assert created.json()["DeliveryAddressCity"] == ""  # empty strings, not nulls
    assert created.headers["Location"].endswith(key(account))

    read = fo.get(key(account))
    assert read.status_code == 200 and read.json()["OrganizationName"] == f"Org {account}"
    assert read.json()["@odata.etag"].startswith('W/"')

    assert fo.patch(key(account), {"CreditLimit": 5000, "PrimaryContactEmail": "a@b.com"}) \
        .status_code == 204
    assert fo.get(key(account)).json()["CreditLimit"] == 5000

    assert fo.delete(key(account)).status_code == 204
    assert fo.get(key(account)).status_code == 404


def test_duplicate_create_and_missing_key_errors(fo):
    account = unique("C-")
    assert fo.post("CustomersV3", customer(account)).status_code == 201
    duplicate = fo.post("CustomersV3", customer(account))
    assert duplicate.status_code == 400
    assert "Cannot create a record in Customers (CustTable)" in infolog(duplicate)
    assert f"Customer account: {account}" in infolog(duplicate)
    assert "The record already exists." in infolog(duplicate)

    missing = fo.patch(key("NO-SUCH-ACCOUNT"), {"CreditLimit": 1})
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "Resource not found for the segment 'CustomersV3'."
    assert fo.delete(key("NO-SUCH-ACCOUNT")).status_code == 404
    assert fo.get("NoSuchEntities").status_code == 404


def test_validation_names_the_field_in_the_infolog(fo):
    bad_group = fo.post("CustomersV3", customer(unique("C-"), CustomerGroupId="99"))
    assert bad_group.status_code == 400
    assert bad_group.json()["error"]["code"] == ""
    assert infolog(bad_group) == (
        "Write failed for table row of type 'CustCustomerV3Entity'. Infolog: Warning: The value "
        "'99' in field 'Customer group' is not found in the related table 'Customer groups'.; "
        "Warning: validateField failed on field 'CustCustomerV3Entity.CustomerGroupId'.")

    several = fo.post("CustomersV3", customer(unique("C-"), SiteId="S9", WarehouseId="W9",
                                              LanguageId="xx", SalesCurrencyCode="ZZZ"))
    for name in ("SiteId", "WarehouseId", "LanguageId", "SalesCurrencyCode"):
        assert f"validateField failed on field 'CustCustomerV3Entity.{name}'" in infolog(several)

    too_long = fo.post("CustomersV3", customer(unique("C-"), OrganizationName="x" * 101))
    assert "'Organization name' is 101 characters long; the field allows at most 100" \
        in infolog(too_long)

    required = fo.post("CustomersV3", {"CustomerAccount": unique("C-"), "SalesCurrencyCode": "USD"})
    assert "Field 'Customer group' must be filled in." in infolog(required)

    unknown = fo.post("CustomersV3", customer(unique("C-"), Colour="red"))
    assert unknown.status_code == 400
    assert "The property 'Colour' does not exist" in unknown.json()["error"]["message"]

    bad_enum = fo.post("CustomersV3", customer(unique("C-"), IsExternallyMaintained="Maybe"))
    assert "'Maybe' is not a valid member" in bad_enum.json()["error"]["message"]


def test_only_the_default_company_is_visible_without_cross_company(fo):
    account = unique("DE-")
    assert fo.post("CustomersV3", customer(account, dataAreaId="DEMF",
                                           SalesCurrencyCode="EUR")).status_code == 201
    only_usmf = fo.get("CustomersV3", **{"$filter": f"CustomerAccount eq '{account}'"}).json()
    assert only_usmf["value"] == []
    assert fo.get(key(account, "demf")).status_code == 404

    demf = fo.get("CustomersV3", **{"$filter": "dataAreaId eq 'demf'", "cross-company": "true",
                                    "$select": "dataAreaId,CustomerAccount"}).json()["value"]
    assert {"dataAreaId": "demf", "CustomerAccount": account} in [
        {k: v for k, v in row.items() if not k.startswith("@")} for row in demf]
    assert {row["dataAreaId"] for row in demf} == {"demf"}
    assert fo.get(key(account, "demf"), **{"cross-company": "true"}).json()["dataAreaId"] == "demf"


def test_enum_filters_and_documented_limits(fo):
    external, internal = unique("EXT-"), unique("INT-")
    fo.post("CustomersV3", customer(external, IsExternallyMaintained="Yes"))
    fo.post("CustomersV3", customer(internal))

    def accounts(flt):
        response = fo.get("CustomersV3", **{"$filter": flt, "$select": "CustomerAccount"})
        assert response.status_code == 200, response.text
        return {r["CustomerAccount"] for r in response.json()["value"]}

    both = f"(CustomerAccount eq '{external}' or CustomerAccount eq '{internal}')"
    assert accounts(f"{both} and IsExternallyMaintained eq {NOYES}'Yes'") == {external}
    assert accounts(f"{both} and IsExternallyMaintained ne {NOYES}'Yes'") == {internal}
    assert accounts(f"CustomerAccount eq '*{external[4:]}*'") == {external}  # wildcard "contains"

    for flt, message in (
            ("IsExternallyMaintained eq 'Yes'", "incompatible types"),
            (f"IsExternallyMaintained gt {NOYES}'No'", "Only 'eq' and 'ne'"),
            (f"IsExternallyMaintained eq {NOYES}'Maybe'", "not a valid value"),
            ("contains(OrganizationName,'Org')", "function 'contains' is not supported"),
            ("startswith(OrganizationName,'Org')", "function 'startswith' is not supported"),
            ("CustomerGroupId in ('10','20')", "'in' operator is not supported"),
            ("CustomerGroupId has '10'", "'has' operator is not supported"),
            ("NoSuchField eq 1", "Could not find a property named 'NoSuchField'")):
        response = fo.get("CustomersV3", **{"$filter": flt})
        assert response.status_code == 400, flt
        assert message in response.json()["error"]["message"], flt


def test_paging_follows_next_links_across_pages(fo, clean_faults):
    prefix = unique("PG")
    for n in range(7):
        assert fo.post("CustomersV3", customer(f"{prefix}-{n}")).status_code == 201
    clean_faults.set_faults(finops_page_size=3)

    page = fo.get("CustomersV3", **{"$filter": f"CustomerAccount eq '{prefix}*'",
                                    "$count": "true", "$select": "CustomerAccount"}).json()
    assert page["@odata.count"] == 7
    seen, pages = [r["CustomerAccount"] for r in page["value"]], 1
    while "@odata.nextLink" in page:
        assert page["@odata.nextLink"].startswith(fo.root)
        page = fo.session.get(page["@odata.nextLink"], timeout=10).json()
        seen += [r["CustomerAccount"] for r in page["value"]]
        pages += 1
    assert pages == 3
    assert seen == [f"{prefix}-{n}" for n in range(7)]  # key order, nothing twice

    top = fo.get("CustomersV3", **{"$filter": f"CustomerAccount eq '{prefix}*'", "$top": "4",
                                   "$skip": "1", "$orderby": "CustomerAccount desc"}).json()
    assert [r["CustomerAccount"] for r in top["value"]] == [f"{prefix}-{n}" for n in (5, 4, 3)]
    rest = fo.session.get(top["@odata.nextLink"], timeout=10).json()
    assert [r["CustomerAccount"] for r in rest["value"]] == [f"{prefix}-2"]
    assert "@odata.nextLink" not in rest
    count = fo.get("CustomersV3/$count", **{"$filter": f"CustomerAccount eq '{prefix}*'"})
    assert count.text == "7"


def test_sellable_products_are_a_read_only_view(fo):
    products = fo.get("SellableReleasedProducts", **{"$filter": "ProductNumber eq '*0001'"}).json()
    assert [(p["ProductNumber"], p["CurrencyCode"]) for p in products["value"]] == [
        ("D0001", "USD")]  # X0001 has no price: not sellable
    refused = fo.post("SellableReleasedProducts", {"ProductNumber": "N1"})
    assert refused.status_code == 405
    assert "read-only" in infolog(refused)
    invoice = fo.post("ExternallyMaintainedCustomerSalesInvoiceHeaders", {"InvoiceNumber": "1"})
    assert invoice.status_code == 405


def test_quotation_needs_known_customer_and_lines_need_their_header(fo):
    number = unique("Q-")
    unknown_customer = fo.post("CDSSalesQuotationHeaders", {
        "SalesQuotationNumber": number, "RequestingCustomerAccountNumber": "NOBODY",
        "CurrencyCode": "USD"})
    assert "validateField failed on field " \
           "'SalesQuotationHeaderCDSEntity.RequestingCustomerAccountNumber'" \
           in infolog(unknown_customer)

    orphan = fo.post("CDSSalesQuotationLines", {"SalesQuotationNumber": number,
                                                "LineCreationSequenceNumber": 1,
                                                "ProductNumber": "D0001"})
    assert "'Sales quotations'" in infolog(orphan)
    assert "'SalesQuotationLineCDSEntity.SalesQuotationNumber'" in infolog(orphan)

    account = unique("C-")
    fo.post("CustomersV3", customer(account))
    header = fo.post("CDSSalesQuotationHeaders", {
        "SalesQuotationNumber": number, "RequestingCustomerAccountNumber": account,
        "CurrencyCode": "USD", "ReceiptDateRequested": "2020-01-01T00:00:00Z"})
    assert header.status_code == 201, header.text
    assert header.json()["InvoiceCustomerAccountNumber"] == account
    line = fo.post("CDSSalesQuotationLines", {
        "SalesQuotationNumber": number, "LineCreationSequenceNumber": 1, "ProductNumber": "D0001",
        "RequestedSalesQuantity": 3, "LineDiscountAmount": 3.33, "TotalChargesAmount": -0.01})
    assert line.status_code == 201, line.text
    assert (line.json()["SalesUnitSymbol"], line.json()["SalesPrice"]) == ("ea", 120.0)
    assert line.json()["LineAmount"] == 350.01  # 3 x (120 - 3.33 per unit)
    bad_product = fo.post("CDSSalesQuotationLines", {
        "SalesQuotationNumber": number, "LineCreationSequenceNumber": 2, "ProductNumber": "NOPE",
        "SalesUnitSymbol": "box"})
    for name in ("ProductNumber", "SalesUnitSymbol"):
        assert f"'SalesQuotationLineCDSEntity.{name}'" in infolog(bad_product)

    expanded = fo.get(f"CDSSalesQuotationHeaders", **{
        "$filter": f"SalesQuotationNumber eq '{number}'",
        "$expand": "SalesQuotationLines($select=ProductNumber,LineAmount)"}).json()["value"]
    assert [(r["ProductNumber"], r["LineAmount"]) for r in expanded[0]["SalesQuotationLines"]] \
        == [("D0001", 350.01)]
    line_key = (f"CDSSalesQuotationLines(dataAreaId='usmf',SalesQuotationNumber='{number}',"
                f"LineCreationSequenceNumber=1)")
    assert fo.get(line_key).json()["RequestedSalesQuantity"] == 3


def test_bad_tokens_get_401_with_an_empty_body(sandbox, fo):
    url = f"{sandbox.finops_url}/data/CustomersV3"
    missing = requests.get(url, timeout=10)
    assert (missing.status_code, missing.content) == (401, b"")
    garbage = requests.get(url, headers={"Authorization": "Bearer not-a-jwt"}, timeout=10)
    assert garbage.status_code == 401
    dataverse_token = requests.get(url, headers={
        "Authorization": f"Bearer {sandbox.token('dataverse')}"}, timeout=10)
    assert dataverse_token.status_code == 401


def test_expired_token_gets_401(sandbox, clean_faults):
    clean_faults.set_faults(token_lifetime_s=1)
    token = sandbox.token("finops")
    time.sleep(2.1)
    expired = requests.get(f"{sandbox.finops_url}/data/Currencies",
                           headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert (expired.status_code, expired.content) == (401, b"")


def test_throttled_requests_get_429_with_retry_after(fo, clean_faults):
    clean_faults.set_faults(budget={"requests": 2, "window_s": 30})
    statuses = [fo.get("Currencies").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    throttled = fo.get("Currencies")
    assert throttled.text == "Too many requests"
    assert 1 <= int(throttled.headers["Retry-After"]) <= 30


def test_injected_errors_use_the_finops_error_shape(fo, clean_faults):
    clean_faults.set_faults(error_rate=1.0, error_statuses=[503])
    failed = fo.get("Currencies")
    assert failed.status_code == 503
    assert failed.json()["error"]["innererror"]["message"] == "Injected sandbox fault (HTTP 503)."
