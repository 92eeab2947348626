"""F&O `$filter` -> SQLite WHERE, with the data endpoint's documented dialect and limits (B4).

Parsing is odata-query's; this module adds what F&O does differently:
- enum literals `Microsoft.Dynamics.DataEntities.NoYes'Yes'` (which odata-query cannot lex), and
  only `eq`/`ne` on enum fields;
- "contains" as a wildcard inside `eq`: `Name eq '*retail*'`;
- `has`, `in` and functions such as `contains()`/`startswith()` are refused.
Values are bound as SQL parameters, never pasted into the SQL text. String comparisons (wildcards
too) ignore letter case through the columns' collation (schema.py), as in F&O.
"""

from __future__ import annotations

import re
import uuid

from odata_query import ast, exceptions
from odata_query.grammar import ODataLexer, ODataParser
from odata_query.sql.sqlite import AstToSqliteSqlVisitor

from ..store import iso_utc
from .entities import ENUMS, NAMESPACE, Entity
from .errors import bad_query

_STRING_LITERAL = re.compile(r"'(?:[^']|'')*'")
_UNSUPPORTED_OPERATOR = re.compile(r"\s(has|in)\s", re.IGNORECASE)
_ENUM_LITERAL = re.compile(
    rf"""('(?:[^']|'')*')|{re.escape(NAMESPACE)}\.(\w+)'((?:[^']|'')*)'""")


def property_missing(entity: Entity, name: str):
    return bad_query(f"Could not find a property named '{name}' on type "
                     f"'{NAMESPACE}.{entity.type_name}'.")


class _FinOpsSqlVisitor(AstToSqliteSqlVisitor):
    def __init__(self, entity: Entity, enum_literals: dict[str, tuple[str, str]]):
        super().__init__()
        self.entity = entity
        self.enum_literals = enum_literals
        self.params: list[object] = []

    def _param(self, value: object) -> str:
        self.params.append(value)
        return "?"

    def visit_Identifier(self, node: ast.Identifier) -> str:
        if node.namespace or self.entity.field(node.name) is None:
            raise property_missing(self.entity, ".".join((*node.namespace, node.name)))
        return f'"{node.name}"'

    def visit_String(self, node: ast.String) -> str:
        if node.val in self.enum_literals:
            raise bad_query("An enumeration literal can only be compared with an enum property "
                            "using 'eq' or 'ne'.")
        return self._param(node.val)

    def visit_DateTime(self, node: ast.DateTime) -> str:
        return self._param(iso_utc(node.val))

    def visit_Date(self, node: ast.Date) -> str:
        return self._param(node.val)

    def visit_Call(self, node: ast.Call) -> str:
        raise bad_query(f"The query specified in the URI is not valid. The function "
                        f"'{node.func.name}' is not supported by the data entities endpoint; "
                        "use a wildcard inside eq, e.g. Name eq '*value*'.")

    def visit_Compare(self, node: ast.Compare) -> str:
        field_node, value = node.left, node.right
        if not isinstance(field_node, ast.Identifier):
            field_node, value = value, field_node
        field = (self.entity.field(field_node.name)
                 if isinstance(field_node, ast.Identifier) else None)
        if field is not None and field.is_enum:
            return self._enum_compare(node, field, value)
        if (isinstance(value, ast.String) and isinstance(node.comparator, (ast.Eq, ast.NotEq))
                and "*" in value.val and field is not None):
            pattern = (value.val.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                       .replace("*", "%"))
            negate = "NOT " if isinstance(node.comparator, ast.NotEq) else ""
            return f"{self.visit(field_node)} {negate}LIKE {self._param(pattern)} ESCAPE '\\'"
        return super().visit_Compare(node)

    def _enum_compare(self, node: ast.Compare, field, value) -> str:
        if not isinstance(node.comparator, (ast.Eq, ast.NotEq)):
            raise bad_query(f"The query specified in the URI is not valid. Only 'eq' and 'ne' "
                            f"can be used on the enum property '{field.name}'.")
        literal = self.enum_literals.get(value.val) if isinstance(value, ast.String) else None
        if literal is None:
            raise bad_query(f"A binary operator with incompatible types was detected. Found "
                            f"operand types '{field.edm_type}' and 'Edm.String' for operator "
                            f"kind '{'Equal' if isinstance(node.comparator, ast.Eq) else 'NotEqual'}'"
                            f". Write enum values as {field.edm_type}'Member'.")
        enum_type, member = literal
        if enum_type != field.type or member not in ENUMS[enum_type]:
            raise bad_query(f"The string '{NAMESPACE}.{enum_type}'{member}'' is not a valid "
                            f"value of the enumeration type '{field.edm_type}' of property "
                            f"'{field.name}'.")
        return f'"{field.name}" {self.visit(node.comparator)} {self._param(member)}'


def _extract_enum_literals(text: str) -> tuple[str, dict[str, tuple[str, str]]]:
    """Swap each enum literal for a unique placeholder string the parser can lex."""
    token = uuid.uuid4().hex
    literals: dict[str, tuple[str, str]] = {}

    def swap(match: re.Match) -> str:
        if match.group(1):  # an ordinary string literal: leave untouched
            return match.group(1)
        placeholder = f"{token}:{len(literals)}"
        literals[placeholder] = (match.group(2), match.group(3).replace("''", "'"))
        return f"'{placeholder}'"

    return _ENUM_LITERAL.sub(swap, text), literals


def filter_to_sql(entity: Entity, text: str) -> tuple[str, list[object]]:
    """Translate a `$filter` into `(where_sql, params)`, or raise the F&O 400 error."""
    prepared, literals = _extract_enum_literals(text)
    operator = _UNSUPPORTED_OPERATOR.search(_STRING_LITERAL.sub("''", prepared))
    if operator:
        raise bad_query(f"The query specified in the URI is not valid. The '{operator.group(1)}' "
                        "operator is not supported by the data entities endpoint.")
    try:
        tree = ODataParser().parse(ODataLexer().tokenize(prepared))
    except exceptions.ODataException as exc:
        raise bad_query(f"The query specified in the URI is not valid. Syntax error in "
                        f"$filter '{text}': {exc}") from None
    visitor = _FinOpsSqlVisitor(entity, literals)
    try:
        sql = visitor.visit(tree)
    except exceptions.ODataException as exc:
        raise bad_query(f"The query specified in the URI is not valid. {exc}") from None
    return sql, visitor.params
