"""The database server's clock as SQL expressions.

Leases and timestamps are stamped by the database, never by the client, so drivers on machines whose clocks
disagree still agree on who holds a lease. Both expressions have sub-second precision (a lease of 0.5 s works).

On SQLite the value is rendered in SQLAlchemy's own storage format for ``DateTime`` (``YYYY-MM-DD
HH:MM:SS.ffffff``), so values written by these expressions and values bound from Python compare correctly as text.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import DateTime, Float, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

_SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f000', 'now'{modifier})"


class utc_now(FunctionElement[Any]):  # noqa: N801 - SQL function constructs are lower-case by convention
    """The current time on the database server, UTC."""

    type = DateTime(timezone=True)
    inherit_cache = True


class utc_after(FunctionElement[Any]):  # noqa: N801
    """The database server's current time plus ``seconds`` (a float), UTC."""

    type = DateTime(timezone=True)
    inherit_cache = True

    def __init__(self, seconds: float) -> None:
        super().__init__(literal(float(seconds), Float()))


@compiles(utc_now)
def _utc_now_default(element: utc_now, compiler: SQLCompiler, **kw: Any) -> str:
    return "CURRENT_TIMESTAMP"


@compiles(utc_now, "sqlite")
def _utc_now_sqlite(element: utc_now, compiler: SQLCompiler, **kw: Any) -> str:
    return _SQLITE_NOW.format(modifier="")


@compiles(utc_now, "postgresql")
def _utc_now_postgresql(element: utc_now, compiler: SQLCompiler, **kw: Any) -> str:
    return "statement_timestamp()"


@compiles(utc_after, "sqlite")
def _utc_after_sqlite(element: utc_after, compiler: SQLCompiler, **kw: Any) -> str:
    seconds = compiler.process(element.clauses, **kw)
    return _SQLITE_NOW.format(modifier=f", printf('%+.6f seconds', {seconds})")


@compiles(utc_after, "postgresql")
def _utc_after_postgresql(element: utc_after, compiler: SQLCompiler, **kw: Any) -> str:
    seconds = compiler.process(element.clauses, **kw)
    return f"(statement_timestamp() + make_interval(secs => {seconds}))"
