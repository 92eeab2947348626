"""Rejections name the record and the field, and only bad rows are held back."""

import gc
import weakref
from collections import Counter

import pandas as pd

from p2c_assets.engine.keys import record_keys
from p2c_assets.engine.mapping import map_rows
from p2c_assets.engine.validate import validate
from p2c_assets.flows import TEMPLATES
from p2c_assets.schemas import BY_ENTITY_SET


def test_bad_rows_are_rejected_with_field_and_reason_and_the_rest_pass():
    source = pd.DataFrame({
        "accountnumber": ["ACC-1", None, "ACC-3", "ACC-4"],
        "name": ["Fine Ltd", "No Number Inc", "N" * 130, "Nowhere GmbH"],
        "currency": ["USD", "USD", "USD", "USD"],
        "business_unit": ["USMF Sales", "USMF Sales", "USMF Sales", "Unknown Unit"],
    })
    mapped = map_rows(TEMPLATES["accounts"], source, {"usmf": "USMF Sales"})
    before = mapped.copy()
    checked = validate(BY_ENTITY_SET["CustomersV3"], mapped)
    pd.testing.assert_frame_equal(mapped, before)  # checked in place (no copy), and left as it was
    keys = record_keys(mapped, ("dataAreaId", "CustomerAccount"))
    reasons = {keys[i]: text for i, text in checked.reasons.items()}
    assert list(checked.valid["CustomerAccount"]) == ["ACC-1"]
    assert "CustomerAccount is required" in reasons["usmf|"]
    assert reasons["usmf|ACC-3"].startswith("OrganizationName is 130 characters, at most 100 allowed (EDT DirPartyName)")
    assert "dataAreaId is required" in reasons["|ACC-4"]
    assert set(checked.by_rule["column"]) >= {"CustomerAccount", "OrganizationName", "dataAreaId"}


def test_a_checked_frame_is_freed_as_soon_as_it_is_dropped():
    """pandera caches its accessor on the frame and the accessor holds the frame (pandas issue 41357):
    left so, every checked frame (whole sources) stayed in memory until Python's next full collection."""
    source = pd.DataFrame({"accountnumber": ["ACC-1", None], "name": ["Fine Ltd", "No Number Inc"],
                           "currency": ["USD", "USD"], "business_unit": ["USMF Sales", "USMF Sales"]})
    for rows in (source.head(1), source):  # one that passes, one that fails
        mapped = map_rows(TEMPLATES["accounts"], rows, {"usmf": "USMF Sales"})
        validate(BY_ENTITY_SET["CustomersV3"], mapped)
        alive = weakref.ref(mapped)
        gc.disable()
        try:
            del mapped
            assert alive() is None
        finally:
            gc.enable()


def test_rows_checked_a_slice_at_a_time_fail_as_in_one_pass_over_the_whole_frame(monkeypatch):
    """Slices of two rows; the twins of a duplicate key sit in different slices, and a missing column
    fails every row of every slice. The findings are pandera's own over the whole frame, for mapped
    Python text and for pyarrow's text alike."""
    import pandera.errors as pa_errors

    import p2c_assets.engine.validate as validation

    source = pd.DataFrame({
        "accountnumber": ["ACC-1", "ACC-2", "ACC-3", "ACC-1", None],
        "name": ["Fine Ltd", "N" * 130, "Third", "Twin", "No Number Inc"],
        "currency": ["USD"] * 5, "business_unit": ["USMF Sales"] * 5,
    })
    schema = BY_ENTITY_SET["CustomersV3"]
    mapped = map_rows(TEMPLATES["accounts"], source, {"usmf": "USMF Sales"})
    monkeypatch.setattr(validation, "SLICE", 2)
    for frame in (mapped, mapped.astype("string[pyarrow]"), mapped.drop(columns=["OrganizationName"])):
        try:
            schema.validate(frame, lazy=True)
        except pa_errors.SchemaErrors as err:
            whole = err.failure_cases
        cases = [(i, c, validation._PLAIN.get(str(k), str(k)))
                 for c, k, at in zip(whole["column"], whole["check"], whole["index"])
                 for i in (frame.index if pd.isna(at) else [int(at)])]  # a whole-frame failure: every row
        checked = validate(schema, frame)
        assert Counter((c, k) for _, c, k in cases) == {
            (c, k): n for c, k, n in zip(checked.by_rule["column"], checked.by_rule["check"],
                                         checked.by_rule["failures"])}
        assert sorted(checked.reasons.index) == sorted({i for i, _, _ in cases})
        assert "duplicate key" in checked.reasons[0] and "duplicate key" in checked.reasons[3]
        assert list(checked.valid.index) == [i for i in frame.index if i not in checked.reasons.index]


def test_a_key_of_pyarrow_text_is_told_distinct_by_sorting_and_its_twins_are_found_as_pandera_finds_them():
    """A one-column key held by pyarrow (a source's key) is sorted to tell it distinct, without pandera's
    check; twins are reported as pandera reports them for Python text (blanks are no twins to it: the
    required check names them)."""
    import pandera.pandas as pa

    import p2c_assets.engine.validate as validation
    from p2c_assets.connectors.frames import TEXT

    schema = pa.DataFrameSchema({"k": pa.Column(None, nullable=True)}, unique=["k"])
    for keys, twins in ((["B", "A", "C"], []), (["B", "A", "B", "C"], [0, 2]), ([None, "A", None], [])):
        text, python = pd.DataFrame({"k": pd.Series(keys, dtype=TEXT)}), pd.DataFrame({"k": keys})
        assert validation._distinct(text, ["k"]) == (None not in keys and not twins)
        assert not validation._distinct(python, ["k"])
        for frame in (text, python):
            checked = validate(schema, frame)
            assert list(checked.reasons.index) == twins and list(checked.valid.index) == [
                i for i in range(len(keys)) if i not in twins]
            assert all("duplicate key" in reason for reason in checked.reasons)
