"""FinOpsClient errors quote F&O's activity id (the `ms-dyn-aid` response header), so a user can
hand it to Microsoft support; and its upserts match keys the way F&O does, whatever the case.

The ids are taken from the responses the client really received (a `requests` response hook on
its session), then looked for in what the user sees: the error, the row outcome, the log.
"""

import logging
import re

import pytest

from p2c_assets.connectors import FinOpsClient, ServiceError
from p2c_assets.connectors.http import RetryPolicy

from .test_finops import customers, mine

KEY = ["dataAreaId", "CustomerAccount"]


@pytest.fixture
def activity_ids(fo):
    """The `ms-dyn-aid` of every response `fo` receives, by request path, in order."""
    seen: list[tuple[str, str]] = []
    fo.http._session.hooks["response"].append(
        lambda response, **_: seen.append((response.request.path_url.split("?")[0],
                                           response.headers.get("ms-dyn-aid"))))
    return seen


def quoted(activity_id: str) -> str:
    return f"(F&O activity id {activity_id}, quote it to Microsoft support)"


def test_a_refused_row_carries_the_activity_id_of_its_batch(fo, tag, activity_ids, caplog, sandbox):
    caplog.set_level(logging.WARNING, logger="p2c_assets.connectors")
    rows = customers(tag, 3)
    rows[1]["CustomerGroupId"] = "99"
    outcomes = fo.upsert_many("CustomersV3", rows, key=KEY)

    assert [o.status for o in outcomes] == ["created", "failed", "created"]
    [batch_id] = [aid for path, aid in activity_ids if path.endswith("/$batch")]
    assert re.fullmatch(r"[0-9a-f-]{36}", batch_id)
    message = outcomes[1].error_message
    assert message.startswith("Write failed for table row of type 'CustCustomerV3Entity'")
    assert message.endswith(quoted(batch_id))
    assert f"CustomersV3: 1 of 3 rows refused {quoted(batch_id)}" in caplog.text
    assert sandbox.client_secret not in message + caplog.text


def test_a_service_error_names_the_activity_id_but_no_secret(fo, activity_ids, sandbox):
    with pytest.raises(ServiceError) as error:
        fo.read("NoSuchEntities")
    [(_, activity_id)] = activity_ids
    assert error.value.status == 404 and error.value.activity_id == activity_id
    assert str(error.value) == ("FinOps GET /data/NoSuchEntities -> HTTP 404: Resource not found for "
                                f"the segment 'NoSuchEntities'. {quoted(activity_id)}")
    token = fo.http.token_source.token()
    assert sandbox.client_secret not in str(error.value) and token not in str(error.value)


def test_retry_warnings_and_the_final_error_name_each_activity_id(sandbox, creds, caplog):
    caplog.set_level(logging.WARNING, logger="p2c_assets.connectors")
    sandbox.set_faults(error_rate=1.0, error_statuses=[503])
    retry = RetryPolicy(max_attempts=3, backoff_base_s=0.01, backoff_max_s=0.02)
    with FinOpsClient(sandbox.finops_url, creds, retry=retry) as client:
        seen = []
        client.http._session.hooks["response"].append(
            lambda response, **_: seen.append(response.headers["ms-dyn-aid"]))
        with pytest.raises(ServiceError) as error:
            client.read("Currencies")
    assert len(seen) == 3 and error.value.status == 503
    retried = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert len(retried) == 2
    for n, (message, activity_id) in enumerate(zip(retried, seen), start=1):
        assert f"GET /data/Currencies: HTTP 503 {quoted(activity_id)}, retry {n} in " in message
    assert error.value.activity_id == seen[-1] and quoted(seen[-1]) in str(error.value)


def test_upsert_updates_a_key_that_differs_only_in_letter_case(fo, tag):
    """F&O keys ignore letter case: the client's existence check finds `TAG-000` for `tag-000`
    and PATCHes it, and the service updates that row instead of refusing a duplicate."""
    assert [o.status for o in fo.upsert_many("CustomersV3", customers(tag, 1), key=KEY)] == ["created"]
    again = customers(tag, 1, CreditLimit=321)
    again[0]["CustomerAccount"] = again[0]["CustomerAccount"].lower()
    [outcome] = fo.upsert_many("CustomersV3", again, key=KEY)
    assert (outcome.status, outcome.error_message) == ("updated", None)
    df = fo.read("CustomersV3", select=["CustomerAccount", "CreditLimit"], filter=mine(tag))
    assert df.to_dict("records") == [{"CustomerAccount": f"{tag}-000", "CreditLimit": 321}]
