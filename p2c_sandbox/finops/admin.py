"""Sandbox admin endpoints on the F&O port: the business users' actions, over HTTP.

No auth (loopback only, like the other `/_sandbox/` endpoints). Each call is one transaction and
answers JSON; failures use the F&O error shape.

- `POST /_sandbox/finops/products` body `{"company": "usmf", "ItemNumber": "D0001",
  "ProductNumber": "D0001", "SalesUnitSymbol": "ea", "SalesPrice": 10, "ProductName": "Speaker",
  "ProductDescription": "...", "IsSalesStopped": "No", "IsStockedProduct": "Yes"}` -> 201
  `{"dataAreaId", "ItemNumber"}`: a product created and released as in F&O's forms (its name and
  flags are not fields of any public entity; `SellableReleasedProducts` shows them).
- `PUT /_sandbox/finops/ledgers/{company}` body `{"AccountingCurrency": "USD"}` -> 200: the legal
  entity's accounting currency (ledger setup), the `CurrencyCode` of its sellable products.
- `POST /_sandbox/finops/orders` body `{"company": "usmf", "customer": "US-001",
  "lines": [{"ProductNumber": "D0001", "OrderedSalesQuantity": 2, ...}], ...header fields}`
  -> 201 `{"dataAreaId", "SalesOrderNumber"}`: a new order (processing status Active).
- `POST /_sandbox/finops/orders/{company}/{number}/confirm` -> 200: processing status Confirmed.
  This and the two actions below work on every order, also those the integration created from
  Sales through `CDSSalesOrderHeaders` / `CDSSalesOrderLines`.
- `POST /_sandbox/finops/calculate-totals` body `{}` (all orders), `{"company": "usmf"}` or
  `{"company": "usmf", "number": "000001"}` -> 200 `{"updated": n}`: "Calculate sales totals".
- `POST /_sandbox/finops/orders/{company}/{number}/invoice` body `{}` or
  `{"invoice_date": "2024-02-22"}` -> 201 `{"InvoiceNumber", "InvoiceDate", "LedgerVoucher"}`:
  posts the invoice; the order becomes Invoiced.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import business
from .errors import FinOpsError, bad_query
from .service import FinOpsService, Reply, transaction


def admin_routes(service: FinOpsService) -> list[Route]:
    def action(run: Callable[[dict, dict], tuple[int, object]]):
        async def endpoint(request: Request) -> Response:
            raw = await request.body()
            reply = await run_in_threadpool(_execute, service, run, raw,
                                            dict(request.path_params))
            return Response(reply.body, reply.status, reply.headers)
        return endpoint

    return [
        Route("/_sandbox/finops/products", action(_release_product), methods=["POST"]),
        Route("/_sandbox/finops/ledgers/{company}", action(_ledger), methods=["PUT"]),
        Route("/_sandbox/finops/orders", action(_create_order), methods=["POST"]),
        Route("/_sandbox/finops/orders/{company}/{number}/confirm", action(_confirm),
              methods=["POST"]),
        Route("/_sandbox/finops/calculate-totals", action(_calculate_totals), methods=["POST"]),
        Route("/_sandbox/finops/orders/{company}/{number}/invoice", action(_invoice),
              methods=["POST"]),
    ]


def _execute(service: FinOpsService, run, raw: bytes, path: dict) -> Reply:
    try:
        body = json.loads(raw or b"{}")
        if not isinstance(body, dict):
            raise ValueError("expected a JSON object")
    except ValueError as exc:
        return Reply.error(bad_query(f"The request body is not a JSON object: {exc}."))
    try:
        with service.lock, transaction(service.conn):
            status, payload = run(service, body, path)
    except FinOpsError as exc:
        return Reply.error(exc)
    return Reply.json(status, payload)


def _release_product(service: FinOpsService, body: dict, path: dict) -> tuple[int, object]:
    company = str(body.pop("company", service.default_company))
    return 201, business.release_product(service.conn, company, body)


def _ledger(service: FinOpsService, body: dict, path: dict) -> tuple[int, object]:
    currency = str(body.get("AccountingCurrency", ""))
    business.set_accounting_currency(service.conn, path["company"], currency)
    return 200, {"LegalEntityId": path["company"].lower(), "AccountingCurrency": currency}


def _create_order(service: FinOpsService, body: dict, path: dict) -> tuple[int, object]:
    company = str(body.pop("company", service.default_company)).lower()
    customer, lines = body.pop("customer", ""), body.pop("lines", [])
    number = business.create_order(service.conn, company, customer, lines, **body)
    return 201, {"dataAreaId": company, "SalesOrderNumber": number}


def _confirm(service: FinOpsService, body: dict, path: dict) -> tuple[int, object]:
    business.confirm_order(service.conn, path["company"], path["number"])
    return 200, {"dataAreaId": path["company"], "SalesOrderNumber": path["number"],
                 "SalesOrderProcessingStatus": "Confirmed"}


def _calculate_totals(service: FinOpsService, body: dict, path: dict) -> tuple[int, object]:
    updated = business.calculate_totals(service.conn, body.get("company"), body.get("number"))
    return 200, {"updated": updated}


def _invoice(service: FinOpsService, body: dict, path: dict) -> tuple[int, object]:
    try:
        when = date.fromisoformat(body["invoice_date"]) if body.get("invoice_date") else None
    except (TypeError, ValueError):
        raise bad_query(f"invoice_date '{body['invoice_date']}' is not a date (YYYY-MM-DD).")
    key = business.post_invoice(service.conn, path["company"], path["number"], when)
    return 201, {"dataAreaId": path["company"].lower(), **key}
