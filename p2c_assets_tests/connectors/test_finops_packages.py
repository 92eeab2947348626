"""FinOpsClient's bulk route (Data management package import) against the sandbox over real HTTP:
large writes land with one outcome per row, refused rows say which field, a failed execution fails
its rows with F&O's message, and small writes stay on OData ``$batch``."""

import weakref
from collections.abc import Sequence

import pytest

from p2c_assets.connectors import ClientCredentials, FinOpsClient
from p2c_assets.connectors.odata import literal

from .conftest import FAST_RETRY

KEY = ["dataAreaId", "CustomerAccount"]


def customers(tag, n, **extra):
    return [{"CustomerAccount": f"{tag}-{i:05d}", "OrganizationName": f"{tag} Customer {i}",
             "CustomerGroupId": "10", "SalesCurrencyCode": "USD", **extra} for i in range(n)]


def mine(tag):
    return f"CustomerAccount eq {literal(tag + '*')}"


@pytest.fixture(scope="module")
def legal_entities(sandbox, finops_reference_data):
    """A package imports into a legal entity, which must exist."""
    creds = ClientCredentials(sandbox.tenant, sandbox.client_id, sandbox.client_secret, sandbox.authority_host)
    with FinOpsClient(sandbox.finops_url, creds) as client:
        written = client.upsert_many("LegalEntities", [{"LegalEntityId": c, "Name": c.upper()}
                                                       for c in ("usmf", "demf")], key=["LegalEntityId"])
    assert all(o.status != "failed" for o in written), written


@pytest.fixture
def bulk(sandbox, creds, legal_entities):
    """A client whose writes of 50 rows or more go through package imports."""
    with FinOpsClient(sandbox.finops_url, creds, package_threshold=50, retry=FAST_RETRY) as client:
        yield client


def test_a_large_write_lands_through_one_package_per_company_with_an_outcome_per_row(fo, bulk, tag):
    assert fo.upsert_many("CustomersV3", customers(tag, 2, CreditLimit=1), key=KEY)[0].status == "created"
    rows = customers(tag, 3000, CreditLimit=2500)
    rows[-1] = {**rows[-1], "dataAreaId": "demf", "SalesCurrencyCode": "EUR"}
    before = bulk.stats.snapshot()

    outcomes = bulk.upsert_many("CustomersV3", rows, key=KEY)

    assert [o.status for o in outcomes] == ["updated"] * 2 + ["created"] * 2998
    assert [o.key for o in outcomes] == [(r.get("dataAreaId", "usmf"), r["CustomerAccount"]) for r in rows]
    assert outcomes[0].target_id == f"dataAreaId='usmf',CustomerAccount='{tag}-00000'"
    # made as they are read (`packages.Outcomes`), by position like a list's
    assert outcomes[-1] == outcomes[2999] == outcomes[2998:][1] != outcomes[0]
    assert outcomes[-1].target_id == f"dataAreaId='demf',CustomerAccount='{tag}-02999'"
    with pytest.raises(IndexError):
        outcomes[3000]
    # far fewer requests than $batch's 4 per 1,000 rows: one key read, then per package
    # GetAzureWriteUrl, the blob PUT, ImportFromPackage and a few status polls
    assert bulk.stats.since(before).requests < 30
    landed = bulk.read("CustomersV3", select=["dataAreaId", "CreditLimit"], filter=mine(tag),
                       companies=["usmf", "demf"])
    assert len(landed) == 3000 and set(landed["CreditLimit"]) == {2500}
    assert sorted(landed["dataAreaId"].unique()) == ["demf", "usmf"]


def test_rows_the_caller_knows_landed_are_updated_without_a_key_read(bulk, tag):
    """`landed` (the ledger's): those rows are reported updated unread; when every row landed, the target's
    keys are not read at all; rows not known are looked up as before."""
    rows = customers(tag, 3000, CreditLimit=1)
    assert {o.status for o in bulk.upsert_many("CustomersV3", rows, key=KEY)} == {"created"}
    before = bulk.stats.snapshot()
    looked_up = bulk.upsert_many("CustomersV3", rows, key=KEY)
    read_keys = bulk.stats.since(before).requests
    before = bulk.stats.snapshot()
    told = bulk.upsert_many("CustomersV3", rows, key=KEY, landed=[True] * 3000)
    assert [o.status for o in told] == [o.status for o in looked_up] == ["updated"] * 3000
    assert bulk.stats.since(before).requests < read_keys  # the key read is gone
    more = rows[:1000] + customers(tag + "N", 2000)
    mixed = bulk.upsert_many("CustomersV3", more, key=KEY, landed=[True] * 500 + [False] * 2500)
    assert [o.status for o in mixed] == ["updated"] * 1000 + ["created"] * 2000


def test_a_package_write_reads_each_row_once_as_it_comes_and_holds_none(bulk, tag):
    """The engine makes each row as the client reads it (`engine.sync.Records`): the package route writes
    it into its package and lets it go, so no more than two of 3,000 rows are alive at a time."""

    class Row(dict):  # a dict that can be watched with a weak reference
        pass

    class Rows(Sequence):
        def __init__(self, n):
            self.n, self.alive, self.most_alive, self.reads = n, 0, 0, 0

        def gone(self):
            self.alive -= 1

        def __len__(self):
            return self.n

        def __getitem__(self, i):
            raise AssertionError("read in order, not by index")

        def __iter__(self):
            for row in customers(tag, self.n):
                row = Row(row)
                weakref.finalize(row, self.gone)
                self.alive, self.reads = self.alive + 1, self.reads + 1
                self.most_alive = max(self.most_alive, self.alive)
                yield row
                del row

    rows = Rows(3000)
    outcomes = bulk.upsert_many("CustomersV3", rows, key=KEY)

    assert [o.status for o in outcomes] == ["created"] * 3000 and rows.reads == 3000
    assert rows.most_alive <= 2 and rows.alive == 0  # the row written, and the next one as it is made


def test_a_row_without_a_field_leaves_that_field_as_it_was(fo, bulk, tag):
    fo.upsert_many("CustomersV3", customers(tag, 1, PrimaryContactEmail="kept@contoso.com"), key=KEY)
    rows = customers(tag, 60, CreditLimit=7)
    rows[1]["PrimaryContactEmail"] = "new@contoso.com"

    assert {o.status for o in bulk.upsert_many("CustomersV3", rows, key=KEY)} <= {"created", "updated"}

    landed = bulk.read("CustomersV3", select=["CustomerAccount", "PrimaryContactEmail"], filter=mine(tag))
    email = dict(zip(landed["CustomerAccount"], landed["PrimaryContactEmail"]))
    assert email[f"{tag}-00000"] == "kept@contoso.com"  # not blanked by the row that left it out
    assert email[f"{tag}-00001"] == "new@contoso.com"


def test_keys_the_target_holds_are_matched_as_f_and_o_reads_them(fo, bulk, tag):
    """Letter case aside, and as CSV text: 4711 and "4711" are the same F&O record."""
    number = str(int(tag, 16))
    assert {o.status for o in fo.upsert_many("CustomersV3", customers(tag, 1) + [
        {**customers(tag, 1)[0], "CustomerAccount": number}], key=KEY)} == {"created"}
    rows = customers(tag.lower(), 60)
    rows[1:3] = [{**rows[1], "CustomerAccount": int(number)}, {**rows[2], "CustomerAccount": number}]

    outcomes = bulk.upsert_many("CustomersV3", rows, key=KEY)

    assert [o.status for o in outcomes[:4]] == ["updated", "updated", "updated", "created"]
    assert {o.status for o in outcomes[3:]} == {"created"}


def test_refused_rows_fail_with_the_field_and_the_rest_land(bulk, tag):
    rows = customers(tag, 200)
    for i in (3, 77, 150):
        rows[i]["CustomerGroupId"] = "99"
    rows[42]["CreditLimit"] = "lots"

    outcomes = bulk.upsert_many("CustomersV3", rows, key=KEY)

    assert [i for i, o in enumerate(outcomes) if o.status == "failed"] == [3, 42, 77, 150]
    refused = outcomes[77]
    assert "The value '99' in field 'Customer group' is not found" in refused.error_message
    assert "F&O Data management execution" in refused.error_message and refused.error_code == "DMFTarget"
    assert "CreditLimit" in outcomes[42].error_message and outcomes[42].error_code == "DMFStaging"
    assert len(bulk.read("CustomersV3", select=["CustomerAccount"], filter=mine(tag))) == 196


def test_a_failed_execution_fails_every_row_with_its_message(sandbox, bulk, tag):
    sandbox.set_faults(dmf_execution_failure="The batch task was interrupted.")

    outcomes = bulk.upsert_many("CustomersV3", customers(tag, 80), key=KEY)

    assert {o.status for o in outcomes} == {"failed"}
    assert outcomes[0].error_code == "DMFExecution"
    assert "the import ended Failed: The batch task was interrupted." in outcomes[0].error_message
    assert len(bulk.read("CustomersV3", select=["CustomerAccount"], filter=mine(tag))) == 0


def test_a_package_f_and_o_refuses_fails_every_row_with_the_reason(bulk, tag):
    outcomes = bulk.upsert_many("SellableReleasedProducts", [{"ProductNumber": f"{tag}-{i}"} for i in range(60)],
                                key=["dataAreaId", "ProductNumber"])
    assert {o.status for o in outcomes} == {"failed"}
    assert "Entity Sellable released products is read-only" in outcomes[0].error_message


def test_small_writes_stay_on_batch(sandbox, bulk, tag, monkeypatch, creds):
    sandbox.set_faults(dmf_execution_failure="Data management is down.")
    # below the threshold: $batch, untouched by a Data management outage
    assert {o.status for o in bulk.upsert_many("CustomersV3", customers(tag, 49), key=KEY)} == {"created"}
    monkeypatch.setenv("FINOPS_PACKAGE_THRESHOLD", "0")  # 0: never a package
    with FinOpsClient(sandbox.finops_url, creds, retry=FAST_RETRY) as never:
        assert {o.status for o in never.upsert_many("CustomersV3", customers(tag + "N", 60), key=KEY)} \
            == {"created"}
    monkeypatch.setenv("FINOPS_PACKAGE_THRESHOLD", "10")
    with FinOpsClient(sandbox.finops_url, creds, retry=FAST_RETRY) as low:
        assert {o.status for o in low.upsert_many("CustomersV3", customers(tag + "L", 10), key=KEY)} \
            == {"failed"}
