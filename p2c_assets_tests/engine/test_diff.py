"""Content hashes: the ledger compares them with the ones it recorded in earlier runs and releases. The
field comparison of mapped rows with what the target holds (reconciliation, dry runs)."""

import hashlib
import json

import numpy as np
import pandas as pd

from p2c_assets.engine.diff import compare, content_hashes
from p2c_assets.engine.values import normal


def test_content_hashes_are_sha256_of_each_rows_json_as_the_ledger_recorded_them(monkeypatch):
    """Put together column by column, they must stay the characters `json.dumps` makes of the row: a
    different text would make every landed record look changed and be written again."""
    frame = pd.DataFrame({
        "Name": ["Contoso", None, "Ñandú \"Ltd\"", "", "Contoso"],
        "Phone": ["+1 555 0100", "+1 555 0100", None, None, "+1 555 0100"],
        "Credit": [1.0, 2.5, np.nan, -0.0, 1.00001],
        "Mixed": [True, 1, "1", None, 0],
        "Blocked": [True, False, None, True, False],
        "Since": ["2024-01-01T14:00:00.000+02:00", None, "2024-01-01T12:00:00Z", "", "x"],
        "Empty": [None] * 5,
    })
    names = sorted(frame.columns)
    expected = [hashlib.sha256(json.dumps([[name, normal(frame.at[row, name])] for name in names],
                                          default=str).encode()).hexdigest()[:32] for row in frame.index]
    assert content_hashes(frame).tolist() == expected
    assert content_hashes(frame).nunique() == len(frame)  # 1 and True and "1" differ; NaN is null
    # made a few rows at a time (memory), they are the same, by the same row labels
    frame.index = [50, 40, 30, 20, 10]
    monkeypatch.setattr("p2c_assets.engine.diff.HASHED_AT_ONCE", 2)
    hashes = content_hashes(frame)
    assert hashes.tolist() == expected and hashes.index.tolist() == [50, 40, 30, 20, 10]


def test_compare_finds_each_difference_once_whether_the_target_comes_whole_or_a_page_at_a_time():
    """The target may come as the pages of a read, each dropped once compared (memory): the differences,
    their order and the keys held are the same as with the target whole."""
    mapped = pd.DataFrame({"DataAreaId": ["usmf"] * 6, "CustomerAccount": ["C-1", "c-2", "C-3", "C-4", "C-5", "C-1"],
                           "Name": ["Contoso", "Fabrikam", "Litware", None, "Adatum", "Contoso twin"],
                           "Credit": [100, 200.5, 300, 400, 500, 100]}, index=[10, 11, 12, 13, 14, 15])
    target = pd.DataFrame({"DataAreaId": ["USMF", "usmf", "usmf", "usmf", "usmf", "usmf"],
                           "CustomerAccount": ["C-5", "C-2", "C-4", "C-1", "c-5", "C-9"],
                           "Name": ["Adatum", "Fabrikam Inc", "Old name", "Contoso", "a second C-5", "Orphan"],
                           "Credit": [500.0, 200.5, 1, 100, 0, 9]})
    key, fields = ("DataAreaId", "CustomerAccount"), ["Name", "Credit"]
    whole = compare(mapped, target, key, fields)
    # C-3 is not there; c-2 finds C-2 and differs in its name; C-4's blank name is never written, its credit
    # differs; the first C-5 the target holds is the one compared; 100 equals 100.0; both rows keyed C-1
    # are compared with the one C-1 (in the mapped rows' order), the second differs in its name
    assert whole.differences.values.tolist() == [["usmf|C-3", "(record)", "present", "missing in target"],
                                                 ["usmf|c-2", "Name", "Fabrikam", "Fabrikam Inc"],
                                                 ["usmf|C-1", "Name", "Contoso twin", "Contoso"],
                                                 ["usmf|C-4", "Credit", 400, 1]]
    assert "USMF|c-9" in whole.held and "usmf|C-3" not in whole.held
    for size in (1, 2, 4):
        pages = (target.iloc[start:start + size].reset_index(drop=True) for start in range(0, len(target), size))
        paged = compare(mapped, pages, key, fields)
        pd.testing.assert_frame_equal(paged.differences, whole.differences)
        assert all(k in paged.held for k in ("usmf|C-1", "usmf|C-2", "usmf|C-4", "usmf|C-5", "usmf|C-9"))
        assert "usmf|C-3" not in paged.held and "usmf|C-10" not in paged.held
    nothing_mapped = compare(mapped.iloc[:0], iter([target]), key, fields)
    assert nothing_mapped.differences.empty and "usmf|c-5" in nothing_mapped.held  # every record an orphan
    assert compare(mapped, iter([]), key, fields).differences["field"].tolist() == ["(record)"] * 6
