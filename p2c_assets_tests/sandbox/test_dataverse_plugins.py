"""The Prospect-to-cash solution's behaviour in the sandbox's Dataverse service."""

from __future__ import annotations

import re


def _currency(dv, unique):
    return dv.create("transactioncurrencies", {"isocurrencycode": unique("C")[:5], "currencyname": unique("Cur"),
                                               "currencysymbol": "¤", "exchangerate": 1.0})


def test_accounts_and_contacts_get_p2c_numbers(dv, unique):
    account = dv.create("accounts", {"name": unique()})
    contact = dv.create("contacts", {"lastname": unique()})
    assert re.fullmatch(r"ACC-\d{5}-[A-Z]{6}", account["accountnumber"])
    assert re.fullmatch(r"CON-\d{5}-[A-Z]{6}", contact["msdynce_contactnumber"])
    assert int(account["accountnumber"][4:9]) >= 1000


def test_given_account_number_is_kept(dv, unique):
    number = unique("OWN")
    assert dv.create("accounts", {"name": "x", "accountnumber": number})["accountnumber"] == number


def test_external_product_is_draft_and_joins_first_price_list_of_its_currency(dv, unique):
    currency = _currency(dv, unique)
    bind = f"/transactioncurrencies({currency['transactioncurrencyid']})"
    later = dv.create("pricelevels", {"name": unique("Z list"), "transactioncurrencyid@odata.bind": bind})
    first = dv.create("pricelevels", {"name": unique("A list"), "transactioncurrencyid@odata.bind": bind})
    product = dv.create("products", {"name": "Widget", "productnumber": unique("P"), "price": 12.5,
                                     "msdynce_ismaintainedexternally": True, "transactioncurrencyid@odata.bind": bind})
    assert (product["statecode"], product["statuscode"]) == (2, 0)
    items = dv.get("productpricelevels", params={
        "$filter": f"_productid_value eq {product['productid']}"}).json()["value"]
    assert [(i["_pricelevelid_value"], i["amount"]) for i in items] == [(first["pricelevelid"], 12.5)]
    assert later["pricelevelid"] != first["pricelevelid"]


def test_organization_setting_creates_products_without_a_parent_active(dv, unique):
    """`createproductswithoutparentinactivestate`: 0 on a fresh install (products start Draft); an admin
    turning it on makes new products without a parent family Active, while a family's members stay Draft."""
    org = dv.get("organizations", params={"$select": "createproductswithoutparentinactivestate"}).json()["value"]
    assert len(org) == 1 and org[0]["createproductswithoutparentinactivestate"] is False
    org_url = f"organizations({org[0]['organizationid']})"
    assert dv.patch(org_url, json={"createproductswithoutparentinactivestate": True}).status_code == 204
    try:
        assert dv.get(org_url).json()["createproductswithoutparentinactivestate"] is True
        plain = dv.create("products", {"name": "Plain", "productnumber": unique("P"), "productstructure": 1})
        family = dv.create("products", {"name": "Family", "productnumber": unique("F"), "productstructure": 2})
        child = dv.create("products", {"name": "Member", "productnumber": unique("M"), "productstructure": 1,
                                       "parentproductid@odata.bind": f"/products({family['productid']})"})
    finally:
        dv.patch(org_url, json={"createproductswithoutparentinactivestate": False})
    assert (plain["statecode"], plain["statuscode"]) == (0, 1)
    assert (child["statecode"], child["statuscode"]) == (2, 0)
    assert dv.create("products", {"name": "Later", "productnumber": unique("L")})["statecode"] == 2


def test_external_product_without_price_list_fails_and_is_not_created(dv, unique):
    currency = _currency(dv, unique)
    number = unique("NP")
    response = dv.post("products", json={
        "name": "Orphan", "productnumber": number, "price": 1, "msdynce_ismaintainedexternally": True,
        "transactioncurrencyid@odata.bind": f"/transactioncurrencies({currency['transactioncurrencyid']})"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "0x80040265" and "No price list exists for currency" in error["message"]
    assert dv.get(f"products(productnumber='{number}')").status_code == 404


def test_line_amounts_and_header_totals_are_computed(dv, unique):
    order = dv.create("salesorders", {"name": unique("SO"), "ordernumber": unique("SO")})
    for seq, (qty, price, discount) in enumerate([(2, 10.0, 1.0), (1, 5.0, 0.0)], start=1):
        dv.create("salesorderdetails", {"salesorderid@odata.bind": f"/salesorders({order['salesorderid']})",
                                        "quantity": qty, "priceperunit": price, "manualdiscountamount": discount,
                                        "sequencenumber": seq, "isproductoverridden": True,
                                        "productdescription": "write-in"})
    header = dv.get(f"salesorders({order['salesorderid']})").json()
    assert header["totallineitemamount"] == 24.0 and header["totalamount"] == 24.0
    line = dv.get(f"salesorderdetails(msdynce_ordernumber='{order['ordernumber']}',sequencenumber=1)").json()
    assert line["baseamount"] == 20.0 and line["extendedamount"] == 19.0


def test_misc_tax_becomes_a_freight_tax_line(dv, unique):
    order = dv.create("salesorders", {"name": unique("SO"), "ordernumber": unique("SO"), "msdynce_misctax": 7.5})
    lines = dv.get("salesorderdetails", params={"$filter": f"_salesorderid_value eq {order['salesorderid']}"}).json()
    assert [(ln["productdescription"], ln["extendedamount"], ln["msdynce_ismisctax"]) for ln in lines["value"]] == [
        ("Freight Tax", 7.5, True)]


def test_arriving_invoice_sets_its_order_invoiced(dv, unique):
    order = dv.create("salesorders", {"name": unique("SO"), "ordernumber": unique("SO")})
    dv.create("invoices", {"name": "INV", "invoicenumber": unique("INV"),
                           "salesorderid@odata.bind": f"/salesorders(ordernumber='{order['ordernumber']}')"})
    after = dv.get(f"salesorders({order['salesorderid']})").json()
    assert (after["statecode"], after["statuscode"], after["msdynce_processingstatus"]) == (4, 100003, 647390003)


def test_quotes_get_numbers_in_sequence_unless_given(dv, unique):
    first = dv.create("quotes", {"name": unique("Q")})["quotenumber"]
    second = dv.create("quotes", {"name": unique("Q")})["quotenumber"]
    assert re.fullmatch(r"QUO-\d{5}-[A-Z]{6}", first) and re.fullmatch(r"QUO-\d{5}-[A-Z]{6}", second)
    assert int(second[4:9]) == int(first[4:9]) + 1
    own = unique("QOWN")
    assert dv.create("quotes", {"name": "x", "quotenumber": own})["quotenumber"] == own
    assert dv.get(f"quotes(quotenumber='{first}')").status_code == 200  # the number is the alternate key


def _products(dv, unique):
    """An F&O-made (externally maintained) product and a Sales-made one, in a fresh currency."""
    currency = _currency(dv, unique)
    bind = f"/transactioncurrencies({currency['transactioncurrencyid']})"
    dv.create("pricelevels", {"name": unique("List"), "transactioncurrencyid@odata.bind": bind})
    external = dv.create("products", {"name": "From F&O", "productnumber": unique("FO"), "price": 10.0,
                                      "msdynce_ismaintainedexternally": True, "transactioncurrencyid@odata.bind": bind})
    sales = dv.create("products", {"name": "Sales only", "productnumber": unique("SP"), "price": 5.0,
                                   "msdynce_ismaintainedexternally": False, "transactioncurrencyid@odata.bind": bind})
    return external, sales


def _quote_line(dv, quote, seq, product=None, **values):
    body = {"quoteid@odata.bind": f"/quotes({quote['quoteid']})", "quantity": 1, "priceperunit": 10.0,
            "sequencenumber": seq, **values}
    if product:
        body["productid@odata.bind"] = f"/products({product['productid']})"
    else:
        body.update(isproductoverridden=True, productdescription="write-in")
    return dv.create("quotedetails", body)


def _quote_flags(dv, quote):
    header = dv.get(f"quotes({quote['quoteid']})").json()["msdynce_hasexternallymaintainedproductsonly"]
    lines = dv.get("quotedetails", params={"$filter": f"_quoteid_value eq {quote['quoteid']}",
                                           "$orderby": "sequencenumber"}).json()["value"]
    return header, [(ln["msdynce_ismaintainedexternally"], ln["msdynce_quotehasexternalmaintainedproductsonly"])
                    for ln in lines]


def test_quote_flags_follow_the_products_of_its_lines(dv, unique):
    external, sales = _products(dv, unique)
    quote = dv.create("quotes", {"name": unique("Q")})
    # the client's own value is ignored: the flag comes from the product
    first = _quote_line(dv, quote, 1, external, msdynce_ismaintainedexternally=False)
    assert first["msdynce_ismaintainedexternally"] is True
    assert _quote_flags(dv, quote) == (True, [(True, True)])
    # a write-in line makes the quote Sales-only, on the header and on every line
    write_in = _quote_line(dv, quote, 2, msdynce_ismaintainedexternally=True)
    assert _quote_flags(dv, quote) == (False, [(True, False), (False, False)])
    assert dv.delete(f"quotedetails({write_in['quotedetailid']})").status_code == 204
    assert _quote_flags(dv, quote) == (True, [(True, True)])
    # so does changing a line to a Sales-made product
    response = dv.patch(f"quotedetails({first['quotedetailid']})",
                        json={"productid@odata.bind": f"/products({sales['productid']})"})
    assert response.status_code == 204, response.text
    assert _quote_flags(dv, quote) == (False, [(False, False)])


def test_order_flag_ignores_the_freight_tax_line_but_not_sales_products(dv, unique):
    external, sales = _products(dv, unique)
    order = dv.create("salesorders", {"name": unique("SO"), "ordernumber": unique("SO"), "msdynce_misctax": 3.0})
    bind = f"/salesorders({order['salesorderid']})"
    line = dv.create("salesorderdetails", {"salesorderid@odata.bind": bind, "sequencenumber": 1, "quantity": 2,
                                           "priceperunit": 10.0,
                                           "productid@odata.bind": f"/products({external['productid']})"})
    assert line["msdynce_ismaintainedexternally"] is True
    header = dv.get(f"salesorders({order['salesorderid']})").json()
    assert header["msdynce_hasexternallymaintainedproductsonly"] is True and header["totalamount"] == 23.0
    dv.create("salesorderdetails", {"salesorderid@odata.bind": bind, "sequencenumber": 2, "quantity": 1,
                                    "priceperunit": 5.0, "productid@odata.bind": f"/products({sales['productid']})"})
    header = dv.get(f"salesorders({order['salesorderid']})").json()
    assert header["msdynce_hasexternallymaintainedproductsonly"] is False


def test_quote_without_lines_is_not_externally_maintained(dv, unique):
    quote = dv.create("quotes", {"name": unique("Q")})
    external, _ = _products(dv, unique)
    line = _quote_line(dv, quote, 1, external)
    assert _quote_flags(dv, quote) == (True, [(True, True)])
    assert dv.delete(f"quotedetails({line['quotedetailid']})").status_code == 204
    assert _quote_flags(dv, quote)[0] is False


DRAFT, ACTIVE, CONFIRMED = 647390011, 647390000, 647390001


def _order_line(dv, order, seq, product=None, **values):
    body = {"salesorderid@odata.bind": f"/salesorders({order['salesorderid']})", "quantity": 1,
            "priceperunit": 10.0, "sequencenumber": seq, **values}
    if product:
        body["productid@odata.bind"] = f"/products({product['productid']})"
    else:
        body.update(isproductoverridden=True, productdescription="Installation on site")
    return dv.create("salesorderdetails", body)


def _activate(dv, order):
    return dv.patch(f"salesorders({order['salesorderid']})", json={"msdynce_processingstatus": ACTIVE},
                    headers={"If-Match": "*"})


def _order(dv, order):
    return dv.get(f"salesorders({order['salesorderid']})").json()


def test_sales_order_is_a_numbered_draft_until_activated_then_open_to_the_integration(dv, unique):
    external, _ = _products(dv, unique)
    other = dv.create("products", {"name": "From F&O too", "productnumber": unique("FO"), "price": 4.0,
                                   "msdynce_ismaintainedexternally": True,
                                   "transactioncurrencyid@odata.bind":
                                       f"/transactioncurrencies({external['_transactioncurrencyid_value']})"})
    order = dv.create("salesorders", {"name": unique("Taken in Sales")})
    assert re.fullmatch(r"ORD-\d{5}-[A-Z]{6}", order["ordernumber"])  # Sales numbers its orders
    assert order["msdynce_processingstatus"] == DRAFT
    # made in Sales, not in F&O: the Yes/No column is No, so a filter on it finds the order
    assert order["msdynce_ismaintainedexternally"] is False
    found = dv.get("salesorders", params={"$select": "ordernumber", "$filter": (
        f"salesorderid eq {order['salesorderid']} and msdynce_ismaintainedexternally eq false")}).json()["value"]
    assert [o["ordernumber"] for o in found] == [order["ordernumber"]]
    _order_line(dv, order, 1, external, quantity=3, manualdiscountamount=10.0)
    _order_line(dv, order, 2, other, quantity=2, priceperunit=4.0)
    header = _order(dv, order)
    assert header["msdynce_hasexternallymaintainedproductsonly"] is True
    assert header["totalamount"] == 3 * 10.0 - 10.0 + 2 * 4.0

    assert _activate(dv, order).status_code == 204
    assert _order(dv, order)["msdynce_processingstatus"] == ACTIVE
    # the form is read-only now, the API is not: F&O's confirmation and its undivided line
    # discount come back onto the same order and line
    number = order["ordernumber"]
    assert dv.patch(f"salesorders(ordernumber='{number}')", json={"msdynce_processingstatus": CONFIRMED}) \
        .status_code == 204
    assert dv.patch(f"salesorderdetails(msdynce_ordernumber='{number}',sequencenumber=1)",
                    json={"manualdiscountamount": 10.0, "priceperunit": 10.0}).status_code == 204
    after = _order(dv, order)
    assert (after["msdynce_processingstatus"], after["totalamount"]) == (CONFIRMED, 28.0)
    assert after["salesorderid"] == order["salesorderid"]


def test_write_in_product_blocks_activation_and_the_freight_tax_line_does_not(dv, unique):
    external, _ = _products(dv, unique)
    order = dv.create("salesorders", {"name": unique("With write-in"), "msdynce_misctax": 2.5})
    _order_line(dv, order, 1, external)
    write_in = _order_line(dv, order, 2)
    refused = _activate(dv, order)
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "0x80040265"
    assert f"Sales order {order['ordernumber']} can not be activated" in error["message"]
    assert "write-in" in error["message"]
    assert _order(dv, order)["msdynce_processingstatus"] == DRAFT  # still editable

    # without the write-in product it can be activated; the Freight Tax line is not a product
    assert dv.delete(f"salesorderdetails({write_in['salesorderdetailid']})").status_code == 204
    assert _activate(dv, order).status_code == 204
    assert _order(dv, order)["msdynce_processingstatus"] == ACTIVE


def test_an_order_without_products_can_not_be_activated(dv, unique):
    order = dv.create("salesorders", {"name": unique("Empty")})
    refused = _activate(dv, order)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "0x80040265"
