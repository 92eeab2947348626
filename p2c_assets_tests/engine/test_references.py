"""References and binds against the sandbox's Dataverse: a few rows bound to a large table read only
the records they name, in one request, and a value that names nothing still rejects its row."""

from types import SimpleNamespace

import pandas as pd
import pytest

from p2c_assets.connectors import ClientCredentials, DataverseClient
from p2c_assets.connectors.odata import literal
from p2c_assets.engine.binds import bind_rows
from p2c_assets.engine.references import References
from p2c_assets.flows.orders import CUSTOMER
from p2c_assets.flows.template import Bind

PAGE = 50   # small pages stand in for Dataverse's 5,000: a table of a few hundred rows is "large"


@pytest.fixture(scope="module")
def dv(sandbox):
    creds = ClientCredentials(sandbox.tenant, sandbox.client_id, sandbox.client_secret, sandbox.authority_host)
    with DataverseClient(sandbox.dataverse_url, creds, page_size=PAGE) as client:
        yield client


@pytest.fixture(scope="module")
def tag():
    import uuid
    return uuid.uuid4().hex[:6].upper()


@pytest.fixture(scope="module")
def accounts(dv, tag):
    """600 accounts (12 pages) and 5 contacts; every row's number starts with `tag`."""
    rows = [{"accountnumber": f"{tag}-A{i:04d}", "name": f"{tag} {i}"} for i in range(600)]
    assert {o.status for o in dv.upsert_many("accounts", rows, key=["accountnumber"])} == {"created"}
    contacts = [{"msdynce_contactnumber": f"{tag}-C{i}", "lastname": f"{tag} {i}"} for i in range(5)]
    assert {o.status for o in dv.upsert_many("contacts", contacts, key=["msdynce_contactnumber"])} == {"created"}
    return rows


def requests_made(dv, action):
    before = dv.stats.snapshot()
    result = action()
    return result, dv.stats.since(before).requests


def test_binding_a_few_rows_reads_only_their_records_in_one_request(dv, tag, accounts):
    frame = pd.DataFrame({"customerid": [f"{tag}-A0007", f"{tag}-a0420", f"{tag}-C3", f"{tag}-A0007", None]})
    (payload, reasons), requests = requests_made(
        dv, lambda: bind_rows(SimpleNamespace(binds={"customerid": CUSTOMER}), frame, References(dv)))
    assert requests == 2   # the accounts that hold the numbers, then the contacts for the one left
    assert reasons.empty
    refs = payload["customerid_account"].tolist()
    assert [r.key if r else None for r in refs] == [
        (("accountnumber", f"{tag}-A0007"),), (("accountnumber", f"{tag}-a0420"),), None,
        (("accountnumber", f"{tag}-A0007"),), None]
    assert payload["customerid_contact"][2].key == (("msdynce_contactnumber", f"{tag}-C3"),)

    whole = requests_made(dv, lambda: dv.read("accounts", select=["accountnumber"]))[1]
    assert whole >= 600 // PAGE   # what the bind used to cost


def test_unknown_values_are_rejected_with_the_field_and_value_named(dv, tag, accounts):
    frame = pd.DataFrame({"customerid": [f"{tag}-A0001", f"{tag}-NOPE", "O'Brien"]}, index=[10, 11, 12])
    payload, reasons = bind_rows(SimpleNamespace(binds={"customerid": CUSTOMER}), frame, References(dv))
    assert list(payload.index) == [10]
    assert reasons[11] == (f"customerid: no accounts with accountnumber '{tag}-NOPE' in Sales; create it there "
                           f"(or sync it first) and this row is sent on the next run")
    assert "accountnumber \"O'Brien\"" in reasons[12]


def test_thousands_of_values_go_in_one_batch_and_values_asked_before_are_not_asked_again(dv, tag, accounts):
    wanted = [f"{tag}-A{i:04d}" for i in range(0, 600, 15)] + [f"{tag}-X{i:04d}" for i in range(2960)]
    references = References(dv)
    held, requests = requests_made(dv, lambda: references.values("accounts", "accountnumber", among=wanted))
    assert requests == 1   # 3,000 values: two In lists past the 2,000-value cap, too long for a URL: one $batch
    assert set(held) == {v.lower() for v in wanted[:40]}
    again = requests_made(dv, lambda: references.values("accounts", "accountnumber", among=wanted[:10]))[1]
    assert again == 0


def test_a_plain_column_binds_by_id_and_lookups_resolve_only_the_ids_asked_for(dv, tag, accounts):
    ids = dv.read("accounts", select=["accountnumber", "accountid"],
                  filter=f"startswith(accountnumber,{literal(tag)})").set_index("accountnumber")["accountid"]
    references = References(dv)
    by_name = Bind("accounts", by="name", alternate_key=False)
    frame = pd.DataFrame({"parent": [f"{tag} 3", f"{tag} none"]})
    payload, reasons = bind_rows(SimpleNamespace(binds={"parent": by_name}), frame, references)
    assert payload["parent"][0].id == ids[f"{tag}-A0003"] and list(reasons.index) == [1]

    guids = [ids[f"{tag}-A0005"].upper(), "not-a-guid", None]
    mapping, requests = requests_made(dv, lambda: references.mapping("accounts", "accountid", "accountnumber",
                                                                     among=guids))
    assert requests == 1 and mapping == {ids[f"{tag}-A0005"]: f"{tag}-A0005"}


def test_without_values_the_whole_table_is_read_once_and_answers_later_questions(dv, tag, accounts):
    references = References(dv)
    held, requests = requests_made(dv, lambda: references.values("accounts", "accountnumber"))
    assert requests >= 600 // PAGE and f"{tag.lower()}-a0599" in held
    again = requests_made(dv, lambda: references.values("accounts", "accountnumber", among=[f"{tag}-A0001"]))[1]
    assert again == 0


def test_a_lookup_resolves_its_guids_a_slice_at_a_time_each_read_once(dv, tag, accounts, monkeypatch):
    """A source's lookup (contacts' company accounts) reads `LOOKUP_SLICE` distinct GUIDs at a time and
    keeps none of the records read (`References.read_among`): the same answer as one read of them all,
    rows naming one account share its value, letter case folded, blanks resolve to nothing."""
    from p2c_assets.connectors.frames import TEXT
    from p2c_assets.engine import extract
    from p2c_assets.flows.contacts import COMPANY_ACCOUNT

    ids = dv.read("accounts", select=["accountnumber", "accountid"],
                  filter=f"startswith(accountnumber,{literal(tag)})").set_index("accountnumber")["accountid"]
    named = [ids[f"{tag}-A{i:04d}"] for i in range(7)]
    guids = pd.Series([named[0].upper(), *named, None, named[3], "00000000-0000-0000-0000-000000000000"], dtype=TEXT)
    monkeypatch.setattr(extract, "LOOKUP_SLICE", 3)
    references = References(dv)
    resolved, requests = requests_made(dv, lambda: extract._resolve_lookup(guids, COMPANY_ACCOUNT, references))
    numbers = [f"{tag}-A{i:04d}" for i in range(7)]
    assert resolved.tolist() == [numbers[0], *numbers, None, numbers[3], None]
    # 9 distinct GUIDs (one also in capitals, one naming no account), 3 a slice: 3 reads of accounts
    assert len(COMPANY_ACCOUNT.targets) == 1 and requests == 3
    assert references._found == {} and references._asked == {}
