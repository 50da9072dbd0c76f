"""A driver-like process that dies in the middle of creating a search (run as a script, not collected by pytest).

Usage: ``python store_creator.py URL NAME TABLE``. It creates the search NAME with 3 pool items and 2 held-out
prompts, and kills itself with SIGKILL just before the statement that inserts into TABLE (``pool_items`` or
``heldout_prompts``) runs, inside the creation's transaction: the search row (and, for ``heldout_prompts``, the
pool) has been sent to the database, nothing has been committed. It never exits normally.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from sqlalchemy import Engine, event
from store_testing import items

from db import Store


def main(url: str, name: str, table: str) -> int:
    def die_before_the_insert(_connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith(f"INSERT INTO {table.upper()} "):
            os.kill(os.getpid(), signal.SIGKILL)

    event.listen(Engine, "before_cursor_execute", die_before_the_insert)
    with Store.open(url) as store:
        store.create_search(
            name,
            config={},
            fingerprint="f",
            fingerprint_parts={},
            pool_items=items("pool", 3),
            heldout_prompts=items("prompt", 2),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
