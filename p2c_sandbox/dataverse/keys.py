"""Key predicates in Dataverse URLs: `(guid)`, `(accountnumber='A''B')`, `(k1='x',k2=2)`.

The path arrives percent-decoded, so a quoted key value may hold `/`, `)` or `,`; this scanner
respects quotes instead of splitting naively.
"""

from __future__ import annotations

import re
import uuid

from . import errors
from .tables import EntityType

_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def split_segment(text: str) -> tuple[str, str | None, str]:
    """`name(predicate)rest` -> (name, predicate or None, rest), honouring quotes in the predicate."""
    open_at = text.find("(")
    slash = text.find("/")
    if open_at < 0 or (0 <= slash < open_at):
        head, _, rest = text.partition("/")
        return head, None, rest
    in_quote, i = False, open_at + 1
    while i < len(text):
        ch = text[i]
        if ch == "'":
            if in_quote and i + 1 < len(text) and text[i + 1] == "'":
                i += 2
                continue
            in_quote = not in_quote
        elif ch == ")" and not in_quote:
            return text[:open_at], text[open_at + 1:i], text[i + 1:].lstrip("/")
        i += 1
    raise errors.bad_query(f"Bad Request - Error in query syntax: unbalanced parentheses in '{text}'.")


def _value(raw: str):
    raw = raw.strip()
    if raw.startswith("'") and raw.endswith("'") and len(raw) >= 2:
        return raw[1:-1].replace("''", "'")
    if _NUMBER.match(raw):
        return float(raw) if "." in raw else int(raw)
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise errors.bad_query(f"Bad Request - Error in query syntax: invalid key value {raw!r}.") from None


def parse_predicate(predicate: str) -> dict | str:
    """A bare GUID string, or {name: value} for named keys."""
    parts, current, in_quote = [], "", False
    i = 0
    while i < len(predicate):
        ch = predicate[i]
        if ch == "'":
            if in_quote and predicate[i + 1:i + 2] == "'":
                current += "''"
                i += 2
                continue
            in_quote = not in_quote
        if ch == "," and not in_quote:
            parts.append(current)
            current = ""
        else:
            current += ch
        i += 1
    parts.append(current)
    if len(parts) == 1 and "=" not in parts[0].split("'")[0]:
        value = _value(parts[0])
        if not isinstance(value, str) or parts[0].strip().startswith("'"):
            raise errors.bad_query(f"Bad Request - Error in query syntax: invalid key '{predicate}'.")
        return value
    named = {}
    for part in parts:
        name, sep, raw = part.partition("=")
        if not sep:
            raise errors.bad_query(f"Bad Request - Error in query syntax: invalid key '{predicate}'.")
        named[name.strip()] = _value(raw)
    return named


def resolve(entity: EntityType, predicate: str) -> dict:
    """The store lookup {column: value} for a key predicate: primary key or a declared alternate key."""
    parsed = parse_predicate(predicate)
    if isinstance(parsed, str):
        return {entity.primary_id: parsed}
    if set(parsed) == {entity.primary_id}:
        return {entity.primary_id: str(uuid.UUID(str(parsed[entity.primary_id])))}
    for key in entity.alternate_keys:
        if set(parsed) == set(key):
            return {name: parsed[name] for name in key}
    # ODataLib's alternate-key resolver finds no key with these properties (a key the table does
    # not have, or one not active yet) and gives up on the URL
    raise errors.DataverseError(400, "0x8006088a", "Bad Request - Error in query syntax.")
