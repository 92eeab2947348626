"""Sales Orders (Sales to Fin and Ops) - Direct: orders taken and activated in Sales go to F&O.

p2c-spec.md 4.5. An order taken in Sales is a Draft until a user activates it, which Sales allows
only when every product on it came from F&O (no write-in products: such an order stays in Sales,
refused with the reason by the Activate button). Sent are orders that are active and open
(processing status Active, statecode Active), have externally maintained products only, and did not
come from F&O (`msdynce_ismaintainedexternally` false: the F&O -> Sales flow sets it on every order
it writes, so an order made in F&O is never sent back). They go to the legal entity of the owning
business unit and keep their Sales number as the F&O sales order number; the customer is the
account's or contact's number (they reached F&O as customers first), the delivery country is
value-mapped with blank -> US. Invoice account, language, site and warehouse are left to F&O, which
takes them from the customer; an F&O sales origin (needed only with Field Service, p2c-spec 4.5) can
be added as a default `SalesOrderOriginCode` in the overrides file.

Lines keep their Sales sequence number as `LineCreationSequenceNumber`, so that when F&O sends the
order back the lines land on the same Sales lines; the Sales line discount becomes F&O's per-unit
discount with the rounding residue in the line's charges (`FixedPriceCharges`): 3 units with 10.00
off are 3.33 a unit and -0.01.

After activation F&O is master (`handover`): an order and its lines are created once and never
written again from Sales. Once F&O confirms the order and calculates its totals, the Fin and Ops to
Sales orders flow updates the same Sales order (by `ordernumber`) and lines with F&O's status,
totals and the undivided discounts, and marks it externally maintained, which takes it out of this
flow's source for good.

The asset names say the direction, because the reverse flow's are taken and an asset cannot be both
source and target: this flow reads `sales/orders_for_fo`, `sales/order_lines_for_fo` and writes
`fo/orders_from_sales`, `fo/order_lines_from_sales`, while `fo/sales_orders` and `sales/orders` are
the Fin and Ops to Sales flow's.
"""

from p2c_assets.flows.accounts import BUSINESS_UNIT, CURRENCY
from p2c_assets.flows.discounts import split_into
from p2c_assets.flows.quotes import (CUSTOMER, CUSTOMER_ACCOUNT, DELIVERY, DELIVERY_COUNTRY, LINE_COLUMNS,
                                     LINE_FIELDS, LINE_LOOKUPS, LINE_UNIT)
from p2c_assets.flows.template import FlowTemplate, HeaderJoin, Parent, Source, Target

ACTIVE = 647390000  # msdynce_processingstatus Active: what the P2C Activate button sets on a Draft order

SALES_ORDERS = FlowTemplate(
    name="sales_orders",
    title="Sales Orders (Sales to Fin and Ops) - Direct: OrderHeader",
    group="sales_orders",
    source=Source(
        system="sales",
        entity_set="salesorders",
        asset="orders_for_fo",
        key=("ordernumber",),
        select=("salesorderid", "ordernumber", "name", "requestdeliveryby", "shipto_line1", "shipto_city",
                "shipto_stateorprovince", "shipto_postalcode", "shipto_country", "_customerid_value",
                "_transactioncurrencyid_value", "_owningbusinessunit_value", "modifiedon"),
        filter=(f"statecode eq 0 and msdynce_processingstatus eq {ACTIVE} and "
                "msdynce_hasexternallymaintainedproductsonly eq true and msdynce_ismaintainedexternally eq false"),
        lookups=(CUSTOMER, CURRENCY, BUSINESS_UNIT),
    ),
    target=Target(system="fo", entity_set="CDSSalesOrderHeaders", asset="orders_from_sales",
                  key=("dataAreaId", "SalesOrderNumber")),
    fields={
        "SalesOrderNumber": "ordernumber",
        "SalesOrderName": "name",
        "OrderingCustomerAccountNumber": "customer_number",
        "InvoiceCustomerAccountNumber": "customer_number",
        "CurrencyCode": "currency",
        **DELIVERY,
    },
    value_maps=DELIVERY_COUNTRY,
    # F&O refuses an order whose customer it does not have: the customer lands first (accounts flow)
    references={"OrderingCustomerAccountNumber": CUSTOMER_ACCOUNT,
                "InvoiceCustomerAccountNumber": CUSTOMER_ACCOUNT},
    company_field="dataAreaId",
    business_unit_column="business_unit",
    handover=True,
)

SALES_ORDER_LINES = FlowTemplate(
    name="sales_order_lines",
    title="Sales Orders (Sales to Fin and Ops) - Direct: OrderLine",
    group="sales_orders",
    source=Source(
        system="sales",
        entity_set="salesorderdetails",
        asset="order_lines_for_fo",
        # the line's own order number (the P2C solution copies it from the order): the key the F&O -> Sales
        # flow finds the line by when the order comes back, so a line without one is not sent to come
        # back as a second line, and the source check names it
        key=("msdynce_ordernumber", "sequencenumber"),
        select=("salesorderdetailid", "_salesorderid_value", "msdynce_ordernumber", *LINE_COLUMNS),
        lookups=LINE_LOOKUPS,
        header=HeaderJoin(on=(("_salesorderid_value", "salesorderid"),), carry=("business_unit", "currency")),
    ),
    target=Target(system="fo", entity_set="CDSSalesOrderLines", asset="order_lines_from_sales",
                  key=("dataAreaId", "SalesOrderNumber", "LineCreationSequenceNumber")),
    fields={"SalesOrderNumber": "msdynce_ordernumber", **LINE_FIELDS, "OrderedSalesQuantity": "quantity"},
    value_maps=LINE_UNIT,
    company_field="dataAreaId",
    business_unit_column="business_unit",
    transform=split_into("FixedPriceCharges"),
    parent=Parent(flow="sales_orders", key=("dataAreaId", "SalesOrderNumber")),
    handover=True,
)
