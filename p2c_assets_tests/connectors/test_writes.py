"""The key check every bulk write makes before sending: missing keys and keys given twice fail their row
by name, exactly, whether the keys' hashes are all distinct (the rule) or some are shared."""

import pytest

from p2c_assets.connectors import writes
from p2c_assets.connectors.odata import fold
from p2c_assets.connectors.writes import KeyCheck, Keys


def checked(rows):
    check = KeyCheck("CustomersV3", ["dataAreaId", "CustomerAccount"])
    return check, [check(i, row)[1] for i, row in enumerate(rows)]


def test_rows_with_distinct_keys_keep_only_their_keys_and_hashes():
    check, refused = checked([{"dataAreaId": "usmf", "CustomerAccount": f"C-{i}"} for i in range(1000)])
    assert refused == [None] * 1000
    assert check.keys[7] == ("usmf", "C-7") and len(check.keys) == 1000
    assert check._first == {}  # no exact index was needed


def test_a_key_given_twice_fails_naming_the_first_row_letter_case_ignored():
    rows = [{"dataAreaId": "usmf", "CustomerAccount": "C-1"}, {"dataAreaId": "usmf", "CustomerAccount": None},
            {"dataAreaId": "usmf", "CustomerAccount": "C-2"}, {"dataAreaId": "USMF", "CustomerAccount": "c-2"},
            {"dataAreaId": "usmf", "CustomerAccount": "C-3"}, {"dataAreaId": "usmf", "CustomerAccount": "C-1"}]
    check, refused = checked(rows)
    assert [o.error_code if o else None for o in refused] == [None, "MissingKey", None, "DuplicateKey", None,
                                                                "DuplicateKey"]
    assert refused[3].error_message == "CustomersV3 row 3: key ('USMF', 'c-2') repeats row 2 of the same call"
    assert "repeats row 0" in refused[5].error_message
    assert len(check.keys) == 6 and check.keys[1] == ("usmf", None)


def test_keys_that_only_share_a_hash_are_not_duplicates(monkeypatch):
    class SameHash(tuple):
        def __hash__(self):
            return 1

    monkeypatch.setattr(writes, "match_key", lambda key: SameHash(fold(v) for v in key))
    check, refused = checked([{"dataAreaId": "usmf", "CustomerAccount": f"C-{i}"} for i in range(5)]
                             + [{"dataAreaId": "usmf", "CustomerAccount": "c-4"}])
    assert refused[:5] == [None] * 5
    assert refused[5].error_code == "DuplicateKey" and "repeats row 4" in refused[5].error_message


def test_keys_are_kept_flat_and_given_back_as_tuples_by_row():
    keys = Keys(2)
    for values in [("usmf", "A"), ("demf", None), ("usmf", "C")]:
        keys.append(values)
    assert len(keys) == 3 and keys[1] == ("demf", None) and keys[-1] == ("usmf", "C")
    assert keys[:2] == [("usmf", "A"), ("demf", None)] and list(keys) == [("usmf", "A"), ("demf", None), ("usmf", "C")]
    with pytest.raises(IndexError):
        keys[3]


def test_key_hashes_are_a_set_in_eight_byte_slots_that_grows():
    """`Hashes.add` says whether a hash is new, past growing its table many times, for negative hashes
    and for 0 (which shares 1's slot: a repeat only sends the key check to its exact index)."""
    import random

    from p2c_assets.connectors.writes import Hashes

    rng = random.Random(7)
    hashes, values = Hashes(), list({rng.getrandbits(64) - 2**63 for _ in range(5000)})
    assert all(hashes.add(v) for v in values) and len(values) == 5000 and len(hashes._slots) == 16384
    assert not any(hashes.add(v) for v in values)
    assert hashes.add(0) and not hashes.add(1) and not hashes.add(0)
