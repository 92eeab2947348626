"""What F&O checks on write before a row reaches its table (protocols.md B6, architecture 2.2).

Payload problems (unknown property, wrong type) are OData errors, as ODataLib reports them; a
field hidden by the `hidden_columns` setting is unknown like any other (entities.visible_entities).
Business problems (required field empty, value too long, value missing from its related table) are
the entity's validateField failures: all of them collected into one Infolog naming each field, the
way the real `Write failed for table row of type ...` message reads.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Mapping

from ..store import iso_utc
from .entities import ENTITIES, ENUMS, NAMESPACE, Entity, Field
from .errors import FinOpsError, bad_query, write_failed


def coerce_body(entity: Entity, body: Mapping[str, object]) -> dict[str, object]:
    """The payload's properties with their Edm types checked; annotations are dropped."""
    values: dict[str, object] = {}
    for name, value in body.items():
        if "@" in name:
            continue  # @odata.type, @odata.etag, X@odata.type: optional on input
        f = entity.field(name)
        if f is None:
            raise bad_query(f"The property '{name}' does not exist on type "
                            f"'{NAMESPACE}.{entity.type_name}'. Make sure to only use property "
                            "names that are defined by the type or mark the type as open type.")
        values[name] = _coerce(f, value)
        if name == "dataAreaId":  # company ids are case-insensitive and stored in lower case
            values[name] = str(values[name]).lower()
    return values


def _coerce(f: Field, value: object) -> object:
    def wrong() -> FinOpsError:
        return bad_query(f"Cannot convert the literal '{value}' to the expected type "
                         f"'{f.edm_type}' (property '{f.name}').")

    if value is None:
        return f.empty()
    if f.is_enum:
        if value not in ENUMS[f.type]:
            raise bad_query(f"The value '{value}' is not a valid member of the enumeration type "
                            f"'{f.edm_type}' (property '{f.name}').")
        return value
    if f.type in ("Edm.Decimal", "Edm.Int32", "Edm.Int64"):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise wrong()
        try:
            number = float(value)
        except ValueError:
            raise wrong() from None
        if f.type != "Edm.Decimal":
            if number != int(number):
                raise wrong()
            return int(number)
        return number
    if not isinstance(value, str):
        raise wrong()
    if f.type == "Edm.DateTimeOffset":
        try:
            return iso_utc(value)
        except ValueError:
            raise wrong() from None
    return value


@functools.lru_cache(maxsize=None)
def _exists_sql(target: str, key: str) -> tuple[str, bool]:
    """The lookup `_exists` runs for a reference, and whether it takes the company."""
    entity = ENTITIES[target]
    where = [f'"{key}" = ?']
    if entity.company_specific:
        where.append('"dataAreaId" = ?')
    return (f'SELECT 1 FROM "{entity.source}" WHERE {" AND ".join(where)} LIMIT 1',
            entity.company_specific)


def _exists(conn: sqlite3.Connection, target: str, key: str, value: object,
            company: str) -> bool:
    sql, company_specific = _exists_sql(target, key)
    params = (value, company) if company_specific else (value,)
    return conn.execute(sql, params).fetchone() is not None


def validate_row(conn: sqlite3.Connection, entity: Entity, row: Mapping[str, object]) -> None:
    """Run validateField on every field of the complete row; raise one Infolog with all failures."""
    label = entity.table_label
    warnings: list[str] = []

    def fail(f: Field, warning: str) -> None:
        warnings.extend([f"Warning: {warning}",
                         f"Warning: validateField failed on field '{label}.{f.name}'"])

    company = str(row.get("dataAreaId", ""))
    empty = entity.empty_row
    for f in entity.fields:
        value = row.get(f.name, empty[f.name])
        if f.required and value in ("", None):
            fail(f, f"Field '{f.caption}' must be filled in.")
        elif f.max_length and isinstance(value, str) and len(value) > f.max_length:
            fail(f, f"The value of field '{f.caption}' is {len(value)} characters long; "
                    f"the field allows at most {f.max_length}.")
        elif f.ref and value not in ("", None) and not _exists(
                conn, f.ref.target, f.ref.key, value, company):
            fail(f, f"The value '{value}' in field '{f.caption}' is not found in the related "
                    f"table '{f.ref.caption}'.")
    if warnings:
        raise write_failed(label, warnings)
