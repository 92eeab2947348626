"""The sandbox's Data management package API over real HTTP (protocols.md B10), driven the way
published F&O clients drive it: a signed blob URL, a zip with `Manifest.xml`, `PackageHeader.xml`
and a CSV-Unicode file, `ImportFromPackage`, status polling, the error files; and package export.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
import zipfile

import pytest
import requests

from .test_finops import customer, fo, infolog, key, unique  # noqa: F401  (fo is a fixture)

ACTIONS = "DataManagementDefinitionGroups/Microsoft.Dynamics.DataEntities."
NS = "http://schemas.microsoft.com/dynamics/2015/01/DataManagement"
HEADER = (f'<?xml version="1.0" encoding="utf-8"?><DataManagementPackageHeader '
          f'xmlns:i="http://www.w3.org/2001/XMLSchema-instance" xmlns="{NS}">'
          '<Description>test</Description><ManifestType>Microsoft.Dynamics.AX.Framework.Tools.'
          'DataManagement.Serialization.DataManagementPackageManifest</ManifestType>'
          '<PackageType>DefinitionGroup</PackageType><PackageVersion>2</PackageVersion>'
          '</DataManagementPackageHeader>')


def package(entity: str, columns: list[str], rows: list[list], encoding: str = "utf-16",
            mapped: list[str] | None = None) -> bytes:
    """A data package as published DMF clients build it: one entity, every column mapped."""
    maps = "".join(f"<EntityMap><EntityField>{c}</EntityField><XMLField>{c}</XMLField></EntityMap>"
                   for c in (mapped or columns))
    manifest = (f'<?xml version="1.0" encoding="utf-8"?><DataManagementPackageManifest '
                f'xmlns:i="http://www.w3.org/2001/XMLSchema-instance" xmlns="{NS}">'
                '<DefinitionGroupName>test</DefinitionGroupName><PackageEntityList>'
                '<DataManagementPackageEntityData><DefaultRefreshType>FullPush</DefaultRefreshType>'
                f'<Disable>false</Disable><EntityMapList>{maps}</EntityMapList>'
                f'<EntityName>{entity}</EntityName><ExecutionUnit>1</ExecutionUnit>'
                f'<InputFilePath>{entity}.csv</InputFilePath><LevelInExecutionUnit>1'
                '</LevelInExecutionUnit><SequenceInLevel>1</SequenceInLevel>'
                '<SourceFormat>CSV-Unicode</SourceFormat></DataManagementPackageEntityData>'
                '</PackageEntityList></DataManagementPackageManifest>')
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerows([columns, *rows])
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("Manifest.xml", manifest)
        z.writestr("PackageHeader.xml", HEADER)
        z.writestr(f"{entity}.csv", text.getvalue().encode(encoding))
    return out.getvalue()


def action(fo, name: str, **body) -> requests.Response:
    return fo.session.post(fo.root + ACTIONS + name, json=body, timeout=10)


def value(fo, name: str, **body):
    response = action(fo, name, **body)
    assert response.status_code == 200, response.text
    assert response.json()["@odata.context"].endswith("/data/$metadata#Edm."
                                                      + ("Boolean" if name.startswith("Generate")
                                                         else "String"))
    return response.json()["value"]


def upload(fo, data: bytes) -> str:
    """GetAzureWriteUrl, then the PUT Azure Blob storage expects; the blob URL."""
    target = json.loads(value(fo, "GetAzureWriteUrl", uniqueFileName=unique("pkg-") + ".zip"))
    assert re.fullmatch(r"\{[0-9A-F-]{36}\}", target["BlobId"])
    stored = requests.put(target["BlobUrl"], data=data, timeout=10,
                          headers={"x-ms-blob-type": "BlockBlob"})
    assert stored.status_code == 201, stored.text
    return target["BlobUrl"]


def start_import(fo, data: bytes, company: str = "USMF", execute: bool = True) -> requests.Response:
    return action(fo, "ImportFromPackage", packageUrl=upload(fo, data), definitionGroupId="test",
                  executionId="", execute=execute, overwrite=True, legalEntityId=company)


def wait(fo, execution: str) -> list[str]:
    """Poll until the job has finished; every status seen, in order."""
    seen = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = value(fo, "GetExecutionSummaryStatus", executionId=execution)
        if not seen or seen[-1] != status:
            seen.append(status)
        if status in ("Succeeded", "PartiallySucceeded", "Failed", "Canceled"):
            return seen
        time.sleep(0.05)
    raise AssertionError(f"execution {execution} still {seen[-1]} after 30 s")


def download(url: str) -> list[dict]:
    response = requests.get(url, timeout=10)
    assert response.status_code == 200, response.text
    assert response.content[:2] == b"\xff\xfe"  # CSV-Unicode, like the packages
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-16"), newline="")))


COLUMNS = ["CUSTOMERACCOUNT", "ORGANIZATIONNAME", "CUSTOMERGROUPID", "SALESCURRENCYCODE",
           "CREDITLIMIT"]


def test_a_package_import_lands_good_rows_and_names_each_refused_one(fo):
    existing, new, unknown_group, not_a_number = (unique("PK-") for _ in range(4))
    assert fo.post("CustomersV3", customer(existing, CreditLimit=1)).status_code == 201
    rows = [[existing, "Renamed by a package", "10", "USD", "2500"],
            [new, "New from a package", "10", "USD", ""],
            [unknown_group, "Refused by validation", "99", "USD", "10"],
            [not_a_number, "Refused at staging", "10", "USD", "lots"]]
    started = start_import(fo, package("Customers V3", COLUMNS, rows))
    assert started.status_code == 200, started.text
    execution = started.json()["value"]

    seen = wait(fo, execution)
    assert seen[-1] == "PartiallySucceeded" and set(seen) <= {"NotRun", "Executing",
                                                              "PartiallySucceeded"}
    # landed through the same write path as OData: the update kept what the file did not name
    updated = fo.get(key(existing)).json()
    assert (updated["OrganizationName"], updated["CreditLimit"], updated["LanguageId"]) == \
           ("Renamed by a package", 2500, "en-us")
    assert fo.get(key(new)).json()["PartyNumber"] != ""  # number sequence, as on an OData create
    assert fo.get(key(unknown_group)).status_code == 404
    assert fo.get(key(not_a_number)).status_code == 404

    assert value(fo, "GenerateImportTargetErrorKeysFile", executionId=execution,
                 entityName="Customers V3") is True
    url = ""
    while not url:  # written by the background job: poll, as Microsoft's pseudocode does
        url = value(fo, "GetImportTargetErrorKeysFileUrl", executionId=execution,
                    entityName="Customers V3")
    [refused] = download(url)
    assert (refused["DATAAREAID"], refused["CUSTOMERACCOUNT"]) == ("usmf", unknown_group)
    assert "The value '99' in field 'Customer group' is not found" in refused["ERRORMESSAGE"]

    [staging] = download(value(fo, "GetImportStagingErrorFileUrl", executionId=execution,
                               entityName="Customers V3"))
    assert staging["CUSTOMERACCOUNT"] == not_a_number and staging["CREDITLIMIT"] == "lots"
    assert "'Edm.Decimal'" in staging["ERRORMESSAGE"] and "CreditLimit" in staging["ERRORMESSAGE"]

    errors = json.loads(value(fo, "GetExecutionErrors", executionId=execution))
    assert errors == ["1 'Customers V3' record(s) failed source to staging; see the staging error "
                      "file.", "1 'Customers V3' record(s) failed staging to target; see the "
                      "error keys file."]


def test_an_execution_without_errors_succeeds_and_has_no_error_files(fo):
    account = unique("PK-")
    execution = start_import(fo, package("Customers V3", COLUMNS,
                                         [[account, "Fine", "10", "EUR", "1"]]), "demf").json()["value"]
    assert wait(fo, execution)[-1] == "Succeeded"
    assert fo.get(key(account, "demf") + "?cross-company=true").json()["SalesCurrencyCode"] == "EUR"
    assert value(fo, "GetImportStagingErrorFileUrl", executionId=execution,
                 entityName="Customers V3") == ""
    assert value(fo, "GenerateImportTargetErrorKeysFile", executionId=execution,
                 entityName="Customers V3") is False
    assert json.loads(value(fo, "GetExecutionErrors", executionId=execution)) == []
    assert value(fo, "GetExecutionSummaryStatus", executionId="no such execution") == "Unknown"


def test_staging_only_when_execute_is_false(fo):
    account = unique("PK-")
    execution = start_import(fo, package("Customers V3", COLUMNS, [[account, "Staged", "10", "USD",
                                                                    "1"]]),
                             execute=False).json()["value"]
    assert wait(fo, execution)[-1] == "Succeeded"
    assert fo.get(key(account)).status_code == 404


def test_a_data_file_that_is_not_unicode_fails_the_execution(fo):
    account = unique("PK-")
    data = package("Customers V3", COLUMNS, [[account, "UTF-8", "10", "USD", "1"]], "utf-8")
    execution = start_import(fo, data).json()["value"]
    assert wait(fo, execution)[-1] == "Failed"
    [error] = json.loads(value(fo, "GetExecutionErrors", executionId=execution))
    assert error.startswith("Customers V3: Selected file is not Unicode")
    assert fo.get(key(account)).status_code == 404


def test_the_dmf_execution_failure_fault_fails_jobs_that_start_while_it_is_set(fo, clean_faults):
    clean_faults.set_faults(dmf_execution_failure="The batch job was canceled by the server.")
    account = unique("PK-")
    execution = start_import(fo, package("Customers V3", COLUMNS,
                                         [[account, "x", "10", "USD", "1"]])).json()["value"]
    assert wait(fo, execution)[-1] == "Failed"
    assert json.loads(value(fo, "GetExecutionErrors", executionId=execution)) == [
        "The batch job was canceled by the server."]
    assert fo.get(key(account)).status_code == 404


@pytest.mark.parametrize("data, message", [
    (b"not a zip", "it is not a zip file"),
    (package("Customers V9", COLUMNS, []), "Entity Customers V9 does not exist in the target "
                                           "environment."),
    (package("Customers V3", [*COLUMNS, "FAVOURITECOLOUR"], []),
     "The mapping is incorrect for entity Customers V3 and field FAVOURITECOLOUR."),
    (package("Sellable released products", ["PRODUCTNUMBER"], []),
     "Entity Sellable released products is read-only"),
])
def test_a_package_it_can_not_read_is_refused_at_once(fo, data, message):
    refused = start_import(fo, data)
    assert refused.status_code == 400 and message in infolog(refused)


def test_import_parameters_are_checked_like_odata_action_parameters(fo, sandbox):
    url = upload(fo, package("Customers V3", COLUMNS, []))
    body = {"packageUrl": url, "definitionGroupId": "test", "executionId": "", "execute": True,
            "overwrite": True, "legalEntityId": "USMF"}
    assert action(fo, "ImportFromPackage", **{**body, "legalEntityId": "xxxx"}).status_code == 400
    assert "is missing" in infolog(action(fo, "ImportFromPackage", packageUrl=url))
    assert "not a valid parameter" in infolog(action(fo, "ImportFromPackage", **body, extra=1))
    assert "not a blob of this environment" in infolog(action(
        fo, "ImportFromPackage", **{**body, "packageUrl": "https://example.com/dmf/x.zip"}))
    assert action(fo, "NoSuchAction").status_code == 404
    anonymous = requests.post(fo.root + ACTIONS + "GetAzureWriteUrl", timeout=10,
                              json={"uniqueFileName": "x.zip"})
    assert anonymous.status_code == 401 and anonymous.content == b""


def test_blob_urls_are_signed_for_one_blob_one_operation_and_no_bearer_token(fo):
    url = json.loads(value(fo, "GetAzureWriteUrl", uniqueFileName="signed.zip"))["BlobUrl"]

    def put(target: str, **headers) -> requests.Response:
        return requests.put(target, data=b"zip", timeout=10,
                            headers={"x-ms-blob-type": "BlockBlob", **headers})

    no_type = requests.put(url, data=b"zip", timeout=10)
    assert no_type.status_code == 400 and no_type.headers["x-ms-error-code"] == "MissingRequiredHeader"
    assert put(url.replace("signed.zip", "other.zip")).headers["x-ms-error-code"] == \
        "AuthenticationFailed"
    assert put(url.split("?")[0]).status_code == 403
    stored = put(url)
    assert stored.status_code == 201 and "ms-dyn-aid" not in stored.headers
    assert requests.get(url, timeout=10).headers["x-ms-error-code"] == \
        "AuthorizationPermissionMismatch"  # a write URL does not read
    assert "<Code>AuthorizationPermissionMismatch</Code>" in requests.get(url, timeout=10).text


def test_export_package_holds_the_rows_of_its_legal_entity(fo, sandbox):
    account = unique("EX-")
    assert fo.post("CustomersV3", customer(account, CreditLimit=42)).status_code == 201
    refused = action(fo, "ExportToPackage", definitionGroupId=unique("missing-"), packageName="x",
                     executionId="", reExecute=False, legalEntityId="USMF")
    assert refused.status_code == 400 and "does not exist" in infolog(refused)
    project = unique("export-")
    defined = requests.put(f"{sandbox.finops_url}/_sandbox/finops/data-projects/{project}",
                           json={"entities": ["Customers V3"]}, timeout=10)
    assert defined.status_code == 200, defined.text

    execution = value(fo, "ExportToPackage", definitionGroupId=project, packageName="customers",
                      executionId="", reExecute=False, legalEntityId="USMF")
    assert wait(fo, execution)[-1] == "Succeeded"
    exported = requests.get(value(fo, "GetExportedPackageUrl", executionId=execution), timeout=10)
    with zipfile.ZipFile(io.BytesIO(exported.content)) as z:
        assert {"Manifest.xml", "PackageHeader.xml", "Customers V3.csv"} <= set(z.namelist())
        assert b"<EntityName>Customers V3</EntityName>" in z.read("Manifest.xml")
        data = z.read("Customers V3.csv")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-16"), newline="")))
    mine = [r for r in rows if r["CUSTOMERACCOUNT"] == account]
    assert len(mine) == 1 and float(mine[0]["CREDITLIMIT"]) == 42
    assert {r["DATAAREAID"] for r in rows} == {"usmf"}
