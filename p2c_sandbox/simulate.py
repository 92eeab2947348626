"""`p2c-sandbox simulate`: business users acting on a running sandbox, over HTTP only.

Each step does what Sales and F&O users do during a day, so a scheduled sync always has work:

- Sales: a few new accounts and contacts (the P2C plug-in numbers them), a few changed ones;
  new quotes (Dataverse numbers them) for accounts that already reached F&O (externally maintained
  customers), with lines of products that came from F&O (`msdynce_ismaintainedexternally` true,
  same currency, so the P2C plug-in marks the quote "externally maintained products only"), then
  activated (statecode 1); new orders for such accounts (Dataverse numbers them, Draft) with two
  lines of such products, one of 3 units with a line discount of 10.00, then activated (processing
  status Active), and now and then an order with a write-in product whose activation Sales
  refuses. Quotes and orders are skipped while no such product or customer exists.
- F&O: orders that arrived from Sales (open, externally maintained customer) confirmed and
  "Calculate sales totals" run on them; new sales orders for externally maintained customers with
  lines of sellable products, confirmed, totals calculated; invoices posted for some confirmed
  orders (the F&O service's business endpoints `/_sandbox/finops/...`).

It authenticates like any client (client-credentials token with the demo app registration) and
uses plain `requests`; it never imports `p2c_assets`. `simulate()` returns a `SimulationSummary`.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import click
import requests

from . import company as C

DV_API = "/api/data/v9.2/"
YES = "Microsoft.Dynamics.DataEntities.NoYes'Yes'"
CONFIRMED = "Microsoft.Dynamics.DataEntities.SalesOrderProcessingStatus'Confirmed'"
OPEN = "Microsoft.Dynamics.DataEntities.SalesOrderProcessingStatus'Active'"  # not confirmed yet
#: `msdynce_processingstatus` Active: what the P2C solution's Activate button sets on a Draft order
ACTIVE_ORDER = 647390000


class SimulationError(Exception):
    """A request the simulated users could not do (the sandbox answered an error)."""


@dataclass
class SimulationSummary:
    steps: int = 0
    counts: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)  # what could not be done yet, and why
    orders: list[tuple[str, str]] = field(default_factory=list)  # (company, order) created
    invoices: list[tuple[str, str]] = field(default_factory=list)  # (company, invoice) posted

    def summary(self) -> str:
        done = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items())) or "nothing"
        text = f"{self.steps} step(s): {done}"
        if self.skipped:
            text += "; skipped: " + ", ".join(f"{k} ({v})" for k, v in sorted(self.skipped.items()))
        return text


class _Api:
    """A requests session with a client-credentials token for one service, retrying like a real client.

    Throttling (429 with `Retry-After`), 5xx answers and connections that fail or drop half-way are
    retried with backoff, so `simulate` keeps working while the sandbox injects faults. Every request
    it sends is safe to repeat: reads, updates by id, and creates done as upserts on a new id.
    """

    ATTEMPTS = 8
    TRANSIENT = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)

    def __init__(self, service_url: str, authority: str, verify=True, timeout: float = 30):
        self.url = service_url.rstrip("/")
        self.authority = authority.rstrip("/")
        self.session = requests.Session()
        self.session.verify = verify
        self.timeout = timeout
        self.expires = 0.0

    def _token(self) -> None:
        if time.monotonic() < self.expires - 60:
            return
        response = self.session.post(
            f"{self.authority}/{C.DEMO_TENANT}/oauth2/v2.0/token", timeout=self.timeout,
            data={"grant_type": "client_credentials", "client_id": C.DEMO_CLIENT_ID,
                  "client_secret": C.DEMO_CLIENT_SECRET, "scope": f"{self.url}/.default"})
        if response.status_code != 200:
            raise SimulationError(f"token for {self.url}: {response.status_code} {response.text[:300]}")
        body = response.json()
        self.session.headers["Authorization"] = f"Bearer {body['access_token']}"
        self.expires = time.monotonic() + float(body.get("expires_in", 3599))

    def request(self, method: str, url: str, ok=(200, 201, 204), **kwargs) -> requests.Response:
        for attempt in range(1, self.ATTEMPTS + 1):
            last = attempt == self.ATTEMPTS
            self._token()
            try:
                response = self.session.request(method, url, timeout=self.timeout, **kwargs)
            except self.TRANSIENT:
                if last:
                    raise
                time.sleep(random.uniform(0, min(5.0, 0.2 * 2 ** attempt)))
                continue
            if response.status_code == 401 and not last:
                self.expires = 0.0  # the token expired on the service's clock: fetch a new one
                continue
            if response.status_code in (429, 500, 502, 503, 504) and not last:
                wait = response.headers.get("Retry-After")
                time.sleep(min(float(wait), 30.0) if wait else random.uniform(0, min(5.0, 0.2 * 2 ** attempt)))
                continue
            break
        if response.status_code not in ok:
            raise SimulationError(f"{method} {url}: {response.status_code} {response.text[:500]}")
        return response


class _Dataverse(_Api):
    def get(self, path: str, **params) -> list[dict]:
        rows, url = [], self.url + DV_API + path
        while url:
            body = self.request("GET", url, params=params, headers={"Prefer": "odata.maxpagesize=5000"}).json()
            rows += body.get("value", [])
            url, params = body.get("@odata.nextLink"), None
        return rows

    def create(self, entity_set: str, body: dict) -> dict:
        """Create a record as an upsert on a new id, so a retry after a lost answer cannot make a second one."""
        response = self.request("PATCH", f"{self.url}{DV_API}{entity_set}({uuid.uuid4()})", json=body,
                                headers={"Prefer": "return=representation"})
        return response.json()

    def update(self, entity_set: str, guid: str, body: dict) -> None:
        self.request("PATCH", f"{self.url}{DV_API}{entity_set}({guid})", json=body, headers={"If-Match": "*"})


class _FinOps(_Api):
    def get(self, path: str, **params) -> list[dict]:
        rows, url = [], f"{self.url}/data/{path}"
        while url:
            body = self.request("GET", url, params=params).json()
            rows += body.get("value", [])
            url, params = body.get("@odata.nextLink"), None
        return rows

    def action(self, path: str, body: dict | None = None) -> dict:
        # the business users' actions: sandbox admin endpoints (no token needed, harmless to send)
        return self.request("POST", f"{self.url}/_sandbox/finops/{path}", json=body or {}).json()


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Users:
    """The simulated users, with the reference data they need read once."""

    def __init__(self, dv: _Dataverse, fo: _FinOps, rnd: random.Random, fake, summary: SimulationSummary,
                 sizes: tuple[int, int, int, int, int]):
        self.dv, self.fo, self.r, self.fake, self.summary = dv, fo, rnd, fake, summary
        # per step: accounts, contacts, quotes, F&O orders, Sales orders
        self.sizes = sizes
        self.currencies = {c["isocurrencycode"]: c["transactioncurrencyid"]
                           for c in dv.get("transactioncurrencies", **{"$select": "transactioncurrencyid,isocurrencycode"})}
        self.units = {u["name"]: u["businessunitid"]
                      for u in dv.get("businessunits", **{"$select": "businessunitid,name"})}
        self.price_lists = {p["name"]: p["pricelevelid"]
                            for p in dv.get("pricelevels", **{"$select": "pricelevelid,name"})}
        missing = [v[0] for v in C.COMPANIES.values() if v[0] not in self.units]
        missing += [iso for iso in C.CURRENCIES if iso not in self.currencies]
        if missing:
            raise SimulationError(f"the sandbox is not seeded (missing {', '.join(missing)}); run p2c-sandbox seed")

    # -- Sales ---------------------------------------------------------------------------------
    def _company(self) -> str:
        return "demf" if self.r.random() < 0.2 else "usmf"

    def _address(self, le: str) -> dict:
        country, iso = C.COMPANIES[le][2], C.COMPANIES[le][3]
        if iso == "DE":
            return {"address1_line1": f"{self.fake.last_name()}straße {self.r.randint(1, 120)}",
                    "address1_city": self.r.choice(("Berlin", "München", "Hamburg", "Köln", "Frankfurt")),
                    "address1_stateorprovince": self.r.choice(("BE", "BY", "HH", "NW", "HE")),
                    "address1_postalcode": f"{self.r.randint(10000, 99999)}", "address1_country": country}
        return {"address1_line1": self.fake.street_address(), "address1_city": self.fake.city()[:60],
                "address1_stateorprovince": self.fake.state_abbr(), "address1_postalcode": self.fake.zipcode(),
                "address1_country": country}

    def _phone(self, le: str) -> str:
        r = self.r
        if le == "demf":
            return f"+49 {r.choice((30, 40, 69, 89))} {r.randint(1000000, 9999999)}"
        return f"+1 {r.randint(201, 989)}-{r.randint(200, 999)}-{r.randint(1000, 9999)}"

    def _owner(self, le: str) -> dict:
        bu, iso = C.COMPANIES[le][0], C.COMPANIES[le][1]
        return {"transactioncurrencyid@odata.bind": f"/transactioncurrencies({self.currencies[iso]})",
                "owningbusinessunit@odata.bind": f"/businessunits({self.units[bu]})"}

    def sales_accounts_and_contacts(self) -> None:
        n_accounts, n_contacts, *_ = self.sizes
        for _ in range(n_accounts):
            le = self._company()
            name = self.fake.company()[:100]
            domain = "".join(ch for ch in name.lower() if ch.isalnum())[:30] + ".example.com"
            self.dv.create("accounts", {"name": name, "telephone1": self._phone(le),
                                        "emailaddress1": f"info@{domain}", "websiteurl": f"https://www.{domain}",
                                        "creditlimit": float(self.r.choice((0, 10000, 25000))),
                                        "customertypecode": 3, **self._address(le), **self._owner(le)})
            self.summary.counts["sales accounts created"] += 1
        recent = self.dv.get("accounts", **{"$select": "accountid,accountnumber,name,_transactioncurrencyid_value",
                                            "$filter": "statecode eq 0", "$orderby": "modifiedon asc",
                                            "$top": str(max(20, 4 * n_accounts))})
        usd = self.currencies["USD"]
        for account in self.r.sample(recent, k=min(len(recent), max(1, n_accounts // 2 + 1))):
            le = "usmf" if account.get("_transactioncurrencyid_value") == usd else "demf"
            self.dv.update("accounts", account["accountid"], {"telephone1": self._phone(le),
                                                              "creditlimit": float(self.r.randint(1, 20) * 5000)})
            self.summary.counts["sales accounts changed"] += 1
        for _ in range(n_contacts):
            parent = self.r.choice(recent) if recent and self.r.random() < 0.85 else None
            le = ("usmf" if parent.get("_transactioncurrencyid_value") == usd else "demf") if parent else self._company()
            first, last = self.fake.first_name()[:25], self.fake.last_name()[:25]
            body = {"firstname": first, "lastname": last, "jobtitle": self.fake.job()[:60],
                    "emailaddress1": f"{first}.{last}@example.com".lower().replace(" ", ""),
                    "telephone1": self._phone(le), "msdynce_isactivecustomer": self.r.random() < 0.1,
                    **self._address(le), **self._owner(le)}
            if parent:
                body["parentcustomerid_account@odata.bind"] = f"/accounts({parent['accountid']})"
            self.dv.create("contacts", body)
            self.summary.counts["sales contacts created"] += 1
        contacts = self.dv.get("contacts", **{"$select": "contactid", "$filter": "statecode eq 0",
                                              "$orderby": "modifiedon asc", "$top": str(max(20, 2 * n_contacts))})
        for contact in self.r.sample(contacts, k=min(len(contacts), max(1, n_contacts // 2))):
            self.dv.update("contacts", contact["contactid"], {"jobtitle": self.fake.job()[:60]})
            self.summary.counts["sales contacts changed"] += 1

    def _synced_accounts(self, synced: dict[str, tuple[str, str]], wanted: int,
                         kind: str) -> list[tuple[dict, list[dict]]]:
        """Up to `wanted` accounts that reached F&O, each with the externally maintained products of
        its currency: what a Sales user can put on a quote or order that F&O will accept.

        Nothing (and the reason in `skipped`, under `kind`) until products came from F&O and
        accounts went there: the simulator does not fake either.
        """
        if not wanted:
            return []
        products = self.dv.get("products", **{
            "$select": "productid,productnumber,price,_defaultuomid_value,_transactioncurrencyid_value",
            "$filter": "msdynce_ismaintainedexternally eq true and statecode eq 0"})
        if not products:
            self.summary.skipped[f"{kind}: no externally maintained Sales products yet"] += 1
            return []
        by_currency: dict[str, list[dict]] = {}
        for p in products:
            by_currency.setdefault(p.get("_transactioncurrencyid_value"), []).append(p)
        # accounts that reached F&O: their numbers are externally maintained customers there
        numbers = [n for n in synced if n.startswith("ACC-")]
        if not numbers:
            self.summary.skipped[f"{kind}: no account synced to F&O yet"] += 1
            return []
        found_accounts = []
        for number in self.r.sample(numbers, k=min(len(numbers), wanted * 3)):
            found = self.dv.get("accounts", **{"$select": "accountid,name,_transactioncurrencyid_value,"
                                               "_owningbusinessunit_value,address1_line1,address1_city,"
                                               "address1_stateorprovince,address1_postalcode,address1_country",
                                               "$filter": f"accountnumber eq '{number}'"})
            pool = by_currency.get(found[0].get("_transactioncurrencyid_value")) if found else None
            if pool:
                found_accounts.append((found[0], pool))
            if len(found_accounts) >= wanted:
                break
        if not found_accounts:
            self.summary.skipped[f"{kind}: no synced account has products in its currency"] += 1
        return found_accounts

    def _document(self, account: dict) -> dict:
        """What a quote and an order of `account` share: customer, price list and currency of the
        account's currency, its business unit, a requested delivery date and the ship-to address."""
        currency = account["_transactioncurrencyid_value"]
        iso = {v: k for k, v in self.currencies.items()}.get(currency, "USD")
        price_list = {"USD": "CRM Service USA (sample)", "EUR": "CRM Service Europe (sample)"}[iso]
        return {
            # Sales allows 300 characters, F&O names 60: users who sync keep them short
            "name": self.fake.catch_phrase()[:60],
            "customerid_account@odata.bind": f"/accounts({account['accountid']})",
            "pricelevelid@odata.bind": f"/pricelevels({self.price_lists[price_list]})",
            "transactioncurrencyid@odata.bind": f"/transactioncurrencies({currency})",
            "owningbusinessunit@odata.bind": f"/businessunits({account['_owningbusinessunit_value']})",
            "requestdeliveryby": _iso(datetime.now(timezone.utc) + timedelta(days=self.r.randint(7, 45))),
            **{f"shipto_{k}": account.get(f"address1_{k}") for k in
               ("line1", "city", "stateorprovince", "postalcode", "country")}}

    @staticmethod
    def _product_line(product: dict, currency: str, seq: int, quantity: float, discount: float | None = None) -> dict:
        """A line of an externally maintained product at its Sales price, in its default unit, with
        a line discount (the whole line's, Sales' "Line item" discount method) when given."""
        line = {"productid@odata.bind": f"/products({product['productid']})",
                "quantity": quantity, "priceperunit": product.get("price") or 1.0,
                "ispriceoverridden": True, "isproductoverridden": False,
                "transactioncurrencyid@odata.bind": f"/transactioncurrencies({currency})",
                "sequencenumber": seq, "lineitemnumber": seq}
        if discount is not None:
            line["manualdiscountamount"] = discount
        if product.get("_defaultuomid_value"):
            line["uomid@odata.bind"] = f"/uoms({product['_defaultuomid_value']})"
        return line

    def sales_quotes(self, synced: dict[str, tuple[str, str]]) -> None:
        for account, pool in self._synced_accounts(synced, self.sizes[2], "quotes"):
            currency = account["_transactioncurrencyid_value"]
            # Dataverse numbers the quote (QUO-01000-ABCDEF)
            quote_id = self.dv.create("quotes", self._document(account))["quoteid"]
            for seq, product in enumerate(self.r.sample(pool, k=min(len(pool), self.r.randint(1, 4))), start=1):
                quantity = float(self.r.randint(1, 12))
                discount = float(self.r.randint(1, 20)) if self.r.random() < 0.3 else None
                self.dv.create("quotedetails", {"quoteid@odata.bind": f"/quotes({quote_id})",
                                                **self._product_line(product, currency, seq, quantity, discount)})
                self.summary.counts["sales quote lines created"] += 1
            self.dv.update("quotes", quote_id, {"statecode": 1, "statuscode": 2})
            self.summary.counts["sales quotes created and activated"] += 1

    def sales_orders(self, synced: dict[str, tuple[str, str]]) -> None:
        """Orders taken in Sales: two lines of products from F&O (3 units with a line discount of
        10.00, which F&O can only hold as 3.33 a unit and a charge of -0.01, and a second product),
        then activated; after every third such order one more with a write-in product, whose
        activation Sales refuses, so it stays a Draft that never goes to F&O."""
        for account, pool in self._synced_accounts(synced, self.sizes[4], "Sales orders"):
            currency = account["_transactioncurrencyid_value"]
            first, second = self.r.sample(pool, k=2) if len(pool) > 1 else (pool[0], pool[0])
            # Dataverse numbers the order (ORD-01000-ABCDEF); it is a Draft until activated
            order_id = self.dv.create("salesorders", self._document(account))["salesorderid"]
            for line in (self._product_line(first, currency, 1, 3.0, discount=10.0),
                         self._product_line(second, currency, 2, float(self.r.randint(1, 5)))):
                self.dv.create("salesorderdetails", {"salesorderid@odata.bind": f"/salesorders({order_id})", **line})
            self.dv.update("salesorders", order_id, {"msdynce_processingstatus": ACTIVE_ORDER})
            self.summary.counts["sales orders created and activated"] += 1
            if self.summary.counts["sales orders created and activated"] % 3 == 1:  # the 1st, 4th, ...
                self._sales_order_with_write_in(account, first)

    def _sales_order_with_write_in(self, account: dict, product: dict) -> None:
        currency = account["_transactioncurrencyid_value"]
        order_id = self.dv.create("salesorders", self._document(account))["salesorderid"]
        bind = {"salesorderid@odata.bind": f"/salesorders({order_id})"}
        self.dv.create("salesorderdetails", {**bind, **self._product_line(product, currency, 1, 1.0)})
        self.dv.create("salesorderdetails", {**bind, "productdescription": "Installation on site",
                                             "isproductoverridden": True, "ispriceoverridden": True,
                                             "quantity": 1.0, "priceperunit": 150.0, "sequencenumber": 2,
                                             "lineitemnumber": 2,
                                             "transactioncurrencyid@odata.bind": f"/transactioncurrencies({currency})"})
        refused = self.dv.request("PATCH", f"{self.dv.url}{DV_API}salesorders({order_id})", ok=(204, 400),
                                  json={"msdynce_processingstatus": ACTIVE_ORDER}, headers={"If-Match": "*"})
        if refused.status_code == 204:
            raise SimulationError(f"Sales activated order {order_id} although it has a write-in product")
        self.summary.counts["sales orders with a write-in product refused activation"] += 1

    # -- F&O ------------------------------------------------------------------------------------
    def finops_customers(self) -> dict[str, tuple[str, str]]:
        """Externally maintained customers: account -> (company, currency)."""
        rows = self.fo.get("CustomersV3", **{"cross-company": "true",
                                            "$filter": f"IsExternallyMaintained eq {YES}",
                                            "$select": "dataAreaId,CustomerAccount,SalesCurrencyCode"})
        return {r["CustomerAccount"]: (r["dataAreaId"], r["SalesCurrencyCode"]) for r in rows}

    def finops_orders_from_sales(self) -> None:
        """Order processors confirm the open orders that arrived from Sales (processing status
        Active, externally maintained customer, at least one line) and run "Calculate sales
        totals" on them, as on their own orders, so they can flow back to Sales."""
        arrived = self.fo.get("CDSSalesOrderHeaders", **{
            "cross-company": "true", "$select": "dataAreaId,SalesOrderNumber",
            "$filter": f"SalesOrderProcessingStatus eq {OPEN} and OrderingCustomerIsExternallyMaintained eq {YES}",
            "$expand": "SalesOrderLines($select=LineCreationSequenceNumber)"})
        for order in arrived:
            if not order["SalesOrderLines"]:
                continue  # its lines are still on their way
            le, number = order["dataAreaId"], order["SalesOrderNumber"]
            self.fo.action(f"orders/{le}/{number}/confirm")
            self.fo.action("calculate-totals", {"company": le, "number": number})
            self.summary.counts["F&O orders from Sales confirmed, totals calculated"] += 1

    def finops_orders(self, customers: dict[str, tuple[str, str]]) -> None:
        n_orders = self.sizes[3]
        if not customers:
            self.summary.skipped["orders: no externally maintained F&O customer yet"] += 1
        else:
            products: dict[str, list[str]] = {}
            for p in self.fo.get("SellableReleasedProducts", **{"cross-company": "true",
                                                                "$select": "dataAreaId,ProductNumber"}):
                products.setdefault(p["dataAreaId"], []).append(p["ProductNumber"])
            eligible = [(c, le) for c, (le, _) in customers.items() if products.get(le)]
            if not eligible:
                self.summary.skipped["orders: no sellable products in the customers' companies"] += 1
            for account, le in self.r.sample(eligible, k=min(len(eligible), n_orders)):
                lines = [{"ProductNumber": number, "OrderedSalesQuantity": float(self.r.randint(1, 10))}
                         for number in self.r.sample(products[le], k=min(len(products[le]), self.r.randint(1, 4)))]
                created = self.fo.action("orders", {
                    "company": le, "customer": account, "lines": lines,
                    "SalesOrderName": f"Order {self.fake.bothify('??-####').upper()}",
                    "RequestedShippingDate": _iso(datetime.now(timezone.utc) + timedelta(days=self.r.randint(3, 30)))})
                number = created["SalesOrderNumber"]
                self.summary.orders.append((le, number))
                self.summary.counts["F&O orders created"] += 1
                self.fo.action(f"orders/{le}/{number}/confirm")
                self.summary.counts["F&O orders confirmed"] += 1
                self.fo.action("calculate-totals", {"company": le, "number": number})
                self.summary.counts["F&O sales totals calculated"] += 1
        # invoice some of the confirmed orders of externally maintained customers (earlier steps too)
        confirmed = self.fo.get("CDSSalesOrderHeaders", **{
            "cross-company": "true", "$select": "dataAreaId,SalesOrderNumber",
            "$filter": f"SalesOrderProcessingStatus eq {CONFIRMED} and OrderingCustomerIsExternallyMaintained eq {YES}"})
        if not confirmed:
            return
        for order in self.r.sample(confirmed, k=max(1, len(confirmed) // 2)):
            posted = self.fo.action(f"orders/{order['dataAreaId']}/{order['SalesOrderNumber']}/invoice")
            self.summary.invoices.append((order["dataAreaId"], posted["InvoiceNumber"]))
            self.summary.counts["F&O invoices posted"] += 1


def simulate(dataverse_url: str = "http://127.0.0.1:8801", finops_url: str = "http://127.0.0.1:8802",
             steps: int = 1, interval: float = 0, seed: int | None = None, authority: str | None = None,
             verify=True, accounts_per_step: int = 3, contacts_per_step: int = 5, quotes_per_step: int = 2,
             orders_per_step: int = 3, sales_orders_per_step: int = 1, sales: bool = True, finops: bool = True,
             echo=None) -> SimulationSummary:
    """Run `steps` rounds of business activity, `interval` seconds apart (see module docstring).

    `authority` is the token endpoint host (default: the Dataverse URL, like the demo); `sales` /
    `finops` switch either side off; `echo` (e.g. `print`) gets one summary line per step.
    """
    from faker import Faker

    rnd = random.Random(seed)
    fake = Faker("en_US")
    fake.seed_instance(rnd.randrange(2**32))
    authority = authority or dataverse_url
    summary = SimulationSummary()
    dv = _Dataverse(dataverse_url, authority, verify)
    fo = _FinOps(finops_url, authority, verify)
    sizes = (accounts_per_step, contacts_per_step, quotes_per_step, orders_per_step, sales_orders_per_step)
    users = None
    for step in range(steps):
        if step and interval:
            time.sleep(interval)
        before = Counter(summary.counts)
        if sales:
            users = users or _Users(dv, fo, rnd, fake, summary, sizes)
            users.sales_accounts_and_contacts()
        if users is None:
            users = _Users.__new__(_Users)
            users.dv, users.fo, users.r, users.fake, users.summary = dv, fo, rnd, fake, summary
            users.sizes = sizes
        customers = users.finops_customers() if (sales or finops) else {}
        if sales:
            users.sales_quotes(customers)
            users.sales_orders(customers)
        if finops:
            users.finops_orders_from_sales()
            users.finops_orders(customers)
        summary.steps += 1
        if echo:
            delta = summary.counts - before
            echo(f"step {step + 1}: " + (", ".join(f"{k} {v}" for k, v in sorted(delta.items())) or "nothing to do"))
    return summary


@click.command("simulate")
@click.option("--data", "data_dir", default=".sandbox", show_default=True,
              help="Sandbox data directory (for the TLS CA when the URLs are https).")
@click.option("--interval", type=click.FloatRange(min=0), default=0, show_default=True,
              help="Seconds between steps.")
@click.option("--steps", type=click.IntRange(min=1), default=1, show_default=True, help="Number of steps.")
@click.option("--seed", "seed_value", type=int, default=None, help="Random seed (default: different each run).")
@click.option("--dataverse-url", default="http://127.0.0.1:8801", show_default=True, envvar="DATAVERSE_URL")
@click.option("--finops-url", default="http://127.0.0.1:8802", show_default=True, envvar="FINOPS_URL")
@click.option("--sales/--no-sales", default=True, help="Simulate the Sales users.")
@click.option("--finops/--no-finops", default=True, help="Simulate the F&O users.")
def simulate_command(data_dir, interval, steps, seed_value, dataverse_url, finops_url, sales, finops) -> None:
    """Act as the business users on both sides of a running, seeded sandbox."""
    from pathlib import Path

    ca = Path(data_dir) / "ca.pem"
    verify = str(ca) if ca.exists() and "https" in (dataverse_url + finops_url) else True
    try:
        summary = simulate(dataverse_url, finops_url, steps=steps, interval=interval, seed=seed_value,
                           verify=verify, sales=sales, finops=finops, echo=click.echo)
    except (SimulationError, requests.RequestException) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(summary.summary())


if __name__ == "__main__":
    simulate_command()
