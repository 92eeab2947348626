"""Sales Invoices (Fin and Ops to Sales) - Direct: posted F&O invoices appear in Sales.

p2c-spec.md 4.6. The source entity only holds invoices of externally maintained customers. An
invoice names its sales order; when it lands, the Sales side sets that order to Invoiced. The price
list comes from a value map on currency (USD -> "CRM Service USA (sample)"), the unit from the
SalesUnitSymbol value map. Invoices are created in F&O only, so this direction is one way. A line's
discount arrives undivided, as on orders: F&O's line total discount less the line's charges (the
cent of 3 x 3.33 against 10.00).
"""

from p2c_assets.flows.discounts import undivided_from
from p2c_assets.flows.orders import DOCUMENT_BINDS, LINE_BINDS, PRICE_LISTS
from p2c_assets.flows.products import UNITS
from p2c_assets.flows.template import Bind, FlowTemplate, HeaderJoin, Parent, Source, Target, ValueMap

INVOICES = FlowTemplate(
    name="invoices",
    title="Sales Invoices (Fin and Ops to Sales) - Direct: SalesInvoiceHeader",
    group="invoices",
    source=Source(
        system="fo",
        entity_set="ExternallyMaintainedCustomerSalesInvoiceHeaders",
        asset="sales_invoices",
        key=("InvoiceNumber",),
        select=("dataAreaId", "InvoiceNumber", "InvoiceDate", "LedgerVoucher", "SalesOrderNumber",
                "InvoiceCustomerAccountNumber", "CurrencyCode", "TotalInvoiceAmount", "TotalTaxAmount",
                "TotalDiscountAmount", "TotalChargeAmount", "InvoiceHeaderTaxAmount",
                "CustomersOrderReference"),
        filter="SalesOrderNumber ne ''",
    ),
    target=Target(system="sales", entity_set="invoices", asset="invoices", key=("invoicenumber",)),
    fields={
        "invoicenumber": "InvoiceNumber",
        "name": "InvoiceNumber",
        "msdynce_invoicedate": "InvoiceDate",
        "salesorderid": "SalesOrderNumber",
        "customerid": "InvoiceCustomerAccountNumber",
        "transactioncurrencyid": "CurrencyCode",
        "msdynce_misctax": "InvoiceHeaderTaxAmount",
    },
    value_maps={"pricelevelid": ValueMap("CurrencyCode", PRICE_LISTS)},
    defaults={"msdynce_ismaintainedexternally": True, "ispricelocked": False},
    binds={**DOCUMENT_BINDS, "salesorderid": Bind("salesorders", by="ordernumber")},
    company_field="owningbusinessunit",
)

INVOICE_LINES = FlowTemplate(
    name="invoice_lines",
    title="Sales Invoices (Fin and Ops to Sales) - Direct: SalesInvoiceLine",
    group="invoices",
    source=Source(
        system="fo",
        entity_set="ExternallyMaintainedCustomerSalesInvoiceLines",
        asset="sales_invoice_lines",
        key=("InvoiceNumber", "LineCreationSequenceNumber"),
        select=("dataAreaId", "InvoiceNumber", "InvoiceDate", "LineCreationSequenceNumber",
                "ProductNumber", "ProductDescription", "InvoicedQuantity", "SalesPrice",
                "SalesUnitSymbol", "LineAmount", "LineTotalDiscountAmount", "LineTotalChargeAmount",
                "LineTotalTaxAmount"),
        header=HeaderJoin(on=(("dataAreaId", "dataAreaId"), ("InvoiceNumber", "InvoiceNumber"))),
    ),
    target=Target(system="sales", entity_set="invoicedetails", asset="invoice_lines",
                  key=("msdynce_invoicenumber", "sequencenumber")),
    fields={
        "msdynce_invoicenumber": "InvoiceNumber",
        "msdynce_invoicedate": "InvoiceDate",
        "sequencenumber": "LineCreationSequenceNumber",
        "invoiceid": "InvoiceNumber",
        "productid": "ProductNumber",
        "quantity": "InvoicedQuantity",
        "priceperunit": "SalesPrice",
        "tax": "LineTotalTaxAmount",
    },
    value_maps={"uomid": ValueMap("SalesUnitSymbol", UNITS)},
    defaults={"ispriceoverridden": True, "msdynce_ismaintainedexternally": True},
    binds={"invoiceid": Bind("invoices", by="invoicenumber"), **LINE_BINDS},
    transform=undivided_from("LineTotalDiscountAmount", "LineTotalChargeAmount"),
    parent=Parent(flow="invoices", key=("msdynce_invoicenumber",)),
)
