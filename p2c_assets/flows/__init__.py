"""The Prospect-to-cash flows, in dependency order (p2c-spec.md section 2)."""

from p2c_assets.flows.accounts import ACCOUNTS
from p2c_assets.flows.contacts import CONTACT_CUSTOMERS, CONTACTS
from p2c_assets.flows.invoices import INVOICE_LINES, INVOICES
from p2c_assets.flows.orders import ORDER_LINES, ORDERS
from p2c_assets.flows.products import PRODUCTS
from p2c_assets.flows.quotes import QUOTE_LINES, QUOTES
from p2c_assets.flows.sales_orders import SALES_ORDER_LINES, SALES_ORDERS
from p2c_assets.flows.template import FlowTemplate

# a flow sharing another's source comes after it: the first one owns the source (and its filter)
TEMPLATES: dict[str, FlowTemplate] = {
    t.name: t for t in (ACCOUNTS, CONTACTS, CONTACT_CUSTOMERS, PRODUCTS, QUOTES, QUOTE_LINES,
                        SALES_ORDERS, SALES_ORDER_LINES, ORDERS, ORDER_LINES, INVOICES, INVOICE_LINES)
}
