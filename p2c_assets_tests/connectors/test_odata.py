"""OData literal and key escaping: values users really have in account numbers and names."""

import datetime as dt
import uuid
from urllib.parse import quote, unquote

import pytest

from p2c_assets.connectors.odata import any_of, chunk_keys, entity_path, fold, key_predicate, literal


@pytest.mark.parametrize("value, expected", [
    ("O'Brien", "'O''Brien'"),
    ("''", "''''''"),
    (42, "42"),
    (True, "true"),
    (None, "null"),
    (uuid.UUID("00000000-0000-0000-0000-000000000001"), "00000000-0000-0000-0000-000000000001"),
    (dt.datetime(2024, 2, 22, 12, 0, tzinfo=dt.timezone.utc), "2024-02-22T12:00:00Z"),
    (dt.date(2024, 2, 22), "2024-02-22"),
])
def test_literal(value, expected):
    assert literal(value) == expected


def test_naive_datetime_is_refused_with_the_value_named():
    with pytest.raises(ValueError, match="2024-02-22 12:00:00"):
        literal(dt.datetime(2024, 2, 22, 12))


def test_key_path_encodes_url_specials_and_keeps_odata_quoting():
    path = entity_path("CustomersV3", {"dataAreaId": "usmf", "CustomerAccount": "O'B & C #1/2 ?% ü"})
    assert path == ("CustomersV3(dataAreaId='usmf',CustomerAccount="
                    "'O''B%20%26%20C%20%231%2F2%20%3F%25%20%C3%BC')")
    assert unquote(path) == "CustomersV3(" + key_predicate(
        {"dataAreaId": "usmf", "CustomerAccount": "O'B & C #1/2 ?% ü"}) + ")"


def test_any_of_groups_composite_keys_by_prefix():
    assert any_of(["dataAreaId", "SalesOrderNumber", "LineCreationSequenceNumber"],
                  [("usmf", "SO-1", 1), ("usmf", "SO-1", 2), ("demf", "SO-9", 1)]) == (
        "(dataAreaId eq 'usmf' and SalesOrderNumber eq 'SO-1' and "
        "(LineCreationSequenceNumber eq 1 or LineCreationSequenceNumber eq 2)) or "
        "(dataAreaId eq 'demf' and SalesOrderNumber eq 'SO-9' and LineCreationSequenceNumber eq 1)")


def test_chunk_keys_keeps_every_key_and_bounds_the_filter():
    keys = [(f"ACC-{i:05d}-ABCDEF",) for i in range(1000)]
    chunks = chunk_keys(["accountnumber"], keys, 6000)
    assert [k for c in chunks for k in c] == keys
    assert len(chunks) > 1
    assert all(len(any_of(["accountnumber"], c)) < 6000 for c in chunks)


def test_chunk_keys_counts_a_shared_company_prefix_once():
    keys = [("usmf", f"ACC-{i:05d}") for i in range(1000)]
    chunks = chunk_keys(["dataAreaId", "CustomerAccount"], keys, 8000)
    assert [k for c in chunks for k in c] == keys
    assert all(len(quote(any_of(["dataAreaId", "CustomerAccount"], c), safe="")) < 8000 for c in chunks)
    assert len(chunks) <= 6


def test_fold_lowers_text_as_str_lower_does_and_keeps_a_text_without_capitals_itself():
    """Folded keys are compared, not changed: `ß` stays (`casefold` would make it `ss`), anything but text
    is given back as it is, and a text already folded is the same object (no copy per key held)."""
    guid = str(uuid.UUID(int=7))
    assert fold("ACC-STRAßE-1") == "acc-straße-1" and fold(12) == 12 and fold(None) is None
    assert fold(guid) is guid and fold("usmf") == "usmf"
    upper = "USMF"
    assert fold(upper) == "usmf" and upper == "USMF"
