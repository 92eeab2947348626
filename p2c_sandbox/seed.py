"""`p2c-sandbox seed`: fill both services with a realistic, deterministic demo company.

What it writes (reference names in `company.py`; the flow templates depend on them):

- F&O (`finops.db`): legal entities usmf/demf with their ledgers' accounting currencies,
  currencies, units, languages; per company customer groups, sites and warehouses; released
  products (about scale/2, at least 20, numbers D0001...; names on the shared product, most
  sellable, a few stopped or without price; some released in demf too); customers that did NOT
  come from Sales (US-001..., DE-001..., IsExternallyMaintained No) with a few orders and posted
  invoices of their own - the sync's filters must skip them.
- Dataverse (`dataverse.db`): business units Contoso / USMF Sales / DEMF Sales, currencies, the
  "Default unit" group and its units, three active price lists; `scale`
  accounts (ACC-01000-ABCDEF numbers), about 2 x scale contacts (CON-... numbers, ~10% active
  customers), a few Sales-made products and draft/active quotes using them (the quote sync must
  skip them); the organization row, with products created Draft unless `products_active`.

Determinism: every value comes from `random.Random(seed)` and Faker seeded with `seed` (pools of
Faker values are drawn once, then combined), so the same seed gives the same numbers, names and
GUIDs. Speed: rows go straight into SQLite with `executemany`, one transaction per table (row
versions are allocated as one block per table), so 500,000 accounts take minutes.

Re-seeding: a directory that already holds seeded data is refused (`SeedError`) unless `clear=True`
(`--clear`), which first deletes every row of both databases (in place, so a running sandbox keeps
working on the same files). Empty databases made by `p2c-sandbox serve` count as not seeded.
"""

from __future__ import annotations

import random
import re
import sqlite3
import string
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click

from . import company as C
from .dataverse.plugins import AUTO_NUMBER, AUTO_NUMBER_START, AUTO_NUMBER_SUFFIX, auto_number, continue_auto_numbers
from .dataverse import organization
from .dataverse.tables import open_store
from .store import VERSION

# --------------------------------------------------------------------------------------------
# results


class SeedError(Exception):
    """The seed cannot run (e.g. the data directory is already seeded and clear was not asked)."""


@dataclass
class SeedReport:
    data_dir: Path
    scale: int
    seed: int
    counts: dict[str, int] = field(default_factory=dict)  # "dataverse.account" -> rows
    seconds: float = 0.0

    def summary(self) -> str:
        lines = [f"seeded {self.data_dir} (scale {self.scale}, seed {self.seed}) in {self.seconds:.1f} s"]
        lines += [f"  {name:<40} {n:>10,}" for name, n in self.counts.items()]
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# deterministic helpers


class _Rand:
    """random.Random plus the few generators the seed needs (GUIDs, P2C numbers, phones)."""

    def __init__(self, seed: int):
        self.r = random.Random(seed)

    def guid(self) -> str:
        return str(uuid.UUID(int=self.r.getrandbits(128), version=4))

    def letters(self, n: int) -> str:
        return "".join(self.r.choices(string.ascii_uppercase, k=n))

    def auto_number(self, logical: str, sequence: int) -> str:
        """A number in the service's auto-number format for `logical`, letters from the seed's generator."""
        return auto_number(AUTO_NUMBER[logical][1], sequence, self.letters(AUTO_NUMBER_SUFFIX))

    def phone(self, country: str) -> str:  # <= 20 characters (F&O PrimaryContactPhone)
        r = self.r
        if country == "DE":
            return f"+49 {r.choice((30, 40, 69, 89, 211, 221, 711))} {r.randint(1000000, 9999999)}"
        return f"+1 {r.randint(201, 989)}-{r.randint(200, 999)}-{r.randint(1000, 9999)}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cut(text: str, length: int) -> str:
    """Shorten at a word boundary to at most `length` characters."""
    if len(text) <= length:
        return text
    cut = text[:length].rsplit(" ", 1)[0].rstrip(",.- ")
    return cut or text[:length]


class _Pools:
    """Faker values drawn once per seed, combined by the random generator (fast at any scale)."""

    def __init__(self, seed: int, size: int):
        from faker import Faker

        us, de = Faker("en_US"), Faker("de_DE")
        us.seed_instance(seed)
        de.seed_instance(seed + 1)
        self.us_companies = [_cut(us.company(), 100) for _ in range(size)]
        self.de_companies = [_cut(de.company(), 100) for _ in range(max(size // 4, 10))]
        self.us_first = [_cut(us.first_name(), 25) for _ in range(max(size, 50))]
        self.us_last = [_cut(us.last_name(), 25) for _ in range(max(size, 50))]
        self.de_first = [_cut(de.first_name(), 25) for _ in range(max(size // 4, 50))]
        self.de_last = [_cut(de.last_name(), 25) for _ in range(max(size // 4, 50))]
        self.jobs = [_cut(us.job(), 60) for _ in range(200)]
        self.us_streets = [us.street_address() for _ in range(size)]
        self.de_streets = [de.street_address() for _ in range(max(size // 4, 10))]
        # (city, state abbreviation <= 10, zip <= 10)
        self.us_places = [(us.city(), us.state_abbr(), us.zipcode()) for _ in range(max(size // 2, 10))]
        self.de_places = [(de.city(), r, de.postcode()) for r in
                          random.Random(seed).choices(("BE", "BY", "BW", "HE", "HH", "NW", "SN"),
                                                      k=max(size // 8, 10))]
        self.sentences = [us.sentence(nb_words=12) for _ in range(200)]


def _domain(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "", name.lower().split(",")[0].split(" and ")[0])[:30]
    return (slug or "example") + ".example.com"


# --------------------------------------------------------------------------------------------
# F&O side


def _finops_connect(data_dir: Path) -> sqlite3.Connection:
    from .finops.service import connect
    return connect(data_dir / "finops.db")


def _fo_insert(conn: sqlite3.Connection, table: str, rows: Iterable[dict]) -> int:
    """Insert rows into an F&O table, unspecified columns at their F&O empty value."""
    from .finops.entities import TABLES
    _, fields = TABLES[table]
    names = [f.name for f in fields]
    empty = {f.name: f.empty() for f in fields}
    sql = (f'INSERT INTO "{table}" ({", ".join(f"{chr(34)}{n}{chr(34)}" for n in names)}) '
           f'VALUES ({", ".join("?" * len(names))})')
    count = 0

    def values() -> Iterator[list]:
        nonlocal count
        for row in rows:
            unknown = set(row) - set(empty)
            if unknown:
                raise ValueError(f"{table}: unknown columns {sorted(unknown)}")
            count += 1
            yield [row.get(n, empty[n]) for n in names]

    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany(sql, values())
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return count


def _finops_seeded(conn: sqlite3.Connection) -> bool:
    return any(conn.execute(f'SELECT 1 FROM "{t}" LIMIT 1').fetchone()
               for t in ("LegalEntities", "CustomersV3", "ReleasedProductsV2"))


def _finops_clear(conn: sqlite3.Connection) -> None:
    from .finops.entities import TABLES
    conn.execute("BEGIN IMMEDIATE")
    for table in (*TABLES, "NumberSequences"):
        conn.execute(f'DELETE FROM "{table}"')
    conn.execute("COMMIT")


_PRODUCT_KINDS = (  # (noun, unit, type, price range)
    ("Speaker", "ea", "Item", (49, 899)), ("Headphones", "ea", "Item", (19, 399)),
    ("Television", "ea", "Item", (299, 2999)), ("Projector", "ea", "Item", (399, 2499)),
    ("Amplifier", "ea", "Item", (149, 1499)), ("Receiver", "ea", "Item", (199, 1299)),
    ("Microphone", "ea", "Item", (29, 499)), ("Subwoofer", "ea", "Item", (99, 999)),
    ("Cable", "pcs", "Item", (4, 59)), ("Wall mount", "pcs", "Item", (19, 149)),
    ("Speaker stand", "pcs", "Item", (29, 199)), ("Battery pack", "box", "Item", (9, 79)),
    ("Screws", "box", "Item", (3, 25)), ("Acoustic foam", "kg", "Item", (8, 45)),
    ("Installation", "h", "Service", (60, 180)), ("Calibration", "h", "Service", (80, 220)),
)
_PRODUCT_ADJECTIVES = ("Compact", "Premium", "Studio", "Outdoor", "Wireless", "Classic", "Pro",
                       "Mini", "Deluxe", "Smart", "Portable", "Home", "Digital", "Hi-Fi")


def _seed_finops(conn, rnd: _Rand, pools: _Pools, scale: int, counts: dict, now: datetime) -> None:
    from .finops import business
    from .finops.service import transaction

    def put(table, rows):
        counts[f"finops.{table}"] = counts.get(f"finops.{table}", 0) + _fo_insert(conn, table, rows)

    put("Currencies", [{"CurrencyCode": k, "Name": v[0]} for k, v in C.CURRENCIES.items()])
    put("LegalEntities", [{"LegalEntityId": le, "Name": C.LEGAL_ENTITY_NAMES[le]} for le in C.COMPANIES])
    put("Ledgers", [{"LegalEntityId": le, "AccountingCurrency": v[1]} for le, v in C.COMPANIES.items()])
    put("UnitsOfMeasure", [{"UnitSymbol": k, "UnitDescription": v[0], "DecimalPrecision": v[2]}
                           for k, v in C.UNITS.items()])
    put("LanguageCodes", [{"LanguageId": k, "Description": v} for k, v in C.LANGUAGES.items()])
    put("CustomerGroups", [{"dataAreaId": le, "CustomerGroupId": k, "Description": v}
                           for le in C.COMPANIES for k, v in C.CUSTOMER_GROUPS.items()])
    put("OperationalSites", [{"dataAreaId": le, "SiteId": k, "SiteName": v}
                             for le in C.COMPANIES for k, v in C.SITES.items()])
    put("Warehouses", [{"dataAreaId": le, "WarehouseId": k, "WarehouseName": v[0], "OperationalSiteId": v[1]}
                       for le in C.COMPANIES for k, v in C.WAREHOUSES.items()])

    # released products: all in usmf, every third also in demf (EUR price)
    n_products = max(20, scale // 2)
    products, translations = [], []
    r = rnd.r
    for i in range(1, n_products + 1):
        noun, unit, ptype, (low, high) = _PRODUCT_KINDS[(i - 1) % len(_PRODUCT_KINDS)]
        name = f"{r.choice(_PRODUCT_ADJECTIVES)} {noun} {r.choice('ABCDEFGHKMRSTX')}{r.randint(10, 990)}"
        price = round(r.uniform(low, high), 2)
        number = f"D{i:04d}"
        row = {"ItemNumber": number, "ProductNumber": number, "ProductType": ptype,
               "SearchName": name[:20], "ProductSearchName": name[:20],
               "SalesUnitSymbol": unit, "InventoryUnitSymbol": unit,
               "SalesPrice": price, "UnitCost": round(price * r.uniform(0.4, 0.7), 2)}
        settings = {"ItemNumber": number, "IsSalesStopped": "No",
                    "IsStockedProduct": "No" if ptype == "Service" else "Yes"}
        if i % 17 == 0:  # not sellable: sales stopped
            settings["IsSalesStopped"] = "Yes"
        elif i % 19 == 0:  # not sellable: no price
            row["SalesPrice"] = 0.0
        products.append((row, settings))
        translations.append({"ProductNumber": number, "ProductName": name[:60],
                             "ProductDescription": f"{name}. {r.choice(pools.sentences)}"})
    demf = [(p, s) for i, (p, s) in enumerate(products) if i % 3 == 0]
    put("ProductTranslations", translations)  # the shared product: one name in every company
    put("ReleasedProductsV2", ({"dataAreaId": "usmf", **p} for p, _ in products))
    put("ReleasedProductsV2", ({"dataAreaId": "demf", **p, "SalesPrice": round(p["SalesPrice"] * 0.92, 2),
                                "UnitCost": round(p["UnitCost"] * 0.92, 2)} for p, _ in demf))
    put("ItemSettings", ({"dataAreaId": le, **s} for le, pairs in (("usmf", products), ("demf", demf))
                         for _, s in pairs))

    # customers that were not made in Sales (IsExternallyMaintained No)
    n_customers = max(5, min(scale // 20, 5000))
    customers = {"usmf": [], "demf": []}
    rows = []
    for i in range(1, n_customers + 1):
        le = "demf" if i % 4 == 0 else "usmf"
        iso = C.COMPANIES[le][3]
        number = f"{iso}-{len(customers[le]) + 1:03d}"
        customers[le].append(number)
        name = r.choice(pools.de_companies if iso == "DE" else pools.us_companies)
        street = r.choice(pools.de_streets if iso == "DE" else pools.us_streets)
        city, state, zipcode = r.choice(pools.de_places if iso == "DE" else pools.us_places)
        address = {"Street": street, "City": _cut(city, 60), "State": state, "ZipCode": zipcode[:10],
                   "CountryRegionISOCode": iso}
        rows.append({"dataAreaId": le, "CustomerAccount": number, "OrganizationName": name,
                     "PartyType": "Organization", "PartyNumber": f"{100000 + i:09d}",
                     "CustomerGroupId": r.choice(("20", "30")), "SalesCurrencyCode": C.COMPANIES[le][1],
                     "LanguageId": "de" if iso == "DE" else "en-us", "SiteId": "1", "WarehouseId": "11",
                     "IsExternallyMaintained": "No", "CreditLimit": float(r.choice((0, 10000, 50000))),
                     "PrimaryContactEmail": f"sales@{_domain(name)}"[:80],
                     "PrimaryContactPhone": rnd.phone(iso),
                     **{f"DeliveryAddress{k}": v for k, v in address.items()},
                     **{f"InvoiceAddress{k}": v for k, v in address.items()}})
    put("CustomersV3", rows)

    # a few orders (confirmed, totals calculated) and posted invoices of those customers
    def is_sellable(row, settings):
        return settings["IsSalesStopped"] == "No" and row["SalesPrice"] > 0

    sellable = [p for p, s in products[:200] if is_sellable(p, s)]
    demf_sellable = [p for i, (p, s) in enumerate(products[:200]) if i % 3 == 0 and is_sellable(p, s)]
    n_orders = min(12, n_customers * 2)
    orders = invoices = 0
    with transaction(conn):
        for k in range(n_orders):
            le = "demf" if k % 4 == 3 else "usmf"
            pool = demf_sellable if le == "demf" else sellable
            lines = [{"ProductNumber": p["ProductNumber"], "OrderedSalesQuantity": float(r.randint(1, 10))}
                     for p in r.sample(pool, k=min(len(pool), r.randint(1, 4)))]
            number = business.create_order(conn, le, customers[le][k % len(customers[le])], lines,
                                           SalesOrderName="Walk-in order",
                                           RequestedShippingDate=_iso(now + timedelta(days=7)))
            orders += 1
            if k % 3 != 2:
                business.confirm_order(conn, le, number)
                business.calculate_totals(conn, le, number)
            if k % 3 == 0:
                business.post_invoice(conn, le, number, (now - timedelta(days=k)).date())
                invoices += 1
    counts["finops.SalesOrders"] = orders
    counts["finops.SalesInvoiceHeaders"] = invoices


# --------------------------------------------------------------------------------------------
# Dataverse side: rows straight into the service's own store tables


class _DataverseWriter:
    """Bulk-loads rows into the Dataverse service's store, opened from its catalogue (`open_store`).

    Rows are keyed by store column: a lookup by its attribute name (`transactioncurrencyid`), a
    customer lookup also with its `<name>type` column (`parentcustomeridtype`), like the service
    writes them. Bypassing the service's write path is what makes 500,000 rows take minutes; the
    seed's rows already carry what the plug-ins would derive.
    """

    def __init__(self, path: Path):
        self.store = open_store(path)
        self.conn = self.store.conn

    def insert(self, logical: str, rows: list[dict]) -> int:
        """Insert rows (missing columns empty) in one transaction with one block of row versions.

        The store validates the first rows (types, lengths, unknown columns): every row of a table
        comes from the same code, and checking them all costs ~35 us a row (half a minute for the
        million contacts of scale 500,000).
        """
        table = self.store.tables[logical]
        names = [c.name for c in table.columns]
        for row in rows[:50]:
            self.store.check(logical, row)
        with self.store.transaction():
            base = self.store.current_version()
            sql = (f'INSERT INTO "{logical}" ({", ".join(chr(34) + n + chr(34) for n in names)}, "{VERSION}") '
                   f'VALUES ({", ".join("?" * (len(names) + 1))})')
            self.conn.executemany(sql, ([*map(row.get, names), base + i]
                                        for i, row in enumerate(rows, start=1)))
            self.conn.execute("UPDATE _sandbox_meta SET value = ? WHERE name = 'version'", (base + len(rows),))
        return len(rows)

    def seeded(self) -> bool:
        return any(self.store.count(logical) for logical in ("account", "businessunit", "contact"))

    def clear(self) -> None:
        with self.store.transaction():
            for name in self.store.tables:
                self.conn.execute(f'DELETE FROM "{name}"')
            self.conn.execute("DELETE FROM _tombstones")


def _seed_dataverse(dv: _DataverseWriter, rnd: _Rand, pools: _Pools, scale: int, counts: dict,
                    now: datetime) -> None:
    r = rnd.r
    stamp = _iso(now)

    def put(logical: str, rows) -> list[dict]:
        rows = list(rows) if not isinstance(rows, list) else rows
        for row in rows:
            row.setdefault("createdon", stamp)
            row.setdefault("modifiedon", row["createdon"])
        counts[f"dataverse.{logical}"] = counts.get(f"dataverse.{logical}", 0) + dv.insert(logical, rows)
        return rows

    root = rnd.guid()
    units = {C.ROOT_BUSINESS_UNIT: root}
    bu_rows = [{"businessunitid": root, "name": C.ROOT_BUSINESS_UNIT}]
    for le, (bu, *_rest) in C.COMPANIES.items():
        units[bu] = rnd.guid()
        bu_rows.append({"businessunitid": units[bu], "name": bu})
    put("businessunit", bu_rows)

    currencies = {iso: rnd.guid() for iso in C.CURRENCIES}
    put("transactioncurrency", [{"transactioncurrencyid": currencies[iso], "isocurrencycode": iso,
                                 "currencyname": name, "currencysymbol": symbol, "exchangerate": rate}
                                for iso, (name, symbol, rate) in C.CURRENCIES.items()])

    schedule = rnd.guid()
    put("uomschedule", [{"uomscheduleid": schedule, "name": C.UNIT_GROUP, "baseuomname": C.BASE_UNIT}])
    base_unit = rnd.guid()
    uoms = {C.BASE_UNIT: base_unit, **{sales: rnd.guid() for _, sales, _ in C.UNITS.values()}}
    put("uom", [{"uomid": guid, "name": name, "quantity": 1.0, "uomscheduleid": schedule,
                 "baseuom": base_unit if guid != base_unit else None}
                for name, guid in uoms.items()])

    price_lists = {name: rnd.guid() for name in C.PRICE_LISTS}
    put("pricelevel", [{"pricelevelid": guid, "name": name, "transactioncurrencyid": currencies[C.PRICE_LISTS[name]],
                        "begindate": _iso(now.replace(month=1, day=1, hour=0, minute=0, second=0) - timedelta(days=365)),
                        "enddate": _iso(now.replace(hour=0, minute=0, second=0) + timedelta(days=5 * 365)),
                        "statecode": 0, "statuscode": 100001}
                       for name, guid in price_lists.items()])

    # accounts: ~80% USMF (USD, United States), ~20% DEMF (EUR, Germany)
    next_seq = dict.fromkeys(AUTO_NUMBER, AUTO_NUMBER_START)
    accounts = []
    days = 3 * 365
    for i in range(scale):
        german = r.random() < 0.2
        le = "demf" if german else "usmf"
        bu, iso_cur, country, iso = C.COMPANIES[le]
        name = r.choice(pools.de_companies if german else pools.us_companies)
        city, state, zipcode = r.choice(pools.de_places if german else pools.us_places)
        created = now - timedelta(days=r.randint(1, days), seconds=r.randint(0, 86399))
        accounts.append({
            "accountid": rnd.guid(), "accountnumber": rnd.auto_number("account", next_seq["account"]),
            "name": name, "telephone1": rnd.phone(iso), "emailaddress1": f"info@{_domain(name)}",
            "websiteurl": f"https://www.{_domain(name)}",
            "address1_line1": r.choice(pools.de_streets if german else pools.us_streets),
            "address1_city": _cut(city, 60), "address1_stateorprovince": state,
            "address1_postalcode": zipcode[:10], "address1_country": country,
            "creditlimit": float(r.choice((0, 5000, 10000, 25000, 50000, 100000))),
            "customertypecode": 3, "transactioncurrencyid": currencies[iso_cur],
            "owningbusinessunit": units[bu], "statecode": 0, "statuscode": 1,
            "createdon": _iso(created), "modifiedon": _iso(created + timedelta(days=r.randint(0, 30))),
            "_le": le,
        })
        next_seq["account"] += 1

    # contacts: ~2 per account, 85% with a company, ~10% active customers
    contacts = []
    n_contacts = 2 * scale
    for i in range(n_contacts):
        parent = accounts[r.randrange(len(accounts))] if accounts and r.random() < 0.85 else None
        le = parent["_le"] if parent else ("demf" if r.random() < 0.2 else "usmf")
        german = le == "demf"
        bu, iso_cur, country, iso = C.COMPANIES[le]
        first = r.choice(pools.de_first if german else pools.us_first)
        last = r.choice(pools.de_last if german else pools.us_last)
        domain = _domain(parent["name"]) if parent else "mail.example.com"
        city, state, zipcode = r.choice(pools.de_places if german else pools.us_places)
        created = now - timedelta(days=r.randint(1, days), seconds=r.randint(0, 86399))
        contacts.append({
            "contactid": rnd.guid(), "msdynce_contactnumber": rnd.auto_number("contact", next_seq["contact"]),
            "firstname": first, "lastname": last, "fullname": f"{first} {last}",
            "emailaddress1": re.sub(r"[^a-z0-9.]", "", f"{first}.{last}".lower())[:50] + f"@{domain}",
            "telephone1": rnd.phone(iso), "jobtitle": r.choice(pools.jobs),
            "address1_line1": parent["address1_line1"] if parent else r.choice(
                pools.de_streets if german else pools.us_streets),
            "address1_city": parent["address1_city"] if parent else _cut(city, 60),
            "address1_stateorprovince": parent["address1_stateorprovince"] if parent else state,
            "address1_postalcode": parent["address1_postalcode"] if parent else zipcode[:10],
            "address1_country": country,
            "parentcustomerid": parent["accountid"] if parent else None,
            "parentcustomeridtype": "account" if parent else None,
            "msdynce_iscompanyanaccount": parent is not None,
            "msdynce_isactivecustomer": r.random() < 0.10,
            "transactioncurrencyid": currencies[iso_cur], "owningbusinessunit": units[bu],
            "statecode": 0, "statuscode": 1,
            "createdon": _iso(created), "modifiedon": _iso(created + timedelta(days=r.randint(0, 30))),
        })
        next_seq["contact"] += 1
    # a primary contact for accounts that have one
    primary = {}
    for c in contacts:
        if c["parentcustomerid"] is not None:
            primary.setdefault(c["parentcustomerid"], c["contactid"])
    for a in accounts:
        a["primarycontactid"] = primary.get(a["accountid"])
        del a["_le"]
    put("account", accounts)
    put("contact", contacts)

    # Sales-made products (not externally maintained) and quotes using them
    n_sales_products = 5
    sales_products = []
    usd = currencies["USD"]
    usa_list = price_lists["CRM Service USA (sample)"]
    for i in range(1, n_sales_products + 1):
        price = round(r.uniform(20, 500), 2)
        sales_products.append({
            "productid": rnd.guid(), "productnumber": f"SP-{i:04d}",
            "name": f"{r.choice(_PRODUCT_ADJECTIVES)} consulting package {i}",
            "description": "Sold from Sales only (write-in style product, not in F&O).",
            "producttypecode": 3, "productstructure": 1, "price": price, "currentcost": round(price * 0.5, 2),
            "quantitydecimal": 0, "defaultuomid": uoms["Each"], "defaultuomscheduleid": schedule,
            "pricelevelid": usa_list, "transactioncurrencyid": usd,
            "msdynce_ismaintainedexternally": False, "statecode": 0, "statuscode": 1})
    put("product", sales_products)
    put("productpricelevel", [{"productpricelevelid": rnd.guid(), "pricelevelid": usa_list,
                               "productid": p["productid"], "uomid": uoms["Each"], "amount": p["price"],
                               "pricingmethodcode": 1, "transactioncurrencyid": usd}
                              for p in sales_products])

    usd_accounts = [a for a in accounts if a["transactioncurrencyid"] == usd]
    n_quotes = min(max(4, scale // 50), 10000) if usd_accounts else 0
    quotes, details = [], []
    for q in range(n_quotes):
        account = usd_accounts[r.randrange(len(usd_accounts))]
        active = q % 2 == 1
        quote_id = rnd.guid()
        lines = r.sample(sales_products, k=r.randint(1, 3))
        total = 0.0
        for seq, p in enumerate(lines, start=1):
            quantity = float(r.randint(1, 5))
            amount = round(p["price"] * quantity, 2)
            total += amount
            details.append({"quotedetailid": rnd.guid(), "quoteid": quote_id, "productid": p["productid"],
                            "uomid": uoms["Each"], "transactioncurrencyid": usd, "quantity": quantity,
                            "priceperunit": p["price"], "baseamount": amount, "extendedamount": amount,
                            "manualdiscountamount": 0.0, "tax": 0.0, "ispriceoverridden": False,
                            "isproductoverridden": False, "productdescription": None,
                            "sequencenumber": seq, "lineitemnumber": seq,
                            "msdynce_ismaintainedexternally": False,
                            "msdynce_quotehasexternalmaintainedproductsonly": False,
                            "msdynce_quoterevisionnumber": 0})
        quotes.append({
            "quoteid": quote_id, "quotenumber": rnd.auto_number("quote", next_seq["quote"]),
            "name": f"Consulting for {account['name']}"[:300], "revisionnumber": 0,
            "customerid": account["accountid"], "customeridtype": "account", "pricelevelid": usa_list,
            "transactioncurrencyid": usd, "owningbusinessunit": account["owningbusinessunit"],
            "totalamount": round(total, 2), "totallineitemamount": round(total, 2), "totaltax": 0.0,
            "discountamount": 0.0, "freightamount": 0.0,
            "requestdeliveryby": _iso(now + timedelta(days=r.randint(7, 60))),
            **{f"{p}_{c}": account[f"address1_{c}"] for p in ("shipto", "billto")
               for c in ("line1", "city", "stateorprovince", "postalcode", "country")},
            "msdynce_hasexternallymaintainedproductsonly": False, "msdynce_ismaintainedexternally": False,
            "statecode": 1 if active else 0, "statuscode": 3 if active else 1})
        next_seq["quote"] += 1
    put("quote", quotes)
    put("quotedetail", details)

    # the service numbers later rows after the seeded ones
    with dv.store.transaction():
        for logical, sequence in next_seq.items():
            continue_auto_numbers(dv.store, logical, sequence - 1)


# --------------------------------------------------------------------------------------------
# entry point


@contextmanager
def _closing(*closers):
    try:
        yield
    finally:
        for close in closers:
            close()


def seed(data_dir: Path | str = ".sandbox", scale: int = 200, seed: int = 42, clear: bool = False,
         now: datetime | None = None, products_active: bool = False) -> SeedReport:
    """Fill `data_dir` (finops.db, dataverse.db) with the demo company; see the module docstring.

    `products_active`: the organization creates products without a parent family Active, as an org
    upgraded from an earlier Sales version does; False is a fresh installation's setting."""
    if scale < 1:
        raise SeedError("scale must be at least 1")
    started = time.perf_counter()
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    now = (now or datetime.now(timezone.utc)).replace(microsecond=0)
    report = SeedReport(data_dir, scale, seed)
    fo = _finops_connect(data_dir)
    dv = _DataverseWriter(data_dir / "dataverse.db")
    with _closing(fo.close, dv.store.close):
        if _finops_seeded(fo) or dv.seeded():
            if not clear:
                raise SeedError(f"{data_dir} already holds seeded data; use --clear to delete it and seed again")
            _finops_clear(fo)
            dv.clear()
        rnd = _Rand(seed)
        pools = _Pools(seed, size=max(50, min(scale, 20000)))
        _seed_finops(fo, rnd, pools, scale, report.counts, now)
        _seed_dataverse(dv, rnd, pools, scale, report.counts, now)
        organization.ensure(dv.store, **{organization.PRODUCTS_ACTIVE: products_active})
    report.seconds = time.perf_counter() - started
    return report


@click.command("seed")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=Path(".sandbox"),
              show_default=True, help="Sandbox data directory (finops.db, dataverse.db).")
@click.option("--scale", type=click.IntRange(min=1), default=200, show_default=True,
              help="Number of Sales accounts (contacts ~2x, F&O products ~scale/2).")
@click.option("--seed", "seed_value", type=int, default=42, show_default=True, help="Random seed.")
@click.option("--clear", is_flag=True, help="Delete existing data in both databases first.")
@click.option("--products-active", is_flag=True,
              help="Sales creates products without a parent family Active, not Draft (the organization's "
                   "createproductswithoutparentinactivestate, on in orgs upgraded from earlier versions).")
def seed_command(data_dir: Path, scale: int, seed_value: int, clear: bool, products_active: bool) -> None:
    """Fill both services with a realistic, deterministic demo company."""
    try:
        report = seed(data_dir, scale=scale, seed=seed_value, clear=clear, products_active=products_active)
    except SeedError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(report.summary())


if __name__ == "__main__":
    seed_command()
