"""$batch bodies: what we build parses as multipart, and service responses pair up with our rows."""

import email.parser
import email.policy

from p2c_assets.connectors.batch import BatchRequest, build_batch, parse_batch
from p2c_assets.connectors.errors import parse_error_body


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


def test_dataverse_error_body_keeps_code_and_message():
    assert parse_error_body(b'{"error":{"code":"0x80044331","message":"A validation error occurred."}}') == (
        "0x80044331", "A validation error occurred.")
