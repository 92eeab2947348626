"""The demo company's reference data: the names the P2C flow templates depend on.

One place for them, used by `seed.py` (which writes them) and `simulate.py` (which picks from them).
Sales business units map to F&O legal entities as in `p2c_assets.flows.settings.DEFAULT_COMPANIES`.
"""

from __future__ import annotations

ROOT_BUSINESS_UNIT = "Contoso"
#: F&O legal entity -> (Sales business unit, currency, country name in Sales, ISO country)
COMPANIES = {
    "usmf": ("USMF Sales", "USD", "United States", "US"),
    "demf": ("DEMF Sales", "EUR", "Germany", "DE"),
}
LEGAL_ENTITY_NAMES = {"usmf": "Contoso Entertainment System USA", "demf": "Contoso Entertainment System Germany"}

#: ISO code -> (name, symbol, exchange rate to the base currency USD)
CURRENCIES = {"USD": ("US Dollar", "$", 1.0), "EUR": ("Euro", "€", 0.92)}

UNIT_GROUP = "Default unit"
BASE_UNIT = "Primary Unit"
#: F&O unit symbol -> (F&O description, Sales unit name, decimal precision); same pairs as
#: p2c_assets.flows.products.UNITS. Quantities in kilograms and hours have decimals.
UNITS = {
    "ea": ("Each", "Each", 0),
    "pcs": ("Pieces", "Piece", 0),
    "kg": ("Kilograms", "Kilogram", 2),
    "h": ("Hours", "Hour", 2),
    "box": ("Box", "Box", 0),
}

#: Sales price lists: name -> currency (all active)
PRICE_LISTS = {
    "CRM Service USA (sample)": "USD",
    "Standard": "USD",
    "CRM Service Europe (sample)": "EUR",
}

LANGUAGES = {"en-us": "English (United States)", "de": "German"}

CUSTOMER_GROUPS = {"10": "Wholesale customers", "20": "Major customers", "30": "Retail customers"}
SITES = {"1": "Central site", "2": "East site"}
#: warehouse id -> (name, site)
WAREHOUSES = {"11": ("Main warehouse", "1"), "13": ("Distribution warehouse", "1"),
              "21": ("East warehouse", "2")}

DEMO_TENANT = "sandbox"
DEMO_CLIENT_ID = "p2c-sandbox-client"
DEMO_CLIENT_SECRET = "p2c-sandbox-secret"
