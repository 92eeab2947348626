"""Flow templates and their overrides file: what an admin customising a template sees."""

from pathlib import Path

import pandas as pd
import pytest

from p2c_assets.engine.mapping import map_rows
from p2c_assets.flows import TEMPLATES
from p2c_assets.flows.settings import TemplateConfigError, load_settings, parse


def test_override_changes_default_and_value_map(tmp_path):
    config = tmp_path / "p2c_flows.yaml"
    config.write_text("companies: {usmf: USMF Sales}\n"
                      "flows:\n  accounts:\n    defaults: {CustomerGroupId: '20'}\n"
                      "    value_maps:\n      DeliveryAddressCountryRegionISOCode: {'': CA, Germany: DE}\n")
    settings = load_settings(config)
    accounts = settings.templates["accounts"]
    assert accounts.defaults["CustomerGroupId"] == "20"
    assert settings.companies == {"usmf": "USMF Sales"}
    source = pd.DataFrame({"accountnumber": ["ACC-1", "ACC-2"], "name": ["A", "B"], "address1_country": [None, "Germany"],
                           "business_unit": ["USMF Sales", "USMF Sales"], "currency": ["USD", "USD"]})
    mapped = map_rows(accounts, source, settings.companies)
    assert list(mapped["DeliveryAddressCountryRegionISOCode"]) == ["CA", "DE"]
    assert set(mapped["CustomerGroupId"]) == {"20"}


@pytest.mark.parametrize("raw, message", [
    ({"flows": {"acounts": {}}}, "unknown flow 'acounts'"),
    ({"flows": {"accounts": {"defaults": {"CustomerGroup": "10"}}}},
     "DIPV1025 default field 'CustomerGroup' is not in Microsoft's schema of CustomersV3; did you mean 'CustomerGroupId'?"),
    ({"flows": {"accounts": {"fields": {}}}}, "cannot override ['fields']"),
    ({"companies": {}}, "DIPV1016"),
    ({"flows": {"contact_customers": {"filter": "statecode eq 0"}}}, "reads the source of flow 'contacts'"),
])
def test_wrong_override_is_rejected_at_load(raw, message):
    with pytest.raises(TemplateConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse(raw)


def test_duplicate_value_map_entry_is_rejected(tmp_path):
    config = tmp_path / "flows.yaml"
    config.write_text("flows:\n  accounts:\n    value_maps:\n"
                      "      DeliveryAddressCountryRegionISOCode: {Germany: DE, Germany: DEU}\n")
    with pytest.raises(TemplateConfigError, match="DIPV1029 duplicate entry 'Germany' at line 4"):
        load_settings(config)


SALES_LINES = pd.DataFrame({"msdynce_ordernumber": ["ORD-1"] * 4, "quotenumber": ["QUO-1"] * 4, "sequencenumber": [1, 2, 3, 4],
                            "quantity": [3, 2, 7, 1], "manualdiscountamount": [10.0, 5.0, 1.0, None],
                            "priceperunit": [120.0] * 4, "business_unit": ["USMF Sales"] * 4})


def test_a_sales_line_discount_reaches_f_and_o_per_unit_with_the_residue_in_the_line_charges():
    companies = {"usmf": "USMF Sales"}
    lines = map_rows(TEMPLATES["sales_order_lines"], SALES_LINES, companies)
    assert list(lines["LineDiscountAmount"]) == [3.33, 2.5, 0.14, 0.0]
    assert list(lines["FixedPriceCharges"]) == [-0.01, 0.0, -0.02, 0.0]  # 7 x 0.14 = 0.98 + 0.02 = 1.00
    quotation_lines = map_rows(TEMPLATES["quote_lines"], SALES_LINES, companies)
    assert list(quotation_lines["LineDiscountAmount"]) == [3.33, 2.5, 0.14, 0.0]
    assert list(quotation_lines["TotalChargesAmount"]) == [-0.01, 0.0, -0.02, 0.0]


def test_a_line_discount_comes_back_to_sales_undivided():
    """What Sales sent out comes back to the cent, on the order line and on the invoice line."""
    companies = {"usmf": "USMF Sales"}
    sent = map_rows(TEMPLATES["sales_order_lines"], SALES_LINES, companies)
    back = map_rows(TEMPLATES["order_lines"], sent, companies)
    assert list(back["manualdiscountamount"]) == [10.0, 5.0, 1.0, 0.0]
    made_in_fo = pd.DataFrame({"SalesOrderNumber": ["000042"], "LineCreationSequenceNumber": [1],
                               "OrderedSalesQuantity": [4], "LineDiscountAmount": [2.5], "FixedPriceCharges": [None]})
    assert list(map_rows(TEMPLATES["order_lines"], made_in_fo, companies)["manualdiscountamount"]) == [10.0]
    invoiced = pd.DataFrame({"InvoiceNumber": ["CIV-1"], "LineCreationSequenceNumber": [1],
                             "LineTotalDiscountAmount": [9.99], "LineTotalChargeAmount": [-0.01]})
    assert list(map_rows(TEMPLATES["invoice_lines"], invoiced, companies)["manualdiscountamount"]) == [10.0]


def test_the_sales_orders_flow_takes_overrides_like_the_others():
    settings = parse({"flows": {"sales_orders": {
        "defaults": {"SalesOrderOriginCode": "SalesOrder"},
        "value_maps": {"DeliveryAddressCountryRegionISOCode": {"": "DE", "Österreich": "AT"}}}}})
    orders = settings.templates["sales_orders"]
    source = pd.DataFrame({"ordernumber": ["ORD-1", "ORD-2"], "customer_number": ["ACC-1", "CON-2"],
                           "shipto_country": [None, "Österreich"], "business_unit": ["DEMF Sales"] * 2})
    mapped = map_rows(orders, source, settings.companies)
    assert list(mapped["SalesOrderOriginCode"]) == ["SalesOrder"] * 2
    assert list(mapped["DeliveryAddressCountryRegionISOCode"]) == ["DE", "AT"]
    assert list(mapped["OrderingCustomerAccountNumber"]) == ["ACC-1", "CON-2"]  # accounts and contacts alike
    assert list(mapped["dataAreaId"]) == ["demf", "demf"]  # the owning business unit's legal entity
    shipped = map_rows(TEMPLATES["sales_orders"], source, settings.companies)
    # as shipped: blank = US; a country the map does not know passes, for validation to name it
    assert list(shipped["DeliveryAddressCountryRegionISOCode"]) == ["US", "Österreich"]
    with pytest.raises(TemplateConfigError, match="did you mean 'SalesOrderOriginCode'"):
        parse({"flows": {"sales_orders": {"defaults": {"SalesOriginCode": "SalesOrder"}}}})


def test_contacts_route_to_customers_or_contact_persons():
    contacts = pd.DataFrame({
        "msdynce_contactnumber": ["CON-1", "CON-2", "CON-3"], "firstname": ["A", "B", "C"],
        "lastname": ["X", "Y", "Z"], "fullname": ["A X", "B Y", "C Z"],
        "msdynce_isactivecustomer": [True, False, False], "msdynce_iscompanyanaccount": [True, True, False],
        "company_account": ["ACC-1", "ACC-1", None], "business_unit": ["USMF Sales"] * 3, "currency": ["USD"] * 3,
    })
    companies = {"usmf": "USMF Sales"}
    customers = map_rows(TEMPLATES["contact_customers"], contacts, companies)
    persons = map_rows(TEMPLATES["contacts"], contacts, companies)
    assert list(customers["CustomerAccount"]) == ["CON-1"]
    assert customers.iloc[0]["PartyType"] == "Person"
    assert list(persons["ContactPersonId"]) == ["CON-2"]
    assert persons.iloc[0]["AssociatedPartyNumber"] == "ACC-1"


def test_the_example_overrides_file_loads_and_applies():
    example = Path(__file__).parents[2] / "p2c_flows.example.yaml"
    settings = load_settings(example)
    assert settings.companies == {"usmf": "USMF Sales", "demf": "DEMF Sales"}
    assert settings.templates["orders"].value_maps["pricelevelid"].values["EUR"] == "CRM Service Europe (sample)"
    assert settings.templates["accounts"].value_maps["DeliveryAddressCountryRegionISOCode"].values["Deutschland"] == "DE"
