"""$batch bodies: what we build parses as multipart, and service responses pair up with our rows.

The response parser is this project's own (``connectors/batch.py``); the answers it is checked on
here are the sandbox's real ones, from both services, and the stdlib ``email`` parser (a general
MIME parser, what the client used before) reads the same bytes as the reference.
"""

import email.parser
import email.policy
from urllib.parse import quote

from p2c_assets.connectors.batch import BatchRequest, build_batch, parse_batch
from p2c_assets.connectors.errors import parse_error_body
from p2c_assets.connectors.odata import entity_path, literal


def test_build_batch_one_changeset_per_item_with_unique_content_ids():
    content_type, body = build_batch([[BatchRequest("POST", "http://h/data/A", {"Name": "Müller & 'Söhne'"})],
                                      [BatchRequest("PATCH", "http://h/data/A('x')", {"Name": "y"})]])
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    changesets = list(message.iter_parts())
    assert len(changesets) == 2 and all(p.is_multipart() for p in changesets)
    inner = [next(p.iter_parts()) for p in changesets]
    assert [p["Content-ID"] for p in inner] == ["1", "2"]
    first = inner[0].get_payload(decode=True).decode("utf-8")
    assert first.startswith("POST http://h/data/A HTTP/1.1\r\n")
    assert first.endswith('{"Name": "Müller & \'Söhne\'"}')


def test_parse_batch_pairs_changeset_and_failed_parts_in_order():
    body = (
        "--b\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n"
        "--cs\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\n"
        "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n\r\n{\"CustomerAccount\":\"Ü-1\"}\r\n"
        "--cs--\r\n"
        "--b\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n\r\n"
        "{\"error\":{\"code\":\"\",\"message\":\"An error has occurred.\",\"innererror\":"
        "{\"message\":\"Write failed. Infolog: Warning: group '99'\"}}}\r\n"
        "--b--\r\n").encode("utf-8")
    items = parse_batch("multipart/mixed; boundary=b", body)
    assert [[r.status for r in item] for item in items] == [[201], [500]]
    assert items[0][0].json() == {"CustomerAccount": "Ü-1"}
    assert parse_error_body(items[1][0].body) == (None, "Write failed. Infolog: Warning: group '99'")


def test_parse_batch_reads_quoted_boundaries_bare_line_feeds_and_stops_at_the_closing_line():
    body = (b"preamble\n--x y\nContent-Type: application/http\n\nHTTP/1.1 204 No Content\n"
            b"OData-EntityId: http://h/accounts(1)\n\n\n--x y--\n--x y\nnot a part")
    [[answer]] = parse_batch('multipart/mixed; boundary="x y"', body)
    assert (answer.status, answer.headers, answer.body) == (204, {"OData-EntityId": "http://h/accounts(1)"}, b"")


def test_dataverse_error_body_keeps_code_and_message():
    assert parse_error_body(b'{"error":{"code":"0x80044331","message":"A validation error occurred."}}') == (
        "0x80044331", "A validation error occurred.")


# --- the services' real answers -------------------------------------------------------------------

def _email_reference(content_type: str, body: bytes) -> list[list[tuple]]:
    """(status, headers, body) per part, as the stdlib ``email`` parser reads the same answer."""
    parser = email.parser.BytesParser(policy=email.policy.compat32)

    def http(raw: bytes) -> tuple:
        status_line, _, rest = raw.lstrip(b"\r\n").partition(b"\n")
        message = parser.parsebytes(rest)
        return int(status_line.split()[1]), dict(message.items()), (message.get_payload(decode=True) or b"").rstrip(b"\r\n")

    message = parser.parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    return [[http(inner.get_payload(decode=True)) for inner in part.get_payload()] if part.is_multipart()
            else [http(part.get_payload(decode=True))] for part in message.get_payload()]


def _post_batch(client, items, prefer=None):
    content_type, body = build_batch(items)
    response = client.http.request("POST", client.api + "$batch", data=body, headers={
        "Content-Type": content_type, **({"Prefer": prefer} if prefer else {})})
    answer_type = response.headers["Content-Type"]
    items = parse_batch(answer_type, response.content)
    assert [[(r.status, dict(r.headers), r.body) for r in item] for item in items] == \
        _email_reference(answer_type, response.content)
    return items


def test_dataverse_batch_answer_pairs_each_row_with_its_status_id_and_error(dv, tag):
    def upsert(number, name, prefer={"Prefer": "return=representation"}):
        return BatchRequest("PATCH", dv.api + entity_path("accounts", {"accountnumber": number}) + "?$select=accountid",
                            {"name": name}, prefer)

    items = _post_batch(dv, [
        [upsert(f"{tag}-1", "Ünïcødé & Co")],
        [upsert(f"{tag}-2", "x" * 161)],                                        # name is String(160)
        [upsert(f"{tag}-3", "third", {}), BatchRequest("PATCH", "$3", {"telephone1": "555"})],  # Content-IDs 3, 4
        BatchRequest("GET", dv.api + f"accounts?$select=name&$filter={quote('accountnumber eq ' + literal(f'{tag}-1'))}"),
    ], prefer="odata.continue-on-error")
    assert [[r.status for r in item] for item in items] == [[201], [400], [204, 204], [200]]
    assert items[0][0].json()["accountid"] and parse_error_body(items[1][0].body)[0] == "0x80044331"
    assert items[2][0].headers["OData-EntityId"] == items[2][1].headers["OData-EntityId"]
    assert [row["name"] for row in items[3][0].json()["value"]] == ["Ünïcødé & Co"]


def test_finops_batch_answer_pairs_each_changeset_with_its_status_and_infolog(fo, tag):
    def customer(account, group):
        return [BatchRequest("POST", fo.api + "CustomersV3", {
            "dataAreaId": "usmf", "CustomerAccount": account, "OrganizationName": f"{account} Müller",
            "CustomerGroupId": group, "SalesCurrencyCode": "USD"})]

    items = _post_batch(fo, [customer(f"{tag}-1", "10"), customer(f"{tag}-2", "99"), customer(f"{tag}-3", "10")])
    assert [[r.status for r in item] for item in items] == [[201], [500], [201]]
    assert items[0][0].json()["OrganizationName"] == f"{tag}-1 Müller"
    assert "99" in parse_error_body(items[1][0].body)[1]
