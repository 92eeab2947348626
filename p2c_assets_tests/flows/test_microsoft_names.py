"""Every name a flow reads or writes is in Microsoft's published schema (CDM + documented extensions).

The sandbox and the flows were once written from the same notes and agreed only with each other; this
test holds the flows to Microsoft's documents instead (`p2c_assets/schemas/cdm/`), so a real tenant
does not refuse the first request with an unknown property.
"""

import difflib

import pytest

from p2c_assets.flows import TEMPLATES
from p2c_assets.flows.footprint import footprint
from p2c_assets.schemas import microsoft


def _table(system: str, entity_set: str) -> str:
    return microsoft.table_of(entity_set) if system == "sales" else entity_set


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_field_of_the_flow_is_microsofts(name):
    wrong = []
    for touch in footprint(TEMPLATES[name]):
        assert touch.entity_set in microsoft.entity_sets(touch.system), \
            f"{name}: {touch.system} entity set {touch.entity_set} is not in Microsoft's schema"
        if touch.kind == "navigation":
            continue  # navigation properties are derived from lookup columns, checked as fields
        known = microsoft.columns(touch.system, _table(touch.system, touch.entity_set))
        for column in touch.name.split(","):
            if column not in known:
                close = difflib.get_close_matches(column, known, n=1)
                wrong.append(f"{touch.entity_set}.{column} ({touch.role}; closest: {close})")
    assert not wrong, f"{name} uses names Microsoft does not publish: {wrong}"


def test_footprint_sees_every_kind_of_name():
    """The walk above only proves something if the footprint really lists lookups, binds and keys."""
    orders = {(t.entity_set, t.kind, t.name) for t in footprint(TEMPLATES["orders"])}
    assert ("CDSSalesOrderHeaders", "field", "OrderingCustomerIsExternallyMaintained") in orders  # filter
    assert ("salesorders", "navigation", "customerid_account") in orders
    assert ("accounts", "key", "accountnumber") in orders
    assert ("salesorders", "key", "ordernumber") in orders
    assert ("CustomersV3", "key", "dataAreaId,CustomerAccount") in {
        (t.entity_set, t.kind, t.name) for t in footprint(TEMPLATES["accounts"])}
    lines = {(t.entity_set, t.kind, t.name) for t in footprint(TEMPLATES["quote_lines"])}
    assert ("quotedetails", "field", "productid") in lines  # read as _productid_value
    assert ("products", "field", "productnumber") in lines  # its lookup
    assert not any(name == "quotenumber" and es == "quotedetails" for es, _, name in lines)  # carried


def test_a_name_outside_microsofts_schema_is_caught():
    assert "JobTitle" not in microsoft.columns("fo", "ContactPersonsV2")
    assert "EmploymentJobTitle" in microsoft.columns("fo", "ContactPersonsV2")
    with pytest.raises(KeyError):
        microsoft.columns("fo", "ContactPersons")
