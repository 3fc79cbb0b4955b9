"""SQL that the ORM compiles once per process, run many times with new values.

Compiling a query (resolving lookups, joins, quoting, converters) costs more CPU than
running it on the hot paths of issue #15: a poll, a submit's reads, a worker's claim. A
`Compiled` is made by the ORM itself from a queryset (or an UPDATE) whose values are
`Marker`s, so it is the SQL Django would send for the configured database; `rows` runs it
with the real values and applies the ORM's converters to the columns (datetimes on SQLite,
JSON), so callers get what the ORM would have returned.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Model, QuerySet
from django.db.models.sql import UpdateQuery


class Marker:
    """Stands for a parameter while the ORM compiles a query: `value` must be one that no
    real parameter of that query has (each marker must appear exactly once)."""

    def __init__(self, name: str, value: Any) -> None:
        self.name, self.value = name, value

    def __repr__(self) -> str:
        return f"Marker({self.name!r})"


@dataclass(frozen=True)
class _Slot:
    name: str  # where the value of that name goes in a compiled query's parameters


@dataclass(frozen=True)
class Compiled:
    sql: str
    params: tuple[Any, ...]  # the compiled parameters, a _Slot where a value goes
    converters: dict[int, Any]  # column index → (converter functions, expression)

    @classmethod
    def of(cls, queryset: QuerySet[Any], *markers: Marker) -> Compiled:
        """A SELECT (a queryset, typically `.values_list(…)`)."""
        compiler = queryset.query.get_compiler(using="default")
        sql, params = compiler.as_sql()
        columns = [col for col, _, _ in compiler.select]
        return cls(sql, _slots(params, markers), compiler.get_converters(columns))

    @classmethod
    def update_returning(cls, queryset: QuerySet[Any], values: dict[str, Any],
                         returning: list[tuple[str, Any]], *markers: Marker) -> Compiled:
        """`queryset.update(**values)` with `RETURNING` the given (SQL, field) pairs (the
        caller checks connection.features.can_return_columns_from_insert: SQLite ≥ 3.35
        and PostgreSQL can)."""
        query: Any = queryset.query.chain(UpdateQuery)
        query.add_update_values(values)
        query.annotations = {}
        compiler = query.get_compiler(using="default")
        sql, params = compiler.as_sql()
        sql += " RETURNING " + ", ".join(expr for expr, _ in returning)
        converters = {}
        for index, (_, field) in enumerate(returning):
            col = field.get_col(field.model._meta.db_table)
            functions = (connection.ops.get_db_converters(col)
                         + field.get_db_converters(connection))
            if functions:
                converters[index] = (functions, col)
        return cls(sql, _slots(params, markers), converters)

    def rows(self, **values: Any) -> list[tuple[Any, ...]]:
        params = [_adapt(values[p.name]) if isinstance(p, _Slot) else p for p in self.params]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            rows = cursor.fetchall()
        if not self.converters:
            return rows
        out = []
        for row in rows:
            cells = list(row)
            for index, (functions, expression) in self.converters.items():
                value = cells[index]
                for function in functions:
                    value = function(value, expression, connection)
                cells[index] = value
            out.append(tuple(cells))
        return out


def _slots(params: Any, markers: tuple[Marker, ...]) -> tuple[Any, ...]:
    adapted = {_adapt(m.value): _Slot(m.name) for m in markers}
    names = tuple(adapted.get(p, p) if isinstance(p, int | str | dt.datetime) else p
                  for p in params)
    found = [p.name for p in names if isinstance(p, _Slot)]
    assert sorted(found) == sorted(m.name for m in markers), (found, markers)
    return names


def _adapt(value: Any) -> Any:
    """A parameter as the ORM hands it to the database driver."""
    if isinstance(value, dt.datetime):
        return connection.ops.adapt_datetimefield_value(value)
    return value


def columns_of(model: type[Model], via: str | None = None) -> list[tuple[str, Any]]:
    """(SQL, field) for every concrete column of `model`: of the row an UPDATE changes
    (`via` None), or of the row its foreign key `via` points to, as a scalar subquery
    (RETURNING may name only the updated table)."""
    qn = connection.ops.quote_name
    if via is None:
        table = qn(model._meta.db_table)
        return [(f"{table}.{qn(f.column)}", f) for f in model._meta.concrete_fields]
    fk: Any = model._meta.get_field(via)
    target: Any = fk.related_model
    own, other = qn(model._meta.db_table), qn(target._meta.db_table)
    key = f"{other}.{qn(target._meta.pk.column)} = {own}.{qn(fk.column)}"
    return [(f"(SELECT {other}.{qn(f.column)} FROM {other} WHERE {key})", f)
            for f in target._meta.concrete_fields]
