"""The products flow activates the products it creates with a second write, unless Sales creates them Active
itself (the organization's `createproductswithoutparentinactivestate`, on in orgs upgraded from earlier
versions): then it asks for the setting once and sends no activation at all.

Counted on the wire: every request the Dataverse client sends during the sync, by method and path.
"""

import pytest

from p2c_assets.engine.extract import extract
from p2c_assets.engine.ledger import Ledger
from p2c_assets.engine.sync import sync
from p2c_assets.flows import TEMPLATES
from p2c_assets_tests.clients import service_clients
from p2c_sandbox.process import seeded_sandbox

COMPANIES = {"usmf": "USMF Sales", "demf": "DEMF Sales"}
PRODUCTS = TEMPLATES["products"]
CREATE = ("POST", "products/Microsoft.Dynamics.CRM.CreateMultiple")
ACTIVATE = ("POST", "products/Microsoft.Dynamics.CRM.UpsertMultiple")
SETTING = ("GET", "organizations")


def sync_products(tmp_path, monkeypatch, *, products_active: bool):
    """A first products sync into a fresh company: (source, report, requests sent, products in Sales)."""
    with seeded_sandbox(tmp_path / "company", scale=5, seed=5, products_active=products_active) as company, \
            service_clients(company) as (dv, fo):
        source = extract(fo, PRODUCTS.source, companies=COMPANIES)
        sent = []
        request = dv.http.request

        def recorded(method, url, **kwargs):
            sent.append((method, url.split(dv.api_path, 1)[1].split("?")[0]))
            return request(method, url, **kwargs)

        monkeypatch.setattr(dv.http, "request", recorded)
        ledger = Ledger(f"sqlite:///{tmp_path / 'state.db'}")
        ledger.upgrade()
        try:
            report = sync(PRODUCTS, source, client=dv, ledger=ledger, companies=COMPANIES)
        finally:
            ledger.close()
        monkeypatch.undo()
        products = dv.read("products", select=["productnumber", "statecode", "statuscode"])
    return source, report, sent, products[products["productnumber"].isin(source["ProductNumber"])]


@pytest.mark.parametrize("products_active", [False, True], ids=["fresh install", "created active"])
def test_products_are_activated_once_and_only_when_sales_does_not_create_them_active(tmp_path, monkeypatch,
                                                                                  products_active):
    source, report, sent, products = sync_products(tmp_path, monkeypatch, products_active=products_active)
    assert report.counts["created"] == len(source) == len(products) > 0 and not report.counts["failed"]
    assert set(zip(products["statecode"], products["statuscode"])) == {(0, 1)}  # Active either way
    assert sent.count(CREATE) == 1 and sent.count(SETTING) == 1
    assert sent.count(ACTIVATE) == (0 if products_active else 1)
    assert report.requests == len(sent)
