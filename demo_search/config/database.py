"""Where a search is stored: which database URL wins, whether the store accepts it, and how to show it.

Every command finds its database the same way, first match wins:

1. ``--db URL`` (or ``--set database.url=URL``);
2. ``$DEMO_SEARCH_DB``, so one config file runs against each deployment's database without being edited;
3. ``database.url`` in the configuration file (commands that read one);
4. ``sqlite:///./demo_search.db``, relative to the working directory.

A URL is checked with the store's own parser (``db.parse_url``), so ``validate`` refuses exactly the URLs that
``run`` would refuse; a password never appears in a message (:func:`masked_url`).
"""

from __future__ import annotations

import os

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from db import DatabaseURLError, parse_url
from db.engine import create_store_engine, display_url
from demo_search.errors import ConfigError

DB_ENV = "DEMO_SEARCH_DB"
"""Environment variable holding the database URL; it beats the config file, ``--db`` beats it."""

DEFAULT_DB_URL = "sqlite:///./demo_search.db"

URL_EXAMPLES = "sqlite:///./demo_search.db or postgresql+psycopg://user@host:5432/name"


def chosen_database_url(explicit: str | None = None, configured: str | None = None) -> tuple[str, str]:
    """The URL that wins (see the module docstring), unchecked, and where it came from (for messages)."""
    candidates = (
        (explicit, "--db"),
        (os.environ.get(DB_ENV), f"environment {DB_ENV}"),
        (configured, "database.url"),
    )
    return next(((url, origin) for url, origin in candidates if url), (DEFAULT_DB_URL, "the default database URL"))


def resolve_database_url(explicit: str | None = None, configured: str | None = None) -> str:
    """The database URL a command uses: ``explicit`` (``--db``), else ``$DEMO_SEARCH_DB``, else ``configured`` (the
    configuration's ``database.url``), else ``sqlite:///./demo_search.db``.

    Raises ``ConfigError`` naming where the URL came from when the store would refuse it.
    """
    url, origin = chosen_database_url(explicit, configured)
    problem = database_url_problem(url)
    if problem is not None:
        raise ConfigError("invalid database URL", [f"{origin} {problem}"])
    return url


def database_url_problem(url: str) -> str | None:
    """Why the store refuses ``url`` (a phrase to follow the URL's name, e.g. ``"is not a database URL ..."``), or
    ``None`` if it accepts it. The URL's text is never repeated, so no password can leak."""
    try:
        make_url(url)
    except ArgumentError:
        return f"is not a database URL (expected e.g. {URL_EXAMPLES})"
    try:
        parse_url(url)
    except DatabaseURLError as error:
        return f"is not a database demo-search can use: {error}"
    return None


def store_refusal(url: str) -> str | None:
    """Why the store would refuse to open ``url``, found without connecting or writing anything: what
    :func:`database_url_problem` finds, a driver that is not installed, or a SQLite file whose directory does not
    exist (a relative SQLite path is relative to the working directory). ``None`` if nothing is wrong."""
    problem = database_url_problem(url)
    if problem is not None:
        return problem
    try:
        create_store_engine(parse_url(url)).dispose()
    except DatabaseURLError as error:
        return f"cannot be opened: {error}"
    return None


def masked_url(url: str) -> str:
    """``url`` with its password masked (``***``), for messages, logs and stored copies."""
    try:
        return display_url(make_url(url))
    except ArgumentError:
        return "<not a database URL>"


__all__ = [
    "DB_ENV",
    "DEFAULT_DB_URL",
    "chosen_database_url",
    "database_url_problem",
    "masked_url",
    "resolve_database_url",
    "store_refusal",
]
