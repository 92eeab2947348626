"""Keys are compared the way the targets compare them: without letter case, character for character.

`ACC-STRASSE-1` and `ACC-STRAßE-1` are two records in both services; `casefold()` would make them one
key (ß -> ss), reject the second as a duplicate and file both outcomes under one key.
"""

import uuid

import pytest

from p2c_assets.connectors import ClientCredentials, DataverseClient, FinOpsClient
from p2c_assets.connectors.odata import fold
from p2c_assets.engine.ledger import Ledger
from p2c_assets.execution import failed_checks, target_metadata
from p2c_assets_tests.helpers import USMF, run_prospect_to_cash, sandbox_resources

COMPANY = (5, 3)  # the seeded sandbox of this module: scale, seed (conftest.company)



def test_keys_match_without_letter_case_but_never_expand_characters():
    assert fold("acc-01000-abc") == fold("ACC-01000-ABC")
    assert fold("ACC-STRAßE-1") != fold("ACC-STRASSE-1")
    assert fold(42) == 42 and fold(None) is None


def test_strasse_and_strasse_with_sharp_s_both_land_and_are_recorded_as_landed(company, tmp_path):
    creds = ClientCredentials(company.tenant, company.client_id, company.client_secret, company.authority_host)
    tag = uuid.uuid4().hex[:6].upper()
    numbers = [f"ACC-STRASSE-{tag}", f"ACC-STRAßE-{tag}"]
    with DataverseClient(company.dataverse_url, creds) as dv:
        written = dv.upsert_many("accounts", [{"accountnumber": n, "name": f"Hauptstraße {i}", **USMF}
                                              for i, n in enumerate(numbers)], key=["accountnumber"])
    assert [o.status for o in written] == ["created", "created"]   # two records in Sales

    resources = sandbox_resources(company, tmp_path / "state.db")
    result = run_prospect_to_cash(resources, job="accounts_flow")

    assert result.success and not failed_checks(result)
    meta = target_metadata(result)["fo/customers"]
    assert meta["rows_failed"] == 0 and meta["rows_rejected"] == 0
    with FinOpsClient(company.finops_url, creds) as fo:
        customers = fo.read("CustomersV3", select=["CustomerAccount", "OrganizationName"], cross_company=True)
    landed = customers[customers["CustomerAccount"].isin(numbers)]
    assert sorted(zip(landed["CustomerAccount"], landed["OrganizationName"])) == [
        (numbers[0], "Hauptstraße 0"), (numbers[1], "Hauptstraße 1")]
    ledger = Ledger(f"sqlite:///{tmp_path / 'state.db'}")
    states = ledger.states("accounts")
    assert {n: states[f"usmf|{n}"].outcome for n in numbers} == {n: "created" for n in numbers}
    ledger.close()
