"""FinOpsClient against the sandbox's F&O OData service over real HTTP."""

import pytest

from p2c_assets.connectors import FinOpsClient
from p2c_assets.connectors.odata import literal


def customers(tag, n, **extra):
    return [{"CustomerAccount": f"{tag}-{i:03d}", "OrganizationName": f"{tag} Customer {i}",
             "CustomerGroupId": "10", "SalesCurrencyCode": "USD", **extra} for i in range(n)]


def mine(tag):
    return f"CustomerAccount eq {literal(tag + '*')}"


def test_read_follows_next_links_past_several_pages(sandbox, fo, tag):
    assert {o.status for o in fo.upsert_many("CustomersV3", customers(tag, 25),
                                             key=["dataAreaId", "CustomerAccount"])} == {"created"}
    sandbox.set_faults(finops_page_size=10)
    before = fo.stats.snapshot()
    pages = list(fo.iter_pages("CustomersV3", select=["CustomerAccount", "OrganizationName"], filter=mine(tag)))
    assert [len(p) for p in pages] == [10, 10, 5]
    assert fo.stats.since(before).requests == 3
    df = fo.read("CustomersV3", select=["dataAreaId", "CustomerAccount"], filter=mine(tag))
    assert sorted(df["CustomerAccount"]) == [f"{tag}-{i:03d}" for i in range(25)]
    assert set(df["dataAreaId"]) == {"usmf"}


def test_upsert_creates_then_updates_and_fills_the_default_company(fo, tag):
    first = fo.upsert_many("CustomersV3", customers(tag, 3), key=["dataAreaId", "CustomerAccount"])
    second = fo.upsert_many("CustomersV3", customers(tag, 4, CreditLimit=5000),
                            key=["dataAreaId", "CustomerAccount"])
    assert [o.status for o in first] == ["created"] * 3
    assert [o.status for o in second] == ["updated"] * 3 + ["created"]
    assert first[0].key == ("usmf", f"{tag}-000")
    assert first[0].target_id == f"dataAreaId='usmf',CustomerAccount='{tag}-000'"
    df = fo.read("CustomersV3", select=["CustomerAccount", "CreditLimit"], filter=mine(tag))
    assert set(df["CreditLimit"]) == {5000}


def test_bad_rows_fail_with_the_infolog_while_good_rows_land(fo, tag):
    rows = customers(tag, 12)
    rows[2]["CustomerGroupId"] = "99"
    rows[7]["CustomerGroupId"] = "99"
    outcomes = fo.upsert_many("CustomersV3", rows, key=["dataAreaId", "CustomerAccount"], batch_size=5)
    assert [i for i, o in enumerate(outcomes) if o.status == "failed"] == [2, 7]
    assert "Customer group" in outcomes[2].error_message and "'99'" in outcomes[2].error_message
    df = fo.read("CustomersV3", select=["CustomerAccount"], filter=mine(tag))
    assert len(df) == 10


def test_companies_filter_reads_other_legal_entities(fo, tag):
    fo.upsert_many("CustomersV3", customers(tag, 2, dataAreaId="demf", SalesCurrencyCode="EUR"),
                   key=["dataAreaId", "CustomerAccount"])
    fo.upsert_many("CustomersV3", customers(tag, 1), key=["dataAreaId", "CustomerAccount"])
    assert len(fo.read("CustomersV3", select=["CustomerAccount"], filter=mine(tag))) == 1
    both = fo.read("CustomersV3", select=["dataAreaId", "CustomerAccount"], filter=mine(tag),
                   companies=["usmf", "DEMF"])
    assert sorted(both["dataAreaId"]) == ["demf", "demf", "usmf"]


@pytest.mark.parametrize("suffix", ["O'Brien", "A&B", "#1/2", "Ünï", "50% +?"])
def test_awkward_key_values_round_trip_through_key_and_filter(fo, tag, suffix):
    account = f"{tag} {suffix}"
    key = ["dataAreaId", "CustomerAccount"]
    row = {"CustomerAccount": account, "OrganizationName": "first", "CustomerGroupId": "10",
           "SalesCurrencyCode": "USD"}
    assert fo.upsert_many("CustomersV3", [row], key=key)[0].status == "created"
    assert fo.upsert_many("CustomersV3", [{**row, "OrganizationName": "second"}], key=key)[0].status == "updated"
    df = fo.read("CustomersV3", select=["CustomerAccount", "OrganizationName"],
                 filter=f"CustomerAccount eq {literal(account)}")
    assert df.to_dict("records") == [{"CustomerAccount": account, "OrganizationName": "second"}]
