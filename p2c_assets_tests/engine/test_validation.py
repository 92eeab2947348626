"""Rejections name the record and the field, and only bad rows are held back."""

import gc
import weakref

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
