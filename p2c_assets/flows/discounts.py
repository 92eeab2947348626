"""Line discount rounding both ways (p2c-spec 4.5, "Line item" discount method).

Sales keeps a line's discount as one amount for the whole line; F&O keeps it per unit
(`LineDiscountAmount`, SalesLine's "Discount") next to the line's own charges. Dividing 10.00 over 3
units cannot be exact, so Sales -> F&O sends 3.33 a unit and puts the residue, -0.01, in the line's
charges; F&O -> Sales multiplies back and takes the charges off again: (3 x 3.33) + 0.01 = 10.00.
Both sides' line amounts then agree to the cent, and so do their totals.

These are the template transforms of the line flows, arithmetic a template cannot say as data. Each
flow names its own fields (a quotation line keeps the residue elsewhere than an order line, an
invoice line holds totals, not per-unit values), so the transforms are made for them here.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Callable

import pandas as pd

Transform = Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame]
CENT = Decimal("0.01")


def split_into(charges: str) -> Transform:
    """Sales -> F&O: the transform that writes the per-unit discount to `LineDiscountAmount` and the
    residue to the F&O line field `charges`."""

    def split_line_discount(source: pd.DataFrame, mapped: pd.DataFrame) -> pd.DataFrame:
        """Sales line discount -> F&O per-unit discount + residue in charges (qty 3, $10 -> 3.33, -0.01)."""
        per_unit, residue = [], []
        for quantity, discount in zip(source["quantity"], source["manualdiscountamount"]):
            qty, total = _decimal(quantity), _decimal(discount).quantize(CENT)
            unit = (total / qty).quantize(CENT, ROUND_HALF_UP) if qty else Decimal(0)
            per_unit.append(float(unit))
            residue.append(float((unit * qty - total).quantize(CENT)))
        return mapped.assign(LineDiscountAmount=per_unit, **{charges: residue})

    return split_line_discount


def undivided_from(discount: str, charges: str, quantity: str | None = None) -> Transform:
    """F&O -> Sales: the transform that writes Sales' `manualdiscountamount` from the F&O line's
    `discount` (per unit when `quantity` names the quantity field, else already the line's total)
    less its `charges`."""

    def undivided_line_discount(source: pd.DataFrame, mapped: pd.DataFrame) -> pd.DataFrame:
        """F&O discount (x quantity when per unit) - the line's charges -> Sales line discount ((3 x 3.33) + 0.01 = 10.00)."""
        counts = source[quantity] if quantity else pd.Series(1, index=source.index)
        totals = [float((_decimal(d) * _decimal(q) - _decimal(c)).quantize(CENT, ROUND_HALF_UP))
                  for d, q, c in zip(source[discount], counts, source[charges])]
        return mapped.assign(manualdiscountamount=totals)

    return undivided_line_discount


def _decimal(value) -> Decimal:
    """A money or quantity value as an exact decimal; blank is 0 (a line without discount or charges)."""
    return Decimal(0) if value is None or pd.isna(value) else Decimal(str(value))
