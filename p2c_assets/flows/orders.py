"""Sales Orders (Fin and Ops to Sales) - Direct: confirmed F&O orders appear in Sales.

p2c-spec.md 4.5. Only orders whose ordering and invoice customers both came from Sales
(externally maintained), that are Confirmed or later, and whose totals were calculated by the
"Calculate sales totals" batch are sent. F&O stays master: Sales keeps the order Active (statecode 0)
so later F&O changes can still be written (until its invoice arrives), shows the F&O processing status, and receives header tax
as `msdynce_misctax`, which the Sales side turns into the single "Freight Tax" line. Line discounts
travel undivided: F&O's per-unit discount times the quantity, less the line's charges, which hold
the cent dividing left over ((3 x 3.33) + 0.01 = 10.00 arrives as 10.00).

Orders taken in Sales come back here too, once F&O confirmed them and calculated their totals: they
keep their Sales number in F&O and their lines the Sales sequence numbers, so the upsert by
`ordernumber` (and `msdynce_ordernumber` + `sequencenumber` for lines) updates the same Sales order
and lines instead of making new ones, and marking them externally maintained keeps the Sales to Fin
and Ops flow from sending them again.
"""

from p2c_assets.flows.discounts import undivided_from
from p2c_assets.flows.products import UNITS
from p2c_assets.flows.template import Bind, FlowTemplate, HeaderJoin, Parent, Source, Target, ValueMap

YES = "Microsoft.Dynamics.DataEntities.NoYes'Yes'"
PROCESSING_STATUS = {  # F&O processing status -> Sales msdynce_processingstatus (p2c-spec.md 1.3)
    "Active": 647390000, "Confirmed": 647390001, "Picked": 647390004,
    "PartiallyDelivered": 647390008, "Delivered": 647390007, "PartiallyInvoiced": 647390009,
    "Invoiced": 647390003, "Canceled": 647390010,
}
# one price list per currency: a Sales order needs one (template default "CRM Service USA (sample)")
PRICE_LISTS = {"USD": "CRM Service USA (sample)", "EUR": "CRM Service Europe (sample)", "": "CRM Service USA (sample)"}
CUSTOMER = Bind("accounts", by="accountnumber", choices=(
    ("customerid_account", "accounts", "accountnumber"),
    ("customerid_contact", "contacts", "msdynce_contactnumber"),
))
DOCUMENT_BINDS = {
    "customerid": CUSTOMER,
    "transactioncurrencyid": Bind("transactioncurrencies", by="isocurrencycode"),
    "pricelevelid": Bind("pricelevels", by="name"),
    "owningbusinessunit": Bind("businessunits", by="name"),
}

ORDERS = FlowTemplate(
    name="orders",
    title="Sales Orders (Fin and Ops to Sales) - Direct: OrderHeader",
    group="orders",
    source=Source(
        system="fo",
        entity_set="CDSSalesOrderHeaders",
        asset="sales_orders",
        key=("SalesOrderNumber",),
        select=("dataAreaId", "SalesOrderNumber", "SalesOrderName", "OrderingCustomerAccountNumber",
                "InvoiceCustomerAccountNumber", "CurrencyCode", "SalesOrderProcessingStatus",
                "OrderTotalAmount", "OrderTotalDiscountAmount", "OrderTotalChargesAmount",
                "OrderTotalTaxAmount", "OrderHeaderTaxAmount", "RequestedShippingDate",
                "QuotationNumber"),
        filter=(f"OrderingCustomerIsExternallyMaintained eq {YES} and "
                f"InvoiceCustomerIsExternallyMaintained eq {YES} and AreTotalsUpdated eq {YES}"),
    ),
    target=Target(system="sales", entity_set="salesorders", asset="orders", key=("ordernumber",)),
    # Confirmed or later: enums only compare with eq/ne in F&O, so the range is a row filter
    row_filter="SalesOrderProcessingStatus not in ['None', 'Active', 'Canceled']",
    fields={
        "ordernumber": "SalesOrderNumber",
        "name": "SalesOrderName",
        "customerid": "OrderingCustomerAccountNumber",
        "transactioncurrencyid": "CurrencyCode",
        "msdynce_misctax": "OrderHeaderTaxAmount",
        "requestdeliveryby": "RequestedShippingDate",
    },
    value_maps={
        "msdynce_processingstatus": ValueMap("SalesOrderProcessingStatus", PROCESSING_STATUS),
        "pricelevelid": ValueMap("CurrencyCode", PRICE_LISTS),
    },
    # "Statecode = Active" of the template: Sales creates orders Active, and the flow never writes
    # statecode, so an order its invoice set to Invoiced stays Invoiced
    defaults={"msdynce_ismaintainedexternally": True, "ispricelocked": False},
    binds=DOCUMENT_BINDS,
    company_field="owningbusinessunit",
)

LINE_BINDS = {
    "productid": Bind("products", by="productnumber"),
    "uomid": Bind("uoms", by="name", alternate_key=False),
}

ORDER_LINES = FlowTemplate(
    name="order_lines",
    title="Sales Orders (Fin and Ops to Sales) - Direct: OrderLine",
    group="orders",
    source=Source(
        system="fo",
        entity_set="CDSSalesOrderLines",
        asset="sales_order_lines",
        key=("SalesOrderNumber", "LineCreationSequenceNumber"),
        select=("dataAreaId", "SalesOrderNumber", "LineCreationSequenceNumber", "ProductNumber",
                "LineDescription", "OrderedSalesQuantity", "SalesPrice", "SalesUnitSymbol",
                "LineDiscountAmount", "FixedPriceCharges", "LineAmount", "TotalTaxAmount"),
        header=HeaderJoin(on=(("dataAreaId", "dataAreaId"), ("SalesOrderNumber", "SalesOrderNumber"))),
    ),
    target=Target(system="sales", entity_set="salesorderdetails", asset="order_lines",
                  key=("msdynce_ordernumber", "sequencenumber")),
    fields={
        "msdynce_ordernumber": "SalesOrderNumber",
        "sequencenumber": "LineCreationSequenceNumber",
        "salesorderid": "SalesOrderNumber",
        "productid": "ProductNumber",
        "quantity": "OrderedSalesQuantity",
        "priceperunit": "SalesPrice",
        "tax": "TotalTaxAmount",
    },
    value_maps={"uomid": ValueMap("SalesUnitSymbol", UNITS)},
    defaults={"ispriceoverridden": True, "msdynce_ismaintainedexternally": True},
    binds={"salesorderid": Bind("salesorders", by="ordernumber"), **LINE_BINDS},
    transform=undivided_from("LineDiscountAmount", "FixedPriceCharges", quantity="OrderedSalesQuantity"),
    parent=Parent(flow="orders", key=("msdynce_ordernumber",)),
)
