"""`p2c-sandbox seed`: fill both services with a realistic, deterministic demo company.

What it writes (reference names in `company.py`; the flow templates depend on them):

- F&O (`finops.db`): legal entities usmf/demf, currencies, units, languages; per company customer
  groups, sites and warehouses; released products (about scale/2, at least 20, numbers D0001...;
  most sellable, a few stopped or without price; some released in demf too); customers that did NOT
  come from Sales (US-001..., DE-001..., IsExternallyMaintained No) with a few orders and posted
  invoices of their own - the sync's filters must skip them.
- Dataverse (`dataverse.db`): business units Contoso / USMF Sales / DEMF Sales, currencies, the
  "Default unit" group and its units, three active price lists, the P2C auto-number rows; `scale`
  accounts (ACC-01000-ABCDEF numbers), about 2 x scale contacts (CON-... numbers, ~10% active
  customers), a few Sales-made products and draft/active quotes using them (the quote sync must
  skip them).

Determinism: every value comes from `random.Random(seed)` and Faker seeded with `seed` (pools of
Faker values are drawn once, then combined), so the same seed gives the same numbers, names and
GUIDs. Speed: rows go straight into SQLite with `executemany`, one transaction per table (row
versions are allocated as one block per table), so 500,000 accounts take minutes.

Re-seeding: a directory that already holds seeded data is refused (`SeedError`) unless `clear=True`
(`--clear`), which first deletes every row of both databases (in place, so a running sandbox keeps
working on the same files). Empty databases made by `p2c-sandbox serve` count as not seeded.
"""

from __future__ import annotations

import importlib
import itertools
import pkgutil
import random
import re
import sqlite3
import string
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click

from . import company as C
from .store import VERSION, Column, Store, Table

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

    def p2c_number(self, prefix: str, sequence: int) -> str:
        # ACC-01000-BVRCPS: prefix, 5-digit (at least) sequence, 6 upper-case letters (p2c-spec 1.3)
        return f"{prefix}-{sequence:05d}-{self.letters(C.AUTO_NUMBER_SUFFIX)}"

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


def _seed_finops(conn, rnd: _Rand, pools: _Pools, scale: int, counts: dict, now: datetime) -> dict:
    from .finops import business
    from .finops.service import transaction

    def put(table, rows):
        counts[f"finops.{table}"] = counts.get(f"finops.{table}", 0) + _fo_insert(conn, table, rows)

    put("Currencies", [{"CurrencyCode": k, "Name": v[0]} for k, v in C.CURRENCIES.items()])
    put("LegalEntities", [{"LegalEntityId": le, "Name": C.LEGAL_ENTITY_NAMES[le], "AccountingCurrency": v[1]}
                          for le, v in C.COMPANIES.items()])
    put("UnitsOfMeasure", [{"UnitSymbol": k, "Description": v[0]} for k, v in C.UNITS.items()])
    put("LanguageCodes", [{"LanguageId": k, "Description": v} for k, v in C.LANGUAGES.items()])
    put("CustomerGroups", [{"dataAreaId": le, "CustomerGroupId": k, "Description": v}
                           for le in C.COMPANIES for k, v in C.CUSTOMER_GROUPS.items()])
    put("OperationalSites", [{"dataAreaId": le, "SiteId": k, "SiteName": v}
                             for le in C.COMPANIES for k, v in C.SITES.items()])
    put("Warehouses", [{"dataAreaId": le, "WarehouseId": k, "WarehouseName": v[0], "OperationalSiteId": v[1]}
                       for le in C.COMPANIES for k, v in C.WAREHOUSES.items()])

    # released products: all in usmf, every third also in demf (EUR price)
    n_products = max(20, scale // 2)
    products = []
    r = rnd.r
    for i in range(1, n_products + 1):
        noun, unit, ptype, (low, high) = _PRODUCT_KINDS[(i - 1) % len(_PRODUCT_KINDS)]
        name = f"{r.choice(_PRODUCT_ADJECTIVES)} {noun} {r.choice('ABCDEFGHKMRSTX')}{r.randint(10, 990)}"
        price = round(r.uniform(low, high), 2)
        row = {"ItemNumber": f"D{i:04d}", "ProductNumber": f"D{i:04d}", "ProductName": name[:60],
               "ProductDescription": f"{name}. {r.choice(pools.sentences)}", "ProductType": ptype,
               "SalesUnitSymbol": unit, "InventoryUnitSymbol": unit,
               "SalesUnitDecimalPrecision": 2 if unit in ("kg", "h") else 0,
               "SalesPrice": price, "UnitCost": round(price * r.uniform(0.4, 0.7), 2),
               "IsSalesStopped": "No", "IsStockedProduct": "No" if ptype == "Service" else "Yes"}
        if i % 17 == 0:  # not sellable: sales stopped
            row["IsSalesStopped"] = "Yes"
        elif i % 19 == 0:  # not sellable: no price
            row["SalesPrice"] = 0.0
        products.append(row)
    put("ReleasedProductsV2", ({"dataAreaId": "usmf", **p} for p in products))
    put("ReleasedProductsV2", ({"dataAreaId": "demf", **p, "SalesPrice": round(p["SalesPrice"] * 0.92, 2),
                                "UnitCost": round(p["UnitCost"] * 0.92, 2)}
                               for i, p in enumerate(products) if i % 3 == 0))

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
                   "CountryRegionISOCode": "DEU" if iso == "DE" else "USA"}
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
    def is_sellable(p):
        return p["IsSalesStopped"] == "No" and p["SalesPrice"] > 0

    sellable = [p for p in products[:200] if is_sellable(p)]
    demf_sellable = [p for i, p in enumerate(products[:200]) if i % 3 == 0 and is_sellable(p)]
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
    return {"products": products}


# --------------------------------------------------------------------------------------------
# Dataverse side: the service's own table definitions, written through the store layer

#: catalogue logical name -> column names a lookup may be stored under
_LOOKUP_COLUMNS = ("_{}_value", "{}")
_TYPE_COLUMNS = ("_{}_type", "{}type", "{}_type", "{}_logicalname", "_{}_logicalname", "{}idtype")


def _dataverse_tables() -> list[Table]:
    """The Table definitions of the Dataverse service (p2c_sandbox.dataverse), else the fallback."""
    try:
        package = importlib.import_module("p2c_sandbox.dataverse")
    except ModuleNotFoundError:
        return list(_fallback_tables())
    found: dict[str, Table] = {}

    def collect(value):
        if isinstance(value, Table):
            found.setdefault(value.name, value)
        elif not isinstance(value, type) and callable(getattr(value, "table", None)) and hasattr(value, "logical"):
            table = value.table()  # p2c_sandbox.dataverse.tables.EntityType
            if isinstance(table, Table):
                found.setdefault(table.name, table)
        elif isinstance(value, dict):
            for v in value.values():
                collect(v) if not isinstance(v, (dict, list, tuple)) else None
        elif isinstance(value, (list, tuple)):
            for v in value:
                collect(v) if not isinstance(v, (dict, list, tuple)) else None

    modules = [package]
    for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        try:
            modules.append(importlib.import_module(info.name))
        except Exception:  # noqa: BLE001 - a module we cannot import holds no tables we need
            continue
    for module in modules:
        for value in vars(module).values():
            collect(value)
    return list(found.values()) or list(_fallback_tables())


def _fallback_tables() -> Iterator[Table]:
    """Catalogue tables (architecture.md 2.1) for when the Dataverse service is not installed."""
    def t(name, key, spec, unique=()):
        cols = [Column(key, "guid", nullable=False)]
        for item in spec.split():
            col, _, kind = item.partition(":")
            kind, _, length = kind.partition("/")
            cols.append(Column(col, kind or "string", int(length) if length else None))
        for extra in ("createdon:datetime", "modifiedon:datetime", "statecode:integer", "statuscode:integer"):
            col, kind = extra.split(":")
            if col not in {c.name for c in cols}:
                cols.append(Column(col, kind))
        return Table(name, tuple(cols), (key,), tuple((u,) for u in unique))

    money = "decimal"
    addr = lambda p: " ".join(f"{p}_{c}:string/{n}" for c, n in  # noqa: E731
                              (("line1", 250), ("city", 80), ("stateorprovince", 50), ("postalcode", 20), ("country", 80)))
    yield t("businessunit", "businessunitid", "name:string/160 _parentbusinessunitid_value:guid", ("name",))
    yield t("transactioncurrency", "transactioncurrencyid",
            "isocurrencycode:string/5 currencyname:string/100 currencysymbol:string/10 exchangerate:decimal",
            ("isocurrencycode",))
    yield t("uomschedule", "uomscheduleid", "name:string/200 baseuomname:string/100", ("name",))
    yield t("uom", "uomid", "name:string/100 quantity:decimal _uomscheduleid_value:guid _baseuom_value:guid "
            "isschedulebaseuom:boolean")
    yield t("pricelevel", "pricelevelid", "name:string/100 _transactioncurrencyid_value:guid begindate:datetime "
            "enddate:datetime", ("name",))
    yield t("productpricelevel", "productpricelevelid", f"_pricelevelid_value:guid _productid_value:guid "
            f"_uomid_value:guid amount:{money} pricingmethodcode:integer _transactioncurrencyid_value:guid")
    yield t("account", "accountid", "name:string/160 accountnumber:string/20 telephone1:string/50 "
            "emailaddress1:string/100 websiteurl:string/200 " + addr("address1") + f" creditlimit:{money} "
            "description:memo customertypecode:integer _transactioncurrencyid_value:guid "
            "_primarycontactid_value:guid _owningbusinessunit_value:guid", ("accountnumber",))
    yield t("contact", "contactid", "firstname:string/50 lastname:string/50 fullname:string/160 "
            "msdynce_contactnumber:string/20 emailaddress1:string/100 telephone1:string/50 jobtitle:string/100 "
            + addr("address1") + " _parentcustomerid_value:guid _parentcustomerid_type:string "
            "msdynce_isactivecustomer:boolean msdynce_iscompanyanaccount:boolean "
            "_transactioncurrencyid_value:guid _owningbusinessunit_value:guid", ("msdynce_contactnumber",))
    yield t("product", "productid", f"name:string/100 productnumber:string/100 description:memo "
            f"producttypecode:integer productstructure:integer price:{money} currentcost:{money} "
            "quantitydecimal:integer _defaultuomid_value:guid _defaultuomscheduleid_value:guid "
            "_pricelevelid_value:guid _transactioncurrencyid_value:guid msdynce_ismaintainedexternally:boolean",
            ("productnumber",))
    yield t("quote", "quoteid", f"name:string/300 quotenumber:string/100 revisionnumber:integer "
            f"_customerid_value:guid _customerid_type:string _pricelevelid_value:guid "
            f"_transactioncurrencyid_value:guid _owningbusinessunit_value:guid totalamount:{money} "
            f"totallineitemamount:{money} totaltax:{money} discountamount:{money} freightamount:{money} "
            "requestdeliveryby:datetime " + addr("shipto") + " " + addr("billto") +
            " msdynce_hasexternallymaintainedproductsonly:boolean msdynce_ismaintainedexternally:boolean",
            ("quotenumber",))
    yield t("quotedetail", "quotedetailid", f"_quoteid_value:guid _productid_value:guid _uomid_value:guid "
            f"_transactioncurrencyid_value:guid quantity:decimal priceperunit:{money} baseamount:{money} "
            f"extendedamount:{money} manualdiscountamount:{money} tax:{money} ispriceoverridden:boolean "
            "isproductoverridden:boolean productdescription:string/500 sequencenumber:integer "
            "lineitemnumber:integer requestdeliveryby:datetime msdynce_ismaintainedexternally:boolean "
            "msdynce_quotehasexternalmaintainedproductsonly:boolean msdynce_quoterevisionnumber:integer")
    yield t("msdynce_p2cautonumber", "msdynce_p2cautonumberid", "msdynce_entityname:string/100 "
            "msdynce_prefix:string/3 msdynce_suffixlength:integer msdynce_numbersequence:integer "
            "msdynce_name:string/100", ("msdynce_entityname",))


class _DataverseWriter:
    """Writes catalogue-shaped rows (lookups under their logical names) into the service's store.

    Rows name lookups by attribute (`transactioncurrencyid`), customer lookups as a
    `(guid, logical name)` pair; the writer maps them onto whatever columns the service's tables use
    (`_x_value` or `x`, plus a type column for polymorphic lookups) and drops columns the service
    does not keep.
    """

    def __init__(self, path: Path):
        self.store = Store(path, _dataverse_tables())
        self.conn = self.store.conn

    def table(self, logical: str) -> Table | None:
        for name in (logical, logical + "s", logical + "es"):
            if name in self.store.tables:
                return self.store.tables[name]
        return None

    def _plan(self, table: Table, sample: dict) -> list[tuple[str, Callable[[dict], object]]]:
        plan: list[tuple[str, Callable[[dict], object]]] = []
        for attr, value in sample.items():
            is_customer = isinstance(value, tuple) or attr in ("parentcustomerid", "customerid")
            target = None
            for pattern in ("{}",) if attr in table.by_name and not is_customer else (*_LOOKUP_COLUMNS,):
                if pattern.format(attr) in table.by_name:
                    target = pattern.format(attr)
                    break
            if target is None:
                continue
            if is_customer:
                plan.append((target, lambda row, a=attr: (row.get(a) or (None, None))[0]))
                for pattern in _TYPE_COLUMNS:
                    if pattern.format(attr) in table.by_name:
                        plan.append((pattern.format(attr), lambda row, a=attr: (row.get(a) or (None, None))[1]))
                        break
            else:
                plan.append((target, lambda row, a=attr: row.get(a)))
        return plan

    def insert(self, logical: str, rows: Iterable[dict]) -> int:
        table = self.table(logical)
        if table is None:
            return 0
        iterator = iter(rows)
        first = next(iterator, None)
        if first is None:
            return 0
        plan = self._plan(table, first)
        columns = [c for c, _ in plan]
        bools = {i for i, c in enumerate(columns) if table.by_name[c].type == "boolean"}
        checked = [0]
        count = [0]

        def values(row: dict) -> list:
            out = [get(row) for _, get in plan]
            if checked[0] < 50:  # the store's own validation on a sample: types, lengths
                checked[0] += 1
                self.store.check(table.name, dict(zip(columns, out)))
            for i in bools:
                if out[i] is not None:
                    out[i] = int(out[i])
            return out

        def all_rows() -> Iterator[list]:
            for r in itertools.chain((first,), iterator):
                count[0] += 1
                yield [*values(r), base + count[0]]

        with self.store.transaction():
            # one block of row versions for the whole table
            base = self.store.current_version()
            sql = (f'INSERT INTO "{table.name}" ({", ".join(chr(34) + c + chr(34) for c in columns)}, '
                   f'"{VERSION}") VALUES ({", ".join("?" * (len(columns) + 1))})')
            self.conn.executemany(sql, all_rows())
            self.conn.execute("UPDATE _sandbox_meta SET value = ? WHERE name = 'version'", (base + count[0] + 1,))
        return count[0]

    def seeded(self) -> bool:
        for logical in ("account", "businessunit", "contact"):
            table = self.table(logical)
            if table is not None and self.store.count(table.name):
                return True
        return False

    def clear(self) -> None:
        with self.store.transaction():
            for name in self.store.tables:
                self.conn.execute(f'DELETE FROM "{name}"')
            self.conn.execute("DELETE FROM _tombstones")


def _seed_dataverse(dv: _DataverseWriter, rnd: _Rand, pools: _Pools, scale: int, counts: dict,
                    now: datetime, fo_products: list[dict]) -> None:
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
    bu_rows = [{"businessunitid": root, "name": C.ROOT_BUSINESS_UNIT, "parentbusinessunitid": None}]
    for le, (bu, *_rest) in C.COMPANIES.items():
        units[bu] = rnd.guid()
        bu_rows.append({"businessunitid": units[bu], "name": bu, "parentbusinessunitid": root})
    put("businessunit", bu_rows)

    currencies = {iso: rnd.guid() for iso in C.CURRENCIES}
    put("transactioncurrency", [{"transactioncurrencyid": currencies[iso], "isocurrencycode": iso,
                                 "currencyname": name, "currencysymbol": symbol, "exchangerate": rate,
                                 "statecode": 0, "statuscode": 1}
                                for iso, (name, symbol, rate) in C.CURRENCIES.items()])

    schedule = rnd.guid()
    put("uomschedule", [{"uomscheduleid": schedule, "name": C.UNIT_GROUP, "baseuomname": C.BASE_UNIT,
                         "statecode": 0, "statuscode": 1}])
    base_unit = rnd.guid()
    uoms = {C.BASE_UNIT: base_unit, **{sales: rnd.guid() for _, sales in C.UNITS.values()}}
    put("uom", [{"uomid": guid, "name": name, "quantity": 1.0, "uomscheduleid": schedule,
                 "baseuom": base_unit if guid != base_unit else None, "isschedulebaseuom": guid == base_unit}
                for name, guid in uoms.items()])

    price_lists = {name: rnd.guid() for name in C.PRICE_LISTS}
    put("pricelevel", [{"pricelevelid": guid, "name": name, "transactioncurrencyid": currencies[C.PRICE_LISTS[name]],
                        "begindate": _iso(now.replace(month=1, day=1, hour=0, minute=0, second=0) - timedelta(days=365)),
                        "enddate": _iso(now.replace(hour=0, minute=0, second=0) + timedelta(days=5 * 365)),
                        "statecode": 0, "statuscode": 100001}
                       for name, guid in price_lists.items()])

    # accounts: ~80% USMF (USD, United States), ~20% DEMF (EUR, Germany)
    next_seq = {"account": C.AUTO_NUMBER_START, "contact": C.AUTO_NUMBER_START}
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
            "accountid": rnd.guid(), "accountnumber": rnd.p2c_number("ACC", next_seq["account"]),
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
            "contactid": rnd.guid(), "msdynce_contactnumber": rnd.p2c_number("CON", next_seq["contact"]),
            "firstname": first, "lastname": last, "fullname": f"{first} {last}",
            "emailaddress1": re.sub(r"[^a-z0-9.]", "", f"{first}.{last}".lower())[:50] + f"@{domain}",
            "telephone1": rnd.phone(iso), "jobtitle": r.choice(pools.jobs),
            "address1_line1": parent["address1_line1"] if parent else r.choice(
                pools.de_streets if german else pools.us_streets),
            "address1_city": parent["address1_city"] if parent else _cut(city, 60),
            "address1_stateorprovince": parent["address1_stateorprovince"] if parent else state,
            "address1_postalcode": parent["address1_postalcode"] if parent else zipcode[:10],
            "address1_country": country,
            "parentcustomerid": (parent["accountid"], "account") if parent else None,
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
            primary.setdefault(c["parentcustomerid"][0], c["contactid"])
    for a in accounts:
        a["primarycontactid"] = primary.get(a["accountid"])
        del a["_le"]
    put("account", accounts)
    put("contact", contacts)

    # the service's auto-number plug-in continues after the seeded numbers: it keeps the last used
    # sequence per table in _sandbox_meta ("autonumber:<table>"), and/or msdynce_p2cautonumber rows
    with dv.store.transaction():
        for table in C.AUTO_NUMBERS:
            dv.conn.execute("INSERT OR REPLACE INTO _sandbox_meta VALUES (?, ?)",
                            (f"autonumber:{table}", next_seq[table] - 1))
    put("msdynce_p2cautonumber", [{"msdynce_p2cautonumberid": rnd.guid(), "msdynce_entityname": table,
                                   "msdynce_prefix": prefix, "msdynce_suffixlength": C.AUTO_NUMBER_SUFFIX,
                                   "msdynce_numbersequence": next_seq[table], "msdynce_name": f"{table} numbers",
                                   "statecode": 0, "statuscode": 1}
                                  for table, prefix in C.AUTO_NUMBERS.items()])

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
            "quoteid": quote_id, "quotenumber": rnd.p2c_number("QUO", 1000 + q),
            "name": f"Consulting for {account['name']}"[:300], "revisionnumber": 0,
            "customerid": (account["accountid"], "account"), "pricelevelid": usa_list,
            "transactioncurrencyid": usd, "owningbusinessunit": account["owningbusinessunit"],
            "totalamount": round(total, 2), "totallineitemamount": round(total, 2), "totaltax": 0.0,
            "discountamount": 0.0, "freightamount": 0.0,
            "requestdeliveryby": _iso(now + timedelta(days=r.randint(7, 60))),
            **{f"{p}_{c}": account[f"address1_{c}"] for p in ("shipto", "billto")
               for c in ("line1", "city", "stateorprovince", "postalcode", "country")},
            "msdynce_hasexternallymaintainedproductsonly": False, "msdynce_ismaintainedexternally": False,
            "statecode": 1 if active else 0, "statuscode": 3 if active else 1})
    put("quote", quotes)
    put("quotedetail", details)


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
         now: datetime | None = None) -> SeedReport:
    """Fill `data_dir` (finops.db, dataverse.db) with the demo company; see the module docstring."""
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
        fo_state = _seed_finops(fo, rnd, pools, scale, report.counts, now)
        _seed_dataverse(dv, rnd, pools, scale, report.counts, now, fo_state["products"])
    report.seconds = time.perf_counter() - started
    return report


@click.command("seed")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=Path(".sandbox"),
              show_default=True, help="Sandbox data directory (finops.db, dataverse.db).")
@click.option("--scale", type=click.IntRange(min=1), default=200, show_default=True,
              help="Number of Sales accounts (contacts ~2x, F&O products ~scale/2).")
@click.option("--seed", "seed_value", type=int, default=42, show_default=True, help="Random seed.")
@click.option("--clear", is_flag=True, help="Delete existing data in both databases first.")
def seed_command(data_dir: Path, scale: int, seed_value: int, clear: bool) -> None:
    """Fill both services with a realistic, deterministic demo company."""
    try:
        report = seed(data_dir, scale=scale, seed=seed_value, clear=clear)
    except SeedError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(report.summary())


if __name__ == "__main__":
    seed_command()
