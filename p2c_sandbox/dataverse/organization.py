"""The organization row: the one record of Dataverse's `organization` table, the environment's settings.

Every environment has exactly one. Clients read a setting with `GET organizations?$select=<column>`; an
admin changes it in Sales' system settings, which the Web API sees as a PATCH of that row. The service
makes it when it starts as a fresh installation of Dynamics 365 Sales has it; `p2c-sandbox seed
--products-active` sets `createproductswithoutparentinactivestate` as an org upgraded from an earlier
version has it ("Publish, revise, revert, retire, and activate products",
learn.microsoft.com/dynamics365/sales/developer/publish-revise-revert-retire-activate-products).
"""

from __future__ import annotations

import uuid

from ..store import Store, utc_now

ORGANIZATION_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "p2c-sandbox/organization"))
NAME = "Contoso"
#: products without a parent family are created Active (statecode 0) instead of Draft; 0 on a fresh install
PRODUCTS_ACTIVE = "createproductswithoutparentinactivestate"


def ensure(store: Store, **settings) -> dict:
    """The organization row, made with a fresh installation's settings when missing, then `settings` applied."""
    rows = store.select("organization", limit=1)
    if rows:
        row = rows[0]
    else:
        now = utc_now()
        row = store.insert("organization", {"organizationid": ORGANIZATION_ID, "name": NAME, PRODUCTS_ACTIVE: False,
                                            "createdon": now, "modifiedon": now})
    if settings:
        row = store.update("organization", {"organizationid": row["organizationid"]},
                           {**settings, "modifiedon": utc_now()})
    return row


def setting(store: Store, name: str):
    """The value of one setting, as it is now (an admin may have changed it since the service started)."""
    return store.select("organization", columns=[name], limit=1)[0][name]
