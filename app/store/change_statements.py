"""Which rows a statement run through a session changes (the engine's bulk INSERTs and
UPDATEs, an UPDATE ... WHERE id = ...): read from its parameters and its WHERE clause; "all of
the kind" when that cannot be told. For a watch with ``compare_bulk`` only the rows whose
watched columns really change count: the poll marks every meter it saw again and again, with
the values they mostly hold already, so one read before the UPDATE asks the database for the
rows that differ from what the SET clause will write (grouped by value: a poll writes the same
few values to thousands of rows). A SET clause that cannot be read ahead (an SQL expression) is
compared by reading the rows before and after.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Column, or_, select
from sqlalchemy.engine import Result
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import (
    BinaryExpression,
    BindParameter,
    BooleanClauseList,
    ClauseElement,
    ColumnElement,
    Grouping,
)

from app.store.change_watches import WATCH_BY_TABLE, Watch
from app.store.changes import SUMMARY_LIMIT, ChangeCollector

CHUNK = 900  # ids per IN (...) of a read: under SQLite's oldest variable limit
# Past this many rows a comparison reads the whole table's changing rows instead of naming each
# id (binding thousands of ids costs more than scanning: the rows that differ are few).
SCAN_ABOVE = 2000


def collect_statement(
    state: ORMExecuteState, bucket: Callable[[], ChangeCollector]
) -> Result[Any] | None:
    """Record in ``bucket()`` what the INSERT, UPDATE or DELETE of ``state`` changes in a
    watched table. Returns the statement's result when it had to run it itself (to read the
    rows after it), else None: the session runs it."""
    table = getattr(state.statement, "table", None)
    watch = WATCH_BY_TABLE.get(getattr(table, "name", ""))
    if watch is None:
        return None
    params = _param_rows(state.parameters)
    if state.is_insert:
        ids = _from_params(params, watch.id_attr)
    else:
        where = getattr(state.statement, "whereclause", None)
        ids = (
            _ids_in_where(where, watch, params)
            if where is not None
            else _from_params(params, watch.id_attr)
        )
    collector = bucket()
    if ids is None:
        collector.add_whole(watch.kind)
        return None
    if not (watch.compare_bulk and state.is_update and watch.id_attr == "id"):
        if len(ids) > SUMMARY_LIMIT:
            collector.add_whole(watch.kind)  # summarised anyway: no need to list them
        else:
            collector.add(watch.kind, ids)
        return None
    planned = _planned_groups(state.statement, watch, ids, params)
    if planned is not None:  # one read: the rows of which a watched column will change
        collector.add(watch.kind, _will_change(state.session, watch, planned))
        return None
    before = _current_values(state.session, watch, _compared(watch), ids)
    result = state.invoke_statement()
    after = _current_values(state.session, watch, _compared(watch), ids)
    collector.add(watch.kind, (i for i in ids if before.get(i) != after.get(i)))
    return result


def _param_rows(parameters: object) -> list[Mapping[str, Any]] | None:
    """The statement's parameter rows (executemany: several), or None when it has none."""
    if isinstance(parameters, Mapping):
        return [parameters] if parameters else None
    if isinstance(parameters, Sequence) and parameters:
        rows = [row for row in parameters if isinstance(row, Mapping)]
        return rows if len(rows) == len(parameters) else None
    return None


def _from_params(rows: list[Mapping[str, Any]] | None, key: str) -> list[int] | None:
    if not rows or not all(key in row for row in rows):
        return None
    return _whole_numbers(row[key] for row in rows)


def _whole_numbers(values: Iterable[object]) -> list[int] | None:
    found: list[int] = []
    for value in values:
        if not isinstance(value, int) or isinstance(value, bool):
            return None
        found.append(value)
    return found


def _conjuncts(clause: object) -> list[object]:
    if isinstance(clause, Grouping):
        return _conjuncts(clause.element)
    if isinstance(clause, BooleanClauseList) and clause.operator is operators.and_:
        return [part for sub in clause.clauses for part in _conjuncts(sub)]
    return [clause]


def _is_column(element: object, table_name: str, key: str) -> bool:
    table = getattr(element, "table", None)
    return (
        isinstance(element, Column | ClauseElement)
        and getattr(element, "key", None) == key
        and getattr(table, "name", None) == table_name
    )


def _ids_in_where(
    where: object, watch: Watch, rows: list[Mapping[str, Any]] | None
) -> list[int] | None:
    """The ids a ``WHERE`` limits the statement to (``id = value``, ``id = :param`` of each
    parameter row, ``id IN (values)``, within ANDs); None when it does not say."""
    for clause in _conjuncts(where):
        if not isinstance(clause, BinaryExpression):
            continue
        left, right = clause.left, clause.right
        if _is_column(right, watch.table.name, watch.id_attr):
            left, right = right, left
        if not _is_column(left, watch.table.name, watch.id_attr):
            continue
        if not isinstance(right, BindParameter):
            continue
        if clause.operator is operators.eq:
            if rows and all(right.key in row for row in rows):
                return _whole_numbers(row[right.key] for row in rows)
            return _whole_numbers([right.effective_value])
        if clause.operator is operators.in_op and right.expanding:
            values = right.effective_value
            return _whole_numbers(values) if isinstance(values, list | tuple) else None
    return None


def _compared(watch: Watch) -> list[str]:
    return sorted(watch.columns or ()) + sorted(watch.nullness)


def _current_values(
    session: Session, watch: Watch, columns: list[str], ids: list[int]
) -> dict[int, dict[str, Any]]:
    """``columns`` of rows ``ids`` as they are now (a nullness column as "is set")."""
    table = watch.table
    key = table.c[watch.id_attr]
    selected: list[ColumnElement[Any]] = [
        table.c[name].is_not(None) if name in watch.nullness else table.c[name] for name in columns
    ]
    connection = session.connection()
    found: dict[int, dict[str, Any]] = {}
    unique = sorted(set(ids))
    for start in range(0, len(unique), CHUNK):
        chunk = unique[start : start + CHUNK]
        for row in connection.execute(select(key, *selected).where(key.in_(chunk))):
            found[row[0]] = dict(zip(columns, row[1:], strict=True))
    return found


def _planned_groups(
    statement: object, watch: Watch, ids: list[int], rows: list[Mapping[str, Any]] | None
) -> dict[tuple[tuple[str, Any], ...], list[int]] | None:
    """What an UPDATE sets in the watched columns, read from its SET clause and parameters, as
    the ids of the rows getting each set of values (a poll sets the same few to thousands);
    None when that cannot be told (an expression, or a SET clause not readable)."""
    # SQLAlchemy keeps an UPDATE's SET clause in ``_values`` (no public accessor); anything
    # else than the mapping expected falls back to reading the rows before and after.
    values = getattr(statement, "_values", None)
    if not isinstance(values, Mapping):
        return None
    watched = set(_compared(watch))
    setting: list[tuple[str, BindParameter[Any]]] = []
    for column, value in values.items():
        name = column if isinstance(column, str) else getattr(column, "key", None)
        if name not in watched:
            continue
        if not isinstance(value, BindParameter):
            return None
        setting.append((name, value))
    if not setting:
        return {}  # no watched column is set: nothing to tell
    if rows is None or len(rows) == 1:  # one set of values for every id
        row = rows[0] if rows else {}
        same = tuple(
            _comparable(watch, name, row.get(bind.key, bind.effective_value))
            for name, bind in setting
        )
        return {tuple(zip((n for n, _b in setting), same, strict=True)): list(ids)}
    if len(rows) != len(ids):
        return None  # the ids do not come one per parameter row
    first = rows[0]
    per_row = [(name, bind.key) for name, bind in setting if bind.key in first]
    fixed = tuple(
        (name, _comparable(watch, name, bind.effective_value))
        for name, bind in setting
        if bind.key not in first
    )
    by_values: dict[tuple[Any, ...], list[int]] = {}
    try:
        for row, row_id in zip(rows, ids, strict=True):
            found = tuple(_comparable(watch, name, row[key]) for name, key in per_row)
            by_values.setdefault(found, []).append(row_id)
    except (KeyError, TypeError):  # a row without the value, or one that cannot be grouped
        return None
    return {
        fixed + tuple(zip((n for n, _k in per_row), found, strict=True)): group
        for found, group in by_values.items()
    }


def _comparable(watch: Watch, name: str, value: Any) -> Any:
    """A value to group by: of a nullness column only whether it is set."""
    return (value is not None) if name in watch.nullness else value


def _will_change(
    session: Session, watch: Watch, groups: dict[tuple[tuple[str, Any], ...], list[int]]
) -> list[int]:
    """The ids, of each group, whose watched columns differ from the group's values now: the
    database compares, so only rows that change come back."""
    table = watch.table
    key = table.c[watch.id_attr]
    connection = session.connection()
    found: list[int] = []
    for planned, ids in groups.items():
        differs = or_(
            *(
                (table.c[name].is_(None) if value else table.c[name].is_not(None))
                if name in watch.nullness
                else table.c[name].is_distinct_from(value)
                for name, value in planned
            )
        )
        unique = sorted(set(ids))
        if len(unique) > SCAN_ABOVE:  # most of the table: scan it, keep the ids asked for
            wanted = set(unique)
            found.extend(i for i in connection.scalars(select(key).where(differs)) if i in wanted)
            continue
        for start in range(0, len(unique), CHUNK):
            chunk = unique[start : start + CHUNK]
            found.extend(connection.scalars(select(key).where(key.in_(chunk), differs)))
    return found
