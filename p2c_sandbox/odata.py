"""OData query options -> SQL for `Store.select`, using odata-query's maintained parser.

`filter_to_sql` parses `$filter` with `odata_query.grammar` and renders it with a subclass of its
SQLite visitor that binds every literal as a `?` parameter (so quotes, `%` and non-ASCII text in
values can never change the SQL) and maps property names to columns, rejecting unknown ones.
Date-time literals become the ISO UTC text the store keeps, GUID literals (unquoted in OData)
become their lower-case text. Services with literal syntax odata-query does not know (F&O enum
literals `Microsoft.Dynamics.DataEntities.NoYes'Yes'`) pass a `preprocess` function that rewrites
the filter text first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from odata_query import ast, exceptions
from odata_query.grammar import ODataLexer, ODataParser
from odata_query.sql.sqlite import AstToSqliteSqlVisitor

from .store import iso_utc


class ODataError(ValueError):
    """A query option the service cannot run; `message` is safe to show to the client."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class UnknownProperty(ODataError):
    """A query option named a property the entity does not have."""

    def __init__(self, name: str):
        super().__init__(f"Could not find a property named '{name}'.")
        self.name = name


Columns = Mapping[str, str]  # OData property name -> SQL column name


class _SqlVisitor(AstToSqliteSqlVisitor):
    def __init__(self, columns: Columns):
        super().__init__()
        self.columns = columns
        self.params: list = []

    def _bind(self, value) -> str:
        self.params.append(value)
        return "?"

    def visit_Identifier(self, node: ast.Identifier) -> str:
        name = ".".join((*node.namespace, node.name))
        column = self.columns.get(name)
        if column is None:
            raise UnknownProperty(name)
        return '"' + column + '"'

    def visit_Attribute(self, node: ast.Attribute) -> str:
        raise ODataError(f"Filtering across a navigation property ('{node.attr}') is not supported "
                         f"by the sandbox.")

    def visit_String(self, node: ast.String) -> str:
        return self._bind(node.val)

    def visit_DateTime(self, node: ast.DateTime) -> str:
        return self._bind(iso_utc(node.val))

    def visit_Date(self, node: ast.Date) -> str:
        return self._bind(node.val)

    def visit_GUID(self, node: ast.GUID) -> str:
        return self._bind(node.val.lower())

    def _like(self, args, prefix: str, suffix: str) -> str:
        column, pattern = args
        if not isinstance(pattern, ast.String):
            raise ODataError("The second argument of contains/startswith/endswith must be a string literal.")
        return f"{self.visit(column)} LIKE {self._bind(prefix + pattern.val + suffix)}"

    def sqlfunc_contains(self, *args) -> str:
        return self._like(args, "%", "%")

    def sqlfunc_startswith(self, *args) -> str:
        return self._like(args, "", "%")

    def sqlfunc_endswith(self, *args) -> str:
        return self._like(args, "%", "")


def filter_to_sql(text: str, columns: Columns,
                  preprocess: Callable[[str], str] | None = None) -> tuple[str, list]:
    """`$filter` text -> (SQL WHERE expression, parameters). Raises ODataError / UnknownProperty."""
    if preprocess is not None:
        text = preprocess(text)
    try:
        tree = ODataParser().parse(ODataLexer().tokenize(text))
    except exceptions.ODataException as exc:
        raise ODataError(f"Syntax error in $filter '{text}': {exc}") from None
    if tree is None:
        raise ODataError("The $filter query option is empty.")
    visitor = _SqlVisitor(columns)
    try:
        sql = visitor.visit(tree)
    except exceptions.ODataException as exc:
        raise ODataError(f"Unsupported $filter '{text}': {exc}") from None
    except ValueError as exc:
        if isinstance(exc, ODataError):
            raise
        raise ODataError(f"Invalid literal in $filter '{text}': {exc}") from None
    return sql, visitor.params


_ORDER_ITEM = re.compile(r"^\s*([A-Za-z_][\w.]*)(?:\s+(asc|desc))?\s*$", re.IGNORECASE)


def parse_orderby(text: str, columns: Columns) -> list[tuple[str, bool]]:
    """`$orderby` text -> [(SQL column, descending)]."""
    order = []
    for item in text.split(","):
        match = _ORDER_ITEM.match(item)
        if not match:
            raise ODataError(f"Syntax error in $orderby at '{item.strip()}'.")
        column = columns.get(match.group(1))
        if column is None:
            raise UnknownProperty(match.group(1))
        order.append((column, (match.group(2) or "asc").lower() == "desc"))
    return order


def parse_select(text: str, known: Columns) -> list[str]:
    """`$select` text -> the property names, in order, each checked against `known`."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    for name in names:
        if name not in known:
            raise UnknownProperty(name)
    return names
