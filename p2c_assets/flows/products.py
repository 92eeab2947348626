"""Products (Fin and Ops to Sales) - Direct: sellable released products become Sales products.

p2c-spec.md 4.3. A product released in several legal entities becomes one Sales product, taken from the
first company of the mapping (its currency is that company's accounting currency). Only sellable products leave F&O (the entity filters them). The product number is
the key; the selling unit is value-mapped to a Sales unit name and the unit group defaults to
"Default unit". Sales creates products in Draft, so the flow activates the ones it created, unless
Sales' "Create products in active state" (createproductswithoutparentinactivestate) made them Active. The Sales
side adds an externally maintained product to the first price list of its currency (alphabetical);
set a `pricelevelid` default (the list name) in the overrides file to force one.
"""

from p2c_assets.flows.template import Bind, CreatedActive, FlowTemplate, Source, Target, ValueMap

# F&O unit symbol -> Sales unit name (DefaultUnit (Name)); both must exist on their side.
UNITS = {"ea": "Each", "pcs": "Piece", "kg": "Kilogram", "h": "Hour", "box": "Box"}

PRODUCTS = FlowTemplate(
    name="products",
    title="Products (Fin and Ops to Sales) - Direct",
    group="products",
    source=Source(
        system="fo",
        entity_set="SellableReleasedProducts",
        asset="released_products",
        key=("ProductNumber",),
        select=("dataAreaId", "ProductNumber", "ProductName", "ProductDescription",
                "ProductType", "SalesUnitSymbol", "SalesUnitDecimalPrecision", "CurrencyCode",
                "SalesPrice", "UnitCost"),
        first_company_wins=True,
    ),
    target=Target(system="sales", entity_set="products", asset="products", key=("productnumber",)),
    fields={
        "productnumber": "ProductNumber",
        "name": "ProductName",
        "description": "ProductDescription",
        "price": "SalesPrice",
        "currentcost": "UnitCost",
        "quantitydecimal": "SalesUnitDecimalPrecision",
        "transactioncurrencyid": "CurrencyCode",
    },
    value_maps={
        "defaultuomid": ValueMap("SalesUnitSymbol", UNITS),
        "producttypecode": ValueMap("ProductType", {"Item": 1, "Service": 3, "": 1}),
    },
    defaults={
        "defaultuomscheduleid": "Default unit",
        "productstructure": 1,
        "msdynce_ismaintainedexternally": True,
    },
    binds={
        "defaultuomid": Bind("uoms", by="name", alternate_key=False),
        "defaultuomscheduleid": Bind("uomschedules", by="name"),
        "transactioncurrencyid": Bind("transactioncurrencies", by="isocurrencycode"),
        "pricelevelid": Bind("pricelevels", by="name"),
    },
    after_create={"statecode": 0, "statuscode": 1},
    # the flow writes no parent family, so every product it creates is Active at once when Sales is set so
    created_active_when=CreatedActive("createproductswithoutparentinactivestate", unless="parentproductid"),
)
